// The stored-text filter the apiserver's lists and watches use (lib/etcd/stored-text-filter.ts):
// the store runs the same test on watch events, so both sides agree on what a needle rules out.
export { isPlainJson, StoredTextFilter } from "../../lib/etcd/stored-text-filter.ts";

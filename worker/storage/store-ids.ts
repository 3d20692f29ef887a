// Store shard ids, remembered per isolate: `idFromName` hashes the name on every call, and every
// request names a shard. An id is plain data (no I/O), so requests may share it; stubs are not
// kept, since a stub belongs to the request that made it.
import { storeObjectName } from "../../lib/shards.ts";

const ids = new WeakMap<DurableObjectNamespace, Map<string, DurableObjectId>>();

/** The Durable Object id of a cluster's store shard. */
export function storeShardId(namespace: DurableObjectNamespace, cluster: string, shard: string): DurableObjectId {
  let byName = ids.get(namespace);
  if (!byName) ids.set(namespace, (byName = new Map()));
  const name = storeObjectName(cluster, shard);
  let id = byName.get(name);
  if (!id) byName.set(name, (id = namespace.idFromName(name)));
  return id;
}

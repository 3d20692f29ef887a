// What admission and namespace lifecycle read on every pod create, shared for a second by the
// requests of one isolate, as kube-apiserver's admission plugins read informer listers instead of
// etcd: namespaces, LimitRanges, ResourceQuotas, PriorityClasses and service accounts. Any write of
// these kinds through the generic store in this isolate forgets them all at once (RegistryStore),
// so this isolate never decides by a copy older than its own writes; other isolates see a change
// within FRESH_MS, as kube's informers see it after their watch lag. Only what exists (and, for a
// namespace, is Active) is kept: a miss is read again each time (kube's live lookup). The objects
// are shared: read them, never change them.
// These kinds are stored in their one served version, so the stored object is the served one.
import { KeyedIsolateCache } from "../../lib/isolate-cache.ts";
import { objectKey, resourcePrefix } from "../storage/keys.ts";
import type { ObjectStorage, StoredObject } from "../storage/object-storage.ts";
import type { KubeObject, ResourceDefinition } from "./types.ts";

const FRESH_MS = 1000;

const namespaces = new KeyedIsolateCache<KubeObject | undefined>(FRESH_MS);
const serviceAccounts = new KeyedIsolateCache<KubeObject | undefined>(FRESH_MS);
const limitRanges = new KeyedIsolateCache<KubeObject[]>(FRESH_MS);
const resourceQuotas = new KeyedIsolateCache<KubeObject[]>(FRESH_MS);
const priorityClasses = new KeyedIsolateCache<KubeObject[]>(FRESH_MS);

/** Cached values are per cluster: one isolate may serve several. */
const keyOf = (storage: ObjectStorage, ...parts: (string | undefined)[]) => [storage.env.CLUSTER_NAME, ...parts].join("\0");

function withVersion(stored: StoredObject): KubeObject {
  return { ...stored.object, metadata: { ...stored.object.metadata, resourceVersion: String(stored.modRevision) } };
}

async function find(storage: ObjectStorage, group: string, resource: string, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
  const stored = await storage.get(objectKey(group, resource, namespace, name));
  return stored && withVersion(stored);
}

async function all(storage: ObjectStorage, group: string, resource: string, namespace?: string): Promise<KubeObject[]> {
  const { items } = await storage.list(resourcePrefix(group, resource, namespace), {});
  return items.map(withVersion);
}

/** A value kept only when `keep` says so; anything else is read again on the next call. */
async function kept<T>(cache: KeyedIsolateCache<T>, key: string, load: () => Promise<T>, keep: (value: T) => boolean): Promise<T> {
  const value = await cache.get(key, load);
  if (keep(value)) return value;
  cache.forget(key);
  return value;
}

/** The namespace, kept while it is Active. */
export function namespaceLister(storage: ObjectStorage, name: string): Promise<KubeObject | undefined> {
  return kept(namespaces, keyOf(storage, name), () => find(storage, "", "namespaces", undefined, name),
    (ns) => !!ns && !ns.metadata?.deletionTimestamp && ns.status?.phase !== "Terminating");
}

export function serviceAccountLister(storage: ObjectStorage, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
  return kept(serviceAccounts, keyOf(storage, namespace, name), () => find(storage, "", "serviceaccounts", namespace, name), (sa) => !!sa);
}

export function limitRangeLister(storage: ObjectStorage, namespace: string | undefined): Promise<KubeObject[]> {
  return limitRanges.get(keyOf(storage, namespace), () => all(storage, "", "limitranges", namespace));
}

export function resourceQuotaLister(storage: ObjectStorage, namespace: string | undefined): Promise<KubeObject[]> {
  return resourceQuotas.get(keyOf(storage, namespace), () => all(storage, "", "resourcequotas", namespace));
}

export function priorityClassLister(storage: ObjectStorage): Promise<KubeObject[]> {
  return priorityClasses.get(keyOf(storage), () => all(storage, "scheduling.k8s.io", "priorityclasses"));
}

/** The kinds whose writes make this isolate forget the listers' copies (RegistryStore asks). */
export function isListedKind(def: ResourceDefinition): boolean {
  return (def.group === "" && ["namespaces", "serviceaccounts", "limitranges", "resourcequotas"].includes(def.resource))
    || (def.group === "scheduling.k8s.io" && def.resource === "priorityclasses");
}

export function invalidateListers(): void {
  for (const cache of [namespaces, serviceAccounts, limitRanges, resourceQuotas, priorityClasses]) cache.invalidate();
}

// The client side of Kubernetes, shared by the scheduler, the controllers and the node agent: the
// API client, informers with their caches, the work queue, the event recorder and leader election.
export {
  ApiClient, PodClient, ResourceClient, isAlreadyExists, isConflict, isGone, isNotFound, retryOnConflict,
  type ApiClientOptions, type DeleteOptions, type Fetch, type KubeObject, type ListOptions, type ObjectList,
  type PatchOptions, type PatchType, type WatchEvent, type WatchEventType, type WatchOptions, type WriteOptions,
} from "./api-client.ts";
export type { SqlDurableStorage, SqlValue } from "./durable-storage.ts";
export { EventRecorder, referenceTo, SERIES_FINISH_MS, type EventRecorderOptions, type EventType } from "./event-recorder.ts";
export { MemoryCache, objectKey, type CacheWrite, type IndexFunc, type Indexers, type InformerCache } from "./informer-cache.ts";
export {
  byNamespace, byNodeName, byOwnerUid, Informer, NAMESPACE_INDEX, type EventHandlers, type InformerOptions, type Lister,
} from "./informer.ts";
export { AlarmWakes, POKE_BATCH_MS, type AlarmStorage, type WakeOutcome } from "./alarm-wakes.ts";
export { LeaderLease, type LeaderLeaseOptions } from "./leader-lease.ts";
export { microTime, parseMicroTime } from "./micro-time.ts";
export { SqliteCache } from "./sqlite-cache.ts";
export { SqliteQueueStore } from "./sqlite-queue.ts";
export { MemoryQueueStore, WorkQueue, type QueueRecord, type QueueStore, type WorkQueueOptions } from "./work-queue.ts";

// The scheduling queue as kube-scheduler 1.30's PriorityQueue (queueing hints off, its default):
// an active queue in QueueSort order, a back-off queue (1 s doubling per attempt up to 10 s), and an
// unschedulable pool whose pods go back when a cluster event arrives that a plugin which rejected
// them registered for, or after 5 minutes at the latest. PreEnqueue plugins (scheduling gates) keep
// a pod in the pool until an update lets it through. Time comes from an injected clock; each pod's
// queue state goes through a store so a restarted Durable Object resumes where it stopped: written
// by `saveState` at the end of a wake, and only for pods still waiting then (a pod that arrives and
// is bound within one wake costs the store nothing).
import { affinityTermMatches } from "./affinity-term.ts";
import { eventMatches, Events, isWildCard, type ClusterEvent } from "./framework/events.ts";
import type { QueuedPodInfo } from "./framework/interface.ts";
import type { Status } from "./framework/status.ts";
import { KeyedHeap } from "./heap.ts";
import type { Labels, PodInfo } from "./projection.ts";

export type Placement = "active" | "backoff" | "unschedulable" | "gated";

/** One pod's queue state as the store keeps it. */
export interface QueuedPodRecord {
  key: string;
  uid: string;
  queue: "active" | "backoff" | "unschedulable";
  attempts: number;
  timestamp: number;
  initialAttemptTimestamp: number;
  unschedulablePlugins: string[];
}

export interface SchedulingQueueStore {
  load(): QueuedPodRecord[];
  save(record: QueuedPodRecord): void;
  remove(key: string): void;
}

export class MemorySchedulingQueueStore implements SchedulingQueueStore {
  readonly records = new Map<string, QueuedPodRecord>();

  load(): QueuedPodRecord[] {
    return [...this.records.values()].map((r) => ({ ...r, unschedulablePlugins: [...r.unschedulablePlugins] }));
  }

  save(record: QueuedPodRecord): void {
    this.records.set(record.key, { ...record, unschedulablePlugins: [...record.unschedulablePlugins] });
  }

  remove(key: string): void {
    this.records.delete(key);
  }
}

export interface SchedulingQueueOptions {
  /** QueueSort: true when `a` goes before `b`. */
  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean;
  /** The PreEnqueue verdict for the pod's profile; a status (with its plugin) holds the pod back. */
  preEnqueue(pod: PodInfo): Status | undefined;
  /** Each plugin's registered events (EventsToRegister), over all profiles. */
  clusterEvents: ReadonlyMap<string, readonly ClusterEvent[]>;
  now?: () => number;
  store?: SchedulingQueueStore;
  podInitialBackoffMs?: number;
  podMaxBackoffMs?: number;
  podMaxInUnschedulablePodsMs?: number;
  /** A namespace's labels, for matching affinity terms' namespaceSelector against a placed pod. */
  namespaceLabels?: (namespace: string) => Labels | undefined;
}

/** Spec or metadata changed (status alone does not count: isPodUpdated strips it). */
function podUpdated(old: PodInfo, pod: PodInfo): boolean {
  if (old.spec.key !== pod.spec.key || old.deleting !== pod.deleting || old.uid !== pod.uid) return true;
  if (old.labels === pod.labels) return false;
  const a = Object.entries(old.labels);
  return a.length !== Object.keys(pod.labels).length || a.some(([k, v]) => pod.labels[k] !== v);
}

export class SchedulingQueue {
  private readonly activeQ: KeyedHeap<QueuedPodInfo>;
  private readonly backoffQ: KeyedHeap<QueuedPodInfo>;
  private readonly unschedulablePods = new Map<string, QueuedPodInfo>();
  private readonly restored = new Map<string, QueuedPodRecord>();
  /** Pods whose queue state changed since the last `saveState`. */
  private readonly dirty = new Set<string>();
  /** Pods the store holds a record of. */
  private readonly stored = new Set<string>();
  private readonly now: () => number;
  private readonly store: SchedulingQueueStore | undefined;
  private readonly initialBackoff: number;
  private readonly maxBackoff: number;
  private readonly maxUnschedulable: number;
  /** Incremented by every pop. */
  schedulingCycle = 0;
  /** The cycle in which the last move request arrived: a pod failing in an earlier-started cycle goes to back-off. */
  private moveRequestCycle = -1;

  private readonly options: SchedulingQueueOptions;

  constructor(options: SchedulingQueueOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.store = options.store;
    this.initialBackoff = options.podInitialBackoffMs ?? 1000;
    this.maxBackoff = options.podMaxBackoffMs ?? 10_000;
    this.maxUnschedulable = options.podMaxInUnschedulablePodsMs ?? 5 * 60_000;
    this.activeQ = new KeyedHeap((q) => q.pod.key, (a, b) => options.less(a, b));
    this.backoffQ = new KeyedHeap((q) => q.pod.key, (a, b) => this.backoffTime(a) < this.backoffTime(b));
    for (const record of this.store?.load() ?? []) {
      this.restored.set(record.key, record);
      this.stored.add(record.key);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Pending pods arriving, changing and leaving

  /** A new pending pod (or one seen again after a restart: its persisted state comes back). */
  add(pod: PodInfo): Placement {
    this.forgetEverywhere(pod.key);
    const record = this.restored.get(pod.key);
    this.restored.delete(pod.key);
    if (record && record.uid === pod.uid) {
      const q: QueuedPodInfo = {
        pod, timestamp: record.timestamp, attempts: record.attempts, initialAttemptTimestamp: record.initialAttemptTimestamp,
        unschedulablePlugins: new Set(record.unschedulablePlugins), gated: false,
      };
      if (record.queue === "unschedulable" && this.options.preEnqueue(pod) === undefined) return this.putUnschedulable(q);
      if (record.queue === "backoff" && this.isBackingOff(q)) return this.putBackoff(q);
      return this.addToActiveQ(q);
    }
    const now = this.now();
    return this.addToActiveQ({ pod, timestamp: now, attempts: 0, initialAttemptTimestamp: now, unschedulablePlugins: new Set(), gated: false });
  }

  /** A pending pod changed. An unschedulable one is retried if its spec or labels changed. */
  update(old: PodInfo | undefined, pod: PodInfo): Placement {
    const key = pod.key;
    for (const [heap, placement] of [[this.activeQ, "active"], [this.backoffQ, "backoff"]] as const) {
      const q = heap.get(key);
      if (q) {
        q.pod = pod;
        heap.addOrUpdate(q);
        return placement;
      }
    }
    const q = this.unschedulablePods.get(key);
    if (q) {
      const before = old ?? q.pod;
      q.pod = pod;
      if (!podUpdated(before, pod)) return this.putUnschedulable(q);
      this.unschedulablePods.delete(key);
      if (this.isBackingOff(q)) return this.putBackoff(q);
      return this.addToActiveQ(q);
    }
    return this.add(pod);
  }

  /** A pending pod was deleted (or bound by someone else). */
  delete(key: string): void {
    this.forgetEverywhere(key);
    this.restored.delete(key);
    this.dirty.add(key);
  }

  // ------------------------------------------------------------------------------------------
  // The scheduling loop's side

  /** The next pod to schedule, its attempt counted; undefined when none is active (after moving due pods in). */
  pop(): QueuedPodInfo | undefined {
    this.flush();
    const q = this.activeQ.pop();
    if (!q) return undefined;
    q.attempts++;
    this.schedulingCycle++;
    q.unschedulablePlugins.clear();
    this.persist(q);
    return q;
  }

  /**
   * A scheduling or binding attempt failed: back into the unschedulable pool, or into back-off when
   * no plugin rejected it (an error) or an event arrived since `podSchedulingCycle` began.
   */
  addUnschedulableIfNotPresent(q: QueuedPodInfo, podSchedulingCycle: number): Placement | undefined {
    const key = q.pod.key;
    if (this.activeQ.has(key) || this.backoffQ.has(key) || this.unschedulablePods.has(key)) return undefined;
    q.timestamp = this.now();
    q.gated = false;
    if (this.moveRequestCycle >= podSchedulingCycle || q.unschedulablePlugins.size === 0) return this.putBackoff(q);
    return this.putUnschedulable(q);
  }

  /** Back-off done: active; a pool pod past its maximum wait: retried as if an event matched. */
  flush(): void {
    const now = this.now();
    for (let q = this.backoffQ.peek(); q && this.backoffTime(q) <= now; q = this.backoffQ.peek()) {
      this.backoffQ.pop();
      this.addToActiveQ(q);
    }
    const leftover = [...this.unschedulablePods.values()].filter((q) => !q.gated && now - q.timestamp >= this.maxUnschedulable);
    if (leftover.length > 0) this.movePods(leftover, Events.UnschedulableTimeout);
  }

  /** When something next becomes due (now if a pod is active), for the Durable Object's alarm. */
  nextWakeAt(): number | undefined {
    if (this.activeQ.size > 0) return this.now();
    let at: number | undefined;
    const top = this.backoffQ.peek();
    if (top) at = this.backoffTime(top);
    for (const q of this.unschedulablePods.values()) {
      if (q.gated) continue;
      const due = q.timestamp + this.maxUnschedulable;
      if (at === undefined || due < at) at = due;
    }
    return at;
  }

  // ------------------------------------------------------------------------------------------
  // Cluster events

  /** Retries pool pods that a plugin registered for `event` rejected (and that `preCheck` admits). */
  moveAllToActiveOrBackoffQueue(event: ClusterEvent, preCheck?: (pod: PodInfo) => boolean): void {
    const pods = [...this.unschedulablePods.values()].filter((q) => !preCheck || preCheck(q.pod));
    this.movePods(pods, event);
  }

  /** A pod was placed: pool pods whose required affinity it matches, or spread-rejected pods of its namespace, retry. */
  assignedPodAdded(pod: PodInfo): void {
    this.movePods(this.podsWithCrossTopologyTerm(pod), Events.AssignedPodAdd);
  }

  assignedPodUpdated(pod: PodInfo): void {
    this.movePods(this.podsWithCrossTopologyTerm(pod), Events.AssignedPodUpdate);
  }

  // ------------------------------------------------------------------------------------------
  // Inspection

  /** Where the pod waits, if it does. */
  placement(key: string): Placement | undefined {
    if (this.activeQ.has(key)) return "active";
    if (this.backoffQ.has(key)) return "backoff";
    const q = this.unschedulablePods.get(key);
    return q ? (q.gated ? "gated" : "unschedulable") : undefined;
  }

  counts(): Record<Placement, number> {
    let gated = 0;
    for (const q of this.unschedulablePods.values()) if (q.gated) gated++;
    return { active: this.activeQ.size, backoff: this.backoffQ.size, unschedulable: this.unschedulablePods.size - gated, gated };
  }

  /** Drops persisted state of pods not seen again since the restart (deleted or bound meanwhile). */
  dropUnrestored(): void {
    for (const key of this.restored.keys()) this.dirty.add(key);
    this.restored.clear();
  }

  /**
   * Writes the state of every pod whose standing changed since the last call: a record for each pod
   * still waiting, none for pods that left (bound, deleted, or in flight). A wake calls it once its
   * bindings are done, so pods placed within the wake are never written.
   */
  saveState(): void {
    for (const key of this.dirty) {
      const found = this.find(key);
      if (found) {
        this.store?.save(record(found.q, found.queue));
        this.stored.add(key);
      } else if (this.stored.delete(key)) this.store?.remove(key);
    }
    this.dirty.clear();
  }

  // ------------------------------------------------------------------------------------------

  private backoffDuration(attempts: number): number {
    let d = this.initialBackoff;
    for (let i = 1; i < attempts; i++) {
      if (d > this.maxBackoff - d) return this.maxBackoff;
      d += d;
    }
    return d;
  }

  private backoffTime(q: QueuedPodInfo): number {
    return q.timestamp + this.backoffDuration(q.attempts);
  }

  private isBackingOff(q: QueuedPodInfo): boolean {
    return !q.gated && this.backoffTime(q) > this.now();
  }

  /** Runs PreEnqueue: admitted pods go active, held ones wait in the pool marked gated. */
  private addToActiveQ(q: QueuedPodInfo): Placement {
    const held = this.options.preEnqueue(q.pod);
    if (held) {
      q.gated = true;
      q.unschedulablePlugins = new Set([held.plugin]);
      this.unschedulablePods.set(q.pod.key, q);
      this.persist(q);
      return "gated";
    }
    q.gated = false;
    this.unschedulablePods.delete(q.pod.key);
    this.activeQ.addOrUpdate(q);
    this.persist(q);
    return "active";
  }

  private putBackoff(q: QueuedPodInfo): Placement {
    this.unschedulablePods.delete(q.pod.key);
    this.backoffQ.addOrUpdate(q);
    this.persist(q);
    return "backoff";
  }

  private putUnschedulable(q: QueuedPodInfo): Placement {
    this.unschedulablePods.set(q.pod.key, q);
    this.persist(q);
    return q.gated ? "gated" : "unschedulable";
  }

  private movePods(pods: readonly QueuedPodInfo[], event: ClusterEvent): void {
    for (const q of pods) {
      // A pod rejected for no plugin's reason (an error) moves on any event.
      if (q.unschedulablePlugins.size > 0 && !this.matchesEvent(q, event)) continue;
      this.unschedulablePods.delete(q.pod.key);
      if (this.isBackingOff(q)) this.putBackoff(q);
      else this.addToActiveQ(q);
    }
    this.moveRequestCycle = this.schedulingCycle;
  }

  private matchesEvent(q: QueuedPodInfo, event: ClusterEvent): boolean {
    if (isWildCard(event)) return true;
    for (const plugin of q.unschedulablePlugins) {
      if ((this.options.clusterEvents.get(plugin) ?? []).some((e) => eventMatches(e, event))) return true;
    }
    return false;
  }

  private podsWithCrossTopologyTerm(pod: PodInfo): QueuedPodInfo[] {
    const nsLabels = this.options.namespaceLabels?.(pod.namespace);
    return [...this.unschedulablePods.values()].filter((q) =>
      (q.unschedulablePlugins.has("PodTopologySpread") && q.pod.namespace === pod.namespace) ||
      q.pod.spec.requiredAffinityTerms.some((t) => affinityTermMatches(t, pod, nsLabels)));
  }

  private forgetEverywhere(key: string): void {
    this.activeQ.delete(key);
    this.backoffQ.delete(key);
    this.unschedulablePods.delete(key);
  }

  private persist(q: QueuedPodInfo): void {
    this.dirty.add(q.pod.key);
  }

  private find(key: string): { q: QueuedPodInfo; queue: QueuedPodRecord["queue"] } | undefined {
    const active = this.activeQ.get(key);
    if (active) return { q: active, queue: "active" };
    const backoff = this.backoffQ.get(key);
    if (backoff) return { q: backoff, queue: "backoff" };
    const pooled = this.unschedulablePods.get(key);
    return pooled ? { q: pooled, queue: "unschedulable" } : undefined;
  }
}

function record(q: QueuedPodInfo, queue: QueuedPodRecord["queue"]): QueuedPodRecord {
  return {
    key: q.pod.key, uid: q.pod.uid, queue, attempts: q.attempts, timestamp: q.timestamp,
    initialAttemptTimestamp: q.initialAttemptTimestamp, unschedulablePlugins: [...q.unschedulablePlugins],
  };
}

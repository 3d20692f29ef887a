// KubeScheduler: kube-scheduler as a Durable Object, one per cluster. It wakes when the store pokes
// it (pods, nodes or what placement reads changed) and on its own alarm (back-off, unschedulable
// retries); catches up through the API as system:kube-scheduler with informers whose caches and
// cursors live in its SQLite; schedules in bounded batches; writes bindings, conditions and
// Events back through the API; sets its next alarm or none; and sleeps, holding no socket.
import { DurableObject } from "cloudflare:workers";
import type { Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, PodCondition, Service, ReplicationController } from "kubernetes-types/core/v1";
import type { StorageClass } from "kubernetes-types/storage/v1";
import type { ReplicaSet, StatefulSet } from "kubernetes-types/apps/v1";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1";
import { ApiClient, type KubeObject } from "../../lib/client/api-client.ts";
import { EventRecorder, referenceTo, SERIES_FINISH_MS } from "../../lib/client/event-recorder.ts";
import { Informer, type EventHandlers } from "../../lib/client/informer.ts";
import { AlarmWakes, type WakeOutcome } from "../../lib/client/alarm-wakes.ts";
import { LeaderLease } from "../../lib/client/leader-lease.ts";
import { SqliteCache } from "../../lib/client/sqlite-cache.ts";
import type { PokeNews, StoreChanges } from "../../lib/client/store-changes.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { kubeTime } from "../../lib/k8s/time.ts";
import type { PodInfo } from "./projection.ts";
import { Scheduler, truncateMessage, type Assumed, type BindingOutcome, type Unschedulable } from "./scheduler.ts";
import { SqliteSchedulingQueueStore } from "./sqlite-queue-store.ts";
import type { KubeSchedulerConfiguration } from "./config.ts";


/** How long one wake may schedule before it yields (and sets an alarm for now): well inside a request's CPU budget. */
const BATCH_MS = 2_000;
/**
 * How often the recorder writes the counts of repeated Events and forgets Events quiet that long
 * (client-go's finishSeries, every 6 minutes): it remembers every Scheduled Event until then, so
 * at a few hundred bindings a second a 30-minute period held tens of megabytes.
 */
const EVENT_FLUSH_MS = SERIES_FINISH_MS;
/** Bindings in flight at once: kube binds asynchronously while the next cycles run. */
const BIND_CONCURRENCY = 128;
/** How often the leader renews its Lease (kube's retryPeriod): not on every wake. */
const LEASE_RETRY_MS = 2_000;

export interface SchedulerStatus {
  /** When it last finished a wake, and what that wake did. */
  lastWake?: string;
  scheduled: number;
  unschedulable: number;
  /** Why the last wake failed, if it did. */
  error?: string;
}

/** Keeps what the scheduler reads of a pod, not its whole status or managed fields. */
function podProjection(pod: Pod): Pod {
  const { managedFields: _managed, annotations: _annotations, ...metadata } = pod.metadata ?? {};
  const scheduled = pod.status?.conditions?.filter((c) => c.type === "PodScheduled");
  return {
    metadata, spec: pod.spec,
    status: { phase: pod.status?.phase, nominatedNodeName: pod.status?.nominatedNodeName, startTime: pod.status?.startTime, ...(scheduled?.length ? { conditions: scheduled } : {}) },
  };
}

const slim = <T extends KubeObject>(object: T): T => {
  const { managedFields: _managed, ...metadata } = object.metadata ?? {};
  return { ...object, metadata };
};

const GATED_MESSAGE = "Scheduling is blocked due to non-empty scheduling gates";

/** A pending pod held by its scheduling gates that does not say so yet. */
function needsGatedCondition(pod: Pod): boolean {
  if (!pod.spec?.schedulingGates?.length || pod.spec.nodeName) return false;
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  return scheduled?.reason !== "SchedulingGated";
}

/** The scheduler's configuration: wrangler.toml's KUBE_SCHEDULER_CONFIG, a KubeSchedulerConfiguration (v1) as JSON. */
function configuration(env: Env): KubeSchedulerConfiguration | undefined {
  const text = env.KUBE_SCHEDULER_CONFIG?.trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as KubeSchedulerConfiguration;
  } catch {
    throw new Error("KUBE_SCHEDULER_CONFIG is not JSON (a KubeSchedulerConfiguration, apiVersion kubescheduler.config.k8s.io/v1)");
  }
}

class Runtime {
  readonly scheduler: Scheduler;
  /** Gated pods seen this wake whose PodScheduled condition must say SchedulingGated. */
  readonly gated = new Map<string, Pod>();
  readonly client: ApiClient;
  readonly recorder: EventRecorder;
  readonly lease: LeaderLease;
  private readonly informers: Informer<KubeObject>[] = [];
  /** When repeated Events' counts were last written. */
  flushedAt = Date.now();
  /** When the Lease was last acquired or renewed by this object. */
  leaseRenewedAt = -Infinity;
  /** The pods as last caught up (projections), to write a condition only when it changes. */
  readonly pods: Informer<Pod>;
  private restored = false;

  constructor(storage: DurableObjectStorage, api: Fetcher, identity: string, config: KubeSchedulerConfiguration | undefined, changes: StoreChanges) {
    this.client = new ApiClient({
      fetch: (request) => api.fetch(request), baseUrl: "https://kube-scheduler.internal", userAgent: "kube-scheduler/edgeplane",
      // Its own bindings and status writes are news to its next catch-up, before the store's poke says so.
      onWrite: (resource) => changes.wrote(resource),
    });
    this.recorder = new EventRecorder(this.client, { reportingController: "default-scheduler", reportingInstance: identity });
    this.lease = new LeaderLease(this.client, { name: "kube-scheduler", identity });
    this.scheduler = new Scheduler({
      config,
      queueStore: new SqliteSchedulingQueueStore(storage),
      binder: async (pod, nodeName) => {
        await this.client.pods().bind(pod.namespace, pod.name, {
          apiVersion: "v1", kind: "Binding", metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid }, target: { kind: "Node", name: nodeName },
        });
      },
    });
    const s = this.scheduler;
    const watch = <T extends KubeObject>(names: Parameters<typeof builtin>, handlers: EventHandlers<T>, project: (o: T) => T = slim): Informer<T> => {
      // A wake re-watches only what the pokes say changed since the cache's cursor (pods, mostly).
      const informer = new Informer<T>(this.client.resource<T>(builtin(...names)), { cache: new SqliteCache<T>(storage, `scheduler/${names.join("/")}`), project, changes });
      informer.addEventHandler(handlers);
      this.informers.push(informer as unknown as Informer<KubeObject>);
      // What the cache held before a restart is the scheduler's starting picture.
      for (const object of informer.lister.list()) handlers.onAdd?.(object);
      return informer;
    };
    // Nodes and namespaces first: pods are placed against them.
    watch<Node>(["v1", "nodes"], s.nodes);
    watch<Namespace>(["v1", "namespaces"], s.namespaces);
    watch<PodDisruptionBudget>(["policy/v1", "poddisruptionbudgets"], s.podDisruptionBudgets);
    watch<Service>(["v1", "services"], s.services);
    watch<ReplicationController>(["v1", "replicationcontrollers"], s.replicationControllers);
    watch<ReplicaSet>(["apps/v1", "replicasets"], s.replicaSets);
    watch<StatefulSet>(["apps/v1", "statefulsets"], s.statefulSets);
    watch<StorageClass>(["storage.k8s.io/v1", "storageclasses"], s.storageClasses);
    watch<PersistentVolume>(["v1", "persistentvolumes"], s.persistentVolumes);
    watch<PersistentVolumeClaim>(["v1", "persistentvolumeclaims"], s.persistentVolumeClaims);
    const noteGated = (pod: Pod) => {
      if (needsGatedCondition(pod)) this.gated.set(`${pod.metadata?.namespace}/${pod.metadata?.name}`, pod);
    };
    this.pods = watch<Pod>(["v1", "pods"], {
      onAdd: (pod) => (noteGated(pod), s.pods.onAdd?.(pod)),
      onUpdate: (old, pod) => (noteGated(pod), s.pods.onUpdate?.(old, pod)),
      onDelete: (pod) => s.pods.onDelete?.(pod),
    }, podProjection);
  }

  /** Holds the Lease as kube-scheduler does: a round every retryPeriod while leading, each wake otherwise. */
  async lead(): Promise<boolean> {
    const now = Date.now();
    if (this.lease.isLeader && now - this.leaseRenewedAt < LEASE_RETRY_MS) return true;
    if (await this.lease.tryAcquireOrRenew()) this.leaseRenewedAt = now;
    return this.lease.isLeader;
  }

  /** Brings every cache up to now (no watch stays open; caches with no commit since their cursor are skipped); the watches run side by side. */
  async catchUp(): Promise<void> {
    // Every watch ends before the wake does, even when one fails: the next wake's must not overlap it.
    const outcomes = await Promise.allSettled(this.informers.map((informer) => informer.catchUp()));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed) throw failed.reason;
    if (!this.restored) {
      // Queue state of pods that no longer wait is dropped once the pods are known again.
      this.scheduler.queue.dropUnrestored();
      this.restored = true;
    }
  }
}

export class KubeScheduler extends DurableObject<Env> {
  private runtime: Runtime | undefined;
  private lastStatus: SchedulerStatus = { scheduled: 0, unschedulable: 0 };
  private readonly wakes = new AlarmWakes(this.ctx.storage, () => this.wake());

  /** The store's fire-and-forget call after pods, nodes or what placement reads changed, with what changed. */
  poke(news?: PokeNews): Promise<void> {
    return this.wakes.poke(news);
  }

  /** For /readyz and componentstatuses. */
  status(): SchedulerStatus {
    return this.lastStatus;
  }

  override alarm(): Promise<void> {
    return this.wakes.alarm();
  }

  private async wake(): Promise<WakeOutcome> {
    const status: SchedulerStatus = { scheduled: 0, unschedulable: 0 };
    try {
      this.runtime ??= new Runtime(this.ctx.storage, this.env.KUBE_SCHEDULER_API, `kube-scheduler-${this.ctx.id.toString().slice(0, 16)}`, configuration(this.env), this.wakes.changes);
      const runtime = this.runtime;
      // Someone else holds the lease (a scheduler elsewhere): try again when it would expire.
      if (!(await runtime.lead())) return { retryAt: Date.now() + 15_000 };
      await runtime.catchUp();
      await this.reportGated(runtime);
      const more = await this.scheduleBatch(runtime, status);
      // Queue state is written once per wake, for the pods still waiting.
      runtime.scheduler.queue.saveState();
      if (Date.now() - runtime.flushedAt >= EVENT_FLUSH_MS) {
        await runtime.recorder.flush();
        runtime.flushedAt = Date.now();
      }
      status.lastWake = kubeTime();
      return { more, nextDueAt: runtime.scheduler.nextWakeAt() };
    } catch (e) {
      status.error = (e as Error)?.message ?? String(e);
      // The alarm is retried by the platform when it throws; the next wake starts from the stored cursors.
      throw e;
    } finally {
      this.lastStatus = status;
    }
  }

  /** Schedules until no pod is due or the batch's time is up; answers whether pods are left. */
  private async scheduleBatch(runtime: Runtime, status: SchedulerStatus): Promise<boolean> {
    const { scheduler } = runtime;
    const started = Date.now();
    const binds = new Set<Promise<void>>();
    const track = (work: Promise<void>) => {
      binds.add(work);
      void work.finally(() => binds.delete(work));
    };
    // Scheduled Events do not hold a binding's place: they are written beside the next bindings.
    const events: Promise<unknown>[] = [];
    let more = false;
    for (;;) {
      if (Date.now() - started > BATCH_MS) {
        more = true;
        break;
      }
      const attempt = scheduler.scheduleNext();
      if (!attempt) break;
      if (attempt.kind === "unschedulable") {
        status.unschedulable++;
        track(this.reportUnschedulable(runtime, attempt));
      } else {
        track(this.bindPod(runtime, attempt, status, events));
      }
      while (binds.size >= BIND_CONCURRENCY) await Promise.race(binds);
    }
    await Promise.all(binds);
    await Promise.all(events);
    // Bindings that failed put their pods back in the queue: they may be due now.
    return more || (scheduler.nextWakeAt() ?? Infinity) <= Date.now();
  }

  private async bindPod(runtime: Runtime, attempt: Assumed, status: SchedulerStatus, events: Promise<unknown>[]): Promise<void> {
    const outcome: BindingOutcome = await runtime.scheduler.bind(attempt);
    if (outcome.kind === "bound") {
      status.scheduled++;
      events.push(runtime.recorder.record(podReference(outcome.pod), undefined, "Normal", "Scheduled", "Binding", outcome.eventMessage).catch(eventLost));
      return;
    }
    // Bound meanwhile by someone else: nothing to report.
    if (/is already assigned to node|already bound/i.test(outcome.message)) return;
    await this.reportUnschedulable(runtime, outcome);
  }

  /** Pods held by scheduling gates say so, as kube-scheduler's PreEnqueue makes them say. */
  private async reportGated(runtime: Runtime): Promise<void> {
    const pods = runtime.client.resource<Pod>(builtin("v1", "pods"));
    for (const [key, pod] of runtime.gated) {
      runtime.gated.delete(key);
      const [namespace, name] = key.split("/") as [string, string];
      if (runtime.scheduler.placement(namespace, name) !== "gated") continue;
      const condition: PodCondition = { type: "PodScheduled", status: "False", reason: "SchedulingGated", message: GATED_MESSAGE, lastTransitionTime: kubeTime() };
      await pods.patch(namespace, name, { metadata: { uid: pod.metadata?.uid }, status: { conditions: [condition] } }, "strategic", { subresource: "status" }).catch(ignoreGone);
    }
  }

  /** What a failed cycle asks for: the PodScheduled condition, a nomination, a FailedScheduling Event, and preemption's victims. */
  private async reportUnschedulable(runtime: Runtime, failure: Unschedulable): Promise<void> {
    const { client, recorder } = runtime;
    const { pod } = failure;
    const pods = client.resource<Pod>(builtin("v1", "pods"));
    // Victims go side by side, as kube's preemption evicts them in parallel.
    await Promise.all((failure.preemption?.victims ?? []).map(async (victim) => {
      const condition: PodCondition = {
        type: "DisruptionTarget", status: "True", reason: "PreemptionByScheduler", lastTransitionTime: kubeTime(),
        message: `${pod.spec.schedulerName}: preempting to accommodate a higher priority pod`,
      };
      await pods.patch(victim.namespace, victim.name, { status: { conditions: [condition] } }, "strategic", { subresource: "status" }).catch(ignoreGone);
      await pods.delete(victim.namespace, victim.name, { preconditions: { uid: victim.uid } }).catch(ignoreGone);
      await recorder.record(podReference(victim), podReference(pod), "Normal", "Preempted", "Preempting", `Preempted by pod ${pod.uid} on node ${failure.nominatedNodeName ?? victim.nodeName}`).catch(eventLost);
    }));
    await Promise.all((failure.preemption?.clearNominations ?? []).map((other) =>
      pods.patch(other.namespace, other.name, { status: { nominatedNodeName: null } }, "merge", { subresource: "status" }).catch(ignoreGone)));
    // As kube-scheduler: the pod is written only when the condition or the nomination changes
    // (retries of a pod that still fits nowhere add to the Event's series, not to the pod).
    const known = runtime.pods.lister.get(pod.namespace, pod.name);
    const current = known?.status?.conditions?.find((c) => c.type === "PodScheduled");
    const nominationChanges = failure.nominatedNodeName !== undefined && failure.nominatedNodeName !== (known?.status?.nominatedNodeName ?? "");
    const conditionChanges = current?.status !== "False" || current.reason !== failure.reason || current.message !== failure.message;
    if (conditionChanges || nominationChanges) {
      const condition: PodCondition = { type: "PodScheduled", status: "False", reason: failure.reason, message: failure.message, lastTransitionTime: kubeTime() };
      const statusPatch: Record<string, unknown> = { conditions: [condition] };
      if (failure.nominatedNodeName !== undefined) statusPatch.nominatedNodeName = failure.nominatedNodeName || null;
      await pods.patch(pod.namespace, pod.name, { status: statusPatch }, "strategic", { subresource: "status" }).catch(ignoreGone);
    }
    await recorder.record(podReference(pod), undefined, "Warning", "FailedScheduling", "Scheduling", truncateMessage(failure.eventMessage)).catch(eventLost);
  }
}

function podReference(pod: PodInfo) {
  return referenceTo({ apiVersion: "v1", kind: "Pod", metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid } });
}

/** Events are best effort, as kube's recorder drops what it cannot write. */
function eventLost(): undefined {
  return undefined;
}

/** The pod went away meanwhile: nothing left to write about it. */
function ignoreGone(e: unknown): void {
  if ((e as { code?: number })?.code !== 404) throw e;
}

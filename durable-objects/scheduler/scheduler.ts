// The scheduler core a Durable Object drives (kube-scheduler's Scheduler and eventhandlers.go without
// the I/O): informer handlers that keep the snapshot and the queue current, `scheduleNext` running one
// synchronous scheduling cycle (with Reserve and Permit) and answering what to write, and `bind`
// running the binding cycle through the injected binder. It never touches the API itself: the
// runtime writes conditions, events, nominations and evictions from what these answer.
import type { Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service } from "kubernetes-types/core/v1";
import type { ReplicaSet, StatefulSet } from "kubernetes-types/apps/v1";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1";
import type { StorageClass } from "kubernetes-types/storage/v1";
import type { EventHandlers } from "../../lib/client/informer.ts";
import { resolveConfiguration, type KubeSchedulerConfiguration, type ResolvedConfiguration } from "./config.ts";
import type { CycleState } from "./framework/cycle-state.ts";
import { Events, type ClusterEvent } from "./framework/events.ts";
import { Framework } from "./framework/framework.ts";
import type { Binder, PluginFactory, PostFilterResult, QueuedPodInfo } from "./framework/interface.ts";
import { isSuccess, type Status } from "./framework/status.ts";
import type { NodeInfo } from "./node-info.ts";
import { hostPortConflicts } from "./node-info.ts";
import { requiredNodeAffinityMatches } from "./node-selector.ts";
import { insufficientResources } from "./plugins/node-resources-fit.ts";
import { IN_TREE_PLUGINS } from "./plugins/registry.ts";
import { Projector, type PodInfo } from "./projection.ts";
import { SchedulingQueue, type Placement, type SchedulingQueueStore } from "./queue.ts";
import { newSchedulerState, scheduleOne, type SchedulerState } from "./schedule-one.ts";
import { Snapshot, type WorkloadKind } from "./snapshot.ts";
import { findUntoleratedTaint } from "./taints.ts";

export interface SchedulerOptions {
  /** KubeSchedulerConfiguration v1; kube's defaults when absent. */
  config?: KubeSchedulerConfiguration;
  now?: () => number;
  random?: () => number;
  /** Where the queue keeps each pending pod's state (a Durable Object's SQLite). */
  queueStore?: SchedulingQueueStore;
  /** Writes a Binding (DefaultBinder). */
  binder?: Binder;
  /** Plugins by name; the in-tree set by default. */
  registry?: Readonly<Record<string, PluginFactory>>;
}

/** What a failed cycle asks the runtime to write. */
export interface Unschedulable {
  readonly kind: "unschedulable";
  readonly pod: PodInfo;
  /** PodScheduled=False reason: "Unschedulable" when rejected, "SchedulerError" otherwise. */
  readonly reason: "Unschedulable" | "SchedulerError";
  /** The PodScheduled condition's message. */
  readonly message: string;
  /** The FailedScheduling event's note (kube truncates it to 1024 characters). */
  readonly eventMessage: string;
  /** status.nominatedNodeName to write ("" clears it); undefined leaves it as it is. */
  readonly nominatedNodeName: string | undefined;
  /** Pods to evict for the nominated node, and pods whose nomination to it to clear. */
  readonly preemption: { readonly victims: readonly PodInfo[]; readonly clearNominations: readonly PodInfo[] } | undefined;
  /** Where the pod now waits (undefined if it is gone or bound meanwhile). */
  readonly placement: Placement | undefined;
}

/** A pod assumed on a node, its binding still to be made by `bind`. */
export interface Assumed {
  readonly kind: "assumed";
  readonly pod: PodInfo;
  readonly nodeName: string;
  readonly evaluatedNodes: number;
  readonly feasibleNodes: number;
  readonly profile: Framework;
  readonly cycleState: CycleState;
  readonly queued: QueuedPodInfo;
  readonly schedulingCycle: number;
}

export type SchedulingAttempt = Unschedulable | Assumed;

export interface Bound {
  readonly kind: "bound";
  readonly pod: PodInfo;
  readonly nodeName: string;
  /** The Scheduled event's note. */
  readonly eventMessage: string;
}

export type BindingOutcome = Bound | Unschedulable;

/** kube truncates event notes to the API's 1024-character limit (truncateMessage). */
export function truncateMessage(message: string): string {
  const max = 1024;
  return message.length <= max ? message : `${message.slice(0, max - 4)} ...`;
}

/** The events a node update raises (nodeSchedulingPropertiesChange). */
export function nodeChangeEvents(old: Node, node: Node): ClusterEvent[] {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const conditions = (n: Node) => Object.fromEntries((n.status?.conditions ?? []).map((c) => [c.type, c.status]));
  const events: ClusterEvent[] = [];
  if ((old.spec?.unschedulable ?? false) !== (node.spec?.unschedulable ?? false) && !node.spec?.unschedulable) events.push(Events.NodeSpecUnschedulableChange);
  if (!same(old.status?.allocatable, node.status?.allocatable)) events.push(Events.NodeAllocatableChange);
  if (!same(old.metadata?.labels, node.metadata?.labels)) events.push(Events.NodeLabelChange);
  if (!same(old.spec?.taints, node.spec?.taints)) events.push(Events.NodeTaintChange);
  if (!same(conditions(old), conditions(node))) events.push(Events.NodeConditionChange);
  if (!same(old.metadata?.annotations, node.metadata?.annotations)) events.push(Events.NodeAnnotationChange);
  return events;
}

/** preCheckForNode: a retry on a node event only for pods that fit that node (resources, affinity, name, ports, NoSchedule taints). */
function fitsNode(info: NodeInfo): (pod: PodInfo) => boolean {
  return (pod) => {
    const node = info.node!;
    if (insufficientResources(pod, info).length > 0) return false;
    if (!requiredNodeAffinityMatches(pod.spec.requiredNodeAffinity, node)) return false;
    if (pod.nodeName !== "" && pod.nodeName !== node.name) return false;
    if (pod.spec.hostPorts.some((p) => hostPortConflicts(info.usedPorts, p))) return false;
    return !findUntoleratedTaint(node.taints, pod.spec.tolerations, (t) => t.effect === "NoSchedule");
  };
}

export class Scheduler {
  readonly config: ResolvedConfiguration;
  readonly snapshot = new Snapshot();
  readonly projector = new Projector();
  readonly profiles = new Map<string, Framework>();
  readonly queue: SchedulingQueue;
  private readonly state: SchedulerState;
  /** The latest view of each pending pod this scheduler is responsible for. */
  private readonly pending = new Map<string, PodInfo>();

  constructor(options: SchedulerOptions = {}) {
    this.config = resolveConfiguration(options.config);
    const random = options.random ?? Math.random;
    for (const profile of this.config.profiles) {
      this.profiles.set(profile.schedulerName!, Framework.create(profile, options.registry ?? IN_TREE_PLUGINS, { random, binder: options.binder }));
    }
    const first = this.profiles.values().next().value!;
    const clusterEvents = new Map<string, readonly ClusterEvent[]>();
    for (const fwk of this.profiles.values()) {
      for (const [plugin, events] of fwk.clusterEvents()) clusterEvents.set(plugin, [...(clusterEvents.get(plugin) ?? []), ...events]);
    }
    this.queue = new SchedulingQueue({
      less: (a, b) => first.queueSortLess(a, b),
      preEnqueue: (pod) => this.profiles.get(pod.spec.schedulerName)?.runPreEnqueuePlugins(pod),
      clusterEvents,
      now: options.now,
      store: options.queueStore,
      podInitialBackoffMs: this.config.podInitialBackoffMs,
      podMaxBackoffMs: this.config.podMaxBackoffMs,
      namespaceLabels: (ns) => this.snapshot.namespaceLabelsOf(ns),
    });
    this.state = newSchedulerState(this.config.percentageOfNodesToScore, random);
  }

  /** A pod this scheduler places: its schedulerName is one of the profiles'. */
  responsibleFor(pod: PodInfo): boolean {
    return this.profiles.has(pod.spec.schedulerName);
  }

  /** Where a pending pod waits ("gated": held by its scheduling gates). */
  placement(namespace: string, name: string): Placement | undefined {
    return this.queue.placement(`${namespace}/${name}`);
  }

  // ------------------------------------------------------------------------------------------
  // Informer handlers

  readonly pods: EventHandlers<Pod> = {
    onAdd: (object) => this.podChanged(undefined, this.projector.pod(object)),
    onUpdate: (old, object) => this.podChanged(this.projector.pod(old), this.projector.pod(object)),
    onDelete: (object) => this.podChanged(this.projector.pod(object), undefined),
  };

  readonly nodes: EventHandlers<Node> = {
    onAdd: (node) => {
      const info = this.snapshot.setNode(this.projector.node(node));
      this.queue.moveAllToActiveOrBackoffQueue(Events.NodeAdd, fitsNode(info));
    },
    onUpdate: (old, node) => {
      const info = this.snapshot.setNode(this.projector.node(node));
      for (const event of nodeChangeEvents(old, node)) this.queue.moveAllToActiveOrBackoffQueue(event, fitsNode(info));
    },
    onDelete: (node) => this.snapshot.removeNode(node.metadata?.name ?? ""),
  };

  readonly namespaces: EventHandlers<Namespace> = {
    onAdd: (ns) => this.snapshot.setNamespace(ns.metadata?.name ?? "", this.projector.labels(ns.metadata?.labels)),
    onUpdate: (_old, ns) => this.snapshot.setNamespace(ns.metadata?.name ?? "", this.projector.labels(ns.metadata?.labels)),
    onDelete: (ns) => this.snapshot.removeNamespace(ns.metadata?.name ?? ""),
  };

  readonly persistentVolumeClaims: EventHandlers<PersistentVolumeClaim> = {
    onAdd: (pvc) => this.storageChanged(() => this.snapshot.setPersistentVolumeClaim(pvc), Events.PvcAdd),
    onUpdate: (_old, pvc) => this.storageChanged(() => this.snapshot.setPersistentVolumeClaim(pvc), Events.PvcUpdate),
    onDelete: (pvc) => this.snapshot.removePersistentVolumeClaim(pvc.metadata?.namespace ?? "", pvc.metadata?.name ?? ""),
  };

  readonly persistentVolumes: EventHandlers<PersistentVolume> = {
    onAdd: (pv) => this.storageChanged(() => this.snapshot.setPersistentVolume(pv), Events.PvAdd),
    onUpdate: (_old, pv) => this.storageChanged(() => this.snapshot.setPersistentVolume(pv), Events.PvUpdate),
    onDelete: (pv) => this.snapshot.removePersistentVolume(pv.metadata?.name ?? ""),
  };

  readonly storageClasses: EventHandlers<StorageClass> = {
    onAdd: (sc) => this.storageChanged(() => this.snapshot.setStorageClass(sc), Events.StorageClassAdd),
    onUpdate: (_old, sc) => this.storageChanged(() => this.snapshot.setStorageClass(sc), Events.StorageClassUpdate),
    onDelete: (sc) => this.snapshot.removeStorageClass(sc.metadata?.name ?? ""),
  };

  readonly podDisruptionBudgets: EventHandlers<PodDisruptionBudget> = {
    onAdd: (pdb) => this.snapshot.setPodDisruptionBudget(pdb),
    onUpdate: (_old, pdb) => this.snapshot.setPodDisruptionBudget(pdb),
    onDelete: (pdb) => this.snapshot.removePodDisruptionBudget(pdb.metadata?.namespace ?? "", pdb.metadata?.name ?? ""),
  };

  readonly services = this.workloadHandlers<Service>("Service");
  readonly replicationControllers = this.workloadHandlers<ReplicationController>("ReplicationController");
  readonly replicaSets = this.workloadHandlers<ReplicaSet>("ReplicaSet");
  readonly statefulSets = this.workloadHandlers<StatefulSet>("StatefulSet");

  // ------------------------------------------------------------------------------------------
  // Scheduling

  /**
   * Pops the next pod and runs its scheduling cycle. Answers "assumed" (counted on its node; call
   * `bind`) or "unschedulable" (write what it says); undefined when no pod is due.
   */
  scheduleNext(): SchedulingAttempt | undefined {
    for (;;) {
      const queued = this.queue.pop();
      if (!queued) return undefined;
      const pod = queued.pod;
      const fwk = this.profiles.get(pod.spec.schedulerName);
      // Being deleted, or already assumed (an update arrived while it was binding): nothing to do.
      if (!fwk || pod.deleting || this.snapshot.isAssumed(pod.key)) continue;
      const cycle = this.queue.schedulingCycle;
      const result = scheduleOne(pod, this.snapshot, fwk, this.state);
      if (result.nodeName === undefined) {
        // Errors clear a nomination; a fit error keeps it unless preemption says otherwise.
        const nominated = result.status.rejected ? result.postFilter?.nominatedNodeName : "";
        return this.failed(queued, result.status, result.message, cycle, nominated, result.unschedulable?.diagnosis.unschedulablePlugins, result.postFilter);
      }
      const assumed = this.snapshot.assume(pod, result.nodeName);
      let status = fwk.runReservePluginsReserve(result.cycleState, assumed, result.nodeName);
      if (isSuccess(status)) status = fwk.runPermitPlugins(result.cycleState, assumed, result.nodeName);
      if (!isSuccess(status)) {
        fwk.runReservePluginsUnreserve(result.cycleState, assumed, result.nodeName);
        this.snapshot.forget(pod.key);
        return this.failed(queued, status, status.message, cycle, "", status.rejected ? new Set([status.plugin]) : undefined, undefined);
      }
      return {
        kind: "assumed", pod: assumed, nodeName: result.nodeName, evaluatedNodes: result.evaluatedNodes, feasibleNodes: result.feasibleNodes,
        profile: fwk, cycleState: result.cycleState, queued, schedulingCycle: cycle,
      };
    }
  }

  /** The binding cycle: PreBind, Bind, PostBind. On failure the pod is forgotten and queued again. */
  async bind(attempt: Assumed): Promise<BindingOutcome> {
    const { profile: fwk, cycleState, pod, nodeName } = attempt;
    let status = await fwk.runPreBindPlugins(cycleState, pod, nodeName);
    if (isSuccess(status)) status = await fwk.runBindPlugins(cycleState, pod, nodeName);
    if (!isSuccess(status)) {
      fwk.runReservePluginsUnreserve(cycleState, pod, nodeName);
      this.snapshot.forget(pod.key);
      // The room it held is free again, as if a pod there were deleted (not for itself, when rejected).
      this.queue.moveAllToActiveOrBackoffQueue(Events.AssignedPodDelete, status.rejected ? (p) => p.key !== pod.key : undefined);
      return this.failed(attempt.queued, status, status.message, attempt.schedulingCycle, "", status.rejected ? new Set([status.plugin]) : undefined, undefined);
    }
    fwk.runPostBindPlugins(cycleState, pod, nodeName);
    return { kind: "bound", pod, nodeName, eventMessage: `Successfully assigned ${pod.namespace}/${pod.name} to ${nodeName}` };
  }

  /** When the queue next needs attention (now if pods are active), for the alarm. */
  nextWakeAt(): number | undefined {
    return this.queue.nextWakeAt();
  }

  // ------------------------------------------------------------------------------------------

  /** handleSchedulingFailure: back into the queue (unless the pod is gone or bound), nomination noted. */
  private failed(
    queued: QueuedPodInfo, status: Status, message: string, cycle: number, nominatedNodeName: string | undefined,
    unschedulablePlugins: Set<string> | undefined, postFilter: PostFilterResult | undefined,
  ): Unschedulable {
    queued.unschedulablePlugins = new Set(unschedulablePlugins ?? []);
    const latest = this.pending.get(queued.pod.key);
    let placement: Placement | undefined;
    if (latest) {
      queued.pod = latest;
      placement = this.queue.addUnschedulableIfNotPresent(queued, cycle) ?? this.queue.placement(latest.key);
      if (nominatedNodeName !== undefined) this.snapshot.nominate(latest, nominatedNodeName);
    }
    return {
      kind: "unschedulable",
      pod: latest ?? queued.pod,
      reason: status.rejected ? "Unschedulable" : "SchedulerError",
      message,
      eventMessage: truncateMessage(message),
      nominatedNodeName,
      preemption: postFilter && postFilter.victims.length > 0 ? { victims: postFilter.victims, clearNominations: postFilter.clearNominations } : undefined,
      placement,
    };
  }

  /** Routes a pod change to the snapshot (bound pods) and the queue (pending pods), as kube's two filtered handlers. */
  private podChanged(old: PodInfo | undefined, pod: PodInfo | undefined): void {
    const assigned = (p: PodInfo | undefined) => p !== undefined && p.nodeName !== "" && !p.terminal;
    const pendingHere = (p: PodInfo | undefined) => p !== undefined && p.nodeName === "" && !p.terminal && this.responsibleFor(p);
    const key = (pod ?? old)!.key;

    if (assigned(pod)) {
      this.snapshot.addPod(pod!);
      if (assigned(old)) this.queue.assignedPodUpdated(pod!);
      else this.queue.assignedPodAdded(pod!);
    } else if (assigned(old)) {
      this.snapshot.removePod(key);
      this.queue.moveAllToActiveOrBackoffQueue(Events.AssignedPodDelete);
    }

    if (pendingHere(pod)) {
      const wasPending = this.pending.has(key);
      this.pending.set(key, pod!);
      // A binding in flight: its outcome decides (kube skips updates of assumed pods), and an assumed
      // pod already counts on its node, so it must not count again as nominated there.
      if (this.snapshot.isAssumed(key)) return;
      this.snapshot.nominate(pod!, pod!.nominatedNodeName);
      if (wasPending) this.queue.update(old, pod!);
      else this.queue.add(pod!);
    } else if (this.pending.has(key)) {
      this.pending.delete(key);
      this.queue.delete(key);
      this.snapshot.clearNomination(key);
    }
  }

  private storageChanged(apply: () => void, event: ClusterEvent): void {
    apply();
    this.queue.moveAllToActiveOrBackoffQueue(event);
  }

  private workloadHandlers<T extends Service | ReplicationController | ReplicaSet | StatefulSet>(kind: WorkloadKind): EventHandlers<T> {
    return {
      onAdd: (o) => this.snapshot.setWorkload(kind, o),
      onUpdate: (_old, o) => this.snapshot.setWorkload(kind, o),
      onDelete: (o) => this.snapshot.removeWorkload(kind, o.metadata?.namespace ?? "", o.metadata?.name ?? ""),
    };
  }
}

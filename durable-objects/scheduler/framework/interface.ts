// The extension points a plugin may implement (kube's framework interfaces), what they receive and
// return, and what the framework offers plugins (the handle). A plugin is an object with a name and
// the methods of the extension points it serves; a factory builds it from its args.
import type { NodeInfo } from "../node-info.ts";
import type { PodInfo } from "../projection.ts";
import type { CycleState } from "./cycle-state.ts";
import type { ClusterEvent } from "./events.ts";
import type { Result, Status } from "./status.ts";

export const MAX_NODE_SCORE = 100;
export const MIN_NODE_SCORE = 0;

/** A pod in the scheduling queue with its queueing history (framework.QueuedPodInfo). */
export interface QueuedPodInfo {
  pod: PodInfo;
  /** When it last entered the queue (ms); PrioritySort orders equal priorities by it, back-off counts from it. */
  timestamp: number;
  /** Scheduling attempts so far. */
  attempts: number;
  /** When it first entered the queue (ms). */
  initialAttemptTimestamp: number;
  /** Plugins that rejected it in its last attempt: only events they register for retry it. */
  unschedulablePlugins: Set<string>;
  /** A PreEnqueue plugin (scheduling gates) holds it. */
  gated: boolean;
}

/** PreFilter's narrowing of the nodes worth filtering; undefined means all nodes. */
export interface PreFilterResult {
  readonly nodeNames: ReadonlySet<string>;
}

export interface NodeScore {
  readonly name: string;
  score: number;
}

/** What PostFilter (preemption) leaves for the runtime to carry out. */
export interface PostFilterResult {
  /** The pod's new status.nominatedNodeName ("" clears it); undefined leaves it as it is. */
  readonly nominatedNodeName: string | undefined;
  /** Pods to evict so the pod fits on the nominated node (the runtime deletes them). */
  readonly victims: readonly PodInfo[];
  /** Lower-priority pods nominated to that node, whose nomination the runtime clears. */
  readonly clearNominations: readonly PodInfo[];
}

/** Makes a binding through the API (DefaultBinder); throws with the API's message when refused. */
export type Binder = (pod: PodInfo, nodeName: string) => Promise<void>;

/** What the framework offers its plugins (framework.Handle). */
export interface FrameworkHandle {
  readonly schedulerName: string;
  /** Uniform in [0, 1): ties between equally good nodes, preemption's starting offset. */
  readonly random: () => number;
  readonly binder: Binder | undefined;
  runFilterPluginsWithNominatedPods(state: CycleState, pod: PodInfo, node: NodeInfo): Result;
  runPreFilterExtensionAddPod(state: CycleState, podToSchedule: PodInfo, podToAdd: PodInfo, node: NodeInfo): Result;
  runPreFilterExtensionRemovePod(state: CycleState, podToSchedule: PodInfo, podToRemove: PodInfo, node: NodeInfo): Result;
}

export interface Plugin {
  readonly name: string;
  /** EventsToRegister: cluster events that may make a pod this plugin rejected schedulable. */
  readonly events?: readonly ClusterEvent[];
  preEnqueue?(pod: PodInfo): Result;
  /** QueueSort. */
  less?(a: QueuedPodInfo, b: QueuedPodInfo): boolean;
  preFilter?(state: CycleState, pod: PodInfo): PreFilterResult | Status | undefined;
  /** PreFilterExtensions.AddPod: `podToAdd` now counts on `node` in this cycle's state. */
  addPod?(state: CycleState, podToSchedule: PodInfo, podToAdd: PodInfo, node: NodeInfo): Result;
  /** PreFilterExtensions.RemovePod. */
  removePod?(state: CycleState, podToSchedule: PodInfo, podToRemove: PodInfo, node: NodeInfo): Result;
  filter?(state: CycleState, pod: PodInfo, node: NodeInfo): Result;
  postFilter?(state: CycleState, pod: PodInfo, statuses: ReadonlyMap<string, Status>): { result?: PostFilterResult; status: Result };
  preScore?(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Result;
  score?(state: CycleState, pod: PodInfo, node: NodeInfo): number;
  normalizeScore?(state: CycleState, pod: PodInfo, scores: NodeScore[]): Result;
  reserve?(state: CycleState, pod: PodInfo, nodeName: string): Result;
  unreserve?(state: CycleState, pod: PodInfo, nodeName: string): void;
  permit?(state: CycleState, pod: PodInfo, nodeName: string): Result;
  preBind?(state: CycleState, pod: PodInfo, nodeName: string): Promise<Result>;
  bind?(state: CycleState, pod: PodInfo, nodeName: string): Promise<Result>;
  postBind?(state: CycleState, pod: PodInfo, nodeName: string): void;
}

/** Builds a plugin from its pluginConfig args (undefined for the defaults). */
export type PluginFactory = (args: unknown, handle: FrameworkHandle) => Plugin;

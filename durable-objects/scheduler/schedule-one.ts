// One scheduling cycle for one pod (schedule_one.go's schedulePod and findNodesThatFitPod): PreFilter,
// the nominated node first, Filter over an adaptive sample of nodes starting where the last cycle
// stopped, PostFilter (preemption) when nothing fits, then PreScore, Score and a random pick among
// the best. Pure: it reads the snapshot and changes only `state`'s rotation.
import { CycleState } from "./framework/cycle-state.ts";
import { FitError, newDiagnosis, type Diagnosis } from "./framework/fit-error.ts";
import type { Framework } from "./framework/framework.ts";
import type { PostFilterResult } from "./framework/interface.ts";
import { isSuccess, Status, unresolvable, Code } from "./framework/status.ts";
import type { NodeInfo } from "./node-info.ts";
import type { PodInfo } from "./projection.ts";
import type { Snapshot } from "./snapshot.ts";

/** What persists from one cycle to the next. */
export interface SchedulerState {
  /** Where the next search through the node list starts, so every node gets its turn. */
  nextStartNodeIndex: number;
  /** The configuration's percentageOfNodesToScore (0: adaptive); a profile's own value wins. */
  readonly percentageOfNodesToScore: number;
  /** Uniform in [0, 1): picks among equally good nodes. */
  readonly random: () => number;
}

export function newSchedulerState(percentageOfNodesToScore = 0, random: () => number = Math.random): SchedulerState {
  return { nextStartNodeIndex: 0, percentageOfNodesToScore, random };
}

export interface Scheduled {
  readonly nodeName: string;
  readonly evaluatedNodes: number;
  readonly feasibleNodes: number;
  /** The cycle's plugin state, for Reserve, Permit and the binding cycle. */
  readonly cycleState: CycleState;
}

export interface NotScheduled {
  readonly nodeName?: undefined;
  /** Why no node fits; undefined when the cycle failed otherwise (no nodes at all, a plugin error). */
  readonly unschedulable: FitError | undefined;
  /** Rejected (PodScheduled reason Unschedulable) or Error (reason SchedulerError). */
  readonly status: Status;
  /** The message kube-scheduler writes in the FailedScheduling event and the PodScheduled condition. */
  readonly message: string;
  /** Preemption's outcome: a node to nominate and the victims to evict. */
  readonly postFilter: PostFilterResult | undefined;
  readonly cycleState: CycleState;
}

export type ScheduleResult = Scheduled | NotScheduled;

export const NO_NODES_AVAILABLE = "no nodes available to schedule pods";
const MIN_FEASIBLE_NODES_TO_FIND = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;

/**
 * numFeasibleNodesToFind: every node below 100 nodes; otherwise the configured percentage or, when
 * it is 0, 50% minus 1% per 125 nodes (at least 5%), and never fewer than 100 nodes.
 */
export function numFeasibleNodesToFind(percentage: number, numAllNodes: number): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) return numAllNodes;
  let p = percentage;
  if (p === 0) p = Math.max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND, 50 - Math.trunc(numAllNodes / 125));
  const n = Math.trunc((numAllNodes * p) / 100);
  return Math.max(n, MIN_FEASIBLE_NODES_TO_FIND);
}

export function scheduleOne(pod: PodInfo, snapshot: Snapshot, fwk: Framework, state: SchedulerState): ScheduleResult {
  const cycleState = new CycleState(snapshot);
  const fail = (status: Status, unschedulable?: FitError, postFilter?: PostFilterResult): NotScheduled => ({
    unschedulable, status, message: unschedulable ? unschedulable.message : status.message, postFilter, cycleState,
  });
  if (snapshot.numNodes === 0) return fail(unresolvable(NO_NODES_AVAILABLE));

  const found = findNodesThatFitPod(pod, snapshot, fwk, state, cycleState);
  if (found instanceof Status) return fail(found);
  const { feasible, diagnosis } = found;
  if (feasible.length === 0) {
    const fitError = new FitError(pod, snapshot.numNodes, diagnosis);
    let postFilter: PostFilterResult | undefined;
    if (fwk.hasPostFilterPlugins) {
      const out = fwk.runPostFilterPlugins(cycleState, pod, diagnosis.nodeToStatus);
      diagnosis.postFilterMsg = out.status.message;
      postFilter = out.result;
    }
    return fail(new Status(Code.Unschedulable, [fitError.message]), fitError, postFilter);
  }
  const evaluatedNodes = feasible.length + diagnosis.nodeToStatus.size;
  if (feasible.length === 1) return { nodeName: feasible[0]!.name, evaluatedNodes, feasibleNodes: 1, cycleState };

  let totals: number[];
  if (!fwk.hasScorePlugins) totals = feasible.map(() => 1);
  else {
    const pre = fwk.runPreScorePlugins(cycleState, pod, feasible);
    if (!isSuccess(pre)) return fail(pre);
    const scored = fwk.runScorePlugins(cycleState, pod, feasible);
    if (scored instanceof Status) return fail(scored);
    totals = scored.totals;
  }
  return { nodeName: selectHost(feasible, totals, state.random), evaluatedNodes, feasibleNodes: feasible.length, cycleState };
}

/** The highest total; ties are broken uniformly at random (reservoir sampling, as kube). */
function selectHost(nodes: readonly NodeInfo[], totals: readonly number[], random: () => number): string {
  let selected = 0;
  let ties = 1;
  for (let i = 1; i < nodes.length; i++) {
    if (totals[i]! > totals[selected]!) {
      selected = i;
      ties = 1;
    } else if (totals[i] === totals[selected]) {
      ties++;
      if (Math.floor(random() * ties) === 0) selected = i;
    }
  }
  return nodes[selected]!.name;
}

function findNodesThatFitPod(pod: PodInfo, snapshot: Snapshot, fwk: Framework, state: SchedulerState, cycleState: CycleState): { feasible: NodeInfo[]; diagnosis: Diagnosis } | Status {
  const diagnosis = newDiagnosis();
  const all = snapshot.nodes();
  const pre = fwk.runPreFilterPlugins(cycleState, pod);
  if (!isSuccess(pre.status)) {
    if (!pre.status.rejected) return pre.status;
    // Every node gets the PreFilter status, so preemption sees it; the message is PreFilter's alone.
    for (const node of all) diagnosis.nodeToStatus.set(node.name, pre.status);
    diagnosis.preFilterMsg = pre.status.message;
    if (pre.status.plugin) diagnosis.unschedulablePlugins.add(pre.status.plugin);
    return { feasible: [], diagnosis };
  }

  // A node nominated by an earlier preemption is likely the only one that fits: try it first.
  if (pod.nominatedNodeName !== "") {
    const nominated = snapshot.node(pod.nominatedNodeName);
    if (nominated) {
      const status = fwk.runFilterPluginsWithNominatedPods(cycleState, pod, nominated);
      if (status?.code === Code.Error) return status;
      if (isSuccess(status)) return { feasible: [nominated], diagnosis };
      diagnosis.nodeToStatus.set(nominated.name, status);
      if (status.plugin) diagnosis.unschedulablePlugins.add(status.plugin);
    }
  }

  let nodes: readonly NodeInfo[] = all;
  if (pre.result) {
    const keep = pre.result.nodeNames;
    nodes = all.filter((n) => {
      if (keep.has(n.name)) return true;
      // Counted as rejected for good, so preemption does not consider them.
      diagnosis.nodeToStatus.set(n.name, unresolvable("node is filtered out by the prefilter result"));
      return false;
    });
  }
  const feasible = findNodesThatPassFilters(pod, fwk, state, cycleState, diagnosis, nodes);
  if (feasible instanceof Status) return feasible;
  if (nodes.length > 0) state.nextStartNodeIndex = (state.nextStartNodeIndex + feasible.length + diagnosis.nodeToStatus.size) % nodes.length;
  return { feasible, diagnosis };
}

function findNodesThatPassFilters(pod: PodInfo, fwk: Framework, state: SchedulerState, cycleState: CycleState, diagnosis: Diagnosis, nodes: readonly NodeInfo[]): NodeInfo[] | Status {
  const numAll = nodes.length;
  if (numAll === 0) return [];
  // Without scoring, the first feasible node is as good as any.
  const wanted = fwk.hasScorePlugins ? numFeasibleNodesToFind(fwk.percentageOfNodesToScore ?? state.percentageOfNodesToScore, numAll) : 1;
  const start = state.nextStartNodeIndex % numAll;
  const feasible: NodeInfo[] = [];
  if (!fwk.hasFilterPlugins) {
    for (let i = 0; i < wanted; i++) feasible.push(nodes[(start + i) % numAll]!);
    return feasible;
  }
  for (let i = 0; i < numAll && feasible.length < wanted; i++) {
    const node = nodes[(start + i) % numAll]!;
    const status = fwk.runFilterPluginsWithNominatedPods(cycleState, pod, node);
    if (isSuccess(status)) feasible.push(node);
    else if (status.code === Code.Error) return status;
    else {
      diagnosis.nodeToStatus.set(node.name, status);
      if (status.plugin) diagnosis.unschedulablePlugins.add(status.plugin);
    }
  }
  return feasible;
}

// DefaultPreemption (PostFilter): when no node fits, find nodes where evicting lower-priority pods
// would make room (a dry run of the filters with them gone, reprieving as many as still fit, those
// whose eviction would break a PodDisruptionBudget first), pick the node whose victims matter least,
// and nominate it. The runtime evicts the victims; the pod is retried once they are gone.
import type { CycleState } from "../framework/cycle-state.ts";
import { FitError, newDiagnosis } from "../framework/fit-error.ts";
import type { FrameworkHandle, PluginFactory, PostFilterResult } from "../framework/interface.ts";
import { asError, Code, isSuccess, Status, unresolvable, unschedulable, type Result } from "../framework/status.ts";
import type { NodeInfo } from "../node-info.ts";
import { matchesLabels } from "../../../lib/k8s/selectors.ts";
import type { PodInfo } from "../projection.ts";
import type { DisruptionBudgetInfo, Snapshot } from "../snapshot.ts";

const NAME = "DefaultPreemption";
const NOT_HELPFUL = "Preemption is not helpful for scheduling";
const NO_VICTIMS = "No preemption victims found for incoming pod";

export interface DefaultPreemptionArgs {
  /** Dry-run at least this share of the nodes where preemption might help (0..100, default 10). */
  minCandidateNodesPercentage?: number;
  /** …and at least this many (default 100). */
  minCandidateNodesAbsolute?: number;
}

interface Candidate {
  readonly node: string;
  /** Most important first within each group (PDB-violating victims first, as kube lists them). */
  readonly victims: PodInfo[];
  readonly numPDBViolations: number;
}

/** A pod's start time for ordering; one that has not started counts as starting now, i.e. last. */
const startTime = (p: PodInfo): number => p.startTime ?? Number.MAX_SAFE_INTEGER;

/** util.MoreImportantPod: higher priority, then the one that started first. */
function moreImportantPod(a: PodInfo, b: PodInfo): boolean {
  if (a.spec.priority !== b.spec.priority) return a.spec.priority > b.spec.priority;
  return startTime(a) < startTime(b);
}

/** The pod is going away because the scheduler preempted it (a DisruptionTarget condition). */
const terminatingByPreemption = (p: PodInfo): boolean => p.deleting && p.preemptedByScheduler;

/** PodEligibleToPreemptOthers: why the pod may not preempt, or undefined if it may. */
function notEligibleReason(pod: PodInfo, nominatedNodeStatus: Status | undefined, snapshot: Snapshot): string | undefined {
  if (pod.spec.preemptionPolicy === "Never") return "not eligible due to preemptionPolicy=Never.";
  if (pod.nominatedNodeName !== "") {
    // The nominated node became unusable for good: preempting elsewhere is fine.
    if (nominatedNodeStatus?.code === Code.UnschedulableAndUnresolvable) return undefined;
    const node = snapshot.node(pod.nominatedNodeName);
    if (node?.pods.some((p) => p.spec.priority < pod.spec.priority && terminatingByPreemption(p))) {
      return "not eligible due to a terminating pod on the nominated node.";
    }
  }
  return undefined;
}

/** filterPodsWithPDBViolation: victims whose eviction would exceed a budget's allowed disruptions, and the rest. */
function splitByDisruptionBudgets(pods: readonly PodInfo[], budgets: readonly DisruptionBudgetInfo[]): [violating: PodInfo[], nonViolating: PodInfo[]] {
  const allowed = budgets.map((b) => b.disruptionsAllowed);
  const violating: PodInfo[] = [];
  const nonViolating: PodInfo[] = [];
  for (const pod of pods) {
    let violated = false;
    if (Object.keys(pod.labels).length > 0) {
      budgets.forEach((b, i) => {
        if (b.namespace !== pod.namespace || b.selector === "nothing" || !matchesLabels(b.selector, pod.labels)) return;
        // Already counted by the API server's eviction: not a new violation.
        if (b.disruptedPods.has(pod.name)) return;
        allowed[i]!--;
        if (allowed[i]! < 0) violated = true;
      });
    }
    (violated ? violating : nonViolating).push(pod);
  }
  return [violating, nonViolating];
}

/**
 * SelectVictimsOnNode: remove every lower-priority pod; if the pod then fits, add them back one by
 * one, most important first (budget-protected ones before the others), keeping out only those
 * that must go. `node` and `state` are copies.
 */
function selectVictimsOnNode(handle: FrameworkHandle, state: CycleState, pod: PodInfo, node: NodeInfo, budgets: readonly DisruptionBudgetInfo[]): { victims: PodInfo[]; numPDBViolations: number } | Status {
  const remove = (p: PodInfo): Result => {
    node.removePod(p.key);
    return handle.runPreFilterExtensionRemovePod(state, pod, p, node);
  };
  const add = (p: PodInfo): Result => {
    node.addPod(p);
    return handle.runPreFilterExtensionAddPod(state, pod, p, node);
  };
  const potential: PodInfo[] = [];
  for (const p of [...node.pods]) {
    if (p.spec.priority < pod.spec.priority) {
      potential.push(p);
      const s = remove(p);
      if (!isSuccess(s)) return s;
    }
  }
  if (potential.length === 0) return unresolvable(NO_VICTIMS);
  // Even with every lower-priority pod gone it does not fit (affinity to a victim is not considered).
  const fits = handle.runFilterPluginsWithNominatedPods(state, pod, node);
  if (!isSuccess(fits)) return fits;
  potential.sort((a, b) => (moreImportantPod(a, b) ? -1 : moreImportantPod(b, a) ? 1 : 0));
  const [violating, nonViolating] = splitByDisruptionBudgets(potential, budgets);
  const victims: PodInfo[] = [];
  const reprieve = (p: PodInfo): boolean | Status => {
    const s = add(p);
    if (!isSuccess(s)) return s;
    if (isSuccess(handle.runFilterPluginsWithNominatedPods(state, pod, node))) return true;
    const r = remove(p);
    if (!isSuccess(r)) return r;
    victims.push(p);
    return false;
  };
  let numPDBViolations = 0;
  for (const p of violating) {
    const fit = reprieve(p);
    if (fit instanceof Status) return fit;
    if (!fit) numPDBViolations++;
  }
  for (const p of nonViolating) {
    const fit = reprieve(p);
    if (fit instanceof Status) return fit;
  }
  return { victims, numPDBViolations };
}

/** util.GetEarliestPodStartTime: the earliest start among the highest-priority victims. */
function earliestStartOfHighestPriority(victims: readonly PodInfo[]): number {
  let earliest = startTime(victims[0]!);
  let maxPriority = victims[0]!.spec.priority;
  for (const p of victims) {
    if (p.spec.priority === maxPriority) earliest = Math.min(earliest, startTime(p));
    else if (p.spec.priority > maxPriority) {
      maxPriority = p.spec.priority;
      earliest = startTime(p);
    }
  }
  return earliest;
}

/**
 * pickOneNodeForPreemption: fewest PDB violations, then the lowest highest-priority victim, the
 * lowest sum of priorities, the fewest victims, the latest start among the highest-priority
 * victims, then the first.
 */
export function pickOneNodeForPreemption(candidates: readonly Candidate[]): Candidate | undefined {
  const scoreFuncs: ((c: Candidate) => number)[] = [
    (c) => -c.numPDBViolations,
    (c) => -c.victims[0]!.spec.priority,
    (c) => -c.victims.reduce((sum, p) => sum + p.spec.priority + 2 ** 31, 0),
    (c) => -c.victims.length,
    (c) => earliestStartOfHighestPriority(c.victims),
  ];
  let remaining = [...candidates];
  for (const f of scoreFuncs) {
    if (remaining.length <= 1) break;
    let best = -Infinity;
    let selected: Candidate[] = [];
    for (const c of remaining) {
      const score = f(c);
      if (score > best) {
        best = score;
        selected = [];
      }
      if (score === best) selected.push(c);
    }
    remaining = selected;
  }
  return remaining[0];
}

export const defaultPreemption: PluginFactory = (rawArgs, handle) => {
  const args = (rawArgs ?? {}) as DefaultPreemptionArgs;
  const percentage = args.minCandidateNodesPercentage ?? 10;
  const absolute = args.minCandidateNodesAbsolute ?? 100;
  if (!(percentage >= 0 && percentage <= 100)) throw new Error(`minCandidateNodesPercentage: Invalid value: ${percentage}: not in valid range [0, 100]`);
  if (!(absolute >= 0)) throw new Error(`minCandidateNodesAbsolute: Invalid value: ${absolute}: not in valid range [0, inf)`);
  if (percentage === 0 && absolute === 0) throw new Error("minCandidateNodesPercentage: Invalid value: 0: cannot be zero at the same time as minCandidateNodesAbsolute");

  const numCandidates = (numNodes: number): number => Math.min(numNodes, Math.max(absolute, Math.trunc((numNodes * percentage) / 100)));

  /** The preemption summary: a FitError over the nodes' preemption statuses. */
  const summary = (pod: PodInfo, statuses: Map<string, Status>): string => {
    const diagnosis = newDiagnosis();
    for (const [name, s] of statuses) diagnosis.nodeToStatus.set(name, s);
    return new FitError(pod, statuses.size, diagnosis).message;
  };

  return {
    name: NAME,
    postFilter(state, pod, filterStatuses) {
      const snapshot = state.snapshot;
      const notEligible = notEligibleReason(pod, filterStatuses.get(pod.nominatedNodeName), snapshot);
      if (notEligible) return { status: unschedulable(`preemption: ${notEligible}`) };

      const all = snapshot.nodes();
      if (all.length === 0) return { status: asError("preemption: no nodes available") };
      // Only nodes that merely lack room (Unschedulable) can be helped by evictions.
      const statuses = new Map<string, Status>();
      const potential: NodeInfo[] = [];
      for (const node of all) {
        const s = filterStatuses.get(node.name);
        if (!s || s.code === Code.UnschedulableAndUnresolvable) statuses.set(node.name, unresolvable(NOT_HELPFUL));
        else potential.push(node);
      }
      const cleared: PostFilterResult = { nominatedNodeName: "", victims: [], clearNominations: [] };
      if (potential.length === 0) return { result: cleared, status: unschedulable(`preemption: ${summary(pod, statuses)}`) };

      const budgets = [...snapshot.disruptionBudgets.values()];
      const wanted = numCandidates(potential.length);
      const offset = Math.floor(handle.random() * potential.length);
      const nonViolating: Candidate[] = [];
      const violating: Candidate[] = [];
      for (let i = 0; i < potential.length; i++) {
        const node = potential[(offset + i) % potential.length]!;
        const found = selectVictimsOnNode(handle, state.clone(), pod, node.clone(), budgets);
        if (found instanceof Status) {
          if (found.code === Code.Error) return { status: new Status(Code.Error, [`preemption: ${found.message}`]) };
          statuses.set(node.name, found);
          continue;
        }
        if (found.victims.length === 0) return { status: asError(`preemption: expected at least one victim pod on node "${node.name}"`) };
        const candidate = { node: node.name, victims: found.victims, numPDBViolations: found.numPDBViolations };
        if (found.numPDBViolations === 0) {
          if (nonViolating.length < wanted) nonViolating.push(candidate);
        } else if (violating.length < wanted) violating.push(candidate);
        if (nonViolating.length > 0 && nonViolating.length + violating.length >= wanted) break;
      }
      const candidates = [...nonViolating, ...violating];
      if (candidates.length === 0) return { result: cleared, status: unschedulable(`preemption: ${summary(pod, statuses)}`) };

      const best = pickOneNodeForPreemption(candidates)!;
      // Lower-priority pods nominated to that node may no longer fit there: they lose their nomination.
      const clearNominations = snapshot.nominatedPods(best.node).filter((p) => p.spec.priority < pod.spec.priority);
      return { result: { nominatedNodeName: best.node, victims: best.victims, clearNominations }, status: undefined };
    },
  };
};

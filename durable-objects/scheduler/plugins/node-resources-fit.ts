// NodeResourcesFit: Filter checks the pod's requests (containers, init and sidecar containers,
// overhead, extended resources) and the pod count against what is left of the node's allocatable;
// Score ranks nodes by the configured strategy: LeastAllocated (default), MostAllocated or
// RequestedToCapacityRatio.
import { ActionType } from "../framework/events.ts";
import type { PluginFactory } from "../framework/interface.ts";
import { unschedulable } from "../framework/status.ts";
import type { NodeInfo } from "../node-info.ts";
import type { PodInfo } from "../projection.ts";
import {
  DEFAULT_RESOURCES, leastAllocated, mostAllocated, podRequestList, requestedToCapacityRatio, scoreNode, validateResources,
  type ResourceScorer, type ResourceSpec, type UtilizationShapePoint, PodRequestsState,
} from "../resource-allocation.ts";
import { isExtendedResourceName } from "../resources.ts";

const NAME = "NodeResourcesFit";
const PRE_SCORE_KEY = `PreScore${NAME}`;

export interface NodeResourcesFitArgs {
  ignoredResources?: string[];
  ignoredResourceGroups?: string[];
  scoringStrategy?: {
    type?: "LeastAllocated" | "MostAllocated" | "RequestedToCapacityRatio";
    resources?: ResourceSpec[];
    requestedToCapacityRatio?: { shape?: UtilizationShapePoint[] };
  };
}

/** InsufficientResource's reasons for one node, in kube's order (pods, cpu, memory, ephemeral-storage, scalars). */
export function insufficientResources(pod: PodInfo, node: NodeInfo, ignored: ReadonlySet<string> = new Set(), ignoredGroups: ReadonlySet<string> = new Set()): string[] {
  const reasons: string[] = [];
  const alloc = node.node!.allocatable;
  if (node.pods.length + 1 > alloc.allowedPodNumber) reasons.push("Too many pods");
  const r = pod.spec.requests;
  const scalars = Object.entries(r.scalar ?? {});
  if (r.milliCPU === 0 && r.memory === 0 && r.ephemeralStorage === 0 && scalars.length === 0) return reasons;
  const used = node.requested;
  if (r.milliCPU > 0 && r.milliCPU > alloc.milliCPU - used.milliCPU) reasons.push("Insufficient cpu");
  if (r.memory > 0 && r.memory > alloc.memory - used.memory) reasons.push("Insufficient memory");
  if (r.ephemeralStorage > 0 && r.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage) reasons.push("Insufficient ephemeral-storage");
  for (const [name, amount] of scalars) {
    if (amount === 0) continue;
    if (isExtendedResourceName(name) && (ignored.has(name) || ignoredGroups.has(name.split("/")[0]!))) continue;
    if (amount > (alloc.scalar?.[name] ?? 0) - (used.scalar?.[name] ?? 0)) reasons.push(`Insufficient ${name}`);
  }
  return reasons;
}

function scorerFor(args: NodeResourcesFitArgs): { resources: ResourceSpec[]; scorer: ResourceScorer } {
  const strategy = args.scoringStrategy ?? {};
  const resources = strategy.resources && strategy.resources.length > 0 ? strategy.resources : [...DEFAULT_RESOURCES];
  validateResources(resources, "scoringStrategy.resources");
  switch (strategy.type ?? "LeastAllocated") {
    case "LeastAllocated":
      return { resources, scorer: leastAllocated(resources) };
    case "MostAllocated":
      return { resources, scorer: mostAllocated(resources) };
    case "RequestedToCapacityRatio": {
      const shape = strategy.requestedToCapacityRatio?.shape ?? [];
      if (shape.length === 0) throw new Error("scoringStrategy.requestedToCapacityRatio.shape: Required value: at least one point must be specified");
      shape.forEach((p, i) => {
        if (!(p.utilization >= 0 && p.utilization <= 100)) throw new Error(`scoringStrategy.requestedToCapacityRatio.shape[${i}].utilization: Invalid value: ${p.utilization}: not in valid range [0, 100]`);
        if (i > 0 && p.utilization <= shape[i - 1]!.utilization) throw new Error(`scoringStrategy.requestedToCapacityRatio.shape[${i}].utilization: Invalid value: ${p.utilization}: utilization values must be sorted in increasing order`);
        if (!(p.score >= 0 && p.score <= 10)) throw new Error(`scoringStrategy.requestedToCapacityRatio.shape[${i}].score: Invalid value: ${p.score}: not in valid range [0, 10]`);
      });
      return { resources, scorer: requestedToCapacityRatio(resources, shape) };
    }
    default:
      throw new Error(`scoringStrategy.type: Unsupported value: "${strategy.type}": supported values: "LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"`);
  }
}

export const nodeResourcesFit: PluginFactory = (rawArgs) => {
  const args = (rawArgs ?? {}) as NodeResourcesFitArgs;
  const ignored = new Set(args.ignoredResources ?? []);
  const ignoredGroups = new Set(args.ignoredResourceGroups ?? []);
  const { resources, scorer } = scorerFor(args);
  return {
    name: NAME,
    events: [
      { resource: "Pod", actionType: ActionType.Delete, label: "PodDelete" },
      { resource: "Node", actionType: ActionType.Add | ActionType.Update, label: "Node" },
    ],
    filter(_state, pod, node) {
      const reasons = insufficientResources(pod, node, ignored, ignoredGroups);
      return reasons.length > 0 ? unschedulable(...reasons) : undefined;
    },
    preScore(state, pod) {
      state.write(PRE_SCORE_KEY, new PodRequestsState(podRequestList(pod, resources, false)));
      return undefined;
    },
    score(state, pod, node) {
      const requests = state.read<PodRequestsState>(PRE_SCORE_KEY)?.podRequests ?? podRequestList(pod, resources, false);
      return scoreNode(node, requests, resources, false, scorer);
    },
  };
};

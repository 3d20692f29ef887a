// NodeResourcesBalancedAllocation (Score): prefers nodes whose cpu and memory (or the configured
// resources) would be used in equal shares with the pod on them.
import type { PluginFactory } from "../framework/interface.ts";
import { balancedResourceScorer, DEFAULT_RESOURCES, podRequestList, PodRequestsState, scoreNode, validateResources, type ResourceSpec } from "../resource-allocation.ts";

const NAME = "NodeResourcesBalancedAllocation";
const PRE_SCORE_KEY = `PreScore${NAME}`;

export interface NodeResourcesBalancedAllocationArgs {
  resources?: ResourceSpec[];
}

export const nodeResourcesBalancedAllocation: PluginFactory = (rawArgs) => {
  const args = (rawArgs ?? {}) as NodeResourcesBalancedAllocationArgs;
  const resources = args.resources && args.resources.length > 0 ? args.resources : [...DEFAULT_RESOURCES];
  validateResources(resources, "resources");
  return {
    name: NAME,
    preScore(state, pod) {
      state.write(PRE_SCORE_KEY, new PodRequestsState(podRequestList(pod, resources, true)));
      return undefined;
    },
    score(state, pod, node) {
      const requests = state.read<PodRequestsState>(PRE_SCORE_KEY)?.podRequests ?? podRequestList(pod, resources, true);
      return scoreNode(node, requests, resources, true, balancedResourceScorer);
    },
  };
};

// NodeResourcesBalancedAllocation (Score): prefers nodes whose cpu and memory (or the configured
// resources) would be used in equal shares with the pod on them.
import type { StateData } from "../framework/cycle-state.ts";
import type { PluginFactory } from "../framework/interface.ts";
import { balancedResourceScorer, DEFAULT_RESOURCES, podRequestList, scoreNode, validateResources, type ResourceSpec } from "../resource-allocation.ts";

const NAME = "NodeResourcesBalancedAllocation";
const PRE_SCORE_KEY = `PreScore${NAME}`;

export interface NodeResourcesBalancedAllocationArgs {
  resources?: ResourceSpec[];
}

class PreScoreState implements StateData {
  readonly podRequests: number[];

  constructor(podRequests: number[]) {
    this.podRequests = podRequests;
  }
  clone() {
    return this;
  }
}

export const nodeResourcesBalancedAllocation: PluginFactory = (rawArgs) => {
  const args = (rawArgs ?? {}) as NodeResourcesBalancedAllocationArgs;
  const resources = args.resources && args.resources.length > 0 ? args.resources : [...DEFAULT_RESOURCES];
  validateResources(resources, "resources");
  return {
    name: NAME,
    preScore(state, pod) {
      state.write(PRE_SCORE_KEY, new PreScoreState(podRequestList(pod, resources, true)));
      return undefined;
    },
    score(state, pod, node) {
      const requests = state.read<PreScoreState>(PRE_SCORE_KEY)?.podRequests ?? podRequestList(pod, resources, true);
      return scoreNode(node, requests, resources, true, balancedResourceScorer);
    },
  };
};

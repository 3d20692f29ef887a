// TaintToleration: Filter keeps a pod off nodes with a NoSchedule or NoExecute taint it does not
// tolerate; Score prefers nodes with fewer untolerated PreferNoSchedule taints.
import type { CycleState, StateData } from "../framework/cycle-state.ts";
import { ActionType } from "../framework/events.ts";
import { MAX_NODE_SCORE, type PluginFactory } from "../framework/interface.ts";
import { defaultNormalizeScore } from "../framework/normalize-score.ts";
import { unresolvable } from "../framework/status.ts";
import type { PodInfo, Toleration } from "../projection.ts";
import { doNotSchedule, findUntoleratedTaint, tolerationsTolerateTaint } from "../taints.ts";

const NAME = "TaintToleration";
const PRE_SCORE_KEY = `PreScore${NAME}`;

class PreScoreState implements StateData {
  readonly tolerations: readonly Toleration[];

  constructor(tolerations: readonly Toleration[]) {
    this.tolerations = tolerations;
  }
  clone() {
    return this;
  }
}

/** The tolerations that can tolerate a PreferNoSchedule taint. */
function preferNoScheduleTolerations(pod: PodInfo): Toleration[] {
  return pod.spec.tolerations.filter((t) => t.effect === "" || t.effect === "PreferNoSchedule");
}

export const taintToleration: PluginFactory = () => ({
  name: NAME,
  events: [{ resource: "Node", actionType: ActionType.Add | ActionType.Update, label: "Node" }],
  filter(_state, pod, node) {
    const taint = findUntoleratedTaint(node.node!.taints, pod.spec.tolerations, doNotSchedule);
    if (!taint) return undefined;
    return unresolvable(`node(s) had untolerated taint {${taint.key}: ${taint.value}}`);
  },
  preScore(state, pod) {
    state.write(PRE_SCORE_KEY, new PreScoreState(preferNoScheduleTolerations(pod)));
    return undefined;
  },
  score(state: CycleState, pod, node) {
    const tolerations = state.read<PreScoreState>(PRE_SCORE_KEY)?.tolerations ?? preferNoScheduleTolerations(pod);
    let intolerable = 0;
    for (const taint of node.node!.taints) {
      if (taint.effect === "PreferNoSchedule" && !tolerationsTolerateTaint(tolerations, taint)) intolerable++;
    }
    return intolerable;
  },
  normalizeScore(_state, _pod, scores) {
    defaultNormalizeScore(MAX_NODE_SCORE, true, scores);
    return undefined;
  },
});

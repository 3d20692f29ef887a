// NodeUnschedulable (Filter): a cordoned node (spec.unschedulable) takes only pods that tolerate the
// node.kubernetes.io/unschedulable:NoSchedule taint.
import { ActionType } from "../framework/events.ts";
import type { PluginFactory } from "../framework/interface.ts";
import { unresolvable } from "../framework/status.ts";
import { tolerationsTolerateTaint } from "../taints.ts";

const NAME = "NodeUnschedulable";
const ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable";
const UNSCHEDULABLE_TAINT = { key: "node.kubernetes.io/unschedulable", value: "", effect: "NoSchedule" };

export const nodeUnschedulable: PluginFactory = () => ({
  name: NAME,
  events: [{ resource: "Node", actionType: ActionType.Add | ActionType.UpdateNodeTaint, label: "Node" }],
  filter(_state, pod, node) {
    if (!node.node!.unschedulable) return undefined;
    if (tolerationsTolerateTaint(pod.spec.tolerations, UNSCHEDULABLE_TAINT)) return undefined;
    return unresolvable(ERR_REASON_UNSCHEDULABLE);
  },
});

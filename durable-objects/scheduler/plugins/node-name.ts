// NodeName (Filter): a pod that names its node (spec.nodeName) fits only that node.
import { ActionType } from "../framework/events.ts";
import type { PluginFactory } from "../framework/interface.ts";
import { unresolvable } from "../framework/status.ts";

const NAME = "NodeName";
const ERR_REASON = "node(s) didn't match the requested node name";

export const nodeName: PluginFactory = () => ({
  name: NAME,
  events: [{ resource: "Node", actionType: ActionType.Add | ActionType.Update, label: "Node" }],
  filter(_state, pod, node) {
    if (pod.nodeName === "" || pod.nodeName === node.name) return undefined;
    return unresolvable(ERR_REASON);
  },
});

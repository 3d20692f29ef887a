// NodePorts (Filter): a pod's host ports must be free on the node; 0.0.0.0 overlaps every address.
import { ActionType } from "../framework/events.ts";
import type { PluginFactory } from "../framework/interface.ts";
import { skip, unschedulable } from "../framework/status.ts";
import { hostPortConflicts } from "../node-info.ts";

const NAME = "NodePorts";
const ERR_REASON = "node(s) didn't have free ports for the requested pod ports";

export const nodePorts: PluginFactory = () => ({
  name: NAME,
  events: [
    { resource: "Pod", actionType: ActionType.Delete, label: "PodDelete" },
    { resource: "Node", actionType: ActionType.Add | ActionType.Update, label: "Node" },
  ],
  preFilter(_state, pod) {
    return pod.spec.hostPorts.length === 0 ? skip() : undefined;
  },
  filter(_state, pod, node) {
    for (const want of pod.spec.hostPorts) if (hostPortConflicts(node.usedPorts, want)) return unschedulable(ERR_REASON);
    return undefined;
  },
});

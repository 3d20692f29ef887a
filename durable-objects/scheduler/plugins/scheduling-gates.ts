// SchedulingGates (PreEnqueue): a pod whose spec.schedulingGates is not empty stays out of the active
// queue until an update removes the last gate.
import { ActionType } from "../framework/events.ts";
import type { PluginFactory } from "../framework/interface.ts";
import { unresolvable } from "../framework/status.ts";

const NAME = "SchedulingGates";

export const schedulingGates: PluginFactory = () => ({
  name: NAME,
  events: [{ resource: "Pod", actionType: ActionType.Update, label: "PodUpdate" }],
  preEnqueue(pod) {
    const gates = pod.spec.schedulingGates;
    if (gates.length === 0) return undefined;
    return unresolvable(`waiting for scheduling gates: [${gates.join(" ")}]`);
  },
});

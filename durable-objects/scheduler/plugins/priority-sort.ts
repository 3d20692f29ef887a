// PrioritySort (QueueSort): higher spec.priority first, then the pod that entered the queue first.
import type { PluginFactory } from "../framework/interface.ts";

const NAME = "PrioritySort";

export const prioritySort: PluginFactory = () => ({
  name: NAME,
  less(a, b) {
    const pa = a.pod.spec.priority;
    const pb = b.pod.spec.priority;
    return pa > pb || (pa === pb && a.timestamp < b.timestamp);
  },
});

// PrioritySort orders the active queue: higher priority first, then earlier queued.
import { describe, expect, it } from "vitest";
import type { QueuedPodInfo } from "../framework/interface.ts";
import { makePod, plugin, TestCluster } from "../testing.ts";
import { prioritySort } from "./priority-sort.ts";

const cluster = new TestCluster();
const queued = (priority: number, timestamp: number): QueuedPodInfo => ({
  pod: cluster.pod(makePod(`p${priority}-${timestamp}`, { priority })), timestamp, attempts: 0, initialAttemptTimestamp: timestamp, unschedulablePlugins: new Set(), gated: false,
});

describe("PrioritySort", () => {
  const less = plugin(prioritySort).less!;
  const cases: [string, QueuedPodInfo, QueuedPodInfo, boolean][] = [
    ["higher priority first", queued(10, 5), queued(1, 1), true],
    ["lower priority after", queued(1, 1), queued(10, 5), false],
    ["equal priority: earlier queued first", queued(5, 1), queued(5, 2), true],
    ["equal priority: later queued after", queued(5, 2), queued(5, 1), false],
    ["equal priority and time: neither before the other", queued(5, 1), queued(5, 1), false],
    ["negative priorities compare as numbers", queued(-1, 9), queued(-5, 1), true],
  ];
  for (const [name, a, b, want] of cases) it(name, () => expect(less(a, b)).toBe(want));
});

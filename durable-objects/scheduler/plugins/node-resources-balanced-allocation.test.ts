// NodeResourcesBalancedAllocation: 100 × (1 − std of the requested fractions), with the pod counted.
import { describe, expect, it } from "vitest";
import { makeNode, makePod, plugin, scores, TestCluster } from "../testing.ts";
import { nodeResourcesBalancedAllocation } from "./node-resources-balanced-allocation.ts";

describe("NodeResourcesBalancedAllocation", () => {
  const cases: [string, Record<string, string> | undefined, Record<string, string>, number][] = [
    ["cpu 1/4 and memory 1/8: std 1/16", undefined, { cpu: "1", memory: "1Gi" }, 93],
    ["equal fractions: perfectly balanced", { memory: "1Gi" }, { cpu: "1", memory: "1Gi" }, 100],
    ["fractions above 1 count as 1", undefined, { cpu: "8", memory: "0" }, 50],
    ["a pod without requests on an empty node", undefined, {}, 100],
  ];
  for (const [name, existing, requests, want] of cases) {
    it(name, () => {
      const pods = existing ? [makePod("existing", { nodeName: "n", requests: existing })] : [];
      const cluster = new TestCluster([makeNode("n", { cpu: "4", memory: "8Gi" })], pods);
      const p = plugin(nodeResourcesBalancedAllocation);
      const state = cluster.state();
      const pod = cluster.pod(makePod("p", { requests }));
      p.preScore!(state, pod, [cluster.node("n")]);
      expect(scores(p, state, pod, [cluster.node("n")])).toEqual({ n: want });
    });
  }
});

// NodeUnschedulable keeps pods off cordoned nodes unless they tolerate the unschedulable taint.
import type { Toleration } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { makeNode, makePod, plugin, TestCluster } from "../testing.ts";
import { nodeUnschedulable } from "./node-unschedulable.ts";

describe("NodeUnschedulable", () => {
  const cluster = new TestCluster([makeNode("open"), makeNode("cordoned", { unschedulable: true })]);
  const p = plugin(nodeUnschedulable);
  const cases: [string, string, Toleration[] | undefined, string | undefined][] = [
    ["schedulable node", "open", undefined, undefined],
    ["cordoned node", "cordoned", undefined, "node(s) were unschedulable"],
    ["cordoned node, taint tolerated by key", "cordoned", [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }], undefined],
    ["cordoned node, everything tolerated", "cordoned", [{ operator: "Exists" }], undefined],
    ["cordoned node, toleration for another effect", "cordoned", [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoExecute" }], "node(s) were unschedulable"],
  ];
  for (const [name, node, tolerations, message] of cases) {
    it(name, () => expect(p.filter!(cluster.state(), cluster.pod(makePod("p", { tolerations })), cluster.node(node))?.message).toBe(message));
  }
});

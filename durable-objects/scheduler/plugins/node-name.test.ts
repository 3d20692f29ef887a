// NodeName: a pod that names a node fits only that node.
import { describe, expect, it } from "vitest";
import { makeNode, makePod, plugin, TestCluster } from "../testing.ts";
import { nodeName } from "./node-name.ts";

describe("NodeName", () => {
  const cluster = new TestCluster([makeNode("a"), makeNode("b")]);
  const p = plugin(nodeName);
  const cases: [string, string | undefined, string, string | undefined][] = [
    ["no node named: any node", undefined, "a", undefined],
    ["named node", "a", "a", undefined],
    ["another node", "a", "b", "node(s) didn't match the requested node name"],
  ];
  for (const [name, wanted, node, message] of cases) {
    it(name, () => expect(p.filter!(cluster.state(), cluster.pod(makePod("p", { nodeName: wanted })), cluster.node(node))?.message).toBe(message));
  }
});

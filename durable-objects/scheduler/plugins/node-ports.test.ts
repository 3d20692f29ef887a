// NodePorts: host ports in use on the node, per protocol and address (0.0.0.0 overlaps all).
import type { ContainerPort } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { Code } from "../framework/status.ts";
import { makeNode, makePod, plugin, TestCluster } from "../testing.ts";
import { nodePorts } from "./node-ports.ts";

const port = (hostPort: number, protocol = "TCP", hostIP?: string): ContainerPort => ({ containerPort: hostPort, hostPort, protocol, ...(hostIP ? { hostIP } : {}) });

describe("NodePorts", () => {
  const p = plugin(nodePorts);
  const cases: [string, ContainerPort[], ContainerPort[], boolean][] = [
    ["nothing in use", [], [port(80)], true],
    ["same port and protocol", [port(80)], [port(80)], false],
    ["same port, other protocol", [port(53, "UDP")], [port(53, "TCP")], true],
    ["other port", [port(80)], [port(8080)], true],
    ["specific address vs 0.0.0.0 in use", [port(80)], [port(80, "TCP", "10.0.0.1")], false],
    ["0.0.0.0 vs a specific address in use", [port(80, "TCP", "10.0.0.1")], [port(80)], false],
    ["two specific addresses", [port(80, "TCP", "10.0.0.1")], [port(80, "TCP", "10.0.0.2")], true],
    ["protocol defaults to TCP", [{ containerPort: 80, hostPort: 80 }], [port(80, "TCP")], false],
  ];
  for (const [name, used, wanted, fits] of cases) {
    it(name, () => {
      const existing = used.length ? [makePod("existing", { nodeName: "n", hostPorts: used })] : [];
      const cluster = new TestCluster([makeNode("n")], existing);
      const pod = cluster.pod(makePod("p", { hostPorts: wanted }));
      expect(p.preFilter!(cluster.state(), pod)).toBeUndefined();
      const status = p.filter!(cluster.state(), pod, cluster.node("n"));
      expect(status?.message).toBe(fits ? undefined : "node(s) didn't have free ports for the requested pod ports");
      if (!fits) expect(status?.code).toBe(Code.Unschedulable);
    });
  }

  it("skips pods without host ports", () => {
    const cluster = new TestCluster([makeNode("n")]);
    const status = p.preFilter!(cluster.state(), cluster.pod(makePod("p", { hostPorts: [{ containerPort: 80 }] })));
    expect(status).toMatchObject({ code: Code.Skip });
  });

  it("frees the port when the pod using it goes", () => {
    const cluster = new TestCluster([makeNode("n")], [makePod("existing", { nodeName: "n", hostPorts: [80] })]);
    cluster.snapshot.removePod("default/existing");
    expect(p.filter!(cluster.state(), cluster.pod(makePod("p", { hostPorts: [80] })), cluster.node("n"))).toBeUndefined();
  });
});

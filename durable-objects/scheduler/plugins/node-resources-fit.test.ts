// NodeResourcesFit: the filter's reasons (requests of containers, init and sidecar containers and
// overhead; pod count; extended resources) and the three scoring strategies.
import type { Container, Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { Code } from "../framework/status.ts";
import { makeNode, makePod, plugin, scores, TestCluster } from "../testing.ts";
import { nodeResourcesFit } from "./node-resources-fit.ts";

const c = (name: string, requests: Record<string, string>, restartPolicy?: string): Container => ({ name, image: "i", resources: { requests }, ...(restartPolicy ? { restartPolicy } : {}) });

describe("NodeResourcesFit filter", () => {
  const p = plugin(nodeResourcesFit);
  // The node: 4 cpu, 8Gi, 3 pods, 2 example.com/gpu; one pod on it uses 1 cpu and 2Gi.
  const existing = makePod("existing", { nodeName: "n", requests: { cpu: "1", memory: "2Gi" } });
  const cases: [string, Pod, string[]][] = [
    ["fits", makePod("p", { requests: { cpu: "3", memory: "6Gi" } }), []],
    ["too much cpu", makePod("p", { requests: { cpu: "3500m" } }), ["Insufficient cpu"]],
    ["too much memory", makePod("p", { requests: { memory: "7Gi" } }), ["Insufficient memory"]],
    ["every reason is kept", makePod("p", { requests: { cpu: "4", memory: "7Gi" } }), ["Insufficient cpu", "Insufficient memory"]],
    ["no requests fit anywhere", makePod("p"), []],
    ["an extended resource the node has", makePod("p", { requests: { "example.com/gpu": "2" } }), []],
    ["more of it than the node has", makePod("p", { requests: { "example.com/gpu": "3" } }), ["Insufficient example.com/gpu"]],
    ["an extended resource the node lacks", makePod("p", { requests: { "other.io/fpga": "1" } }), ["Insufficient other.io/fpga"]],
    ["ephemeral storage", makePod("p", { requests: { "ephemeral-storage": "20Gi" } }), ["Insufficient ephemeral-storage"]],
    ["containers add up", makePod("p", { containers: [c("a", { cpu: "2" }), c("b", { cpu: "1500m" })] }), ["Insufficient cpu"]],
    ["an init container counts alone, not added", makePod("p", { initContainers: [c("init", { cpu: "3" })], containers: [c("a", { cpu: "1" })] }), []],
    ["an init container bigger than what is free", makePod("p", { initContainers: [c("init", { cpu: "3500m" })], containers: [c("a", { cpu: "1" })] }), ["Insufficient cpu"]],
    ["a sidecar adds to the containers", makePod("p", { initContainers: [c("proxy", { cpu: "1" }, "Always")], containers: [c("a", { cpu: "2500m" })] }), ["Insufficient cpu"]],
    ["an init container runs beside earlier sidecars", makePod("p", { initContainers: [c("proxy", { cpu: "1" }, "Always"), c("init", { cpu: "2500m" })], containers: [c("a", { cpu: "500m" })] }), ["Insufficient cpu"]],
    ["overhead is added", makePod("p", { requests: { cpu: "2500m" }, overhead: { cpu: "600m" } }), ["Insufficient cpu"]],
  ];
  for (const [name, pod, reasons] of cases) {
    it(name, () => {
      const cluster = new TestCluster([makeNode("n", { pods: "3", allocatable: { "example.com/gpu": "2", "ephemeral-storage": "10Gi" } })], [existing]);
      const status = p.filter!(cluster.state(), cluster.pod(pod), cluster.node("n"));
      expect(status?.reasons ?? []).toEqual(reasons);
      if (reasons.length) expect(status?.code).toBe(Code.Unschedulable);
    });
  }

  it("counts pods against allocatable pods", () => {
    const cluster = new TestCluster([makeNode("n", { pods: "1" })], [makePod("existing", { nodeName: "n" })]);
    expect(p.filter!(cluster.state(), cluster.pod(makePod("p", { requests: { cpu: "5" } })), cluster.node("n"))?.reasons).toEqual(["Too many pods", "Insufficient cpu"]);
  });

  it("ignores configured extended resources and resource groups", () => {
    const ignoring = plugin(nodeResourcesFit, { ignoredResources: ["example.com/gpu"], ignoredResourceGroups: ["other.io"] });
    const cluster = new TestCluster([makeNode("n")]);
    expect(ignoring.filter!(cluster.state(), cluster.pod(makePod("p", { requests: { "example.com/gpu": "1", "other.io/fpga": "1" } })), cluster.node("n"))).toBeUndefined();
  });
});

describe("NodeResourcesFit score", () => {
  // Two nodes of 4 cpu / 8Gi; "busy" already runs 1 cpu / 2Gi. The pod asks 1 cpu / 2Gi.
  const score = (args: unknown, pod = makePod("p", { requests: { cpu: "1", memory: "2Gi" } })) => {
    const cluster = new TestCluster([makeNode("empty"), makeNode("busy")], [makePod("existing", { nodeName: "busy", requests: { cpu: "1", memory: "2Gi" } })]);
    const p = plugin(nodeResourcesFit, args);
    const state = cluster.state();
    const info = cluster.pod(pod);
    const infos = [cluster.node("empty"), cluster.node("busy")];
    p.preScore!(state, info, infos);
    return scores(p, state, info, infos);
  };
  const cases: [string, unknown, Record<string, number>][] = [
    ["LeastAllocated by default", undefined, { empty: 75, busy: 50 }],
    ["MostAllocated", { scoringStrategy: { type: "MostAllocated" } }, { empty: 25, busy: 50 }],
    ["RequestedToCapacityRatio shaped like MostAllocated", { scoringStrategy: { type: "RequestedToCapacityRatio", requestedToCapacityRatio: { shape: [{ utilization: 0, score: 0 }, { utilization: 100, score: 10 }] } } }, { empty: 25, busy: 50 }],
    ["RequestedToCapacityRatio shaped like LeastAllocated", { scoringStrategy: { type: "RequestedToCapacityRatio", requestedToCapacityRatio: { shape: [{ utilization: 0, score: 10 }, { utilization: 100, score: 0 }] } } }, { empty: 75, busy: 50 }],
    ["resource weights", { scoringStrategy: { type: "LeastAllocated", resources: [{ name: "cpu", weight: 3 }, { name: "memory", weight: 1 }] } }, { empty: 75, busy: 50 }],
  ];
  for (const [name, args, want] of cases) it(name, () => expect(score(args)).toEqual(want));

  it("counts 100m cpu and 200Mi memory for a container that requests nothing", () => {
    // (4000 - 100) × 100 / 4000 = 97; (8192Mi - 200Mi) × 100 / 8192Mi = 97. On "busy": 1100m, 2248Mi.
    expect(score(undefined, makePod("p"))).toEqual({ empty: 97, busy: 72 });
  });

  it("refuses invalid args", () => {
    expect(() => plugin(nodeResourcesFit, { scoringStrategy: { type: "Random" } })).toThrow(/Unsupported value: "Random"/);
    expect(() => plugin(nodeResourcesFit, { scoringStrategy: { resources: [{ name: "cpu", weight: 0 }] } })).toThrow(/resource weight of cpu/);
    expect(() => plugin(nodeResourcesFit, { scoringStrategy: { type: "RequestedToCapacityRatio" } })).toThrow(/at least one point/);
  });
});

// scheduleOne end to end over small snapshots with kube's default profile: where pods land (each
// placed pod is assumed before the next), and the FailedScheduling message when none fits.
import type { Node, Pod, PodAffinityTerm } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import type { KubeSchedulerConfiguration } from "./config.ts";
import { Code } from "./framework/status.ts";
import { newSchedulerState, numFeasibleNodesToFind, scheduleOne, type ScheduleResult } from "./schedule-one.ts";
import { defaultFramework, makeNode, makePod, TestCluster } from "./testing.ts";

const ZONE = "topology.kubernetes.io/zone";
const GPU_TAINT = { key: "dedicated", value: "gpu", effect: "NoSchedule" };

/** Schedules `incoming` in order; each result is the node name or the failure message. */
function run(nodes: Node[], existing: Pod[], incoming: Pod[], config?: KubeSchedulerConfiguration): { placed: string[]; results: ScheduleResult[]; cluster: TestCluster } {
  const cluster = new TestCluster(nodes, existing);
  const fwk = defaultFramework(config);
  const state = newSchedulerState(0, () => 0);
  const results: ScheduleResult[] = [];
  for (const p of incoming) {
    const pod = cluster.pod(p);
    const r = scheduleOne(pod, cluster.snapshot, fwk, state);
    if (r.nodeName !== undefined) cluster.snapshot.assume(pod, r.nodeName);
    results.push(r);
  }
  return { placed: results.map((r) => r.nodeName ?? r.message), results, cluster };
}

const cpu = (name: string, amount: string, o: Parameters<typeof makePod>[1] = {}) => makePod(name, { requests: { cpu: amount }, ...o });

describe("scheduleOne", () => {
  const cases: [string, Node[], Pod[], Pod[], string[]][] = [
    ["a pod goes where its requests fit", [makeNode("small", { cpu: "1" }), makeNode("big", { cpu: "4" })], [], [cpu("p", "2")], ["big"]],
    ["LeastAllocated spreads equal pods, then the cluster is full",
      [makeNode("n1", { cpu: "2" }), makeNode("n2", { cpu: "2" })], [], [cpu("p1", "1"), cpu("p2", "1"), cpu("p3", "1"), cpu("p4", "1"), cpu("p5", "1")],
      ["n2", "n1", "n2", "n1", "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.."]],
    ["a taint keeps pods without the toleration off",
      [makeNode("plain", { cpu: "1" }), makeNode("gpu", { taints: [GPU_TAINT] })], [cpu("busy", "1", { nodeName: "plain" })],
      [cpu("p", "1"), cpu("tolerant", "1", { tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }] })],
      ["0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling..", "gpu"]],
    ["required node affinity to a zone",
      [makeNode("a", { labels: { [ZONE]: "a" } }), makeNode("b", { labels: { [ZONE]: "b" } })], [],
      [makePod("p", { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: ZONE, operator: "In", values: ["b"] }] }] } } } })],
      ["b"]],
    ["preferred node affinity wins over an emptier node",
      [makeNode("a", { labels: { disk: "ssd" } }), makeNode("b")], [cpu("x", "2", { nodeName: "a" })],
      [makePod("p", { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] } }] } } })],
      ["a"]],
    ["no nodes at all", [], [], [makePod("p")], ["no nodes available to schedule pods"]],
    ["a missing claim: PreFilter's message, preemption cannot help",
      [makeNode("n1"), makeNode("n2")], [], [makePod("p", { volumes: [{ name: "v", persistentVolumeClaim: { claimName: "data" } }] })],
      ['0/2 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling..']],
    ["a pod too big for any node",
      [makeNode("n1", { cpu: "2" }), makeNode("n2", { cpu: "2" }), ...["g1", "g2", "g3"].map((n) => makeNode(n, { cpu: "8", taints: [GPU_TAINT] }))], [], [cpu("huge", "4")],
      ["0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling.."]],
  ];
  for (const [name, nodes, existing, incoming, want] of cases) it(name, () => expect(run(nodes, existing, incoming).placed).toEqual(want));

  it("spreads replicas with required anti-affinity across zones, one per zone", () => {
    const anti: PodAffinityTerm = { labelSelector: { matchLabels: { app: "web" } }, topologyKey: ZONE };
    const replica = (i: number) => makePod(`web-${i}`, { labels: { app: "web" }, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [anti] } } });
    const nodes = ["a", "b", "c"].flatMap((z) => [makeNode(`${z}1`, { labels: { [ZONE]: z } }), makeNode(`${z}2`, { labels: { [ZONE]: z } })]);
    const { placed } = run(nodes, [], [0, 1, 2, 3].map(replica));
    expect(new Set(placed.slice(0, 3).map((n) => n[0]))).toEqual(new Set(["a", "b", "c"]));
    expect(placed[3]).toBe("0/6 nodes are available: 6 node(s) didn't match pod anti-affinity rules. preemption: 0/6 nodes are available: 6 No preemption victims found for incoming pod..");
  });

  it("keeps replicas within maxSkew 1 across zones with a DoNotSchedule spread constraint", () => {
    const replica = (i: number) => makePod(`web-${i}`, {
      labels: { app: "web" }, requests: { cpu: "100m" },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: ZONE, whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "web" } } }],
    });
    // Zone a has three nodes, b one: LeastAllocated alone would pile onto a.
    const nodes = [makeNode("a1", { labels: { [ZONE]: "a" } }), makeNode("a2", { labels: { [ZONE]: "a" } }), makeNode("a3", { labels: { [ZONE]: "a" } }), makeNode("b1", { labels: { [ZONE]: "b" } })];
    const { placed } = run(nodes, [], [0, 1, 2, 3, 4, 5].map(replica));
    const perZone = (z: string) => placed.filter((n) => n.startsWith(z)).length;
    expect([perZone("a"), perZone("b")]).toEqual([3, 3]);
  });

  it("nominates a node and names the victims when preemption makes room; the message has no preemption part", () => {
    const { results } = run([makeNode("n1", { cpu: "1" })], [cpu("low", "1", { nodeName: "n1", priority: 1 })], [cpu("high", "1", { priority: 1000 })]);
    const r = results[0]!;
    expect(r.nodeName).toBeUndefined();
    if (r.nodeName === undefined) {
      expect(r.message).toBe("0/1 nodes are available: 1 Insufficient cpu.");
      expect(r.status.code).toBe(Code.Unschedulable);
      expect(r.postFilter?.nominatedNodeName).toBe("n1");
      expect(r.postFilter?.victims.map((v) => v.name)).toEqual(["low"]);
      expect([...r.unschedulable!.diagnosis.unschedulablePlugins]).toEqual(["NodeResourcesFit"]);
    }
  });

  it("tries the nominated node first", () => {
    const { placed } = run([makeNode("n1", { cpu: "8" }), makeNode("n2", { cpu: "2" })], [], [cpu("p", "1", { nominatedNodeName: "n2" })]);
    expect(placed).toEqual(["n2"]);
  });

  it("without a PostFilter plugin the message ends after the node reasons", () => {
    const { placed } = run([makeNode("n1", { cpu: "1" })], [], [cpu("p", "2")], { profiles: [{ schedulerName: "default-scheduler", plugins: { postFilter: { disabled: [{ name: "*" }] } } }] });
    expect(placed).toEqual(["0/1 nodes are available: 1 Insufficient cpu."]);
  });

  it("searches an adaptive share of a large cluster, starting where the last search stopped", () => {
    const nodes = Array.from({ length: 200 }, (_, i) => makeNode(`n${String(i).padStart(3, "0")}`));
    const cluster = new TestCluster(nodes);
    const state = newSchedulerState(0, () => 0);
    const adaptive = scheduleOne(cluster.pod(makePod("p")), cluster.snapshot, defaultFramework(), state);
    expect(adaptive).toMatchObject({ feasibleNodes: 100, evaluatedNodes: 100 });
    expect(state.nextStartNodeIndex).toBe(100);
    // The configuration's percentage (kept in the state), and a profile's own, which wins.
    expect(scheduleOne(cluster.pod(makePod("q")), cluster.snapshot, defaultFramework(), newSchedulerState(100, () => 0))).toMatchObject({ feasibleNodes: 200 });
    const profile = defaultFramework({ profiles: [{ schedulerName: "default-scheduler", percentageOfNodesToScore: 60 }] });
    expect(scheduleOne(cluster.pod(makePod("r")), cluster.snapshot, profile, newSchedulerState(100, () => 0))).toMatchObject({ feasibleNodes: 120 });
  });
});

describe("numFeasibleNodesToFind", () => {
  const cases: [number, number, number][] = [
    [0, 50, 50],
    [0, 100, 100],
    [0, 1000, 420],
    [0, 5000, 500],
    [0, 6000, 300],
    [0, 10_000, 500],
    [30, 1000, 300],
    [1, 1000, 100],
    [100, 5000, 5000],
  ];
  for (const [percentage, nodes, want] of cases) it(`${percentage}% of ${nodes} nodes: ${want}`, () => expect(numFeasibleNodesToFind(percentage, nodes)).toBe(want));
});

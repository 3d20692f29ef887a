// DefaultPreemption through the default profile: which node and victims it picks (fewest and
// least important, PodDisruptionBudgets respected where possible), when a pod may not preempt, and
// the summaries when nothing helps.
import type { Pod } from "kubernetes-types/core/v1";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1";
import { describe, expect, it } from "vitest";
import type { PostFilterResult } from "../framework/interface.ts";
import { Status } from "../framework/status.ts";
import { defaultFramework, makeNode, makePod, TestCluster } from "../testing.ts";
import { pickOneNodeForPreemption } from "./default-preemption.ts";

/** Runs PreFilter, Filter on every node and then PostFilter, as a failed cycle would. */
function preempt(cluster: TestCluster, pod: Pod): { result: PostFilterResult | undefined; status: Status } {
  const fwk = defaultFramework();
  const state = cluster.state();
  const info = cluster.pod(pod);
  const pre = fwk.runPreFilterPlugins(state, info);
  const statuses = new Map<string, Status>();
  for (const node of cluster.snapshot.nodes()) {
    const s = pre.status ?? fwk.runFilterPlugins(state, info, node);
    if (s) statuses.set(node.name, s);
  }
  return fwk.runPostFilterPlugins(state, info, statuses);
}

const running = (name: string, node: string, priority: number, cpu = "1", extra: Parameters<typeof makePod>[1] = {}) =>
  makePod(name, { nodeName: node, priority, requests: { cpu }, startTime: "2024-01-01T00:00:00Z", ...extra });
const preemptor = (o: Parameters<typeof makePod>[1] = {}) => makePod("high", { priority: 100, requests: { cpu: "1" }, ...o });
const names = (pods: readonly { name: string }[] | undefined) => (pods ?? []).map((p) => p.name);

describe("DefaultPreemption", () => {
  it("evicts the fewest, lowest-priority pods: the more important pod on the node is reprieved", () => {
    const cluster = new TestCluster([makeNode("n1", { cpu: "2" }), makeNode("n2", { cpu: "2" })], [
      running("low", "n1", 1), running("mid", "n1", 5), running("ten-a", "n2", 10), running("ten-b", "n2", 10),
    ]);
    const { result, status } = preempt(cluster, preemptor());
    expect(status.codeName).toBe("Success");
    expect(result?.nominatedNodeName).toBe("n1");
    expect(names(result?.victims)).toEqual(["low"]);
  });

  it("prefers a node where no PodDisruptionBudget would be violated", () => {
    const cluster = new TestCluster([makeNode("n1", { cpu: "1" }), makeNode("n2", { cpu: "1" })], [
      running("guarded", "n1", 1, "1", { labels: { app: "db" } }), running("free", "n2", 10),
    ]);
    const pdb: PodDisruptionBudget = { metadata: { name: "db", namespace: "default" }, spec: { selector: { matchLabels: { app: "db" } } }, status: { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 } };
    cluster.snapshot.setPodDisruptionBudget(pdb);
    const { result } = preempt(cluster, preemptor());
    expect(result?.nominatedNodeName).toBe("n2");
    expect(names(result?.victims)).toEqual(["free"]);
  });

  it("violates a budget when nothing else makes room", () => {
    const cluster = new TestCluster([makeNode("n1", { cpu: "1" })], [running("guarded", "n1", 1, "1", { labels: { app: "db" } })]);
    cluster.snapshot.setPodDisruptionBudget({ metadata: { name: "db", namespace: "default" }, spec: { selector: { matchLabels: { app: "db" } } }, status: { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 } });
    const { result } = preempt(cluster, preemptor());
    expect(names(result?.victims)).toEqual(["guarded"]);
  });

  it("clears the nomination of lower-priority pods nominated to the chosen node", () => {
    const cluster = new TestCluster([makeNode("n1", { cpu: "1" })], [running("low", "n1", 1)]);
    cluster.snapshot.nominate(cluster.pod(makePod("waiting", { priority: 50, nominatedNodeName: "n1" })), "n1");
    const { result } = preempt(cluster, preemptor());
    expect(names(result?.clearNominations)).toEqual(["waiting"]);
  });

  const summaries: [string, () => TestCluster, Pod, string][] = [
    ["no lower-priority pods", () => new TestCluster([makeNode("n1", { cpu: "1" })], [running("peer", "n1", 100)]), preemptor(),
      "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."],
    ["too big even for an empty node", () => new TestCluster([makeNode("n1", { cpu: "1" })], [running("low", "n1", 1)]), preemptor({ requests: { cpu: "2" } }),
      "preemption: 0/1 nodes are available: 1 Insufficient cpu."],
    ["a taint is not helped by evictions", () => new TestCluster([makeNode("n1", { cpu: "1", taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] }), makeNode("n2", { cpu: "1" })], [running("peer", "n2", 100)]), preemptor(),
      "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."],
    ["preemptionPolicy Never", () => new TestCluster([makeNode("n1", { cpu: "1" })], [running("low", "n1", 1)]), preemptor({ preemptionPolicy: "Never" }),
      "preemption: not eligible due to preemptionPolicy=Never."],
    ["a victim still terminating on the nominated node", () => new TestCluster([makeNode("n1", { cpu: "1" })], [running("low", "n1", 1, "1", { deleting: true, preempted: true })]), preemptor({ nominatedNodeName: "n1" }),
      "preemption: not eligible due to a terminating pod on the nominated node."],
  ];
  for (const [name, cluster, pod, message] of summaries) {
    it(`says why when it cannot help: ${name}`, () => {
      const { result, status } = preempt(cluster(), pod);
      expect(status.message).toBe(message);
      expect(status.codeName).toBe("Unschedulable");
      if (message.includes("not eligible")) expect(result).toBeUndefined();
      else expect(result?.nominatedNodeName).toBe("");
    });
  }
});

describe("pickOneNodeForPreemption", () => {
  const cluster = new TestCluster();
  const v = (name: string, priority: number, startTime = "2024-01-01T00:00:00Z") => cluster.pod(makePod(name, { priority, startTime }));
  const cases: [string, { node: string; victims: ReturnType<typeof v>[]; numPDBViolations: number }[], string][] = [
    ["fewest PDB violations", [{ node: "a", victims: [v("x", 1)], numPDBViolations: 1 }, { node: "b", victims: [v("y", 9)], numPDBViolations: 0 }], "b"],
    ["lowest highest-priority victim", [{ node: "a", victims: [v("x", 5)], numPDBViolations: 0 }, { node: "b", victims: [v("y", 3), v("z", 1)], numPDBViolations: 0 }], "b"],
    ["lowest sum of priorities", [{ node: "a", victims: [v("x", 5), v("x2", 5)], numPDBViolations: 0 }, { node: "b", victims: [v("y", 5), v("z", 1)], numPDBViolations: 0 }], "b"],
    ["fewest victims", [{ node: "a", victims: [v("x", 5), v("x2", -2147483648)], numPDBViolations: 0 }, { node: "b", victims: [v("y", 5)], numPDBViolations: 0 }], "b"],
    ["latest start of the highest-priority victims", [{ node: "a", victims: [v("x", 5, "2024-01-01T00:00:00Z")], numPDBViolations: 0 }, { node: "b", victims: [v("y", 5, "2024-06-01T00:00:00Z")], numPDBViolations: 0 }], "b"],
    ["otherwise the first", [{ node: "a", victims: [v("x", 5)], numPDBViolations: 0 }, { node: "b", victims: [v("y", 5)], numPDBViolations: 0 }], "a"],
  ];
  for (const [name, candidates, want] of cases) it(name, () => expect(pickOneNodeForPreemption(candidates)?.node).toBe(want));
});

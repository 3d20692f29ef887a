// The DaemonSet controller's decisions: which nodes a daemon pod belongs on (selectors, affinity,
// taints with the daemon tolerations), the pod it makes for a node, and the plan for each node
// (create, delete, roll within maxUnavailable or maxSurge).
import type { DaemonSet } from "kubernetes-types/apps/v1";
import type { Node, Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { daemonPod, nodeShouldRunDaemonPod, planNodes, targetNodeOf } from "./daemonset.ts";

function ds(spec: Partial<NonNullable<DaemonSet["spec"]>> = {}, podSpec: Record<string, unknown> = {}): DaemonSet {
  return {
    metadata: { name: "agent", namespace: "ns", uid: "ds-uid", generation: 3 },
    spec: { selector: { matchLabels: { app: "agent" } }, template: { metadata: { labels: { app: "agent" } }, spec: { containers: [{ name: "c" }], ...podSpec } }, ...spec },
  };
}

function node(name: string, { labels = {}, taints = [], unschedulable = false }: { labels?: Record<string, string>; taints?: NonNullable<Node["spec"]>["taints"]; unschedulable?: boolean } = {}): Node {
  return { metadata: { name, labels }, spec: { taints, unschedulable } };
}

function pod(name: string, nodeName: string, hash: string, { ready = false, phase = "Running", created = "2026-01-01T00:00:00Z" } = {}): Pod {
  return {
    metadata: { name, uid: name, creationTimestamp: created, labels: { "controller-revision-hash": hash } },
    spec: { nodeName, containers: [{ name: "c" }] },
    status: { phase, ...(ready ? { conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" }] } : {}) },
  };
}

describe("nodeShouldRunDaemonPod", () => {
  it.each([
    ["a plain node", ds(), node("n"), true, true],
    ["a node the selector picks", ds({}, { nodeSelector: { disk: "ssd" } }), node("n", { labels: { disk: "ssd" } }), true, true],
    ["a node the selector leaves out", ds({}, { nodeSelector: { disk: "ssd" } }), node("n"), false, false],
    ["required node affinity that does not match", ds({}, { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }] } } } }), node("n", { labels: { zone: "b" } }), false, false],
    ["an untolerated NoSchedule taint: no new pod, an old one stays", ds(), node("n", { taints: [{ key: "gpu", effect: "NoSchedule" }] }), false, true],
    ["an untolerated NoExecute taint: none at all", ds(), node("n", { taints: [{ key: "gpu", effect: "NoExecute" }] }), false, false],
    ["a tolerated taint", ds({}, { tolerations: [{ key: "gpu", operator: "Exists" }] }), node("n", { taints: [{ key: "gpu", effect: "NoSchedule" }] }), true, true],
    ["an unschedulable node (daemon pods tolerate it)", ds(), node("n", { unschedulable: true, taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] }), true, true],
    ["a not-ready node (daemon pods tolerate it)", ds(), node("n", { taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoExecute" }] }), true, true],
    ["network-unavailable only for hostNetwork pods", ds(), node("n", { taints: [{ key: "node.kubernetes.io/network-unavailable", effect: "NoSchedule" }] }), false, true],
    ["network-unavailable for a hostNetwork pod", ds({}, { hostNetwork: true }), node("n", { taints: [{ key: "node.kubernetes.io/network-unavailable", effect: "NoSchedule" }] }), true, true],
    ["another node than the template's nodeName", ds({}, { nodeName: "m" }), node("n"), false, false],
  ])("%s", (_, d, n, shouldRun, shouldContinueRunning) => {
    expect(nodeShouldRunDaemonPod(n, d)).toEqual({ shouldRun, shouldContinueRunning });
  });
});

describe("daemonPod", () => {
  it("pins the pod to its node by metadata.name affinity, with the hash, generation and daemon tolerations", () => {
    const p = daemonPod(ds(), "node-1", "abc");
    expect(p.spec!.nodeName).toBeUndefined();
    expect(p.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual({ nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["node-1"] }] }] });
    expect(targetNodeOf(p)).toBe("node-1");
    expect(p.metadata!.labels).toEqual({ app: "agent", "controller-revision-hash": "abc", "pod-template-generation": "3" });
    expect(p.spec!.tolerations!.map((t) => `${t.key}:${t.effect}`)).toEqual([
      "node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/disk-pressure:NoSchedule",
      "node.kubernetes.io/memory-pressure:NoSchedule", "node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule",
    ]);
  });
});

describe("planNodes", () => {
  const now = Date.parse("2026-01-02T00:00:00Z");
  const byNode = (...pods: Pod[]) => {
    const map = new Map<string, Pod[]>();
    for (const p of pods) map.set(p.spec!.nodeName!, [...(map.get(p.spec!.nodeName!) ?? []), p]);
    return map;
  };
  const names = (plan: { create: string[]; delete: Pod[] }) => ({ create: plan.create, delete: plan.delete.map((p) => p.metadata!.name) });

  it.each([
    ["creates where a pod is missing", ds(), [node("a"), node("b")], byNode(pod("pa", "a", "new")), { create: ["b"], delete: [] }],
    ["deletes where none may run", ds(), [node("a", { taints: [{ key: "x", effect: "NoExecute" }] })], byNode(pod("pa", "a", "new")), { create: [], delete: ["pa"] }],
    ["keeps the oldest of two", ds(), [node("a")], byNode(pod("young", "a", "new", { created: "2026-01-01T01:00:00Z" }), pod("old", "a", "new")), { create: [], delete: ["young"] }],
    ["kills a failed pod (its replacement comes once it is gone)", ds(), [node("a")], byNode(pod("pa", "a", "new", { phase: "Failed" })), { create: [], delete: ["pa"] }],
    ["waits for a terminating pod to go before making another", ds(), [node("a")], byNode({ ...pod("pa", "a", "new"), metadata: { ...pod("pa", "a", "new").metadata, deletionTimestamp: "2026-01-01T00:00:00Z" } }), { create: [], delete: [] }],
    ["rolls unavailable old pods at once", ds(), [node("a"), node("b")], byNode(pod("pa", "a", "old"), pod("pb", "b", "old")), { create: [], delete: ["pa", "pb"] }],
    ["rolls available old pods one at a time (maxUnavailable 1)", ds(), [node("a"), node("b")], byNode(pod("pa", "a", "old", { ready: true }), pod("pb", "b", "old", { ready: true })), { create: [], delete: ["pa"] }],
    ["waits while a new pod is unavailable", ds(), [node("a"), node("b")], byNode(pod("pa", "a", "new"), pod("pb", "b", "old", { ready: true })), { create: [], delete: [] }],
    ["OnDelete leaves old pods alone", ds({ updateStrategy: { type: "OnDelete" } }), [node("a")], byNode(pod("pa", "a", "old", { ready: true })), { create: [], delete: [] }],
    ["maxSurge starts a new pod beside an available old one", ds({ updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }), [node("a"), node("b")], byNode(pod("pa", "a", "old", { ready: true }), pod("pb", "b", "old", { ready: true })), { create: ["a"], delete: [] }],
    ["maxSurge deletes the old pod once the new one is available", ds({ updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }), [node("a")], byNode(pod("pa", "a", "old", { ready: true }), pod("na", "a", "new", { ready: true, created: "2026-01-01T01:00:00Z" })), { create: [], delete: ["pa"] }],
  ])("%s", (_, d, nodes, pods, plan) => {
    expect(names(planNodes(d, nodes, pods, "new", now))).toEqual(plan);
  });

  it("leaves a failed pod alone during its back-off, and says when to look again", () => {
    const plan = planNodes(ds(), [node("a")], byNode(pod("pa", "a", "new", { phase: "Failed" })), "new", now, () => 4_000);
    expect(names(plan)).toEqual({ create: [], delete: [] });
    expect(plan.retryAfter).toBe(4_000);
  });

  it("deletes unscheduled pods pinned to a node that is gone", () => {
    const orphan = daemonPod(ds(), "gone", "new");
    orphan.metadata!.name = "orphan";
    expect(names(planNodes(ds(), [], new Map([["gone", [orphan]]]), "new", now))).toEqual({ create: [], delete: ["orphan"] });
  });
});

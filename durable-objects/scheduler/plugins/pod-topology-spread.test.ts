// PodTopologySpread: DoNotSchedule skew checks (maxSkew, minDomains, node inclusion policies, the
// missing-label rejection), ScheduleAnyway scores, and the system default constraints.
import type { Pod, Taint, TopologySpreadConstraint } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { Code } from "../framework/status.ts";
import { makeNode, makePod, plugin, scores, TestCluster } from "../testing.ts";
import { podTopologySpread } from "./pod-topology-spread.ts";

const ZONE = "topology.kubernetes.io/zone";
const SKEW = "node(s) didn't match pod topology spread constraints";
const LABEL = "node(s) didn't match pod topology spread constraints (missing required label)";
const spread = (o: Partial<TopologySpreadConstraint> = {}): TopologySpreadConstraint => ({
  maxSkew: 1, topologyKey: ZONE, whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "web" } }, ...o,
});
const web = (name: string, node: string) => makePod(name, { nodeName: node, labels: { app: "web" } });

function verdicts(o: { existing: Pod[]; pod: Pod; taint?: Taint }): Record<string, string> {
  const cluster = new TestCluster([
    makeNode("a1", { labels: { [ZONE]: "a" } }),
    makeNode("a2", { labels: { [ZONE]: "a" } }),
    makeNode("b1", { labels: { [ZONE]: "b" }, ...(o.taint ? { taints: [o.taint] } : {}) }),
    makeNode("bare"),
  ], o.existing);
  const p = plugin(podTopologySpread);
  const state = cluster.state();
  const pod = cluster.pod(o.pod);
  expect(p.preFilter!(state, pod)).toBeUndefined();
  return Object.fromEntries(["a1", "a2", "b1", "bare"].map((n) => [n, p.filter!(state, pod, cluster.node(n))?.message ?? "ok"]));
}

describe("PodTopologySpread filter", () => {
  const pod = (c: TopologySpreadConstraint, o: { nodeSelector?: Record<string, string>; labels?: Record<string, string> } = {}) =>
    makePod("p", { labels: o.labels ?? { app: "web" }, topologySpreadConstraints: [c], nodeSelector: o.nodeSelector });
  const cases: [string, Pod[], Pod, Record<string, string>, Taint?][] = [
    ["zone a has 2, zone b none: only b keeps the skew", [web("w1", "a1"), web("w2", "a2")], pod(spread()), { a1: SKEW, a2: SKEW, b1: "ok", bare: LABEL }],
    ["maxSkew 3 allows zone a", [web("w1", "a1"), web("w2", "a2")], pod(spread({ maxSkew: 3 })), { a1: "ok", a2: "ok", b1: "ok", bare: LABEL }],
    ["balanced: any zone", [web("w1", "a1"), web("w2", "b1")], pod(spread()), { a1: "ok", a2: "ok", b1: "ok", bare: LABEL }],
    ["minDomains above the domains there are: the minimum counts as 0", [web("w1", "a1"), web("w2", "b1")], pod(spread({ minDomains: 3 })), { a1: SKEW, a2: SKEW, b1: SKEW, bare: LABEL }],
    ["a pod the selector does not match does not count itself", [web("w1", "a1")], pod(spread(), { labels: { app: "other" } }), { a1: "ok", a2: "ok", b1: "ok", bare: LABEL }],
    ["terminating pods do not count", [makePod("w1", { nodeName: "a1", labels: { app: "web" }, deleting: true })], pod(spread()), { a1: "ok", a2: "ok", b1: "ok", bare: LABEL }],
    ["nodeAffinityPolicy Honor (default): zones the pod cannot use do not count", [web("w1", "a1")], pod(spread(), { nodeSelector: { [ZONE]: "a" } }), { a1: "ok", a2: "ok", b1: "ok", bare: LABEL }],
    ["nodeAffinityPolicy Ignore: they count", [web("w1", "a1")], pod(spread({ nodeAffinityPolicy: "Ignore" }), { nodeSelector: { [ZONE]: "a" } }), { a1: SKEW, a2: SKEW, b1: "ok", bare: LABEL }],
    ["nodeTaintsPolicy Ignore (default): tainted zones count", [web("w1", "a1")], pod(spread()), { a1: SKEW, a2: SKEW, b1: "ok", bare: LABEL }, { key: "x", effect: "NoSchedule" }],
    ["nodeTaintsPolicy Honor: untolerated tainted zones do not", [web("w1", "a1")], pod(spread({ nodeTaintsPolicy: "Honor" })), { a1: "ok", a2: "ok", b1: "ok", bare: LABEL }, { key: "x", effect: "NoSchedule" }],
    ["matchLabelKeys narrows the selector to the pod's own values", [makePod("v1", { nodeName: "a1", labels: { app: "web", rev: "1" } })],
      pod(spread({ matchLabelKeys: ["rev"] }), { labels: { app: "web", rev: "2" } }), { a1: "ok", a2: "ok", b1: "ok", bare: LABEL }],
  ];
  for (const [name, existing, p, want, taint] of cases) it(name, () => expect(verdicts({ existing, pod: p, taint })).toEqual(want));

  it("missing labels are Unresolvable, skew Unschedulable", () => {
    const cluster = new TestCluster([makeNode("a1", { labels: { [ZONE]: "a" } }), makeNode("b1", { labels: { [ZONE]: "b" } }), makeNode("bare")], [web("w1", "a1")]);
    const p = plugin(podTopologySpread);
    const state = cluster.state();
    const pod = cluster.pod(makePod("p", { labels: { app: "web" }, topologySpreadConstraints: [spread()] }));
    p.preFilter!(state, pod);
    expect(p.filter!(state, pod, cluster.node("a1"))?.code).toBe(Code.Unschedulable);
    expect(p.filter!(state, pod, cluster.node("bare"))?.code).toBe(Code.UnschedulableAndUnresolvable);
  });

  it("is skipped without DoNotSchedule constraints", () => {
    const cluster = new TestCluster([makeNode("a1")]);
    expect(plugin(podTopologySpread).preFilter!(cluster.state(), cluster.pod(makePod("p", { topologySpreadConstraints: [spread({ whenUnsatisfiable: "ScheduleAnyway" })] })))).toMatchObject({ code: Code.Skip });
  });

  it("AddPod and RemovePod move the counts and the minimum", () => {
    const cluster = new TestCluster([makeNode("a1", { labels: { [ZONE]: "a" } }), makeNode("b1", { labels: { [ZONE]: "b" } })], [web("w1", "a1"), web("w2", "a1")]);
    const p = plugin(podTopologySpread);
    const state = cluster.state();
    const pod = cluster.pod(makePod("p", { labels: { app: "web" }, topologySpreadConstraints: [spread()] }));
    p.preFilter!(state, pod);
    expect(p.filter!(state, pod, cluster.node("a1"))?.message).toBe(SKEW);
    for (const k of ["default/w1", "default/w2"]) p.removePod!(state, pod, cluster.snapshot.pod(k)!, cluster.node("a1"));
    expect(p.filter!(state, pod, cluster.node("a1"))).toBeUndefined();
    p.addPod!(state, pod, cluster.snapshot.pod("default/w1")!, cluster.node("a1"));
    p.addPod!(state, pod, cluster.snapshot.pod("default/w2")!, cluster.node("a1"));
    expect(p.filter!(state, pod, cluster.node("a1"))?.message).toBe(SKEW);
  });
});

describe("PodTopologySpread score", () => {
  function score(pod: Pod, existing: Pod[], setup?: (c: TestCluster) => void): Record<string, number> | "skip" {
    const cluster = new TestCluster([
      makeNode("a1", { labels: { [ZONE]: "a" } }),
      makeNode("a2", { labels: { [ZONE]: "a" } }),
      makeNode("b1", { labels: { [ZONE]: "b" } }),
    ], existing);
    setup?.(cluster);
    const p = plugin(podTopologySpread);
    const state = cluster.state();
    const info = cluster.pod(pod);
    const infos = ["a1", "a2", "b1"].map((n) => cluster.node(n));
    if (p.preScore!(state, info, infos)?.code === Code.Skip) return "skip";
    return scores(p, state, info, infos);
  }

  it("ScheduleAnyway prefers the emptier zone", () => {
    // Zone a: 2 matching pods × ln(4) ≈ 2.77 → 3; zone b: 0. Normalized: 100 × (max + min − score) / max.
    expect(score(makePod("p", { labels: { app: "web" }, topologySpreadConstraints: [spread({ whenUnsatisfiable: "ScheduleAnyway" })] }), [web("w1", "a1"), web("w2", "a1")]))
      .toEqual({ a1: 0, a2: 0, b1: 100 });
  });

  it("a pod without constraints spreads by the system defaults over its ReplicaSet's pods", () => {
    const rsPod = (name: string, node: string) => makePod(name, { nodeName: node, labels: { app: "web" }, owner: { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-rs" } });
    const incoming = makePod("p", { labels: { app: "web" }, owner: { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-rs" } });
    const got = score(incoming, [rsPod("w1", "a1"), rsPod("w2", "a1")], (c) =>
      c.snapshot.setWorkload("ReplicaSet", { metadata: { name: "web-rs", namespace: "default" }, spec: { selector: { matchLabels: { app: "web" } }, template: {} } }));
    // hostname (maxSkew 3, weight ln 5) and zone (maxSkew 5, weight ln 4): a1 ≈ 12, a2 ≈ 9, b1 = 6.
    expect(got).toEqual({ a1: 50, a2: 75, b1: 100 });
  });

  it("a pod without constraints or workload is not scored", () => {
    expect(score(makePod("p", { labels: { app: "web" } }), [web("w1", "a1")])).toBe("skip");
  });

  it("the defaults use the selectors of Services selecting the pod", () => {
    const got = score(makePod("p", { labels: { app: "web" } }), [web("w1", "a1"), web("w2", "a1")], (c) =>
      c.snapshot.setWorkload("Service", { metadata: { name: "web", namespace: "default" }, spec: { selector: { app: "web" } } }));
    expect(got).toEqual({ a1: 50, a2: 75, b1: 100 });
  });
});

// InterPodAffinity: required affinity and anti-affinity per topology domain (the first pod of a
// self-affine group admitted), existing pods' anti-affinity, namespaces and namespaceSelector, and
// the preferred-term scores both ways.
import type { Pod, PodAffinityTerm } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { Code } from "../framework/status.ts";
import { makeNode, makePod, plugin, scores, TestCluster } from "../testing.ts";
import { interPodAffinity } from "./inter-pod-affinity.ts";

const ZONE = "topology.kubernetes.io/zone";
const HOST = "kubernetes.io/hostname";
const term = (app: string, topologyKey: string, extra: Partial<PodAffinityTerm> = {}): PodAffinityTerm => ({ labelSelector: { matchLabels: { app } }, topologyKey, ...extra });
const nodes = [
  makeNode("n1", { labels: { [ZONE]: "a" } }),
  makeNode("n2", { labels: { [ZONE]: "a" } }),
  makeNode("n3", { labels: { [ZONE]: "b" } }),
];
const AFFINITY = "node(s) didn't match pod affinity rules";
const ANTI = "node(s) didn't match pod anti-affinity rules";
const EXISTING = "node(s) didn't satisfy existing pods anti-affinity rules";

/** Each node's filter verdict ("ok" or the reason), after PreFilter. */
function verdicts(existing: Pod[], incoming: Pod, withNamespace?: { name: string; labels: Record<string, string> }): Record<string, string> {
  const cluster = new TestCluster([...nodes, makeNode("bare")], existing);
  // A node without the zone label (hostname only).
  if (withNamespace) cluster.snapshot.setNamespace(withNamespace.name, withNamespace.labels);
  cluster.snapshot.setNamespace("default", { "kubernetes.io/metadata.name": "default" });
  const p = plugin(interPodAffinity);
  const state = cluster.state();
  const pod = cluster.pod(incoming);
  const pre = p.preFilter!(state, pod);
  const out: Record<string, string> = {};
  for (const n of ["n1", "n2", "n3", "bare"]) out[n] = pre && "code" in pre && pre.code === Code.Skip ? "ok" : p.filter!(state, pod, cluster.node(n))?.message ?? "ok";
  return out;
}

describe("InterPodAffinity filter", () => {
  const db = (node: string, ns = "default") => makePod(`db-${node}-${ns}`, { namespace: ns, nodeName: node, labels: { app: "db" } });
  const web = (node: string, o: { ns?: string; anti?: PodAffinityTerm } = {}) =>
    makePod(`web-${node}`, { namespace: o.ns ?? "default", nodeName: node, labels: { app: "web" }, ...(o.anti ? { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [o.anti] } } } : {}) });
  const withAffinity = (t: PodAffinityTerm, labels: Record<string, string> = { app: "web" }) => makePod("p", { labels, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [t] } } });
  const withAnti = (t: PodAffinityTerm) => makePod("p", { labels: { app: "web" }, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [t] } } });

  const cases: [string, Pod[], Pod, Record<string, string>, { name: string; labels: Record<string, string> }?][] = [
    ["affinity to a zone with a db pod", [db("n1")], withAffinity(term("db", ZONE)), { n1: "ok", n2: "ok", n3: AFFINITY, bare: AFFINITY }],
    ["affinity with no match anywhere", [], withAffinity(term("db", ZONE)), { n1: AFFINITY, n2: AFFINITY, n3: AFFINITY, bare: AFFINITY }],
    ["the first pod of a group affine to itself", [], withAffinity(term("db", ZONE), { app: "db" }), { n1: "ok", n2: "ok", n3: "ok", bare: AFFINITY }],
    ["anti-affinity per host", [web("n1")], withAnti(term("web", HOST)), { n1: ANTI, n2: "ok", n3: "ok", bare: "ok" }],
    ["anti-affinity per zone", [web("n1")], withAnti(term("web", ZONE)), { n1: ANTI, n2: ANTI, n3: "ok", bare: "ok" }],
    ["anti-affinity only sees its own namespace by default", [web("n1", { ns: "other" })], withAnti(term("web", ZONE)), { n1: "ok", n2: "ok", n3: "ok", bare: "ok" }],
    ["an existing pod's anti-affinity keeps matching pods out of its zone", [db("n1"), web("n1", { anti: term("web", ZONE) })], makePod("p", { labels: { app: "web" } }),
      { n1: EXISTING, n2: EXISTING, n3: "ok", bare: "ok" }],
    ["affinity to pods of listed namespaces", [db("n3", "other"), db("n1")], withAffinity(term("db", ZONE, { namespaces: ["other"] })), { n1: AFFINITY, n2: AFFINITY, n3: "ok", bare: AFFINITY }],
    ["affinity to pods of namespaces a selector picks", [db("n3", "other"), db("n1")], withAffinity(term("db", ZONE, { namespaceSelector: { matchLabels: { team: "data" } } })),
      { n1: AFFINITY, n2: AFFINITY, n3: "ok", bare: AFFINITY }, { name: "other", labels: { team: "data" } }],
    ["an empty namespaceSelector means every namespace", [db("n3", "other")], withAffinity(term("db", ZONE, { namespaceSelector: {} })), { n1: AFFINITY, n2: AFFINITY, n3: "ok", bare: AFFINITY }],
  ];
  for (const [name, existing, incoming, want, ns] of cases) it(name, () => expect(verdicts(existing, incoming, ns)).toEqual(want));

  it("is skipped for pods without required terms when no placed pod has anti-affinity", () => {
    const cluster = new TestCluster(nodes, [makePod("x", { nodeName: "n1" })]);
    expect(plugin(interPodAffinity).preFilter!(cluster.state(), cluster.pod(makePod("p")))).toMatchObject({ code: Code.Skip });
  });

  it("rejects affinity (Unresolvable) and anti-affinity (Unschedulable, preemption may help) differently", () => {
    const cluster = new TestCluster(nodes, [web("n1")]);
    const p = plugin(interPodAffinity);
    const s1 = cluster.state();
    const anti = cluster.pod(withAnti(term("web", HOST)));
    p.preFilter!(s1, anti);
    expect(p.filter!(s1, anti, cluster.node("n1"))?.code).toBe(Code.Unschedulable);
    const s2 = cluster.state();
    const affine = cluster.pod(withAffinity(term("db", HOST)));
    p.preFilter!(s2, affine);
    expect(p.filter!(s2, affine, cluster.node("n1"))?.code).toBe(Code.UnschedulableAndUnresolvable);
  });

  it("AddPod and RemovePod update the counts (as preemption's simulation needs)", () => {
    const cluster = new TestCluster(nodes, [web("n1")]);
    const p = plugin(interPodAffinity);
    const state = cluster.state();
    const pod = cluster.pod(withAnti(term("web", HOST)));
    p.preFilter!(state, pod);
    const victim = cluster.snapshot.pod("default/web-n1")!;
    p.removePod!(state, pod, victim, cluster.node("n1"));
    expect(p.filter!(state, pod, cluster.node("n1"))).toBeUndefined();
    p.addPod!(state, pod, victim, cluster.node("n1"));
    expect(p.filter!(state, pod, cluster.node("n1"))?.message).toBe(ANTI);
  });
});

describe("InterPodAffinity score", () => {
  const score = (existing: Pod[], incoming: Pod, args?: unknown): Record<string, number> | "skip" => {
    const cluster = new TestCluster(nodes, existing);
    const p = plugin(interPodAffinity, args);
    const state = cluster.state();
    const pod = cluster.pod(incoming);
    const infos = ["n1", "n2", "n3"].map((n) => cluster.node(n));
    const pre = p.preScore!(state, pod, infos);
    if (pre?.code === Code.Skip) return "skip";
    return scores(p, state, pod, infos);
  };
  const preferred = (kind: "podAffinity" | "podAntiAffinity", weight: number, t: PodAffinityTerm) => makePod("p", { labels: { app: "web" }, affinity: { [kind]: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight, podAffinityTerm: t }] } } });
  const cases: [string, Pod[], Pod, Record<string, number> | "skip", unknown?][] = [
    ["preferred affinity draws to the db's zone", [makePod("db", { nodeName: "n1", labels: { app: "db" } })], preferred("podAffinity", 10, term("db", ZONE)), { n1: 100, n2: 100, n3: 0 }],
    ["preferred anti-affinity pushes away from the web pod's host", [makePod("w", { nodeName: "n1", labels: { app: "web" } })], preferred("podAntiAffinity", 5, term("web", HOST)), { n1: 0, n2: 100, n3: 100 }],
    ["an existing pod's required affinity to the incoming pod counts (hardPodAffinityWeight)",
      [makePod("db", { nodeName: "n3", labels: { app: "db" }, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("web", ZONE)] } } })],
      makePod("p", { labels: { app: "web" } }), { n1: 0, n2: 0, n3: 100 }],
    ["hardPodAffinityWeight 0 ignores it",
      [makePod("db", { nodeName: "n3", labels: { app: "db" }, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("web", ZONE)] } } })],
      makePod("p", { labels: { app: "web" } }), "skip", { hardPodAffinityWeight: 0 }],
    ["an existing pod's preferred anti-affinity to the incoming pod",
      [makePod("db", { nodeName: "n1", labels: { app: "db" }, affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: term("web", ZONE) }] } } })],
      makePod("p", { labels: { app: "web" } }), { n1: 0, n2: 0, n3: 100 }],
    ["no terms either way: skipped", [makePod("x", { nodeName: "n1" })], makePod("p"), "skip"],
    ["ignorePreferredTermsOfExistingPods without terms of its own: skipped",
      [makePod("db", { nodeName: "n1", labels: { app: "db" }, affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: term("web", ZONE) }] } } })],
      makePod("p", { labels: { app: "web" } }), "skip", { ignorePreferredTermsOfExistingPods: true }],
  ];
  for (const [name, existing, incoming, want, args] of cases) it(name, () => expect(score(existing, incoming, args)).toEqual(want));
});

// NodeAffinity: nodeSelector, required terms with every operator and metadata.name fields, the
// profile's addedAffinity, PreFilter's narrowing to named nodes, and preferred terms' scores.
import type { NodeAffinity, NodeSelectorRequirement, NodeSelectorTerm } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { Code, Status } from "../framework/status.ts";
import { makeNode, makePod, plugin, scores, TestCluster } from "../testing.ts";
import { nodeAffinity } from "./node-affinity.ts";

const POD_REASON = "node(s) didn't match Pod's node affinity/selector";
const expr = (key: string, operator: string, ...values: string[]): NodeSelectorRequirement => ({ key, operator, ...(values.length ? { values } : {}) });
const required = (...terms: NodeSelectorTerm[]): NodeAffinity => ({ requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } });
/** A pod with a nodeSelector and/or node affinity. */
const podWith = (o: { nodeSelector?: Record<string, string>; affinity?: NodeAffinity }) => makePod("p", { nodeSelector: o.nodeSelector, ...(o.affinity ? { affinity: { nodeAffinity: o.affinity } } : {}) });
const node = makeNode("n1", { labels: { zone: "a", gpu: "true", cores: "16" } });

describe("NodeAffinity filter", () => {
  const p = plugin(nodeAffinity);
  const cases: [string, { nodeSelector?: Record<string, string>; affinity?: NodeAffinity }, boolean][] = [
    ["nodeSelector matches", { nodeSelector: { zone: "a" } }, true],
    ["nodeSelector with a missing label", { nodeSelector: { zone: "a", disk: "ssd" } }, false],
    ["In", { affinity: required({ matchExpressions: [expr("zone", "In", "a", "b")] }) }, true],
    ["In, no value matches", { affinity: required({ matchExpressions: [expr("zone", "In", "b", "c")] }) }, false],
    ["NotIn", { affinity: required({ matchExpressions: [expr("zone", "NotIn", "b")] }) }, true],
    ["NotIn with the node's value", { affinity: required({ matchExpressions: [expr("zone", "NotIn", "a")] }) }, false],
    ["NotIn on a missing label", { affinity: required({ matchExpressions: [expr("disk", "NotIn", "hdd")] }) }, true],
    ["Exists", { affinity: required({ matchExpressions: [expr("gpu", "Exists")] }) }, true],
    ["DoesNotExist on a present label", { affinity: required({ matchExpressions: [expr("gpu", "DoesNotExist")] }) }, false],
    ["DoesNotExist on a missing label", { affinity: required({ matchExpressions: [expr("disk", "DoesNotExist")] }) }, true],
    ["Gt", { affinity: required({ matchExpressions: [expr("cores", "Gt", "8")] }) }, true],
    ["Gt, equal is not greater", { affinity: required({ matchExpressions: [expr("cores", "Gt", "16")] }) }, false],
    ["Lt", { affinity: required({ matchExpressions: [expr("cores", "Lt", "32")] }) }, true],
    ["Gt on a non-numeric label", { affinity: required({ matchExpressions: [expr("zone", "Gt", "1")] }) }, false],
    ["Gt with a non-integer value: the term matches nothing", { affinity: required({ matchExpressions: [expr("cores", "Gt", "eight")] }) }, false],
    ["expressions in a term are ANDed", { affinity: required({ matchExpressions: [expr("zone", "In", "a"), expr("gpu", "DoesNotExist")] }) }, false],
    ["terms are ORed", { affinity: required({ matchExpressions: [expr("zone", "In", "b")] }, { matchExpressions: [expr("gpu", "Exists")] }) }, true],
    ["an empty term matches nothing", { affinity: required({}) }, false],
    ["matchFields metadata.name In", { affinity: required({ matchFields: [expr("metadata.name", "In", "n1")] }) }, true],
    ["matchFields metadata.name NotIn", { affinity: required({ matchFields: [expr("metadata.name", "NotIn", "n1")] }) }, false],
    ["nodeSelector and affinity must both hold", { nodeSelector: { zone: "b" }, affinity: required({ matchExpressions: [expr("gpu", "Exists")] }) }, false],
  ];
  for (const [name, o, fits] of cases) {
    it(name, () => {
      const cluster = new TestCluster([node]);
      const status = p.filter!(cluster.state(), cluster.pod(podWith(o)), cluster.node("n1"));
      expect(status?.message).toBe(fits ? undefined : POD_REASON);
      if (!fits) expect(status?.code).toBe(Code.UnschedulableAndUnresolvable);
    });
  }

  it("enforces the profile's addedAffinity before the pod's own", () => {
    const enforced = plugin(nodeAffinity, { addedAffinity: required({ matchExpressions: [expr("zone", "In", "b")] }) });
    const cluster = new TestCluster([node]);
    const pod = cluster.pod(makePod("p"));
    expect(enforced.preFilter!(cluster.state(), pod)).toBeUndefined();
    expect(enforced.filter!(cluster.state(), pod, cluster.node("n1"))?.message).toBe("node(s) didn't match scheduler-enforced node affinity");
  });
});

describe("NodeAffinity PreFilter", () => {
  const p = plugin(nodeAffinity);
  const names = (...values: string[]) => expr("metadata.name", "In", ...values);
  const cases: [string, { nodeSelector?: Record<string, string>; affinity?: NodeAffinity }, "skip" | "all" | string[] | "conflict"][] = [
    ["nothing to check: skipped", {}, "skip"],
    ["only a nodeSelector: every node", { nodeSelector: { zone: "a" } }, "all"],
    ["a name in every term: those nodes", { affinity: required({ matchFields: [names("n1")] }, { matchFields: [names("n2")] }) }, ["n1", "n2"]],
    ["a term without names: every node", { affinity: required({ matchFields: [names("n1")] }, { matchExpressions: [expr("zone", "In", "a")] }) }, "all"],
    ["names ANDed within a term that cannot both hold", { affinity: required({ matchFields: [names("n1"), names("n2")] }) }, "conflict"],
  ];
  for (const [name, o, want] of cases) {
    it(name, () => {
      const cluster = new TestCluster([node]);
      const out = p.preFilter!(cluster.state(), cluster.pod(podWith(o)));
      if (want === "skip") expect(out).toMatchObject({ code: Code.Skip });
      else if (want === "all") expect(out).toBeUndefined();
      else if (want === "conflict") expect(out).toMatchObject({ code: Code.UnschedulableAndUnresolvable, reasons: ["pod affinity terms conflict"] });
      else {
        expect(out).not.toBeInstanceOf(Status);
        expect([...(out as { nodeNames: Set<string> }).nodeNames].sort()).toEqual(want);
      }
    });
  }
});

describe("NodeAffinity score", () => {
  const p = plugin(nodeAffinity);
  const preferred = (weight: number, ...e: NodeSelectorRequirement[]) => ({ weight, preference: { matchExpressions: e } });
  it("sums the weights of matching preferred terms and scales the best to 100", () => {
    const cluster = new TestCluster([
      makeNode("both", { labels: { zone: "a", disk: "ssd" } }),
      makeNode("zone", { labels: { zone: "a" } }),
      makeNode("none"),
    ]);
    const pod = cluster.pod(podWith({ affinity: { preferredDuringSchedulingIgnoredDuringExecution: [preferred(20, expr("zone", "In", "a")), preferred(60, expr("disk", "In", "ssd"))] } }));
    const state = cluster.state();
    const infos = ["both", "zone", "none"].map((n) => cluster.node(n));
    expect(p.preScore!(state, pod, infos)).toBeUndefined();
    expect(scores(p, state, pod, infos)).toEqual({ both: 100, zone: 25, none: 0 });
  });

  it("skips scoring without preferred terms", () => {
    const cluster = new TestCluster([node]);
    expect(p.preScore!(cluster.state(), cluster.pod(makePod("p")), [cluster.node("n1")])).toMatchObject({ code: Code.Skip });
  });
});

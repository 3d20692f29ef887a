// A profile's framework: plugins per extension point in kube's order, weights, overrides, errors,
// and the runners' semantics (first rejecting filter, nominated pods, PreFilter narrowing).
import { describe, expect, it } from "vitest";
import { resolveConfiguration, type KubeSchedulerConfiguration } from "../config.ts";
import { IN_TREE_PLUGINS } from "../plugins/registry.ts";
import { defaultFramework, makeNode, makePod, TestCluster } from "../testing.ts";
import { Framework } from "./framework.ts";
import { Code } from "./status.ts";

const names = (fwk: Framework, point: keyof Framework["points"]) => fwk.points[point].map((p) => p.name);
const build = (profile: KubeSchedulerConfiguration["profiles"]) => Framework.create(resolveConfiguration({ profiles: profile }).profiles[0]!, IN_TREE_PLUGINS);

describe("Framework construction", () => {
  it("expands kube's default profile onto each extension point", () => {
    const fwk = defaultFramework();
    expect(names(fwk, "preEnqueue")).toEqual(["SchedulingGates"]);
    expect(names(fwk, "queueSort")).toEqual(["PrioritySort"]);
    expect(names(fwk, "preFilter")).toEqual(["NodeAffinity", "NodePorts", "VolumeBinding", "PodTopologySpread", "InterPodAffinity"]);
    expect(names(fwk, "filter")).toEqual(["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit", "VolumeBinding", "PodTopologySpread", "InterPodAffinity"]);
    expect(names(fwk, "postFilter")).toEqual(["DefaultPreemption"]);
    expect(names(fwk, "preScore")).toEqual(["TaintToleration", "NodeAffinity", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity", "NodeResourcesBalancedAllocation"]);
    expect(names(fwk, "score")).toEqual(["TaintToleration", "NodeAffinity", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity", "NodeResourcesBalancedAllocation", "ImageLocality"]);
    expect(names(fwk, "bind")).toEqual(["DefaultBinder"]);
    expect(Object.fromEntries(fwk.scoreWeights)).toEqual({
      TaintToleration: 3, NodeAffinity: 2, NodeResourcesFit: 1, PodTopologySpread: 2, InterPodAffinity: 2, NodeResourcesBalancedAllocation: 1, ImageLocality: 1,
    });
  });

  it("a weight set at the score point wins, and that plugin moves first there", () => {
    const fwk = build([{ schedulerName: "s", plugins: { score: { enabled: [{ name: "ImageLocality", weight: 7 }] } } }]);
    expect(fwk.scoreWeights.get("ImageLocality")).toBe(7);
    expect(names(fwk, "score")[0]).toBe("ImageLocality");
  });

  it("disabling a plugin at one point keeps it at the others", () => {
    const fwk = build([{ schedulerName: "s", plugins: { score: { disabled: [{ name: "NodeResourcesFit" }] } } }]);
    expect(names(fwk, "score")).not.toContain("NodeResourcesFit");
    expect(names(fwk, "filter")).toContain("NodeResourcesFit");
  });

  it('"*" at a point leaves only what is enabled there', () => {
    const fwk = build([{ schedulerName: "s", plugins: { filter: { enabled: [{ name: "NodeName" }], disabled: [{ name: "*" }] } } }]);
    expect(names(fwk, "filter")).toEqual(["NodeName"]);
  });

  it("passes pluginConfig args to the plugin", () => {
    const fwk = build([{ schedulerName: "s", pluginConfig: [{ name: "NodeResourcesFit", args: { scoringStrategy: { type: "MostAllocated" } } }] }]);
    const cluster = new TestCluster([makeNode("empty"), makeNode("busy")], [makePod("x", { nodeName: "busy", requests: { cpu: "2", memory: "4Gi" } })]);
    const state = cluster.state();
    const pod = cluster.pod(makePod("p", { requests: { cpu: "1", memory: "2Gi" } }));
    const fit = fwk.plugins.get("NodeResourcesFit")!;
    fit.preScore!(state, pod, []);
    expect(fit.score!(state, pod, cluster.node("busy"))).toBeGreaterThan(fit.score!(state, pod, cluster.node("empty")));
    expect(() => build([{ schedulerName: "s", pluginConfig: [{ name: "NodeResourcesFit", args: { scoringStrategy: { type: "Unknown" } } }] }])).toThrow('Unsupported value: "Unknown"');
  });

  const errors: [string, KubeSchedulerConfiguration["profiles"], string][] = [
    ["an unknown plugin", [{ schedulerName: "s", plugins: { multiPoint: { enabled: [{ name: "Foo" }] } } }], 'plugin "Foo" does not exist'],
    ["a plugin at a point it does not serve", [{ schedulerName: "s", plugins: { filter: { enabled: [{ name: "ImageLocality" }] } } }], 'plugin "ImageLocality" does not extend FilterPlugin plugin'],
    ["no bind plugin", [{ schedulerName: "s", plugins: { bind: { disabled: [{ name: "*" }] } } }], 'at least one bind plugin is needed for profile with scheduler name "s"'],
    ["a plugin enabled twice at one point", [{ schedulerName: "s", plugins: { filter: { enabled: [{ name: "NodeName" }, { name: "NodeName" }] } } }], 'plugin "NodeName" already registered as "FilterPlugin"'],
  ];
  for (const [name, profiles, message] of errors) it(`refuses ${name}`, () => expect(() => build(profiles)).toThrow(message));

  it("refuses a second queue sort plugin", () => {
    const registry = { ...IN_TREE_PLUGINS, OtherSort: () => ({ name: "OtherSort", less: () => false }) };
    const profile = resolveConfiguration({ profiles: [{ schedulerName: "s", plugins: { queueSort: { enabled: [{ name: "OtherSort" }] } } }] }).profiles[0]!;
    expect(() => Framework.create(profile, registry)).toThrow('only one queue sort plugin required for profile with scheduler name "s", but got 2');
  });

  it("a plugin named at a point and in multiPoint runs once there, in the point's place", () => {
    const fwk = build([{ schedulerName: "s", plugins: { queueSort: { enabled: [{ name: "PrioritySort" }] } } }]);
    expect(names(fwk, "queueSort")).toEqual(["PrioritySort"]);
  });
});

describe("Framework runners", () => {
  it("reports the first filter that rejects a node", () => {
    const cluster = new TestCluster([makeNode("n", { cpu: "1", taints: [{ key: "k", value: "v", effect: "NoSchedule" }] })]);
    const fwk = defaultFramework();
    const state = cluster.state();
    const pod = cluster.pod(makePod("p", { requests: { cpu: "2" } }));
    fwk.runPreFilterPlugins(state, pod);
    const status = fwk.runFilterPlugins(state, pod, cluster.node("n"));
    expect(status?.message).toBe("node(s) had untolerated taint {k: v}");
    expect(status?.plugin).toBe("TaintToleration");
  });

  it("counts pods of equal or higher priority nominated to a node, and not lower ones", () => {
    const cluster = new TestCluster([makeNode("n", { cpu: "2" })]);
    const fwk = defaultFramework();
    const pod = cluster.pod(makePod("p", { priority: 10, requests: { cpu: "1500m" } }));
    const run = () => {
      const state = cluster.state();
      fwk.runPreFilterPlugins(state, pod);
      return fwk.runFilterPluginsWithNominatedPods(state, pod, cluster.node("n"))?.message;
    };
    cluster.snapshot.nominate(cluster.pod(makePod("low", { priority: 5, requests: { cpu: "1" } })), "n");
    expect(run()).toBeUndefined();
    cluster.snapshot.nominate(cluster.pod(makePod("high", { priority: 20, requests: { cpu: "1" } })), "n");
    expect(run()).toBe("Insufficient cpu");
  });

  it("intersects PreFilter narrowings; an empty intersection rejects every node", () => {
    const cluster = new TestCluster([makeNode("a"), makeNode("b")]);
    const fwk = defaultFramework();
    const named = (...values: string[]) => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values }] }] } } });
    const ok = fwk.runPreFilterPlugins(cluster.state(), cluster.pod(makePod("p", { affinity: named("a") })));
    expect([...ok.result!.nodeNames]).toEqual(["a"]);
    const state = cluster.state();
    fwk.runPreFilterPlugins(state, cluster.pod(makePod("p", { hostPorts: [80] })));
    expect(state.skipFilterPlugins.has("NodePorts")).toBe(false);
    expect(state.skipFilterPlugins.has("VolumeBinding")).toBe(true);
  });

  it("returns an UnschedulableAndUnresolvable PreFilter rejection at once, with its plugin", () => {
    const cluster = new TestCluster([makeNode("a")]);
    const out = defaultFramework().runPreFilterPlugins(cluster.state(), cluster.pod(makePod("p", { volumes: [{ name: "v", persistentVolumeClaim: { claimName: "missing" } }] })));
    expect(out.status).toMatchObject({ code: Code.UnschedulableAndUnresolvable, reasons: ['persistentvolumeclaim "missing" not found'], plugin: "VolumeBinding" });
  });
});

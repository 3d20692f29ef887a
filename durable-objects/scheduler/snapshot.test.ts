// The snapshot: kube's zone-interleaved node order, assumed pods counted until confirmed or
// forgotten, pods on nodes not (or no longer) known, nominations, and the default spread selector.
import { describe, expect, it } from "vitest";
import { makeNode, makePod, TestCluster } from "./testing.ts";

const ZONE = "topology.kubernetes.io/zone";
const inZone = (name: string, zone?: string) => makeNode(name, zone ? { labels: { [ZONE]: zone } } : {});
const order = (c: TestCluster) => c.snapshot.nodes().map((n) => n.name);

describe("Snapshot", () => {
  it("lists nodes round-robin over zones in the order zones were first seen", () => {
    const c = new TestCluster([inZone("a1", "a"), inZone("a2", "a"), inZone("a3", "a"), inZone("b1", "b"), inZone("b2", "b"), inZone("c1", "c"), inZone("none")]);
    expect(order(c)).toEqual(["a1", "b1", "c1", "none", "a2", "b2", "a3"]);
  });

  it("moves a node whose zone label changes and forgets removed nodes", () => {
    const c = new TestCluster([inZone("a1", "a"), inZone("a2", "a"), inZone("b1", "b")]);
    c.snapshot.setNode(c.projector.node(inZone("a1", "b")));
    expect(order(c)).toEqual(["a2", "b1", "a1"]);
    c.snapshot.removeNode("b1");
    expect(order(c)).toEqual(["a2", "a1"]);
    expect(c.snapshot.numNodes).toBe(2);
  });

  it("counts an assumed pod until it is forgotten, or confirmed by the bound pod", () => {
    const c = new TestCluster([makeNode("n1")]);
    const pod = c.pod(makePod("p", { requests: { cpu: "1" } }));
    c.snapshot.assume(pod, "n1");
    expect(c.node("n1").requested.milliCPU).toBe(1000);
    c.snapshot.forget(pod.key);
    expect(c.node("n1").requested.milliCPU).toBe(0);
    c.snapshot.assume(pod, "n1");
    c.snapshot.addPod(c.pod(makePod("p", { requests: { cpu: "1" }, nodeName: "n1" })));
    expect(c.snapshot.isAssumed(pod.key)).toBe(false);
    expect(c.node("n1").pods).toHaveLength(1);
    c.snapshot.forget(pod.key);
    expect(c.node("n1").pods).toHaveLength(1);
  });

  it("keeps pods on a node it does not know, unlisted, and counts them once the node appears", () => {
    const c = new TestCluster([], [makePod("early", { nodeName: "late", requests: { cpu: "1" } })]);
    expect(c.snapshot.numNodes).toBe(0);
    expect(c.snapshot.node("late")).toBeUndefined();
    c.snapshot.setNode(c.projector.node(makeNode("late")));
    expect(c.node("late").requested.milliCPU).toBe(1000);
    c.snapshot.removeNode("late");
    expect(c.snapshot.nodes()).toEqual([]);
  });

  it("lists nodes holding pods with affinity, and with required anti-affinity", () => {
    const anti = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: {}, topologyKey: ZONE }] } };
    const pref = { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, podAffinityTerm: { labelSelector: {}, topologyKey: ZONE } }] } };
    const c = new TestCluster([makeNode("n1"), makeNode("n2"), makeNode("n3")], [makePod("a", { nodeName: "n1", affinity: anti }), makePod("b", { nodeName: "n2", affinity: pref })]);
    expect(c.snapshot.nodesWithAffinityPods().map((n) => n.name)).toEqual(["n1", "n2"]);
    expect(c.snapshot.nodesWithRequiredAntiAffinityPods().map((n) => n.name)).toEqual(["n1"]);
    c.snapshot.removePod("default/a");
    expect(c.snapshot.nodesWithRequiredAntiAffinityPods()).toEqual([]);
  });

  it("tracks nominations per node", () => {
    const c = new TestCluster([makeNode("n1"), makeNode("n2")]);
    const p = c.pod(makePod("p"));
    c.snapshot.nominate(p, "n1");
    c.snapshot.nominate(p, "n2");
    expect([c.snapshot.nominatedPods("n1").length, c.snapshot.nominatedPods("n2").length]).toEqual([0, 1]);
    c.snapshot.assume(p, "n2");
    expect(c.snapshot.nominatedPods("n2")).toEqual([]);
  });

  it("unites the selectors of selecting Services and the owning ReplicaSet for default spreading", () => {
    const c = new TestCluster();
    c.snapshot.setWorkload("Service", { metadata: { name: "web", namespace: "default" }, spec: { selector: { app: "web" } } });
    c.snapshot.setWorkload("Service", { metadata: { name: "other", namespace: "default" }, spec: { selector: { app: "other" } } });
    c.snapshot.setWorkload("ReplicaSet", { metadata: { name: "rs", namespace: "default" }, spec: { selector: { matchLabels: { tier: "front" } }, template: {} } });
    const pod = c.pod(makePod("p", { labels: { app: "web", tier: "front" }, owner: { apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs" } }));
    expect(c.snapshot.defaultSpreadSelector(pod)).toEqual([{ key: "app", operator: "=", values: ["web"] }, { key: "tier", operator: "=", values: ["front"] }]);
    expect(c.snapshot.defaultSpreadSelector(c.pod(makePod("lone")))).toEqual([]);
  });
});

describe("Projector", () => {
  it("shares one spec and one label set among replicas of a template", () => {
    const c = new TestCluster();
    const replica = (name: string) => makePod(name, { labels: { app: "web", hash: "abc" }, requests: { cpu: "100m" }, owner: { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-abc" } });
    const a = c.pod(replica("web-abc-1"));
    const b = c.pod(replica("web-abc-2"));
    expect(a.spec).toBe(b.spec);
    expect(a.labels).toBe(b.labels);
    expect(c.pod(makePod("other", { requests: { cpu: "200m" } })).spec).not.toBe(a.spec);
  });

  it("reads requests the way kube sums them, and the non-zero defaults", () => {
    const c = new TestCluster();
    const p = c.pod(makePod("p", {
      containers: [{ name: "a", image: "i", resources: { requests: { cpu: "250m", memory: "64Mi" } } }, { name: "b", image: "i" }],
      initContainers: [{ name: "init", image: "i", resources: { requests: { cpu: "2" } } }],
      overhead: { cpu: "10m", memory: "1Mi" },
    }));
    expect(p.spec.requests).toMatchObject({ milliCPU: 2010, memory: 65 * 1024 * 1024 });
    // Container b names nothing: 100m and 200Mi count for it when spreading.
    expect([p.spec.nonZeroMilliCPU, p.spec.nonZeroMemory]).toEqual([2010, (64 + 200 + 1) * 1024 * 1024]);
  });
});

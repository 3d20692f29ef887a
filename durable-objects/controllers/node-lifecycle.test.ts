// The node lifecycle controller's decisions: when a node is silent, what its conditions and taints
// become, and when a zone lets the next NoExecute taint through.
import type { Lease } from "kubernetes-types/coordination/v1";
import type { Node, Taint } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { conditionTaints, desiredTaints, nodeDeadline, silentNodeConditions, taintSlot, zoneState } from "./node-lifecycle.ts";
import { controllerSettings } from "./settings.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
const settings = controllerSettings({});

function node(name: string, { ready, heartbeat = 0, since = 0, taints, zone, unschedulable, conditions = [] }: {
  ready?: string; heartbeat?: number; since?: number; taints?: Taint[]; zone?: string; unschedulable?: boolean; conditions?: { type: string; status: string }[];
} = {}): Node {
  return {
    metadata: { name, creationTimestamp: at(0), labels: zone ? { "topology.kubernetes.io/zone": zone } : {} },
    spec: { ...(taints ? { taints } : {}), ...(unschedulable ? { unschedulable } : {}) },
    status: {
      conditions: [
        ...(ready ? [{ type: "Ready", status: ready, reason: "KubeletReady", lastHeartbeatTime: at(heartbeat), lastTransitionTime: at(since) }] : []),
        ...conditions.map((c) => ({ ...c, lastHeartbeatTime: at(heartbeat), lastTransitionTime: at(since) })),
      ],
    },
  };
}
const lease = (renewed: number): Lease => ({ metadata: { name: "n", namespace: "kube-node-lease" }, spec: { renewTime: new Date(T0 + renewed * 1000).toISOString() } });
const unreachable = (added: number): Taint => ({ key: "node.kubernetes.io/unreachable", effect: "NoExecute", timeAdded: at(added) });

describe("nodeDeadline", () => {
  it.each([
    ["40 s after the last heartbeat", node("n", { ready: "True", heartbeat: 10 }), undefined, 50],
    ["40 s after the lease's renewal when that is later", node("n", { ready: "True", heartbeat: 10 }), lease(100), 140],
    ["60 s after creation for a node that never posted status", node("n"), undefined, 60],
    ["a lease keeps even a never-posted node alive", node("n"), lease(100), 160],
  ])("%s", (_, n, l, seconds) => {
    expect(nodeDeadline(n, l, settings)).toBe(T0 + (seconds as number) * 1000);
  });

  it("takes its grace period from NODE_MONITOR_GRACE_PERIOD_SECONDS", () => {
    expect(nodeDeadline(node("n", { ready: "True" }), undefined, controllerSettings({ NODE_MONITOR_GRACE_PERIOD_SECONDS: "4" }))).toBe(T0 + 4000);
  });
});

describe("silentNodeConditions", () => {
  it("sets the monitored conditions Unknown with kube's reasons and leaves NetworkUnavailable", () => {
    const conditions = silentNodeConditions(node("n", { ready: "True", conditions: [{ type: "MemoryPressure", status: "False" }, { type: "NetworkUnavailable", status: "False" }] }), T0 + 60_000);
    expect(conditions.map((c) => [c.type, c.status, c.reason, c.message])).toEqual([
      ["Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."],
      ["MemoryPressure", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."],
      ["NetworkUnavailable", "False", undefined, undefined],
      ["DiskPressure", "Unknown", "NodeStatusNeverUpdated", "Kubelet never posted node status."],
      ["PIDPressure", "Unknown", "NodeStatusNeverUpdated", "Kubelet never posted node status."],
    ]);
    expect(conditions[0]!.lastTransitionTime).toBe(at(60));
    expect(conditions[0]!.lastHeartbeatTime).toBe(at(0));
  });

  it("changes nothing on a node already Unknown", () => {
    const silent = node("n", { ready: "True" });
    silent.status!.conditions = silentNodeConditions(silent, T0 + 60_000);
    expect(silentNodeConditions(silent, T0 + 90_000)).toEqual(silent.status!.conditions);
  });
});

describe("conditionTaints", () => {
  it.each([
    ["Ready", node("n", { ready: "True" }), []],
    ["Ready=False", node("n", { ready: "False" }), ["node.kubernetes.io/not-ready"]],
    ["Ready=Unknown", node("n", { ready: "Unknown" }), ["node.kubernetes.io/unreachable"]],
    ["pressure and network", node("n", { ready: "True", conditions: [{ type: "DiskPressure", status: "True" }, { type: "NetworkUnavailable", status: "True" }, { type: "PIDPressure", status: "False" }] }), ["node.kubernetes.io/disk-pressure", "node.kubernetes.io/network-unavailable"]],
    ["cordoned", node("n", { ready: "True", unschedulable: true }), ["node.kubernetes.io/unschedulable"]],
  ])("%s", (_, n, keys) => {
    expect(conditionTaints(n)).toEqual(keys.map((key) => ({ key, effect: "NoSchedule" })));
  });
});

describe("desiredTaints", () => {
  const now = T0 + 100_000;
  const keys = (taints: Taint[]) => taints.map((t) => `${t.key}:${t.effect}`).sort();

  it("taints a node that turned Unknown at once when its zone had no recent taint", () => {
    const n = node("a", { ready: "Unknown", since: 90 });
    const { taints, retryAt } = desiredTaints(n, () => [n, node("b", { ready: "True" })], settings, now);
    expect(keys(taints)).toEqual(["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"]);
    expect(taints.find((t) => t.effect === "NoExecute")!.timeAdded).toBe(at(100));
    expect(retryAt).toBeUndefined();
  });

  it("swaps not-ready for unreachable without waiting its turn, and keeps taints that are not the controller's", () => {
    const n = node("a", { ready: "Unknown", taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoExecute", timeAdded: at(10) }, { key: "dedicated", value: "x", effect: "NoSchedule" }] });
    const { taints } = desiredTaints(n, () => { throw new Error("no zone lookup for a swap"); }, settings, now);
    expect(keys(taints)).toEqual(["dedicated:NoSchedule", "node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"]);
  });

  it("removes the controller's taints from a node that is Ready again", () => {
    const n = node("a", { ready: "True", taints: [unreachable(10), { key: "node.kubernetes.io/unreachable", effect: "NoSchedule" }] });
    expect(desiredTaints(n, () => [n], settings, now).taints).toEqual([]);
  });

  it("waits 1/rate seconds after the zone's last NoExecute taint (0.1/s: 10 s)", () => {
    const tainted = node("a", { ready: "Unknown", since: 50, taints: [unreachable(95)] });
    const next = node("b", { ready: "Unknown", since: 60 });
    const healthy = ["c", "d", "e"].map((name) => node(name, { ready: "True" }));
    const { taints, retryAt } = desiredTaints(next, () => [tainted, next, ...healthy], settings, now);
    expect(keys(taints)).toEqual(["node.kubernetes.io/unreachable:NoSchedule"]);
    expect(retryAt).toBe(T0 + 105_000);
  });
});

describe("the zone's rate limit", () => {
  const now = T0 + 100_000;
  it("lines up the zone's unhealthy nodes by when they turned unhealthy, one per interval", () => {
    const nodes = [node("late", { ready: "Unknown", since: 70 }), node("early", { ready: "Unknown", since: 60 }), ...["c", "d", "e", "f"].map((n) => node(n, { ready: "True" }))];
    expect(taintSlot(nodes[1]!, nodes, settings, now)).toBe(now);
    expect(taintSlot(nodes[0]!, nodes, settings, now)).toBe(now + 10_000);
  });

  it("counts zones apart", () => {
    const nodes = [node("a", { ready: "Unknown", zone: "z1", taints: [unreachable(99)] }), node("b", { ready: "Unknown", zone: "z2" }), node("c", { ready: "True", zone: "z1" }), node("d", { ready: "True", zone: "z2" })];
    expect(taintSlot(nodes[1]!, nodes, settings, now)).toBe(now);
  });

  it("stops in a small partially disrupted zone and when every zone is fully disrupted", () => {
    const partial = [...["a", "b", "c"].map((n) => node(n, { ready: "Unknown" })), node("d", { ready: "True" })];
    expect(zoneState(partial)).toBe("PartialDisruption");
    expect(taintSlot(partial[0]!, partial, settings, now)).toBeUndefined();
    const full = [node("a", { ready: "Unknown", zone: "z1" }), node("b", { ready: "Unknown", zone: "z2" })];
    expect(zoneState(full)).toBe("FullDisruption");
    expect(taintSlot(full[0]!, full, settings, now)).toBeUndefined();
    // One zone fully down while another is healthy: the normal rate.
    const oneZone = [node("a", { ready: "Unknown", zone: "z1" }), node("b", { ready: "True", zone: "z2" })];
    expect(taintSlot(oneZone[0]!, oneZone, settings, now)).toBe(now);
  });

  it("uses the secondary rate (0.01/s) in a large partially disrupted zone", () => {
    const nodes = Array.from({ length: 60 }, (_, i) => node(`n${String(i).padStart(2, "0")}`, { ready: i < 40 ? "Unknown" : "True", since: i, taints: i === 0 ? [unreachable(99)] : undefined }));
    expect(zoneState(nodes)).toBe("PartialDisruption");
    expect(taintSlot(nodes[1]!, nodes, settings, now)).toBe(T0 + 99_000 + 100_000);
  });
});

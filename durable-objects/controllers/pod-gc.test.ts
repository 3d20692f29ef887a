// PodGC: which pods it force-deletes and which terminated pods go first; in the controller manager,
// every pod bound to a node that does not exist is deleted, looked at once per node.
import type { Node, Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { freshNamespace, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { podGcVerdict, terminatedOverThreshold } from "./pod-gc.ts";
import { wakeControllerManager } from "./testing.ts";

const pod = (name: string, { node, terminating, phase, created = "2026-01-01T00:00:00Z", reason }: { node?: string; terminating?: boolean; phase?: string; created?: string; reason?: string } = {}): Pod => ({
  metadata: { name, namespace: "ns", creationTimestamp: created, ...(terminating ? { deletionTimestamp: "2026-01-02T00:00:00Z" } : {}) },
  spec: { containers: [{ name: "c" }], ...(node ? { nodeName: node } : {}) },
  status: { phase: phase ?? "Running", ...(reason ? { reason } : {}) },
});
const node = (ready: string, taints: Node["spec"] = {}): Node => ({ metadata: { name: "n" }, spec: taints, status: { conditions: [{ type: "Ready", status: ready }] } });
const outOfService = { taints: [{ key: "node.kubernetes.io/out-of-service", value: "nodeshutdown", effect: "NoExecute" }] };

describe("podGcVerdict", () => {
  it.each([
    ["a pod on a node that exists is left alone", pod("a", { node: "n" }), node("True"), undefined],
    ["a pod on a missing node is an orphan (Failed with DisruptionTarget first)", pod("a", { node: "gone" }), undefined, { reason: "orphaned", condition: { type: "DisruptionTarget", status: "True", reason: "DeletionByPodGC", message: "PodGC: node no longer exists" } }],
    ["a terminating pod that was never scheduled", pod("a", { terminating: true }), undefined, { reason: "unscheduled-terminating" }],
    ["an unscheduled pod that is not terminating is the scheduler's", pod("a"), undefined, undefined],
    ["a terminating pod on a NotReady out-of-service node", pod("a", { node: "n", terminating: true }), node("Unknown", outOfService), { reason: "terminating-out-of-service" }],
    ["a terminating pod on a NotReady node without the taint waits for its kubelet", pod("a", { node: "n", terminating: true }), node("Unknown"), undefined],
    ["a terminating pod on a Ready out-of-service node waits too", pod("a", { node: "n", terminating: true }), node("True", outOfService), undefined],
  ])("%s", (_, p, n, expected) => {
    expect(podGcVerdict(p as Pod, n as Node | undefined)).toEqual(expected);
  });
});

describe("terminatedOverThreshold", () => {
  const pods = [
    pod("running", { phase: "Running", created: "2025-01-01T00:00:00Z" }),
    pod("old", { phase: "Succeeded", created: "2026-01-01T00:00:00Z" }),
    pod("older", { phase: "Failed", created: "2025-06-01T00:00:00Z" }),
    pod("evicted", { phase: "Failed", reason: "Evicted", created: "2026-06-01T00:00:00Z" }),
    pod("new", { phase: "Succeeded", created: "2026-07-01T00:00:00Z" }),
  ];
  it.each([
    [4, []],
    [3, ["evicted"]],
    [2, ["evicted", "older"]],
    [1, ["evicted", "older", "old"]],
    [0, []],
  ])("threshold %i deletes %j", (threshold, expected) => {
    expect(terminatedOverThreshold(pods, threshold).map((p) => p.metadata!.name)).toEqual(expected);
  });
});

describe("PodGC in the controller manager", () => {
  it("force-deletes every pod bound to a node that does not exist, and none on a node that does", async () => {
    const client = testClient();
    const ns = await freshNamespace(client);
    const nodes = client.resource<Node>(builtin("v1", "nodes"));
    const here = `here-${crypto.randomUUID().slice(0, 8)}`;
    await nodes.create(undefined, { metadata: { name: here } });
    const gone = `never-${crypto.randomUUID().slice(0, 8)}`;
    const pods = client.pods();
    const spec = (nodeName: string) => ({ nodeName, containers: [{ name: "c", image: "busybox" }] });
    await Promise.all(Array.from({ length: 30 }, (_, i) => pods.create(ns, { metadata: { name: `orphan-${i}` }, spec: spec(gone) })));
    await pods.create(ns, { metadata: { name: "kept" }, spec: spec(here) });
    await wakeControllerManager();
    expect((await pods.list(ns)).items.map((p) => p.metadata!.name)).toEqual(["kept"]);
  });
});

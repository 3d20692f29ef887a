// The scheduler's Durable Object against the real apiserver: a woken scheduler binds pending pods
// through the API as system:kube-scheduler, says why a pod does not fit (condition and Event), and
// a restart between wake-ups loses no pending pod and binds none twice. Its nodes carry a taint
// only these pods tolerate, so pods of other test files never land on them.
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import type { Event as EventV1 } from "kubernetes-types/events/v1";
import type { Node, Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { freshNamespace, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import type { KubeScheduler } from "./object.ts";

const client = testClient();
const nodes = client.resource<Node>(builtin("v1", "nodes"));
const pods = client.resource<Pod>(builtin("v1", "pods"));
const events = client.resource<EventV1>(builtin("events.k8s.io/v1", "events"));
const scheduler = () => env.SCHEDULER.get(env.SCHEDULER.idFromName(env.CLUSTER_NAME));
const run = crypto.randomUUID().slice(0, 6);

async function hollowNode(name: string, cpu: string, pods = "110"): Promise<void> {
  await nodes.create(undefined, {
    metadata: { name, labels: { "kubernetes.io/hostname": name, "edgeplane.test/run": run } },
    spec: { taints: [{ key: "edgeplane.test/run", value: run, effect: "NoSchedule" }] },
  });
  const created = await nodes.get(undefined, name);
  await nodes.updateStatus(undefined, {
    ...created,
    status: {
      capacity: { cpu, memory: "8Gi", pods }, allocatable: { cpu, memory: "8Gi", pods },
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "hollow node", lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }],
    },
  });
}

function pod(name: string, cpu: string): Pod {
  return {
    metadata: { name },
    spec: {
      nodeSelector: { "edgeplane.test/run": run },
      tolerations: [{ key: "edgeplane.test/run", operator: "Equal", value: run, effect: "NoSchedule" }],
      containers: [{ name: "c", image: "busybox", resources: { requests: { cpu } } }],
    },
  };
}

/** One wake that starts after everything written so far (what the store's poke leads to). */
async function wake(): Promise<void> {
  // The test's writes are in the store, but the pokes saying so may still be on their way: trust no news.
  await runInDurableObject(scheduler(), (object: KubeScheduler) => (object["wakes"].changes.forget(), object.alarm()));
}

describe("the scheduler object", () => {
  it("binds pending pods to nodes with room, and says why a pod fits nowhere", async () => {
    const ns = await freshNamespace(client, "sched");
    await hollowNode(`${run}-a`, "2");
    await hollowNode(`${run}-b`, "2");
    for (const name of ["web-1", "web-2", "web-3"]) await pods.create(ns, pod(name, "1"));
    await pods.create(ns, pod("huge", "64"));
    await wake();
    const placed = await Promise.all(["web-1", "web-2", "web-3"].map(async (name) => (await pods.get(ns, name)).spec!.nodeName));
    expect(placed.map((node) => [`${run}-a`, `${run}-b`].includes(node!) ? "ours" : node)).toEqual(["ours", "ours", "ours"]);
    // LeastAllocated spreads them: no node holds three.
    expect(new Set(placed).size).toBe(2);
    const huge = await pods.get(ns, "huge");
    expect(huge.spec!.nodeName).toBeUndefined();
    const scheduled = huge.status!.conditions!.find((c) => c.type === "PodScheduled")!;
    expect(scheduled).toMatchObject({ status: "False", reason: "Unschedulable" });
    expect(scheduled.message).toMatch(/^0\/\d+ nodes are available: .*2 Insufficient cpu/);
    const list = await events.list(ns);
    const reasons = list.items.map((e) => `${e.reason} ${e.regarding?.name}`);
    expect(reasons).toEqual(expect.arrayContaining(["Scheduled web-1", "Scheduled web-2", "Scheduled web-3", "FailedScheduling huge"]));
    const assigned = list.items.find((e) => e.reason === "Scheduled" && e.regarding?.name === "web-1")!;
    expect(assigned).toMatchObject({ type: "Normal", reportingController: "default-scheduler", note: `Successfully assigned ${ns}/web-1 to ${placed[0]}` });
  });

  it("a restart between wake-ups loses no pending pod and binds none twice", async () => {
    const ns = await freshNamespace(client, "sched-restart");
    // Only node c has room for these two-cpu pods: a and b hold the first test's three.
    await hollowNode(`${run}-c`, "4");
    await pods.create(ns, pod("before", "2"));
    await wake();
    const first = await pods.get(ns, "before");
    expect(first.spec!.nodeName).toBe(`${run}-c`);
    await evictDurableObject(scheduler());
    await pods.create(ns, pod("after", "2"));
    await wake();
    expect((await pods.get(ns, "after")).spec!.nodeName).toBe(`${run}-c`);
    // The first pod was not bound again: its resourceVersion is as the first wake left it.
    expect((await pods.get(ns, "before")).metadata!.resourceVersion).toBe(first.metadata!.resourceVersion);
    const scheduledEvents = (await events.list(ns)).items.filter((e) => e.reason === "Scheduled");
    expect(scheduledEvents.map((e) => e.regarding?.name).sort()).toEqual(["after", "before"]);
  });

  it("holds a gated pod with the SchedulingGated condition until its gates are removed", async () => {
    const ns = await freshNamespace(client, "sched-gates");
    await hollowNode(`${run}-d`, "4");
    await pods.create(ns, { ...pod("gated", "1"), spec: { ...pod("gated", "1").spec!, schedulingGates: [{ name: "example.com/wait" }] } });
    await wake();
    const held = await pods.get(ns, "gated");
    expect(held.spec!.nodeName).toBeUndefined();
    expect(held.status!.conditions).toContainEqual(expect.objectContaining({
      type: "PodScheduled", status: "False", reason: "SchedulingGated", message: "Scheduling is blocked due to non-empty scheduling gates",
    }));
    await pods.patch(ns, "gated", { spec: { schedulingGates: null } }, "merge");
    await wake();
    const released = await pods.get(ns, "gated");
    expect(released.spec!.nodeName).toMatch(new RegExp(`^${run}-`));
    expect(released.status!.conditions).toContainEqual(expect.objectContaining({ type: "PodScheduled", status: "True" }));
  });

  it("holds the kube-system/kube-scheduler lease and sleeps with no alarm when nothing waits", async () => {
    await wake();
    const lease = await client.resource(builtin("coordination.k8s.io/v1", "leases")).get("kube-system", "kube-scheduler");
    expect((lease as { spec?: { holderIdentity?: string } }).spec?.holderIdentity).toMatch(/^kube-scheduler-/);
    const status = await scheduler().status();
    expect(status.error).toBeUndefined();
  });
});

// The ReplicationController, disruption, resourcequota and HPA controllers in the controller
// manager's Durable Object against the real apiserver: an RC gets its pods; a budget's status
// follows its pods' readiness and an eviction spends it; a quota's used follows what exists; an
// HPA without metrics.k8s.io says why it cannot scale.
import { env } from "cloudflare:workers";
import type { ReplicaSet } from "kubernetes-types/apps/v1";
import type { HorizontalPodAutoscaler } from "kubernetes-types/autoscaling/v2";
import type { ConfigMap, Pod, ReplicationController, ResourceQuota } from "kubernetes-types/core/v1";
import type { Event as EventV1 } from "kubernetes-types/events/v1";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1";
import { describe, expect, it } from "vitest";
import { createDefaultServiceAccount, freshNamespace, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { wakeControllerManager } from "./testing.ts";

const client = testClient();
const rcs = client.resource<ReplicationController>(builtin("v1", "replicationcontrollers"));
const replicaSets = client.resource<ReplicaSet>(builtin("apps/v1", "replicasets"));
const pods = client.resource<Pod>(builtin("v1", "pods"));
const pdbs = client.resource<PodDisruptionBudget>(builtin("policy/v1", "poddisruptionbudgets"));
const quotas = client.resource<ResourceQuota>(builtin("v1", "resourcequotas"));
const configMaps = client.resource<ConfigMap>(builtin("v1", "configmaps"));
const hpas = client.resource<HorizontalPodAutoscaler>(builtin("autoscaling/v2", "horizontalpodautoscalers"));
const events = client.resource<EventV1>(builtin("events.k8s.io/v1", "events"));
const manager = () => env.CONTROLLERS.get(env.CONTROLLERS.idFromName(env.CLUSTER_NAME));

const wake = wakeControllerManager;

async function namespace(prefix: string): Promise<string> {
  const ns = await freshNamespace(client, prefix);
  await createDefaultServiceAccount(ns);
  return ns;
}

const template = (app: string) => ({ metadata: { labels: { app } }, spec: { containers: [{ name: "c", image: "busybox", resources: { requests: { cpu: "100m" } } }] } });
const podsOf = async (ns: string, app: string) => (await pods.list(ns, { labelSelector: `app=${app}` })).items.filter((p) => !p.metadata?.deletionTimestamp);

/** What a kubelet reports once the pod runs and its probes pass. */
async function markReady(ns: string, pod: Pod): Promise<void> {
  const now = new Date().toISOString();
  await pods.patch(ns, pod.metadata!.name!, { status: { phase: "Running", startTime: now, conditions: [{ type: "Ready", status: "True", lastTransitionTime: now }] } }, "strategic", { subresource: "status" });
}

describe("policy controllers", () => {
  it("a ReplicationController gets spec.replicas pods it owns, and its status counts them", async () => {
    const ns = await namespace("rc");
    await rcs.create(ns, { metadata: { name: "legacy" }, spec: { replicas: 2, selector: { app: "legacy" }, template: template("legacy") } });
    await wake();
    const owned = await podsOf(ns, "legacy");
    expect(owned).toHaveLength(2);
    for (const pod of owned) {
      expect(pod.metadata!.name).toMatch(/^legacy-[a-z0-9]{5}$/);
      expect(pod.metadata!.ownerReferences).toEqual([expect.objectContaining({ apiVersion: "v1", kind: "ReplicationController", name: "legacy", controller: true })]);
    }
    await rcs.patch(ns, "legacy", { spec: { replicas: 1 } }, "merge");
    await wake();
    expect(await podsOf(ns, "legacy")).toHaveLength(1);
    expect((await rcs.get(ns, "legacy")).status).toMatchObject({ replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 0, availableReplicas: 0 });
    const reasons = (await events.list(ns)).items.map((e) => `${e.reportingController} ${e.reason}`);
    expect(reasons).toEqual(expect.arrayContaining(["replication-controller SuccessfulCreate", "replication-controller SuccessfulDelete"]));
  });

  it("a budget counts Ready pods against its controller's scale; an eviction spends a disruption", async () => {
    const ns = await namespace("pdb");
    await replicaSets.create(ns, { metadata: { name: "web" }, spec: { replicas: 3, selector: { matchLabels: { app: "web" } }, template: template("web") } });
    await pdbs.create(ns, { metadata: { name: "web" }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: "web" } } } });
    await wake();
    const three = await podsOf(ns, "web");
    expect(three).toHaveLength(3);
    expect((await pdbs.get(ns, "web")).status).toMatchObject({ expectedPods: 3, desiredHealthy: 2, currentHealthy: 0, disruptionsAllowed: 0, observedGeneration: 1 });
    for (const pod of three) await markReady(ns, pod);
    await wake();
    const ready = (await pdbs.get(ns, "web")).status!;
    expect(ready).toMatchObject({ expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 });
    expect(ready.conditions).toEqual([expect.objectContaining({ type: "DisruptionAllowed", status: "True", reason: "SufficientPods" })]);

    await client.pods().evict(ns, three[0]!.metadata!.name!);
    await expect(client.pods().evict(ns, three[1]!.metadata!.name!)).rejects.toMatchObject({ code: 429 });
    await wake();
    // The evicted pod is gone and the ReplicaSet's replacement is not Ready yet.
    const after = (await pdbs.get(ns, "web")).status!;
    expect(after).toMatchObject({ currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0 });
    expect(after.conditions).toEqual([expect.objectContaining({ type: "DisruptionAllowed", status: "False", reason: "InsufficientPods" })]);
  });

  it("an evicted pod is marked DisruptionTarget=True before its graceful deletion", async () => {
    const ns = await namespace("evict");
    await pods.create(ns, { metadata: { name: "bound" }, spec: template("bound").spec });
    await client.pods().bind(ns, "bound", { apiVersion: "v1", kind: "Binding", metadata: { name: "bound" }, target: { kind: "Node", name: "somewhere" } });
    await markReady(ns, await pods.get(ns, "bound"));
    await client.pods().evict(ns, "bound");
    const evicted = await pods.get(ns, "bound");
    expect(evicted.metadata!.deletionTimestamp).toBeDefined();
    expect(evicted.status!.conditions).toContainEqual(expect.objectContaining({ type: "DisruptionTarget", status: "True", reason: "EvictionByEvictionAPI", message: "Eviction API: evicting" }));
  });

  it("a DisruptionTarget mark on a pod still not being deleted after 2 minutes is taken back", async () => {
    const ns = await namespace("stale");
    const mark = (ago: number) => ({ type: "DisruptionTarget", status: "True", reason: "EvictionByEvictionAPI", message: "Eviction API: evicting", lastTransitionTime: new Date(Date.now() - ago).toISOString() });
    for (const [name, ago] of [["stale", 3 * 60_000], ["recent", 10_000]] as const) {
      await pods.create(ns, { metadata: { name }, spec: template(name).spec });
      await pods.patch(ns, name, { status: { phase: "Running", conditions: [mark(ago)] } }, "strategic", { subresource: "status" });
    }
    await wake();
    const condition = async (name: string) => (await pods.get(ns, name)).status!.conditions!.find((c) => c.type === "DisruptionTarget");
    expect(await condition("stale")).toMatchObject({ status: "False", reason: "EvictionByEvictionAPI", message: "Eviction API: evicting" });
    expect(await condition("recent")).toMatchObject({ status: "True" });
  });

  it("a percentage budget: an unmanaged pod is warned about, a controller without a scale is SyncFailed", async () => {
    const ns = await namespace("pdb-orphan");
    await pods.create(ns, { metadata: { name: "lone", labels: { app: "lone" } }, spec: template("lone").spec });
    await pdbs.create(ns, { metadata: { name: "lone" }, spec: { minAvailable: "50%", selector: { matchLabels: { app: "lone" } } } });
    await wake();
    expect((await pdbs.get(ns, "lone")).status).toMatchObject({ expectedPods: 0, desiredHealthy: 0, disruptionsAllowed: 0 });
    expect((await events.list(ns)).items.map((e) => e.reason)).toContain("UnmanagedPods");

    const owner = await configMaps.create(ns, { metadata: { name: "owner" } });
    await pods.create(ns, {
      metadata: { name: "owned", labels: { app: "owned" }, ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata!.uid!, controller: true }] },
      spec: template("owned").spec,
    });
    await pdbs.create(ns, { metadata: { name: "owned" }, spec: { maxUnavailable: "50%", selector: { matchLabels: { app: "owned" } } } });
    await wake();
    const status = (await pdbs.get(ns, "owned")).status!;
    expect(status.disruptionsAllowed).toBe(0);
    expect(status.conditions).toEqual([expect.objectContaining({ type: "DisruptionAllowed", status: "False", reason: "SyncFailed", message: `found no controllers for pod "owned"` })]);
    const failed = (await events.list(ns)).items.find((e) => e.reason === "CalculateExpectedPodCountFailed");
    expect(failed?.note).toBe(`Failed to calculate the number of expected pods: found no controllers for pod "owned"`);
  });

  it("a quota's used is recounted from what exists: finished pods stop counting", async () => {
    const ns = await namespace("quota");
    await quotas.create(ns, { metadata: { name: "q" }, spec: { hard: { pods: "5", "requests.cpu": "2", configmaps: "10", "count/replicasets.apps": "3" } } });
    await wake();
    expect((await quotas.get(ns, "q")).status).toEqual({
      hard: { pods: "5", "requests.cpu": "2", configmaps: "10", "count/replicasets.apps": "3" },
      used: { pods: "0", "requests.cpu": "0", configmaps: expect.any(String), "count/replicasets.apps": "0" },
    });
    const baseline = Number((await quotas.get(ns, "q")).status!.used!.configmaps);
    await configMaps.create(ns, { metadata: { name: "a" }, data: { k: "v" } });
    await replicaSets.create(ns, { metadata: { name: "r" }, spec: { replicas: 2, selector: { matchLabels: { app: "r" } }, template: template("r") } });
    await wake();
    expect((await quotas.get(ns, "q")).status!.used).toEqual({ pods: "2", "requests.cpu": "200m", configmaps: String(baseline + 1), "count/replicasets.apps": "1" });
    const [done] = await podsOf(ns, "r");
    await pods.patch(ns, done!.metadata!.name!, { status: { phase: "Succeeded" } }, "strategic", { subresource: "status" });
    await wake();
    // The finished pod charges nothing; the ReplicaSet replaced it with one that does.
    expect((await quotas.get(ns, "q")).status!.used).toMatchObject({ pods: "2", "requests.cpu": "200m" });
  });

  it("an HPA whose pods have no metrics: AbleToScale, ScalingActive=False with kube's words, and its Events", async () => {
    const ns = await namespace("hpa");
    await replicaSets.create(ns, { metadata: { name: "web" }, spec: { replicas: 1, selector: { matchLabels: { app: "web" } }, template: template("web") } });
    await hpas.create(ns, {
      metadata: { name: "web" },
      spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web" }, minReplicas: 1, maxReplicas: 4, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } } }] },
    });
    await wake();
    const status = (await hpas.get(ns, "web")).status!;
    expect(status).toMatchObject({ currentReplicas: 1, desiredReplicas: 0 });
    // metrics.k8s.io is served, but no node runs the pod here: metrics-server's empty list.
    const cause = "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API";
    expect(status.conditions).toEqual([
      expect.objectContaining({ type: "AbleToScale", status: "True", reason: "SucceededGetScale", message: "the HPA controller was able to get the target's current scale" }),
      expect.objectContaining({ type: "ScalingActive", status: "False", reason: "FailedGetResourceMetric", message: `the HPA was unable to compute the replica count: ${cause}` }),
    ]);
    const notes = (await events.list(ns)).items.filter((e) => e.reportingController === "horizontal-pod-autoscaler").map((e) => `${e.reason}: ${e.note}`);
    expect(notes).toEqual(expect.arrayContaining([
      `FailedGetResourceMetric: ${cause}`,
      `FailedComputeMetricsReplicas: invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: ${cause}`,
    ]));

    // Below minReplicas it scales without metrics.
    await hpas.patch(ns, "web", { spec: { minReplicas: 2 } }, "merge");
    await wake();
    expect((await replicaSets.get(ns, "web")).spec!.replicas).toBe(2);
    const rescaled = (await events.list(ns)).items.find((e) => e.reason === "SuccessfulRescale");
    expect(rescaled?.note).toBe("New size: 2; reason: Current number of replicas below Spec.MinReplicas");
    await hpas.delete(ns, "web");
  });
});

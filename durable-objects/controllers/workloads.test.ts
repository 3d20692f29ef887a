// The workload controllers in the controller manager's Durable Object against the real apiserver:
// a Job runs its pods to Complete (the test marks them Succeeded as a kubelet would) and another
// fails at its backoffLimit; a StatefulSet starts its pods in order with their claims; a DaemonSet
// puts one pod on each eligible node; a CronJob whose time has come creates its Job.
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import type { ControllerRevision, DaemonSet, StatefulSet } from "kubernetes-types/apps/v1";
import type { CronJob, Job } from "kubernetes-types/batch/v1";
import type { Node, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { freshNamespace, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import type { KubeControllerManager } from "./object.ts";

const client = testClient();
const jobs = client.resource<Job>(builtin("batch/v1", "jobs"));
const cronJobs = client.resource<CronJob>(builtin("batch/v1", "cronjobs"));
const statefulSets = client.resource<StatefulSet>(builtin("apps/v1", "statefulsets"));
const daemonSets = client.resource<DaemonSet>(builtin("apps/v1", "daemonsets"));
const revisions = client.resource<ControllerRevision>(builtin("apps/v1", "controllerrevisions"));
const claims = client.resource<PersistentVolumeClaim>(builtin("v1", "persistentvolumeclaims"));
const nodes = client.resource<Node>(builtin("v1", "nodes"));
const pods = client.resource<Pod>(builtin("v1", "pods"));
const manager = () => env.CONTROLLERS.get(env.CONTROLLERS.idFromName(env.CLUSTER_NAME));

async function wake(): Promise<void> {
  await runInDurableObject(manager(), (object: KubeControllerManager) => object.alarm());
}

const container = { name: "c", image: "busybox" };
const live = (list: Pod[]) => list.filter((p) => !p.metadata?.deletionTimestamp);

/** What a kubelet would report for a pod that ran. */
async function finish(ns: string, pod: Pod, phase: "Succeeded" | "Failed", exitCode: number): Promise<void> {
  const now = new Date().toISOString();
  await pods.patch(ns, pod.metadata!.name!, {
    status: { phase, containerStatuses: [{ name: "c", image: "busybox", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode, startedAt: now, finishedAt: now } } }] },
  }, "merge", { subresource: "status" });
}

async function markReady(ns: string, name: string): Promise<void> {
  const now = new Date().toISOString();
  await pods.patch(ns, name, { status: { phase: "Running", conditions: [{ type: "Ready", status: "True", lastTransitionTime: now }] } }, "merge", { subresource: "status" });
}

describe("the workload controllers", () => {
  it("a Job runs completions pods to Complete, counting each once through the tracking finalizer", async () => {
    const ns = await freshNamespace(client, "job");
    await jobs.create(ns, { metadata: { name: "pi" }, spec: { completions: 2, parallelism: 1, template: { spec: { restartPolicy: "Never", containers: [container] } } } });
    await wake();
    let owned = live((await pods.list(ns)).items);
    expect(owned).toHaveLength(1);
    expect(owned[0]!.metadata!.finalizers).toContain("batch.kubernetes.io/job-tracking");
    expect(owned[0]!.metadata!.labels).toMatchObject({ "batch.kubernetes.io/job-name": "pi" });
    expect((await jobs.get(ns, "pi")).status).toMatchObject({ active: 1 });
    await finish(ns, owned[0]!, "Succeeded", 0);
    await wake();
    expect((await pods.get(ns, owned[0]!.metadata!.name!)).metadata!.finalizers ?? []).not.toContain("batch.kubernetes.io/job-tracking");
    owned = live((await pods.list(ns)).items).filter((p) => p.status?.phase !== "Succeeded");
    expect(owned).toHaveLength(1);
    expect((await jobs.get(ns, "pi")).status).toMatchObject({ succeeded: 1, active: 1 });
    await finish(ns, owned[0]!, "Succeeded", 0);
    await wake();
    const done = await jobs.get(ns, "pi");
    expect(done.status).toMatchObject({ succeeded: 2, active: 0 });
    expect(done.status!.completionTime).toBeDefined();
    expect(done.status!.conditions).toContainEqual(expect.objectContaining({ type: "Complete", status: "True" }));
    await wake();
    expect((await jobs.get(ns, "pi")).status!.succeeded).toBe(2);
  });

  it("a Job fails with BackoffLimitExceeded, and a podFailurePolicy FailJob rule fails it at once", async () => {
    const ns = await freshNamespace(client, "job-fail");
    await jobs.create(ns, { metadata: { name: "flaky" }, spec: { backoffLimit: 0, template: { spec: { restartPolicy: "Never", containers: [container] } } } });
    await jobs.create(ns, {
      metadata: { name: "strict" },
      spec: {
        backoffLimit: 5,
        podFailurePolicy: { rules: [{ action: "FailJob", onExitCodes: { containerName: "c", operator: "In", values: [42] } }] },
        template: { spec: { restartPolicy: "Never", containers: [container] } },
      },
    });
    await wake();
    for (const pod of live((await pods.list(ns)).items)) await finish(ns, pod, "Failed", pod.metadata!.name!.startsWith("strict") ? 42 : 1);
    await wake();
    const flaky = await jobs.get(ns, "flaky");
    expect(flaky.status).toMatchObject({ failed: 1, active: 0 });
    expect(flaky.status!.conditions).toContainEqual(expect.objectContaining({ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit" }));
    const strict = await jobs.get(ns, "strict");
    expect(strict.status!.conditions).toContainEqual(expect.objectContaining({ type: "FailureTarget", reason: "PodFailurePolicy" }));
    expect(strict.status!.conditions).toContainEqual(expect.objectContaining({
      type: "Failed", reason: "PodFailurePolicy", message: `Container c for pod ${ns}/${(await pods.list(ns, { labelSelector: "job-name=strict" })).items[0]!.metadata!.name} failed with exit code 42 matching FailJob rule at index 0`,
    }));
  });

  it("a StatefulSet starts pod 1 only once pod 0 is Running and Ready, each with its claim", async () => {
    const ns = await freshNamespace(client, "sts");
    await statefulSets.create(ns, {
      metadata: { name: "web" },
      spec: {
        replicas: 2, serviceName: "web", selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [container] } },
        volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" },
      },
    });
    await wake();
    expect(live((await pods.list(ns)).items).map((p) => p.metadata!.name)).toEqual(["web-0"]);
    const web0 = await pods.get(ns, "web-0");
    expect(web0.metadata!.labels).toMatchObject({ app: "web", "statefulset.kubernetes.io/pod-name": "web-0", "apps.kubernetes.io/pod-index": "0" });
    expect(web0.spec).toMatchObject({ hostname: "web-0", subdomain: "web" });
    expect(web0.spec!.volumes).toContainEqual({ name: "data", persistentVolumeClaim: { claimName: "data-web-0" } });
    const claim = await claims.get(ns, "data-web-0");
    expect(claim.metadata!.labels).toMatchObject({ app: "web" });
    expect(claim.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: "StatefulSet", name: "web" })]);
    await wake();
    expect(live((await pods.list(ns)).items)).toHaveLength(1);
    await markReady(ns, "web-0");
    await wake();
    expect(live((await pods.list(ns)).items).map((p) => p.metadata!.name).sort()).toEqual(["web-0", "web-1"]);
    await claims.get(ns, "data-web-1");
    await markReady(ns, "web-1");
    await wake();
    const set = await statefulSets.get(ns, "web");
    expect(set.status).toMatchObject({ replicas: 2, readyReplicas: 2, currentReplicas: 2, updatedReplicas: 2, availableReplicas: 2, observedGeneration: set.metadata!.generation });
    expect(set.status!.currentRevision).toBe(set.status!.updateRevision);
    const history = (await revisions.list(ns)).items;
    expect(history.map((r) => [r.metadata!.name, r.revision])).toEqual([[set.status!.updateRevision, 1]]);
    expect(web0.metadata!.labels!["controller-revision-hash"]).toBe(set.status!.updateRevision!.slice("web-".length));

    // A new image rolls from the highest ordinal down, one pod at a time.
    await statefulSets.patch(ns, "web", { spec: { template: { metadata: { annotations: { rev: "2" } } } } }, "merge");
    await wake();
    expect((await pods.list(ns)).items.filter((p) => p.metadata!.deletionTimestamp || !p.metadata!.annotations?.rev).map((p) => p.metadata!.name)).toEqual(["web-0"]);
    expect((await pods.get(ns, "web-1")).metadata!.annotations?.rev).toBe("2");
    expect((await revisions.list(ns)).items).toHaveLength(2);
  });

  it("a DaemonSet puts one pod on each node it may run on, pinned by node affinity", async () => {
    const ns = await freshNamespace(client, "ds");
    const suffix = ns.slice(-8);
    const names = [`plain-${suffix}`, `tainted-${suffix}`, `cordoned-${suffix}`];
    await nodes.create(undefined, { metadata: { name: names[0], labels: { "kubernetes.io/hostname": names[0]! } } });
    await nodes.create(undefined, { metadata: { name: names[1] }, spec: { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] } });
    await nodes.create(undefined, { metadata: { name: names[2] }, spec: { unschedulable: true, taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] } });
    await daemonSets.create(ns, {
      metadata: { name: "agent" },
      spec: { selector: { matchLabels: { app: "agent" } }, template: { metadata: { labels: { app: "agent" } }, spec: { containers: [container] } } },
    });
    await wake();
    const placed = live((await pods.list(ns)).items);
    const pinned = placed.map((p) => p.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchFields![0]!.values![0]);
    expect(pinned.filter((n) => names.includes(n!)).sort()).toEqual([names[2], names[0]].sort());
    expect(placed[0]!.spec!.tolerations).toContainEqual({ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" });
    const ds = await daemonSets.get(ns, "agent");
    expect(ds.status!.observedGeneration).toBe(ds.metadata!.generation);
    expect(ds.status!.desiredNumberScheduled).toBe(placed.length);
    for (const name of names) await nodes.delete(undefined, name);
  });

  it("a CronJob whose schedule has come creates its Job named after the scheduled minute", async () => {
    const ns = await freshNamespace(client, "cron");
    await cronJobs.create(ns, { metadata: { name: "tick" }, spec: { schedule: "@every 1s", jobTemplate: { spec: { template: { spec: { restartPolicy: "Never", containers: [container] } } } } } });
    const deadline = Date.now() + 5_000;
    let created: Job[] = [];
    while (!created.length && Date.now() < deadline) {
      await wake();
      created = (await jobs.list(ns)).items;
    }
    expect(created).toHaveLength(1);
    expect(created[0]!.metadata!.name).toMatch(/^tick-\d+$/);
    expect(created[0]!.metadata!.annotations!["batch.kubernetes.io/cronjob-scheduled-timestamp"]).toMatch(/Z$/);
    const cj = await cronJobs.get(ns, "tick");
    expect(cj.status!.active).toEqual([expect.objectContaining({ name: created[0]!.metadata!.name })]);
    expect(cj.status!.lastScheduleTime).toBeDefined();
  });
});

// The workload controllers in the controller manager's Durable Object against the real apiserver:
// a Job runs its pods to Complete (the test marks them Succeeded as a kubelet would), another fails
// at its backoffLimit, an Indexed one gives each pod its index, a suspended one has no pods, and a
// finished one with a TTL is deleted; a StatefulSet starts its pods in order with their claims,
// rolls and scales down from the highest ordinal; a DaemonSet puts one pod on each eligible node
// and rolls a new template; a CronJob whose time has come creates its Job, Replace replaces it,
// and finished Jobs beyond the history limit go.
import { env } from "cloudflare:workers";
import type { ControllerRevision, DaemonSet, StatefulSet } from "kubernetes-types/apps/v1";
import type { CronJob, Job } from "kubernetes-types/batch/v1";
import type { Node, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1";
import type { Event as EventV1 } from "kubernetes-types/events/v1";
import { describe, expect, it } from "vitest";
import { freshNamespace, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { wakeControllerManager } from "./testing.ts";

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

const wake = wakeControllerManager;

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

  it("a deleted Job's pods lose the tracking finalizer, so they can go", async () => {
    const ns = await freshNamespace(client, "job-gone");
    await jobs.create(ns, { metadata: { name: "gone" }, spec: { parallelism: 2, template: { spec: { restartPolicy: "Never", containers: [container] } } } });
    await wake();
    expect(live((await pods.list(ns)).items)).toHaveLength(2);
    await jobs.delete(ns, "gone", { propagationPolicy: "Orphan" });
    await wake();
    await wake();
    const left = (await pods.list(ns)).items;
    expect(left).toHaveLength(2);
    for (const pod of left) expect(pod.metadata!.finalizers ?? []).not.toContain("batch.kubernetes.io/job-tracking");
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

  it("an Indexed Job gives each pod its index; a suspended Job has none until resumed; a finished Job with a TTL is deleted", async () => {
    const ns = await freshNamespace(client, "job-modes");
    await jobs.create(ns, { metadata: { name: "idx" }, spec: { completionMode: "Indexed", completions: 3, parallelism: 2, template: { spec: { restartPolicy: "Never", containers: [container] } } } });
    await jobs.create(ns, { metadata: { name: "later" }, spec: { suspend: true, ttlSecondsAfterFinished: 0, template: { spec: { restartPolicy: "Never", containers: [container] } } } });
    await wake();
    const indexed = live((await pods.list(ns, { labelSelector: "job-name=idx" })).items);
    expect(indexed.map((p) => [p.metadata!.annotations!["batch.kubernetes.io/job-completion-index"], p.spec!.hostname]).sort()).toEqual([["0", "idx-0"], ["1", "idx-1"]]);
    await finish(ns, indexed.find((p) => p.spec!.hostname === "idx-1")!, "Succeeded", 0);
    await wake();
    const next = live((await pods.list(ns, { labelSelector: "job-name=idx" })).items).filter((p) => p.status?.phase !== "Succeeded");
    expect(next.map((p) => p.spec!.hostname).sort()).toEqual(["idx-0", "idx-2"]);
    expect((await jobs.get(ns, "idx")).status).toMatchObject({ completedIndexes: "1", succeeded: 1, active: 2 });

    expect((await pods.list(ns, { labelSelector: "job-name=later" })).items).toHaveLength(0);
    const suspended = await jobs.get(ns, "later");
    expect(suspended.status!.conditions).toContainEqual(expect.objectContaining({ type: "Suspended", status: "True", reason: "JobSuspended" }));
    expect(suspended.status!.startTime).toBeUndefined();
    await jobs.patch(ns, "later", { spec: { suspend: false } }, "merge");
    await wake();
    const resumed = await jobs.get(ns, "later");
    expect(resumed.status!.conditions).toContainEqual(expect.objectContaining({ type: "Suspended", status: "False", reason: "JobResumed" }));
    expect(resumed.status!.startTime).toBeDefined();
    const [run] = live((await pods.list(ns, { labelSelector: "job-name=later" })).items);
    await finish(ns, run!, "Succeeded", 0);
    await wake();
    await wake();
    // ttlSecondsAfterFinished 0: deleted in the foreground as soon as it completed (the garbage collector finishes it).
    const gone = await jobs.get(ns, "later").catch(() => undefined);
    expect(gone === undefined || gone.metadata!.deletionTimestamp !== undefined).toBe(true);
  });

  it("a Job active longer than activeDeadlineSeconds fails with DeadlineExceeded, its pods deleted", async () => {
    const ns = await freshNamespace(client, "job-deadline");
    await jobs.create(ns, { metadata: { name: "slow" }, spec: { activeDeadlineSeconds: 3, parallelism: 2, template: { spec: { restartPolicy: "Never", containers: [container] } } } });
    await wake();
    // A loaded machine may take the first wakes past the 3 s deadline: the pods' creation is read from the Events at the end.
    const deadline = Date.now() + 20_000;
    let failed: Job["status"];
    do {
      await wake();
      failed = (await jobs.get(ns, "slow")).status;
    } while (!failed?.conditions?.some((c) => c.type === "Failed") && Date.now() < deadline);
    expect(failed!.conditions).toContainEqual(expect.objectContaining({ type: "Failed", status: "True", reason: "DeadlineExceeded", message: "Job was active longer than specified deadline" }));
    expect(live((await pods.list(ns)).items)).toHaveLength(0);
    expect(failed!.active).toBe(0);
    const reasons = (await client.resource<EventV1>(builtin("events.k8s.io/v1", "events")).list(ns)).items.map((e) => e.reason);
    expect(reasons.filter((r) => r === "SuccessfulCreate")).toHaveLength(2);
    expect(reasons.filter((r) => r === "SuccessfulDelete")).toHaveLength(2);
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
    expect(web0.metadata!.labels!["controller-revision-hash"]).toBe(set.status!.updateRevision);

    // A new image rolls from the highest ordinal down, one pod at a time.
    await statefulSets.patch(ns, "web", { spec: { template: { metadata: { annotations: { rev: "2" } } } } }, "merge");
    await wake();
    expect((await pods.list(ns)).items.filter((p) => p.metadata!.deletionTimestamp || !p.metadata!.annotations?.rev).map((p) => p.metadata!.name)).toEqual(["web-0"]);
    expect((await pods.get(ns, "web-1")).metadata!.annotations?.rev).toBe("2");
    expect((await revisions.list(ns)).items).toHaveLength(2);
  });

  it("a StatefulSet scales down from the highest ordinal, handing the claims of whenScaled: Delete to their pods", async () => {
    const ns = await freshNamespace(client, "sts-scale");
    await statefulSets.create(ns, {
      metadata: { name: "db" },
      spec: {
        replicas: 3, podManagementPolicy: "Parallel", serviceName: "db", selector: { matchLabels: { app: "db" } },
        template: { metadata: { labels: { app: "db" } }, spec: { containers: [container] } },
        volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Delete" },
      },
    });
    await wake();
    expect(live((await pods.list(ns)).items).map((p) => p.metadata!.name).sort()).toEqual(["db-0", "db-1", "db-2"]);
    for (const name of ["db-0", "db-1", "db-2"]) await markReady(ns, name);
    await statefulSets.patch(ns, "db", { spec: { replicas: 1 } }, "merge");
    await wake();
    expect(live((await pods.list(ns)).items).map((p) => p.metadata!.name)).toEqual(["db-0"]);
    const owners = async (claim: string) => ((await claims.get(ns, claim)).metadata!.ownerReferences ?? []).map((r) => `${r.kind}/${r.name}`);
    expect(await owners("data-db-0")).toEqual([]);
    // The pods' deletion takes their claims with them (the garbage collector's part).
    for (const claim of ["data-db-1", "data-db-2"]) {
      const left = await owners(claim).catch(() => ["gone"]);
      expect([["gone"], [`Pod/${claim.slice("data-".length)}`]]).toContainEqual(left);
    }
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

    // A new template: the old pods, not available (no kubelet), are replaced at once.
    await daemonSets.patch(ns, "agent", { spec: { template: { metadata: { annotations: { rev: "2" } } } } }, "merge");
    await wake();
    await wake();
    const rolled = live((await pods.list(ns)).items);
    expect(rolled).toHaveLength(placed.length);
    expect(rolled.every((p) => p.metadata!.annotations?.rev === "2")).toBe(true);
    expect((await revisions.list(ns)).items.map((r) => r.revision).sort()).toEqual([1, 2]);
    expect((await daemonSets.get(ns, "agent")).status!.updatedNumberScheduled).toBe(placed.length);
    for (const name of names) await nodes.delete(undefined, name);
  });

  it("a CronJob whose time has come replaces the Job still running (Replace) and keeps no finished ones beyond its history limit", async () => {
    const ns = await freshNamespace(client, "cron");
    const cj = await cronJobs.create(ns, {
      metadata: { name: "tick" },
      spec: { schedule: "@every 1s", concurrencyPolicy: "Replace", successfulJobsHistoryLimit: 0, jobTemplate: { spec: { template: { spec: { restartPolicy: "Never", containers: [container] } } } } },
    });
    // A Job of an earlier run, still going.
    await jobs.create(ns, {
      metadata: { name: "tick-1", ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: "tick", uid: cj.metadata!.uid!, controller: true }] },
      spec: { template: { spec: { restartPolicy: "Never", containers: [container] } } },
    });
    const deadline = Date.now() + 5_000;
    let created: Job[] = [];
    while (!created.length && Date.now() < deadline) {
      await wake();
      created = (await jobs.list(ns)).items.filter((j) => j.metadata!.name !== "tick-1");
    }
    expect(created).toHaveLength(1);
    const job = created[0]!;
    expect(job.metadata!.name).toMatch(/^tick-\d+$/);
    // Named after the scheduled time's minute since the epoch.
    const scheduled = Date.parse((await cronJobs.get(ns, "tick")).status!.lastScheduleTime!);
    expect(job.metadata!.name).toBe(`tick-${Math.floor(scheduled / 60_000)}`);
    expect(job.metadata!.annotations!["batch.kubernetes.io/cronjob-scheduled-timestamp"]).toMatch(/Z$/);
    expect(job.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: "CronJob", name: "tick", controller: true })]);
    const old = await jobs.get(ns, "tick-1").catch(() => undefined);
    expect(old === undefined || old.metadata!.deletionTimestamp !== undefined).toBe(true);
    expect((await cronJobs.get(ns, "tick")).status!.active).toEqual([expect.objectContaining({ name: job.metadata!.name, uid: job.metadata!.uid })]);

    // Suspended (no more runs), its Job completes: seen, and deleted beyond successfulJobsHistoryLimit 0.
    await cronJobs.patch(ns, "tick", { spec: { suspend: true } }, "merge");
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    await jobs.patch(ns, job.metadata!.name!, { status: { startTime: now, completionTime: now, succeeded: 1, conditions: [{ type: "Complete", status: "True", lastTransitionTime: now }] } }, "merge", { subresource: "status" });
    await wake();
    await wake();
    const finished = await jobs.get(ns, job.metadata!.name!).catch(() => undefined);
    expect(finished === undefined || finished.metadata!.deletionTimestamp !== undefined).toBe(true);
    const status = (await cronJobs.get(ns, "tick")).status!;
    expect(status.active ?? []).toEqual([]);
    expect(status.lastSuccessfulTime).toBe(now);
    const notes = (await client.resource<EventV1>(builtin("events.k8s.io/v1", "events")).list(ns)).items.map((e) => `${e.reason}: ${e.note}`);
    expect(notes).toEqual(expect.arrayContaining([
      "UnexpectedJob: Saw a job that the controller did not create or forgot: tick-1",
      "SuccessfulDelete: Deleted job tick-1",
      `SuccessfulCreate: Created job ${job.metadata!.name}`,
      `SawCompletedJob: Saw completed job: ${job.metadata!.name}, condition: Complete`,
      `SuccessfulDelete: Deleted job ${job.metadata!.name}`,
    ]));
  });
});

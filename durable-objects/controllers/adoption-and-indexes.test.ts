// Against the real apiserver, woken as a poke would wake the controller manager: a Job, a
// DaemonSet and a StatefulSet adopt their own pods back when those lose their owner reference
// (no second pod is made), and an Indexed Job with backoffLimitPerIndex gives up on an index
// (status.failedIndexes) and fails with FailedIndexes or MaxFailedIndexesExceeded as kube 1.30 does.
import type { DaemonSet, StatefulSet } from "kubernetes-types/apps/v1";
import type { Job } from "kubernetes-types/batch/v1";
import type { Node, Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { freshNamespace, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { wakeControllerManager } from "./testing.ts";

const client = testClient();
const jobs = client.resource<Job>(builtin("batch/v1", "jobs"));
const daemonSets = client.resource<DaemonSet>(builtin("apps/v1", "daemonsets"));
const statefulSets = client.resource<StatefulSet>(builtin("apps/v1", "statefulsets"));
const nodes = client.resource<Node>(builtin("v1", "nodes"));
const pods = client.resource<Pod>(builtin("v1", "pods"));
const wake = wakeControllerManager;
const container = { name: "c", image: "busybox" };
const live = async (ns: string) => (await pods.list(ns)).items.filter((p) => !p.metadata?.deletionTimestamp);

/** What a user does to orphan a pod: drops its owner references. */
async function orphan(ns: string, pod: Pod): Promise<void> {
  await pods.patch(ns, pod.metadata!.name!, { metadata: { ownerReferences: null } }, "merge");
  expect((await pods.get(ns, pod.metadata!.name!)).metadata!.ownerReferences).toBeUndefined();
}

/** The one live pod, owned again by `uid` as its controller. */
async function expectAdoptedBack(ns: string, name: string, uid: string): Promise<Pod> {
  const left = await live(ns);
  expect(left.map((p) => p.metadata!.name)).toEqual([name]);
  expect(left[0]!.metadata!.ownerReferences).toEqual([expect.objectContaining({ uid, controller: true, blockOwnerDeletion: true })]);
  return left[0]!;
}

describe("adoption of orphaned pods", () => {
  it("a Job adopts its pod back, with the tracking finalizer", async () => {
    const ns = await freshNamespace(client, "adopt-job");
    const job = await jobs.create(ns, { metadata: { name: "once" }, spec: { template: { spec: { restartPolicy: "Never", containers: [container] } } } });
    await wake();
    const [pod] = await live(ns);
    await pods.patch(ns, pod!.metadata!.name!, { metadata: { ownerReferences: null, finalizers: null } }, "merge");
    await wake();
    const adopted = await expectAdoptedBack(ns, pod!.metadata!.name!, job.metadata!.uid!);
    expect(adopted.metadata!.finalizers).toEqual(["batch.kubernetes.io/job-tracking"]);
    expect(adopted.metadata!.labels).toMatchObject({ "batch.kubernetes.io/controller-uid": job.metadata!.uid, "controller-uid": job.metadata!.uid });
  });

  it("a DaemonSet adopts its pod back", async () => {
    const ns = await freshNamespace(client, "adopt-ds");
    const node = `adopt-${crypto.randomUUID().slice(0, 8)}`;
    await nodes.create(undefined, { metadata: { name: node, labels: { "adopt-test": node } } });
    const ds = await daemonSets.create(ns, {
      metadata: { name: "agent" },
      spec: { selector: { matchLabels: { app: "agent" } }, template: { metadata: { labels: { app: "agent" } }, spec: { nodeSelector: { "adopt-test": node }, containers: [container] } } },
    });
    await wake();
    const [pod] = await live(ns);
    await orphan(ns, pod!);
    await wake();
    await expectAdoptedBack(ns, pod!.metadata!.name!, ds.metadata!.uid!);
  });

  it("a StatefulSet adopts its member back, not a pod of another name", async () => {
    const ns = await freshNamespace(client, "adopt-sts");
    const set = await statefulSets.create(ns, {
      metadata: { name: "web" },
      spec: { replicas: 1, serviceName: "web", selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [container] } } },
    });
    await wake();
    const [pod] = await live(ns);
    expect(pod!.metadata!.name).toBe("web-0");
    await orphan(ns, pod!);
    await pods.create(ns, { metadata: { name: "stranger", labels: { app: "web" } }, spec: { containers: [container] } });
    await wake();
    const web0 = await pods.get(ns, "web-0");
    expect(web0.metadata!.ownerReferences).toEqual([expect.objectContaining({ uid: set.metadata!.uid, controller: true })]);
    expect((await pods.get(ns, "stranger")).metadata!.ownerReferences).toBeUndefined();
  });
});

/** What a kubelet reports for a pod that ran to this exit code. */
async function finish(ns: string, pod: Pod, exitCode: number): Promise<void> {
  const now = new Date().toISOString();
  await pods.patch(ns, pod.metadata!.name!, {
    status: { phase: exitCode === 0 ? "Succeeded" : "Failed", containerStatuses: [{ name: "c", image: "busybox", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode, startedAt: now, finishedAt: now } } }] },
  }, "merge", { subresource: "status" });
}

const indexOf = (pod: Pod) => pod.metadata!.annotations!["batch.kubernetes.io/job-completion-index"];
async function podOfIndex(ns: string, index: string): Promise<Pod> {
  const found = (await live(ns)).find((p) => indexOf(p) === index && !["Succeeded", "Failed"].includes(p.status?.phase ?? ""));
  expect(found, `a running pod for index ${index}`).toBeDefined();
  return found!;
}

describe("an Indexed Job with backoffLimitPerIndex", () => {
  const indexedJob = (name: string, extra: Partial<NonNullable<Job["spec"]>>): Job => ({
    metadata: { name },
    spec: { completionMode: "Indexed", completions: 3, parallelism: 3, backoffLimitPerIndex: 0, template: { spec: { restartPolicy: "Never", containers: [container] } }, ...extra },
  });

  it("gives up on a failed index and fails with FailedIndexes once every index has finished", async () => {
    const ns = await freshNamespace(client, "per-index");
    await jobs.create(ns, indexedJob("idx", {}));
    await wake();
    const started = await live(ns);
    expect(started.map((p) => p.metadata!.annotations!["batch.kubernetes.io/job-index-failure-count"])).toEqual(["0", "0", "0"]);
    await finish(ns, await podOfIndex(ns, "1"), 1);
    await wake();
    const after = await jobs.get(ns, "idx");
    expect(after.status).toMatchObject({ failedIndexes: "1", failed: 1, active: 2 });
    expect((await live(ns)).filter((p) => indexOf(p) === "1")).toHaveLength(1);
    await finish(ns, await podOfIndex(ns, "0"), 0);
    await finish(ns, await podOfIndex(ns, "2"), 0);
    await wake();
    const done = await jobs.get(ns, "idx");
    expect(done.status).toMatchObject({ completedIndexes: "0,2", failedIndexes: "1", succeeded: 2, failed: 1 });
    expect(done.status!.conditions).toContainEqual(expect.objectContaining({ type: "Failed", status: "True", reason: "FailedIndexes", message: "Job has failed indexes" }));
  });

  it("retries an index within its limit: the failed pod stays uncounted, with its finalizer, until its replacement carries the failure count", async () => {
    const ns = await freshNamespace(client, "per-index");
    await jobs.create(ns, indexedJob("retry", { completions: 1, parallelism: 1, backoffLimitPerIndex: 1 }));
    await wake();
    const first = await podOfIndex(ns, "0");
    await finish(ns, first, 1);
    await wake();
    const waiting = await jobs.get(ns, "retry");
    expect(waiting.status).toMatchObject({ failedIndexes: "", active: 0 });
    expect(waiting.status!.failed ?? 0).toBe(0);
    expect((await pods.get(ns, first.metadata!.name!)).metadata!.finalizers).toEqual(["batch.kubernetes.io/job-tracking"]);
    // The index's own back-off (10 s from the failure), then its replacement.
    const deadline = Date.now() + 25_000;
    let replacement: Pod | undefined;
    while (!replacement && Date.now() < deadline) {
      await wake();
      replacement = (await live(ns)).find((p) => p.metadata!.uid !== first.metadata!.uid);
    }
    expect(replacement!.metadata!.annotations).toMatchObject({ "batch.kubernetes.io/job-completion-index": "0", "batch.kubernetes.io/job-index-failure-count": "1" });
    await wake();
    expect((await jobs.get(ns, "retry")).status).toMatchObject({ failed: 1, failedIndexes: "", active: 1 });
    expect((await pods.get(ns, first.metadata!.name!)).metadata!.finalizers ?? []).toEqual([]);
  }, 60_000);

  it("fails with MaxFailedIndexesExceeded past maxFailedIndexes, its other pods deleted", async () => {
    const ns = await freshNamespace(client, "per-index");
    await jobs.create(ns, indexedJob("max", { maxFailedIndexes: 0 }));
    await wake();
    await finish(ns, await podOfIndex(ns, "2"), 1);
    await wake();
    const failed = await jobs.get(ns, "max");
    expect(failed.status).toMatchObject({ failedIndexes: "2", active: 0 });
    expect(failed.status!.conditions).toContainEqual(expect.objectContaining({ type: "Failed", status: "True", reason: "MaxFailedIndexesExceeded", message: "Job has exceeded the specified maximal number of failed indexes" }));
    expect((await live(ns)).filter((p) => !["Succeeded", "Failed"].includes(p.status?.phase ?? ""))).toEqual([]);
  });
});

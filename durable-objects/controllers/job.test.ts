// The Job controller's decisions: which finished pods count and how, the back-off, what
// podFailurePolicy makes of a failure, how many pods to run, and the pod an Indexed Job makes.
import type { Job } from "kubernetes-types/batch/v1";
import type { Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { backoffDelay, backoffRecord, nextBackoffRecord, surplusIndexedPods, formatIndexes, isIndexFailed, jobPod, matchPodFailurePolicy, nextIndexFailures, parseIndexes, pastBackoffLimitOnFailure, podOutcome, podsWithDelayedDeletion, wantedPods } from "./job.ts";

function job(spec: Partial<NonNullable<Job["spec"]>> = {}): Job {
  return {
    metadata: { name: "pi", namespace: "ns", uid: "job-uid" },
    spec: { template: { metadata: { labels: { "job-name": "pi" } }, spec: { restartPolicy: "Never", containers: [{ name: "main", image: "perl" }] } }, ...spec },
  };
}

function pod(name: string, { phase = "Running", exitCode, finishedAt = "2026-01-01T00:00:00Z", conditions = [], deleted, index, restarts = 0 }: { phase?: string; exitCode?: number; finishedAt?: string; conditions?: { type: string; status: string }[]; deleted?: boolean; index?: number; restarts?: number } = {}): Pod {
  return {
    metadata: { name, namespace: "ns", uid: `${name}-uid`, ...(deleted ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}), ...(index !== undefined ? { annotations: { "batch.kubernetes.io/job-completion-index": String(index) } } : {}) },
    spec: { containers: [{ name: "main" }] },
    status: {
      phase, conditions,
      containerStatuses: [{ name: "main", image: "perl", imageID: "", ready: false, restartCount: restarts, state: exitCode === undefined ? { running: {} } : { terminated: { exitCode, finishedAt } } }],
    },
  };
}

describe("podOutcome", () => {
  it.each([
    ["a succeeded pod", job(), pod("a", { phase: "Succeeded" }), "Succeeded"],
    ["a failed pod", job(), pod("a", { phase: "Failed" }), "Failed"],
    ["a running pod", job(), pod("a"), undefined],
    ["a deleted running pod, without a podFailurePolicy", job(), pod("a", { deleted: true }), "Failed"],
    ["a deleted running pod, with a podFailurePolicy (it waits for the terminal phase)", job({ podFailurePolicy: { rules: [] } }), pod("a", { deleted: true }), undefined],
  ])("%s", (_, j, p, outcome) => {
    expect(podOutcome(p, j)).toBe(outcome);
  });
});

describe("matchPodFailurePolicy", () => {
  const policy = job({
    podFailurePolicy: {
      rules: [
        { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
        { action: "FailJob", onExitCodes: { containerName: "main", operator: "In", values: [42] } },
        { action: "Count", onExitCodes: { operator: "NotIn", values: [1, 2] } },
      ],
    },
  });
  it.each([
    ["a disruption is ignored", pod("a", { phase: "Failed", exitCode: 137, conditions: [{ type: "DisruptionTarget", status: "True" }] }), { action: "Ignore", message: "Pod ns/a has condition DisruptionTarget matching Ignore rule at index 0" }],
    ["exit 42 fails the Job", pod("a", { phase: "Failed", exitCode: 42 }), { action: "FailJob", message: "Container main for pod ns/a failed with exit code 42 matching FailJob rule at index 1" }],
    ["NotIn matches another code", pod("a", { phase: "Failed", exitCode: 3 }), { action: "Count", message: "Container main for pod ns/a failed with exit code 3 matching Count rule at index 2" }],
    ["no rule matches: counted", pod("a", { phase: "Failed", exitCode: 1 }), { action: "Count" }],
  ])("%s", (_, p, match) => {
    expect(matchPodFailurePolicy(policy, p)).toEqual(match);
  });
});

describe("the back-off", () => {
  it.each([[0, 0], [1, 10_000], [2, 20_000], [3, 40_000], [6, 320_000], [7, 360_000], [40, 360_000]])("after %i failures: %i ms", (failures, delay) => {
    expect(backoffDelay(failures)).toBe(delay);
  });

  it("counts failures since the last success, and not the ignored ones", () => {
    const ignoring = job({ podFailurePolicy: { rules: [{ action: "Ignore", onExitCodes: { operator: "In", values: [9] } }] } });
    const finished = [
      { pod: pod("old-failure", { phase: "Failed", exitCode: 1, finishedAt: "2026-01-01T00:00:00Z" }), outcome: "Failed" as const },
      { pod: pod("success", { phase: "Succeeded", exitCode: 0, finishedAt: "2026-01-01T00:01:00Z" }), outcome: "Succeeded" as const },
      { pod: pod("ignored", { phase: "Failed", exitCode: 9, finishedAt: "2026-01-01T00:03:00Z" }), outcome: "Failed" as const },
      { pod: pod("failure", { phase: "Failed", exitCode: 1, finishedAt: "2026-01-01T00:02:00Z" }), outcome: "Failed" as const },
    ];
    expect(backoffRecord(ignoring, finished)).toEqual({ failures: 1, lastFailure: Date.parse("2026-01-01T00:02:00Z") });
  });

  it("keeps counting when the failed pods are gone, and starts again after a success", () => {
    const record = { failures: 2, lastFailure: Date.parse("2026-01-01T00:02:00Z") };
    const failure = { pod: pod("f", { phase: "Failed", exitCode: 1, finishedAt: "2026-01-01T00:03:00Z" }), outcome: "Failed" as const };
    const success = { pod: pod("s", { phase: "Succeeded", exitCode: 0, finishedAt: "2026-01-01T00:04:00Z" }), outcome: "Succeeded" as const };
    expect(nextBackoffRecord(job(), record, [])).toEqual(record);
    expect(nextBackoffRecord(job(), record, [failure])).toEqual({ failures: 3, lastFailure: Date.parse("2026-01-01T00:03:00Z") });
    expect(nextBackoffRecord(job(), record, [failure, success])).toEqual({ failures: 0, lastFailure: 0 });
  });

  it("with restartPolicy OnFailure, counts container restarts against the backoffLimit", () => {
    const onFailure = job({ backoffLimit: 2, template: { spec: { restartPolicy: "OnFailure", containers: [{ name: "main" }] } } });
    expect(pastBackoffLimitOnFailure(onFailure, [pod("a", { restarts: 1 })])).toBe(false);
    expect(pastBackoffLimitOnFailure(onFailure, [pod("a", { restarts: 1 }), pod("b", { restarts: 1 })])).toBe(true);
    expect(pastBackoffLimitOnFailure(job({ backoffLimit: 0 }), [pod("a", { restarts: 5 })])).toBe(false);
  });
});

describe("wantedPods", () => {
  it.each([
    ["completions left below parallelism", job({ completions: 5, parallelism: 3 }), 3, [], 2],
    ["parallelism caps", job({ completions: 5, parallelism: 2 }), 0, [], 2],
    ["done", job({ completions: 2, parallelism: 2 }), 2, [], 0],
    ["a work queue (no completions) stops after a success", job({ parallelism: 3 }), 1, [], 0],
    ["a work queue runs parallelism pods", job({ parallelism: 3 }), 0, [], 3],
  ])("%s", (_, j, succeeded, active, count) => {
    expect(wantedPods(j, succeeded, new Set(), active as Pod[]).count).toBe(count);
  });

  it("Indexed: the indexes neither completed nor running, within parallelism", () => {
    const indexed = job({ completionMode: "Indexed", completions: 5, parallelism: 3 });
    expect(wantedPods(indexed, 1, new Set([0]), [pod("a", { index: 1 })])).toEqual({ count: 3, indexes: [2, 3, 4] });
  });
});

describe("surplusIndexedPods", () => {
  it("are the pods of completed, out-of-range or missing indexes, and the younger of two for one index", () => {
    const indexed = job({ completionMode: "Indexed", completions: 4, parallelism: 4 });
    const aged = (p: Pod, created: string) => ({ ...p, metadata: { ...p.metadata, creationTimestamp: created } });
    const active = [
      aged(pod("done", { index: 0 }), "2026-01-01T00:00:00Z"),
      aged(pod("older", { index: 1 }), "2026-01-01T00:00:00Z"),
      aged(pod("younger", { index: 1 }), "2026-01-01T00:01:00Z"),
      aged(pod("beyond", { index: 7 }), "2026-01-01T00:00:00Z"),
      aged(pod("unindexed"), "2026-01-01T00:00:00Z"),
      aged(pod("fine", { index: 2 }), "2026-01-01T00:00:00Z"),
    ];
    expect(surplusIndexedPods(indexed, new Set([0]), active).map((p) => p.metadata!.name).sort()).toEqual(["beyond", "done", "unindexed", "younger"]);
  });
});

describe("completed indexes", () => {
  it.each([[[0, 1, 2, 4, 6, 7], "0-2,4,6-7"], [[3], "3"], [[], ""]])("%j ⇄ %s", (indexes, text) => {
    expect(formatIndexes(indexes)).toBe(text);
    expect([...parseIndexes(text)]).toEqual(indexes);
  });
});

describe("jobPod", () => {
  it("carries the tracking finalizer and an owner reference", () => {
    const p = jobPod(job(), undefined);
    expect(p.metadata).toMatchObject({ generateName: "pi-", finalizers: ["batch.kubernetes.io/job-tracking"], labels: { "job-name": "pi" } });
    expect(p.metadata!.ownerReferences).toEqual([{ apiVersion: "batch/v1", kind: "Job", name: "pi", uid: "job-uid", controller: true, blockOwnerDeletion: true }]);
  });

  it("Indexed: the index as annotation, label, hostname and JOB_COMPLETION_INDEX", () => {
    const p = jobPod(job({ completionMode: "Indexed", completions: 3 }), 2);
    expect(p.metadata).toMatchObject({ generateName: "pi-2-", annotations: { "batch.kubernetes.io/job-completion-index": "2" }, labels: { "batch.kubernetes.io/job-completion-index": "2" } });
    expect(p.spec!.hostname).toBe("pi-2");
    expect(p.spec!.containers[0]!.env).toEqual([{ name: "JOB_COMPLETION_INDEX", valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }]);
  });
});

describe("backoffLimitPerIndex", () => {
  const indexed = (spec: Partial<NonNullable<Job["spec"]>> = {}) => job({ completionMode: "Indexed", completions: 3, backoffLimitPerIndex: 1, ...spec });
  const failedAt = (failures: number, { ignored = 0, exitCode = 1 }: { ignored?: number; exitCode?: number } = {}) => {
    const p = pod("f", { phase: "Failed", exitCode, index: 0 });
    p.metadata!.annotations = { ...p.metadata!.annotations, "batch.kubernetes.io/job-index-failure-count": String(failures), ...(ignored ? { "batch.kubernetes.io/job-index-ignored-failure-count": String(ignored) } : {}) };
    return p;
  };
  const failIndexOn42 = { podFailurePolicy: { rules: [{ action: "FailIndex", onExitCodes: { operator: "In", values: [42] } }, { action: "Ignore", onExitCodes: { operator: "In", values: [7] } }] } };

  it.each([
    ["an index's first failure, under a limit of 1: retried", indexed(), failedAt(0), false],
    ["its second failure (one before it): the index fails", indexed(), failedAt(1), true],
    ["a limit of 0: the first failure fails the index", indexed({ backoffLimitPerIndex: 0 }), failedAt(0), true],
    ["a FailIndex rule: the index fails at once", indexed(failIndexOn42), failedAt(0, { exitCode: 42 }), true],
    ["an ignored failure never fails the index", indexed({ backoffLimitPerIndex: 0, ...failIndexOn42 }), failedAt(5, { exitCode: 7 }), false],
    ["a Job without backoffLimitPerIndex has no failed indexes", indexed({ backoffLimitPerIndex: undefined }), failedAt(9), false],
    ["a pod that has not failed", indexed({ backoffLimitPerIndex: 0 }), pod("ok", { phase: "Succeeded", index: 0 }), false],
  ])("isIndexFailed: %s", (_, j, p, expected) => {
    expect(isIndexFailed(j, p)).toBe(expected);
  });

  it.each([
    ["an index's first pod", indexed(), undefined, { failures: 0, ignored: 0 }],
    ["after a counted failure", indexed(), failedAt(1, { ignored: 2 }), { failures: 2, ignored: 2 }],
    ["after a failure the policy ignores", indexed(failIndexOn42), failedAt(1, { exitCode: 7 }), { failures: 1, ignored: 1 }],
  ])("nextIndexFailures: %s", (_, j, replaced, expected) => {
    expect(nextIndexFailures(j, replaced)).toEqual(expected);
  });

  it("podsWithDelayedDeletion: each index still to run keeps its newest failed pod; not a failed index, an active one, or one out of range", () => {
    const failed = (name: string, index: number, finishedAt: string) => ({ pod: pod(name, { phase: "Failed", exitCode: 1, index, finishedAt }), outcome: "Failed" as const });
    const finished = [
      failed("old-0", 0, "2026-01-01T00:00:00Z"), failed("new-0", 0, "2026-01-01T00:01:00Z"),
      failed("f-1", 1, "2026-01-01T00:00:00Z"), failed("f-2", 2, "2026-01-01T00:00:00Z"), failed("f-9", 9, "2026-01-01T00:00:00Z"),
      { pod: pod("ok-3", { phase: "Succeeded", index: 3 }), outcome: "Succeeded" as const },
    ];
    const delayed = podsWithDelayedDeletion(indexed({ completions: 4 }), finished, [pod("running-2", { index: 2 })], new Set([1]));
    expect([...delayed].map(([index, p]) => `${index}:${p.metadata!.name}`)).toEqual(["0:new-0"]);
  });

  it("a pod of such a Job carries its index's failure counts (the ignored one only when not zero)", () => {
    expect(jobPod(indexed(), 2, { failures: 1, ignored: 0 }).metadata!.annotations).toMatchObject({ "batch.kubernetes.io/job-completion-index": "2", "batch.kubernetes.io/job-index-failure-count": "1" });
    expect(jobPod(indexed(), 2, { failures: 1, ignored: 0 }).metadata!.annotations).not.toHaveProperty("batch.kubernetes.io/job-index-ignored-failure-count");
    expect(jobPod(indexed(), 0, { failures: 0, ignored: 3 }).metadata!.annotations).toMatchObject({ "batch.kubernetes.io/job-index-failure-count": "0", "batch.kubernetes.io/job-index-ignored-failure-count": "3" });
    expect(jobPod(indexed({ backoffLimitPerIndex: undefined }), 0).metadata!.annotations).not.toHaveProperty("batch.kubernetes.io/job-index-failure-count");
  });
});

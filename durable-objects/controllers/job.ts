// The Job controller (kube-controller-manager 1.30): a Job runs pods from its template until
// `completions` of them succeed (in Indexed mode, one per completion index), at most `parallelism`
// at a time, replacing failed ones after an exponential back-off (10 s doubling, at most 6 min)
// until more than `backoffLimit` have failed, its podFailurePolicy fails it early or ignores a
// failure, or `activeDeadlineSeconds` passes; a suspended Job has no pods. Finished pods are
// counted through status.uncountedTerminatedPods and the `batch.kubernetes.io/job-tracking`
// finalizer, so no pod is counted twice or lost; Complete and Failed conditions end the Job.
// An Indexed Job with backoffLimitPerIndex retries each index on its own (its pods carry the
// index's failure count), gives up on an index past its limit (status.failedIndexes) and fails
// once more than maxFailedIndexes have failed, or when every index has succeeded or failed.
// Orphaned pods its selector matches are adopted (with the tracking finalizer), as kube's
// controllerRef manager does; successPolicy is alpha and off in 1.30, so it is not served.
import type { Job, JobCondition, JobStatus, PodFailurePolicyRule } from "kubernetes-types/batch/v1";
import type { Container, Pod } from "kubernetes-types/core/v1";
import { isNotFound, type KubeObject } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { kubeTime } from "../../lib/k8s/time.ts";
import { controllerRefOf, keyOf, OWNER_INDEX, selects, splitKey, type Controller, type Listers, type ReconcileContext, type ReconcileResult } from "./framework.ts";
import { claimPods, podCandidates, podOwnerKeys, type PodOwnerKind } from "./pod-claims.ts";
import { controllerRefTo, deletionOrder, isPodReady, PODS, podFromTemplate } from "./replicaset.ts";

export const JOBS = builtin("batch/v1", "jobs");

export const JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking";
export const COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index";
const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";
/** On each pod of a Job with backoffLimitPerIndex: how many pods of its index failed before it (counted, and ignored by the podFailurePolicy). */
export const INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count";
export const INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count";
/** kube's DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff. */
const BACKOFF_BASE_MS = 10_000;
const BACKOFF_MAX_MS = 360_000;
/** At most this many pods created or deleted per sync (kube's MaxPodCreateDeletePerSync). */
const MAX_PODS_PER_SYNC = 500;

const BACKOFF_LIMIT_MESSAGE = "Job has reached the specified backoff limit";
const DEADLINE_MESSAGE = "Job was active longer than specified deadline";
const MAX_FAILED_INDEXES_MESSAGE = "Job has exceeded the specified maximal number of failed indexes";
const FAILED_INDEXES_MESSAGE = "Job has failed indexes";

/** A Job's pods: those its selector matches (the generated one names its controller-uid), adopted with the tracking finalizer. */
const JOB_PODS: PodOwnerKind<Job> = {
  resource: JOBS, apiVersion: "batch/v1", kind: "Job", finalizer: JOB_TRACKING_FINALIZER,
  selects: (job, pod) => !!job.spec?.selector && selects(job.spec.selector, pod.metadata?.labels),
};

export type PodOutcome = "Succeeded" | "Failed";

/** A pod that has finished, as the Job counts it: terminal, or (without a podFailurePolicy) deleted before it succeeded. */
export function podOutcome(pod: Pod, job: Job): PodOutcome | undefined {
  if (pod.status?.phase === "Succeeded") return "Succeeded";
  if (pod.status?.phase === "Failed") return "Failed";
  if (pod.metadata?.deletionTimestamp && !job.spec?.podFailurePolicy) return "Failed";
  return undefined;
}

export function isJobFinished(job: Job): boolean {
  return (job.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
}

const conditionOf = (job: Job, type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === "True");

/** The pod's completion index in Indexed mode. */
export function completionIndexOf(pod: Pod): number | undefined {
  const text = pod.metadata?.annotations?.[COMPLETION_INDEX] ?? pod.metadata?.labels?.[COMPLETION_INDEX];
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** The delay before the next pod after `failures` consecutive failures: 10 s doubling, at most 6 min. */
export function backoffDelay(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(failures - 1, 16));
}

export interface FailurePolicyMatch {
  action: "FailJob" | "Ignore" | "Count" | "FailIndex";
  /** Why the Job fails, for FailJob (the FailureTarget and Failed conditions' message). */
  message?: string;
}

function exitCodeMatch(rule: PodFailurePolicyRule, pod: Pod): Container["name"] | undefined {
  const onExitCodes = rule.onExitCodes!;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const status of statuses) {
    if (onExitCodes.containerName && onExitCodes.containerName !== status.name) continue;
    const code = status.state?.terminated?.exitCode;
    // Exit code 0 is success, never a failure a rule matches.
    if (code === undefined || code === 0) continue;
    const listed = onExitCodes.values.includes(code);
    if (onExitCodes.operator === "In" ? listed : !listed) return `${status.name}\u0000${code}`;
  }
  return undefined;
}

/** The first podFailurePolicy rule a failed pod matches (Count when none does). */
export function matchPodFailurePolicy(job: Job, pod: Pod): FailurePolicyMatch {
  const rules = job.spec?.podFailurePolicy?.rules ?? [];
  const podName = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  for (const [index, rule] of rules.entries()) {
    const action = rule.action as FailurePolicyMatch["action"];
    if (rule.onExitCodes) {
      const matched = exitCodeMatch(rule, pod);
      if (!matched) continue;
      const [container, code] = matched.split("\u0000");
      return { action, message: `Container ${container} for pod ${podName} failed with exit code ${code} matching ${action} rule at index ${index}` };
    }
    for (const pattern of rule.onPodConditions ?? []) {
      const found = pod.status?.conditions?.find((c) => c.type === pattern.type && c.status === (pattern.status ?? "True"));
      if (found) return { action, message: `Pod ${podName} has condition ${pattern.type} matching ${action} rule at index ${index}` };
    }
  }
  return { action: "Count" };
}

const countAnnotation = (pod: Pod, key: string): number => {
  const text = pod.metadata?.annotations?.[key] ?? "0";
  return /^\d+$/.test(text) ? Number(text) : 0;
};

const perIndex = (job: Job): boolean => job.spec?.completionMode === "Indexed" && job.spec?.backoffLimitPerIndex != null;

/** Whether this pod's failure fails its index (isIndexFailed): a FailIndex rule, or a counted failure at the index's limit. */
export function isIndexFailed(job: Job, pod: Pod): boolean {
  if (!perIndex(job) || podOutcome(pod, job) !== "Failed") return false;
  const action = job.spec?.podFailurePolicy ? matchPodFailurePolicy(job, pod).action : "Count";
  if (action === "FailIndex") return true;
  return action !== "Ignore" && countAnnotation(pod, INDEX_FAILURE_COUNT) >= job.spec!.backoffLimitPerIndex!;
}

export interface IndexFailures {
  failures: number;
  ignored: number;
}

/** The counts a pod replacing this failed one carries (getNewIndexFailureCounts); none for an index's first pod. */
export function nextIndexFailures(job: Job, replaced: Pod | undefined): IndexFailures {
  if (!replaced) return { failures: 0, ignored: 0 };
  const failures = countAnnotation(replaced, INDEX_FAILURE_COUNT);
  const ignored = countAnnotation(replaced, INDEX_IGNORED_FAILURE_COUNT);
  const counted = !job.spec?.podFailurePolicy || matchPodFailurePolicy(job, replaced).action !== "Ignore";
  return counted ? { failures: failures + 1, ignored } : { failures, ignored: ignored + 1 };
}

/** When a pod finished: its containers' last finish, else its last condition change, else its creation. */
function finishedAt(pod: Pod): number {
  const times = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]
    .map((s) => Date.parse(s.state?.terminated?.finishedAt ?? ""))
    .filter((t) => !Number.isNaN(t));
  if (times.length) return Math.max(...times);
  const changes = (pod.status?.conditions ?? []).map((c) => Date.parse(c.lastTransitionTime ?? "")).filter((t) => !Number.isNaN(t));
  if (changes.length) return Math.max(...changes);
  return Date.parse(pod.metadata?.deletionTimestamp ?? pod.metadata?.creationTimestamp ?? "") || 0;
}

export interface BackoffRecord {
  /** Failures since the last success. */
  failures: number;
  lastFailure: number;
}

type Finished = { pod: Pod; outcome: PodOutcome };

/** The back-off record as the pods tell it: failures since the last success, and when the last one was. */
export function backoffRecord(job: Job, finished: Finished[]): BackoffRecord {
  const lastSuccess = Math.max(0, ...finished.filter((f) => f.outcome === "Succeeded").map((f) => finishedAt(f.pod)));
  const failed = finished.filter((f) => f.outcome === "Failed" && finishedAt(f.pod) >= lastSuccess && matchPodFailurePolicy(job, f.pod).action !== "Ignore");
  return { failures: failed.length, lastFailure: Math.max(0, ...failed.map((f) => finishedAt(f.pod))) };
}

/**
 * The record after the pods that finished since it was taken (backoffRecordStore.newBackoffRecord):
 * a success starts the count again; the failures after the last success add to it. It outlives
 * the pods, which PodGC or a user may delete before the back-off ends.
 */
export function nextBackoffRecord(job: Job, record: BackoffRecord, newlyFinished: Finished[]): BackoffRecord {
  if (!newlyFinished.length) return record;
  const fresh = backoffRecord(job, newlyFinished);
  if (newlyFinished.some((f) => f.outcome === "Succeeded")) return fresh;
  return { failures: record.failures + fresh.failures, lastFailure: Math.max(record.lastFailure, fresh.lastFailure) };
}

/**
 * kube keeps the records in memory; after a restart they are rebuilt from the pods that remain.
 * By "namespace/name", with the Job's uid (a new Job of the same name starts afresh).
 */
const backoffRecords = new Map<string, { uid: string; record: BackoffRecord }>();

/** "1,3-5" from [1, 3, 4, 5], as status.completedIndexes writes intervals. */
export function formatIndexes(indexes: Iterable<number>): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return parts.join(",");
}

export function parseIndexes(text: string | undefined): Set<number> {
  const indexes = new Set<number>();
  for (const part of (text ?? "").split(",").filter(Boolean)) {
    const [from, to] = part.split("-").map(Number);
    for (let i = from!; i <= (to ?? from)!; i++) indexes.add(i);
  }
  return indexes;
}

/** How many pods should be running now, and in Indexed mode which indexes lack one. */
export function wantedPods(job: Job, succeeded: number, completed: Set<number>, active: Pod[]): { count: number; indexes: number[] } {
  const parallelism = job.spec?.parallelism ?? 1;
  const completions = job.spec?.completions;
  if (job.spec?.completionMode === "Indexed") {
    const running = new Set(active.map(completionIndexOf));
    const missing: number[] = [];
    for (let i = 0; i < (completions ?? 0); i++) if (!completed.has(i)) missing.push(i);
    const count = Math.min(parallelism, missing.length);
    return { count, indexes: missing.filter((i) => !running.has(i)) };
  }
  if (completions == null) return { count: succeeded > 0 ? 0 : parallelism, indexes: [] };
  return { count: Math.max(0, Math.min(parallelism, completions - succeeded)), indexes: [] };
}

/** Indexed: running pods whose index is completed, out of range or missing, or already held by an older pod. */
export function surplusIndexedPods(job: Job, completed: Set<number>, active: Pod[]): Pod[] {
  const completions = job.spec?.completions ?? 0;
  const held = new Set<number>();
  const byAge = [...active].sort((a, b) => (Date.parse(a.metadata?.creationTimestamp ?? "") || 0) - (Date.parse(b.metadata?.creationTimestamp ?? "") || 0));
  return byAge.filter((pod) => {
    const index = completionIndexOf(pod);
    if (index === undefined || index >= completions || completed.has(index) || held.has(index)) return true;
    held.add(index);
    return false;
  });
}

/** The pod a Job makes, with the tracking finalizer, and in Indexed mode its index and hostname (and with backoffLimitPerIndex its index's failure counts). */
export function jobPod(job: Job, index: number | undefined, failures: IndexFailures = { failures: 0, ignored: 0 }): Pod {
  const pod = podFromTemplate(job.spec!.template, job, controllerRefTo(job, "batch/v1", "Job"));
  pod.metadata!.finalizers = [...(pod.metadata!.finalizers ?? []), JOB_TRACKING_FINALIZER];
  if (index === undefined) return pod;
  const name = job.metadata!.name!;
  pod.metadata!.generateName = `${name}-${index}-`;
  pod.metadata!.annotations = { ...pod.metadata!.annotations, [COMPLETION_INDEX]: String(index) };
  pod.metadata!.labels = { ...pod.metadata!.labels, [COMPLETION_INDEX]: String(index) };
  if (perIndex(job)) {
    pod.metadata!.annotations[INDEX_FAILURE_COUNT] = String(failures.failures);
    if (failures.ignored > 0) pod.metadata!.annotations[INDEX_IGNORED_FAILURE_COUNT] = String(failures.ignored);
  }
  pod.spec!.hostname ??= `${name}-${index}`;
  const indexEnv = { name: "JOB_COMPLETION_INDEX", valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX}']` } } };
  for (const container of [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers]) {
    if (!(container.env ?? []).some((e) => e.name === indexEnv.name)) container.env = [...(container.env ?? []), indexEnv];
  }
  return pod;
}

function condition(type: string, status: "True" | "False", now: number, reason?: string, message?: string): JobCondition {
  const at = kubeTime(now);
  return { type, status, ...(reason ? { reason } : {}), ...(message ? { message } : {}), lastProbeTime: at, lastTransitionTime: at };
}

/** Sets a condition, keeping its lastTransitionTime when its status does not change. */
function withCondition(conditions: JobCondition[], next: JobCondition): JobCondition[] {
  const existing = conditions.find((c) => c.type === next.type);
  if (existing && existing.status === next.status && existing.reason === next.reason) return conditions;
  return [...conditions.filter((c) => c.type !== next.type), next];
}

/** With restartPolicy OnFailure, failures are container restarts in the pods still running. */
export function pastBackoffLimitOnFailure(job: Job, active: Pod[]): boolean {
  if (job.spec?.template?.spec?.restartPolicy !== "OnFailure") return false;
  const restarts = active.reduce((sum, pod) => sum + [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
    .reduce((n, s) => n + (s.restartCount ?? 0), 0), 0);
  const limit = job.spec?.backoffLimit ?? 6;
  return limit === 0 ? restarts > 0 : restarts >= limit;
}

/** A pod's Job; for an orphan, the Jobs that would adopt it and (while it has the tracking finalizer) the Job its label names. */
function jobKeysFor(object: KubeObject, listers: Listers): string[] {
  const keys = podOwnerKeys(object as Pod, listers, JOB_PODS);
  if (controllerRefOf(object)) return keys;
  const jobName = object.metadata?.labels?.[JOB_NAME_LABEL];
  if (jobName && object.metadata?.finalizers?.includes(JOB_TRACKING_FINALIZER)) keys.push(`${object.metadata?.namespace ?? ""}/${jobName}`);
  return keys;
}

/**
 * getPodsWithDelayedDeletionPerIndex: for each index still to run (not failed, no pod active), its
 * newest failed pod, whose tracking finalizer stays until a replacement carries its count on.
 */
export function podsWithDelayedDeletion(job: Job, finished: Finished[], active: Pod[], failedIndexes: Set<number>): Map<number, Pod> {
  const activeIndexes = new Set(active.map(completionIndexOf));
  const completions = job.spec?.completions ?? 0;
  const delayed = new Map<number, Pod>();
  for (const { pod, outcome } of finished) {
    const index = completionIndexOf(pod);
    if (outcome !== "Failed" || index === undefined || index >= completions || failedIndexes.has(index) || activeIndexes.has(index)) continue;
    const before = delayed.get(index);
    if (!before || finishedAt(pod) > finishedAt(before)) delayed.set(index, pod);
  }
  return delayed;
}

/** The newest failed pod of each index: the one a replacement counts on from. */
function lastFailedPerIndex(job: Job, finished: Finished[]): Map<number, Pod> {
  const last = new Map<number, Pod>();
  for (const { pod, outcome } of finished) {
    const index = completionIndexOf(pod);
    if (outcome !== "Failed" || index === undefined) continue;
    const before = last.get(index);
    if (!before || finishedAt(pod) > finishedAt(before)) last.set(index, pod);
  }
  return last;
}

/** Lets go of these pods' tracking finalizers. */
async function releaseTrackingFinalizers(pods: Pod[], ctx: ReconcileContext): Promise<void> {
  const client = ctx.client.resource<Pod>(PODS);
  await Promise.all(pods.filter((p) => p.metadata?.finalizers?.includes(JOB_TRACKING_FINALIZER)).map(async (pod) => {
    const finalizers = pod.metadata!.finalizers!.filter((f) => f !== JOB_TRACKING_FINALIZER);
    try {
      await client.patch(pod.metadata!.namespace!, pod.metadata!.name!, { metadata: { uid: pod.metadata!.uid, resourceVersion: pod.metadata!.resourceVersion, finalizers } }, "merge");
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }));
}

class JobSync {
  private readonly job: Job;
  private readonly ctx: ReconcileContext;
  private readonly namespace: string;
  private readonly pods;
  private readonly jobs;
  /** With backoffLimitPerIndex: each index's newest failed pod. */
  private lastFailed = new Map<number, Pod>();

  constructor(job: Job, ctx: ReconcileContext) {
    this.job = job;
    this.ctx = ctx;
    this.namespace = job.metadata!.namespace!;
    this.pods = ctx.client.resource<Pod>(PODS);
    this.jobs = ctx.client.resource<Job>(JOBS);
  }

  private event(type: "Normal" | "Warning", reason: string, action: string, note: string): Promise<unknown> {
    return this.ctx.recorder.record(this.job, undefined, type, reason, action, note).catch(() => undefined);
  }

  async deletePods(pods: Pod[]): Promise<void> {
    await Promise.all(pods.slice(0, MAX_PODS_PER_SYNC).map(async (pod) => {
      try {
        await this.pods.delete(this.namespace, pod.metadata!.name!, { preconditions: { uid: pod.metadata!.uid } });
      } catch (e) {
        if (isNotFound(e)) return;
        await this.event("Warning", "FailedDelete", "Delete", `Error deleting: ${(e as Error).message}`);
        throw e;
      }
      await this.event("Normal", "SuccessfulDelete", "Delete", `Deleted pod: ${pod.metadata!.name}`);
    }));
  }

  async createPods(count: number, indexes: number[]): Promise<void> {
    const indexed = this.job.spec?.completionMode === "Indexed";
    const planned = indexed ? indexes.slice(0, count) : Array.from({ length: count }, () => undefined);
    // Slow start, as the ReplicaSet controller: batches of 1, 2, 4… stopping at a failure.
    let next = 0;
    for (let batch = 1; next < planned.length && next < MAX_PODS_PER_SYNC; batch *= 2) {
      const slice = planned.slice(next, next + batch);
      next += slice.length;
      const results = await Promise.allSettled(slice.map(async (index) => {
        try {
          const replaced = index === undefined ? undefined : this.lastFailed.get(index);
          const pod = await this.pods.create(this.namespace, jobPod(this.job, index, perIndex(this.job) ? nextIndexFailures(this.job, replaced) : undefined));
          await this.event("Normal", "SuccessfulCreate", "Create", `Created pod: ${pod.metadata!.name}`);
        } catch (e) {
          await this.event("Warning", "FailedCreate", "Create", `Error creating: ${(e as Error).message}`);
          throw e;
        }
      }));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    }
  }

  async writeStatus(status: JobStatus): Promise<Job> {
    return this.jobs.updateStatus(this.namespace, { ...this.job, status });
  }

  async run(): Promise<ReconcileResult | void> {
    const job = this.job;
    const uid = job.metadata!.uid!;
    const now = this.ctx.now();
    if (isJobFinished(job) || job.metadata?.deletionTimestamp) {
      backoffRecords.delete(keyOf(job));
      // Nothing more is counted: the pods are free to go.
      await releaseTrackingFinalizers(this.ctx.listers.of<Pod>(PODS).byIndex(OWNER_INDEX, uid).filter((p) => controllerRefOf(p)?.uid === uid), this.ctx);
      return undefined;
    }
    const owned = await claimPods(job, podCandidates(job, this.ctx.listers), JOB_PODS, this.ctx);
    const finished = owned.map((pod) => ({ pod, outcome: podOutcome(pod, job) })).filter((f): f is { pod: Pod; outcome: PodOutcome } => f.outcome !== undefined);
    const active = owned.filter((p) => podOutcome(p, job) === undefined && !p.metadata?.deletionTimestamp);
    const terminating = owned.filter((p) => p.metadata?.deletionTimestamp && !["Succeeded", "Failed"].includes(p.status?.phase ?? ""));

    // Step one of tracking: a finished pod that still has the finalizer is recorded as uncounted
    // before the finalizer goes, so a crash between the two never loses it.
    const status: JobStatus = structuredClone(job.status ?? {});
    const uncounted = { succeeded: [...(status.uncountedTerminatedPods?.succeeded ?? [])], failed: [...(status.uncountedTerminatedPods?.failed ?? [])] };
    const known = new Set([...uncounted.succeeded, ...uncounted.failed]);
    let newlyFinished = finished.filter((f) => f.pod.metadata?.finalizers?.includes(JOB_TRACKING_FINALIZER) && !known.has(f.pod.metadata!.uid!));
    const completed = parseIndexes(status.completedIndexes);
    const failedIndexes = parseIndexes(status.failedIndexes ?? undefined);
    let failJob: string | undefined = conditionOf(job, "FailureTarget")?.message;
    for (const { pod, outcome } of newlyFinished) {
      if (isIndexFailed(job, pod)) failedIndexes.add(completionIndexOf(pod)!);
      const action = outcome === "Failed" ? matchPodFailurePolicy(job, pod) : undefined;
      if (action?.action === "FailJob") failJob ??= action.message;
    }
    // With backoffLimitPerIndex, an index's newest failed pod keeps its finalizer, uncounted, until
    // its replacement carries the failure count on (or the Job finishes).
    const delayed = perIndex(job) && !this.finishes(newlyFinished, active, completed, failedIndexes, failJob, now)
      ? new Set([...podsWithDelayedDeletion(job, finished, active, failedIndexes).values()].map((p) => p.metadata!.uid!)) : new Set<string>();
    newlyFinished = newlyFinished.filter((f) => !delayed.has(f.pod.metadata!.uid!));
    for (const { pod, outcome } of newlyFinished) {
      if (outcome === "Failed") {
        const match = matchPodFailurePolicy(job, pod);
        // Ignored: not counted towards the backoffLimit, not in status.failed.
        if (match.action === "Ignore") continue;
      }
      uncounted[outcome === "Succeeded" ? "succeeded" : "failed"].push(pod.metadata!.uid!);
    }
    // Recorded with the pods that failed them, before their finalizers go.
    if (perIndex(job)) status.failedIndexes = formatIndexes(failedIndexes);
    if (newlyFinished.length) {
      status.uncountedTerminatedPods = uncounted;
      Object.assign(this.job, await this.writeStatus(status));
    }

    // Step two: the finalizers go; step three: what they counted moves into the counters.
    await releaseTrackingFinalizers(finished.map((f) => f.pod).filter((p) => !delayed.has(p.metadata!.uid!)), this.ctx);
    if (job.spec?.completionMode === "Indexed") {
      const byUid = new Map(owned.map((p) => [p.metadata!.uid!, p]));
      for (const uid of uncounted.succeeded) {
        const pod = byUid.get(uid);
        const index = pod && completionIndexOf(pod);
        if (index !== undefined) completed.add(index);
      }
    }
    const succeededNow = job.spec?.completionMode === "Indexed" ? completed.size : (status.succeeded ?? 0) + uncounted.succeeded.length;
    status.succeeded = succeededNow;
    status.failed = (status.failed ?? 0) + uncounted.failed.length;
    status.uncountedTerminatedPods = {};
    if (job.spec?.completionMode === "Indexed") status.completedIndexes = formatIndexes(completed);

    status.active = active.length;
    status.ready = active.filter(isPodReady).length;
    status.terminating = terminating.length;
    let conditions = [...(status.conditions ?? [])];
    let requeueAfter: number | undefined;

    const finishWith = async (type: "Complete" | "Failed", reason?: string, message?: string) => {
      await this.deletePods(active);
      conditions = withCondition(conditions, condition(type, "True", now, reason, message));
      if (type === "Complete") status.completionTime = kubeTime(now);
      status.active = 0;
      status.ready = 0;
      if (type === "Complete") await this.event("Normal", "Completed", "Completed", "Job completed");
      else await this.event("Warning", reason!, "Failed", message!);
    };

    const completions = job.spec?.completions;
    const complete = job.spec?.completionMode === "Indexed"
      ? completed.size >= (completions ?? 0)
      : completions == null ? succeededNow > 0 && active.length === 0 : succeededNow >= completions;
    const deadline = job.spec?.activeDeadlineSeconds != null && status.startTime
      ? Date.parse(status.startTime) + job.spec.activeDeadlineSeconds * 1000 : undefined;

    if (failJob) {
      // 1.30 records the interim FailureTarget (so the message survives the finalizers' removal), then Failed.
      conditions = withCondition(conditions, condition("FailureTarget", "True", now, "PodFailurePolicy", failJob));
      await finishWith("Failed", "PodFailurePolicy", failJob);
    } else if (perIndex(job) && job.spec?.maxFailedIndexes != null && failedIndexes.size > job.spec.maxFailedIndexes) {
      await finishWith("Failed", "MaxFailedIndexesExceeded", MAX_FAILED_INDEXES_MESSAGE);
    } else if (perIndex(job) && failedIndexes.size > 0 && failedIndexes.size + completed.size >= (completions ?? 0)) {
      await finishWith("Failed", "FailedIndexes", FAILED_INDEXES_MESSAGE);
    } else if (status.failed > (job.spec?.backoffLimit ?? 6) || pastBackoffLimitOnFailure(job, active)) {
      await finishWith("Failed", "BackoffLimitExceeded", BACKOFF_LIMIT_MESSAGE);
    } else if (deadline !== undefined && now >= deadline && !job.spec?.suspend) {
      await finishWith("Failed", "DeadlineExceeded", DEADLINE_MESSAGE);
    } else if (complete) {
      // 1.30's Complete condition has no reason or message.
      await finishWith("Complete");
    } else if (job.spec?.suspend) {
      await this.deletePods(active);
      status.active = 0;
      status.ready = 0;
      if (!conditionOf(job, "Suspended")) {
        conditions = withCondition(conditions, condition("Suspended", "True", now, "JobSuspended", "Job suspended"));
        await this.event("Normal", "Suspended", "Suspended", "Job suspended");
      }
    } else {
      if (conditionOf(job, "Suspended")) {
        conditions = withCondition(conditions, condition("Suspended", "False", now, "JobResumed", "Job resumed"));
        await this.event("Normal", "Resumed", "Resumed", "Job resumed");
        // activeDeadlineSeconds counts the time a Job is continuously active: from the resume.
        status.startTime = kubeTime(now);
      }
      status.startTime ??= kubeTime(now);
      const stored = backoffRecords.get(keyOf(job));
      const backoff = stored?.uid === uid ? nextBackoffRecord(job, stored.record, newlyFinished) : backoffRecord(job, finished);
      backoffRecords.set(keyOf(job), { uid, record: backoff });
      this.lastFailed = lastFailedPerIndex(job, finished);
      requeueAfter = await this.manage(status, completed, failedIndexes, active, backoff, now);
      const due = job.spec?.activeDeadlineSeconds != null ? Date.parse(status.startTime) + job.spec.activeDeadlineSeconds * 1000 - now : undefined;
      if (due !== undefined) requeueAfter = Math.min(requeueAfter ?? due, Math.max(0, due));
    }
    status.conditions = conditions.length ? conditions : undefined;
    if (!status.conditions) delete status.conditions;
    if (JSON.stringify(normalized(status)) !== JSON.stringify(normalized(job.status ?? {}))) await this.writeStatus(status);
    return requeueAfter !== undefined ? { requeueAfter } : undefined;
  }

  /**
   * Whether this sync ends the Job, as far as it can tell before counting (kube's finishedCondition
   * comes first too): a FailJob rule, too many failed indexes, every index finished, or the deadline.
   */
  private finishes(newlyFinished: Finished[], active: Pod[], completed: Set<number>, failedIndexes: Set<number>, failJob: string | undefined, now: number): boolean {
    const spec = this.job.spec!;
    const succeeded = new Set([...completed, ...newlyFinished.filter((f) => f.outcome === "Succeeded").map((f) => completionIndexOf(f.pod)).filter((i): i is number => i !== undefined)]);
    const deadline = spec.activeDeadlineSeconds != null && this.job.status?.startTime ? Date.parse(this.job.status.startTime) + spec.activeDeadlineSeconds * 1000 : undefined;
    return !!failJob
      || (spec.maxFailedIndexes != null && failedIndexes.size > spec.maxFailedIndexes)
      || failedIndexes.size + [...succeeded].filter((i) => !failedIndexes.has(i)).length >= (spec.completions ?? 0)
      || (deadline !== undefined && now >= deadline && !spec.suspend)
      || pastBackoffLimitOnFailure(this.job, active);
  }

  /** Creates missing pods (after the back-off) and deletes extras; answers when to look again. */
  private async manage(status: JobStatus, completed: Set<number>, failedIndexes: Set<number>, running: Pod[], { failures, lastFailure }: BackoffRecord, now: number): Promise<number | undefined> {
    // A failed index, like a completed one, has no pod running and gets none.
    const finishedIndexes = new Set([...completed, ...failedIndexes]);
    const surplus = this.job.spec?.completionMode === "Indexed" ? surplusIndexedPods(this.job, finishedIndexes, running) : [];
    await this.deletePods(surplus);
    const active = running.filter((p) => !surplus.includes(p));
    status.active = active.length;
    const wanted = wantedPods(this.job, status.succeeded ?? 0, finishedIndexes, active);
    if (active.length > wanted.count) {
      const extras = [...active].sort(deletionOrder).slice(0, active.length - wanted.count);
      await this.deletePods(extras);
      status.active = active.length - extras.length;
      return undefined;
    }
    const missing = wanted.count - active.length;
    if (missing <= 0) return undefined;
    if (perIndex(this.job)) return this.createAfterIndexBackoff(status, missing, wanted.indexes, active.length, now);
    const wait = lastFailure + backoffDelay(failures) - now;
    if (failures > 0 && wait > 0) return wait;
    await this.createPods(missing, wanted.indexes);
    status.active = active.length + Math.min(missing, this.job.spec?.completionMode === "Indexed" ? wanted.indexes.length : missing);
    return undefined;
  }

  /** With backoffLimitPerIndex each index backs off on its own, from its newest failed pod: an index whose failure is recent waits. */
  private async createAfterIndexBackoff(status: JobStatus, missing: number, indexes: number[], running: number, now: number): Promise<number | undefined> {
    let wait: number | undefined;
    const ready = indexes.filter((index) => {
      const last = this.lastFailed.get(index);
      if (!last) return true;
      const { failures } = nextIndexFailures(this.job, last);
      const left = finishedAt(last) + backoffDelay(failures) - now;
      if (left <= 0 || failures === countAnnotation(last, INDEX_FAILURE_COUNT)) return true;
      wait = Math.min(wait ?? left, left);
      return false;
    });
    const count = Math.min(missing, ready.length);
    if (count > 0) {
      await this.createPods(count, ready);
      status.active = running + count;
    }
    return wait;
  }
}

/** The status without the fields that carry no information when empty. */
function normalized(status: JobStatus): JobStatus {
  const copy: Record<string, unknown> = { ...status };
  const uncounted = status.uncountedTerminatedPods;
  if (!uncounted || (!uncounted.succeeded?.length && !uncounted.failed?.length)) delete copy.uncountedTerminatedPods;
  for (const [k, v] of Object.entries(copy)) if (v === undefined) delete copy[k];
  return copy as JobStatus;
}

export const jobController: Controller = {
  name: "job-controller",
  watches: [
    { resource: JOBS, keysFor: (job) => [keyOf(job)] },
    { resource: PODS, keysFor: jobKeysFor },
  ],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const job = ctx.listers.of<Job>(JOBS).get(namespace, name);
    // The pods of a Job that is gone (or was replaced by another of its name) are counted by no one: they go free.
    const adopts = job && !isJobFinished(job) && !job.metadata?.deletionTimestamp;
    const orphans = ctx.listers.of<Pod>(PODS).list(namespace).filter((p) => {
      const ref = controllerRefOf(p);
      // An orphan the Job still selects is adopted, finalizer and all, not let go.
      if (!ref) return p.metadata?.labels?.[JOB_NAME_LABEL] === name && !(adopts && JOB_PODS.selects(job, p));
      return ref.kind === "Job" && ref.name === name && ref.uid !== job?.metadata?.uid;
    });
    await releaseTrackingFinalizers(orphans, ctx);
    if (!job) {
      backoffRecords.delete(key);
      return undefined;
    }
    return new JobSync(structuredClone(job), ctx).run();
  },
};

// The CronJob controller (kube-controller-manager 1.30's cronjob v2): at each time its schedule
// (five fields or an @-descriptor, in spec.timeZone) names, a CronJob creates a Job
// `<cronjob>-<minutes since the epoch>` from its jobTemplate, unless it is suspended, the time was
// missed by more than startingDeadlineSeconds, or concurrencyPolicy Forbid finds one still running
// (Replace deletes those first). It keeps status.active and the last schedule and success times,
// deletes finished Jobs beyond its history limits, and sets its alarm for the next run.
import type { CronJob, CronJobStatus, Job } from "kubernetes-types/batch/v1";
import type { ObjectReference } from "kubernetes-types/core/v1";
import { isAlreadyExists, isNotFound, type KubeObject } from "../../lib/client/index.ts";
import { isKnownTimeZone, parseCronSchedule, type CronSchedule } from "../../lib/k8s/cron.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { kubeTime } from "../../lib/k8s/time.ts";
import { controllerRefOf, keyOf, splitKey, type Controller, type ReconcileContext } from "./framework.ts";
import { isJobFinished, JOBS } from "./job.ts";
import { controllerRefTo } from "./replicaset.ts";

export const CRONJOBS = builtin("batch/v1", "cronjobs");

export const SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/** Beyond this many missed times kube warns that the clock or startingDeadlineSeconds is off. */
const TOO_MANY_MISSED = 100;
/** The alarm is set a little after the scheduled time, so the schedule says it is due. */
const NEXT_RUN_SLACK_MS = 100;

/** getJobName: the scheduled time in minutes since the epoch. */
export function jobNameFor(cronJob: CronJob, scheduled: Date): string {
  return `${cronJob.metadata!.name}-${Math.floor(scheduled.getTime() / 60_000)}`;
}

export interface ScheduleDue {
  /** The most recent scheduled time not after now, if one is since the last (or the creation). */
  mostRecent?: Date;
  /** How many scheduled times were missed (estimated, as kube does). */
  missed: number;
}

/**
 * mostRecentScheduleTime: from the last schedule (or the creation), no earlier than
 * now − startingDeadlineSeconds. As kube, the number missed is estimated from the interval between
 * the first two times, and the most recent found by stepping from one interval before it.
 */
export function mostRecentScheduleTime(cronJob: CronJob, schedule: CronSchedule, now: number): ScheduleDue {
  let earliest = Date.parse(cronJob.status?.lastScheduleTime ?? cronJob.metadata?.creationTimestamp ?? "") || now;
  const deadline = cronJob.spec?.startingDeadlineSeconds;
  if (deadline != null) earliest = Math.max(earliest, now - deadline * 1000);
  const t1 = schedule.next(new Date(earliest));
  if (!t1 || t1.getTime() > now) return { missed: 0 };
  const t2 = schedule.next(t1);
  if (!t2 || t2.getTime() > now) return { mostRecent: t1, missed: 1 };
  const interval = Math.max(1, Math.round((t2.getTime() - t1.getTime()) / 1000));
  const missed = Math.floor((now - t1.getTime()) / 1000 / interval) + 1;
  let mostRecent: Date | undefined;
  const potentialEarliest = new Date(t1.getTime() + (missed - 2) * interval * 1000);
  for (let t = schedule.next(potentialEarliest); t && t.getTime() <= now; t = schedule.next(t)) mostRecent = t;
  return { mostRecent: mostRecent ?? t2, missed };
}

export function nextScheduleTime(schedule: CronSchedule, now: number): number | undefined {
  return schedule.next(new Date(now))?.getTime();
}

const sameRef = (a: ObjectReference, job: Job) => a.uid === job.metadata?.uid || (!a.uid && a.name === job.metadata?.name);

function refTo(job: Job): ObjectReference {
  return { apiVersion: "batch/v1", kind: "Job", name: job.metadata!.name, namespace: job.metadata!.namespace, uid: job.metadata!.uid, resourceVersion: job.metadata!.resourceVersion };
}

/** The finishing condition's type: "Complete" or "Failed". */
function finishedAs(job: Job): string | undefined {
  return job.status?.conditions?.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True")?.type;
}

/** getJobFromTemplate2: the Job for one scheduled time. */
export function jobFor(cronJob: CronJob, scheduled: Date, timeZone: string): Job {
  const template = cronJob.spec!.jobTemplate;
  return {
    apiVersion: "batch/v1", kind: "Job",
    metadata: {
      name: jobNameFor(cronJob, scheduled),
      namespace: cronJob.metadata!.namespace,
      ...(template.metadata?.labels ? { labels: { ...template.metadata.labels } } : {}),
      annotations: { ...(template.metadata?.annotations ?? {}), [SCHEDULED_TIMESTAMP]: rfc3339In(scheduled, timeZone) },
      ownerReferences: [controllerRefTo(cronJob, "batch/v1", "CronJob")],
    },
    spec: structuredClone(template.spec),
  };
}

/** RFC 3339 with the zone's offset, as Go formats a time in a location. */
export function rfc3339In(at: Date, timeZone: string): string {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(at).map((p) => [p.type, p.value]));
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  const offset = Math.round((wall - Math.floor(at.getTime() / 1000) * 1000) / 60_000);
  const date = `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
  if (offset === 0) return `${date}Z`;
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `${date}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** Go's time.RFC1123Z, which the MissSchedule event prints. */
export function rfc1123z(at: Date): string {
  const [weekday, day, month, year, time] = at.toUTCString().replace(",", "").split(" ");
  return `${weekday}, ${day} ${month} ${year} ${time} +0000`;
}

function cronJobKeysFor(object: KubeObject): string[] {
  const ref = controllerRefOf(object);
  return ref?.kind === "CronJob" ? [`${object.metadata?.namespace ?? ""}/${ref.name}`] : [];
}

const byStartTime = (a: Job, b: Job) => {
  const start = (j: Job) => Date.parse(j.status?.startTime ?? j.metadata?.creationTimestamp ?? "") || 0;
  return start(a) - start(b) || (a.metadata!.name! < b.metadata!.name! ? -1 : 1);
};

class CronJobSync {
  private readonly cj: CronJob;
  private readonly ctx: ReconcileContext;
  private readonly namespace: string;
  private readonly jobs;
  readonly status: CronJobStatus;

  constructor(cj: CronJob, ctx: ReconcileContext) {
    this.cj = cj;
    this.ctx = ctx;
    this.namespace = cj.metadata!.namespace!;
    this.jobs = ctx.client.resource<Job>(JOBS);
    this.status = structuredClone(cj.status ?? {});
  }

  private event(type: "Normal" | "Warning", reason: string, note: string, related?: Job): Promise<unknown> {
    return this.ctx.recorder.record(this.cj, related, type, reason, reason, note).catch(() => undefined);
  }

  /** syncJob's first half: status.active follows the Jobs this CronJob owns. */
  async trackJobs(owned: Job[]): Promise<void> {
    const active = [...(this.status.active ?? [])];
    for (const job of owned) {
      const listed = active.some((ref) => sameRef(ref, job));
      const finished = finishedAs(job);
      if (!listed && !finished) {
        active.push(refTo(job));
        await this.event("Warning", "UnexpectedJob", `Saw a job that the controller did not create or forgot: ${job.metadata!.name}`, job);
      } else if (listed && finished) {
        active.splice(active.findIndex((ref) => sameRef(ref, job)), 1);
        await this.event("Normal", "SawCompletedJob", `Saw completed job: ${job.metadata!.name}, condition: ${finished}`, job);
      }
      const completed = finished === "Complete" ? job.status?.completionTime : undefined;
      if (completed && (!this.status.lastSuccessfulTime || Date.parse(completed) > Date.parse(this.status.lastSuccessfulTime))) {
        this.status.lastSuccessfulTime = completed;
      }
    }
    // A Job gone from the API is no longer active.
    const kept = [];
    for (const ref of active) {
      if (owned.some((job) => sameRef(ref, job))) kept.push(ref);
      else await this.event("Warning", "MissingJob", `Active job went missing: ${ref.name}`);
    }
    this.status.active = kept;
  }

  /** Creates the Job due now, if any; answers when the next one is due. */
  async runSchedule(): Promise<number | undefined> {
    const cj = this.cj;
    const now = this.ctx.now();
    const timeZone = cj.spec?.timeZone ?? "UTC";
    if (cj.spec?.timeZone != null && !isKnownTimeZone(cj.spec.timeZone)) {
      await this.event("Warning", "UnknownTimeZone", `invalid timeZone: ${JSON.stringify(cj.spec.timeZone)}: unknown time zone ${cj.spec.timeZone}`);
      return undefined;
    }
    let schedule: CronSchedule;
    try {
      schedule = parseCronSchedule(cj.spec!.schedule, timeZone);
    } catch (e) {
      await this.event("Warning", "UnparseableSchedule", `unparseable schedule: ${JSON.stringify(cj.spec!.schedule)} : ${(e as Error).message}`);
      return undefined;
    }
    if (cj.spec?.suspend) return undefined;
    const next = () => nextScheduleTime(schedule, now);
    const { mostRecent, missed } = mostRecentScheduleTime({ ...cj, status: this.status }, schedule, now);
    if (missed > TOO_MANY_MISSED) {
      await this.event("Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew");
    }
    if (!mostRecent) return next();
    const deadline = cj.spec?.startingDeadlineSeconds;
    if (deadline != null && mostRecent.getTime() + deadline * 1000 < now) {
      await this.event("Warning", "MissSchedule", `Missed scheduled time to start a job: ${rfc1123z(mostRecent)}`);
      return next();
    }
    const name = jobNameFor(cj, mostRecent);
    const active = this.status.active ?? [];
    if (active.some((ref) => ref.name === name) || (this.status.lastScheduleTime && Date.parse(this.status.lastScheduleTime) === mostRecent.getTime())) return next();
    if (cj.spec?.concurrencyPolicy === "Forbid" && active.length > 0) {
      await this.event("Normal", "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid");
      return next();
    }
    if (cj.spec?.concurrencyPolicy === "Replace") {
      for (const ref of active) await this.deleteJob(ref.name!, ref.uid);
      this.status.active = [];
    }
    let job: Job;
    try {
      job = await this.jobs.create(this.namespace, jobFor(cj, mostRecent, timeZone));
      await this.event("Normal", "SuccessfulCreate", `Created job ${job.metadata!.name}`, job);
    } catch (e) {
      if (!isAlreadyExists(e)) {
        await this.event("Warning", "FailedCreate", `Error creating job: ${(e as Error).message}`);
        throw e;
      }
      // Created by an earlier sync whose status write was lost; another owner's Job is left alone.
      job = await this.jobs.get(this.namespace, name);
      if (controllerRefOf(job)?.uid !== cj.metadata!.uid) return next();
    }
    if (!isJobFinished(job) && !(this.status.active ?? []).some((ref) => sameRef(ref, job))) this.status.active = [...(this.status.active ?? []), refTo(job)];
    this.status.lastScheduleTime = kubeTime(mostRecent.getTime());
    return next();
  }

  async deleteJob(name: string, uid: string | undefined): Promise<void> {
    try {
      await this.jobs.delete(this.namespace, name, { propagationPolicy: "Background", ...(uid ? { preconditions: { uid } } : {}) });
    } catch (e) {
      if (isNotFound(e)) return;
      await this.event("Warning", "FailedDelete", `Deleted job: ${(e as Error).message}`);
      throw e;
    }
    await this.event("Normal", "SuccessfulDelete", `Deleted job ${name}`);
  }

  /** Finished Jobs beyond successfulJobsHistoryLimit and failedJobsHistoryLimit go, oldest first. */
  async cleanupFinishedJobs(owned: Job[]): Promise<void> {
    const limits = { Complete: this.cj.spec?.successfulJobsHistoryLimit, Failed: this.cj.spec?.failedJobsHistoryLimit };
    for (const [finished, limit] of Object.entries(limits)) {
      if (limit == null) continue;
      const jobs = owned.filter((j) => finishedAs(j) === finished && !j.metadata?.deletionTimestamp).sort(byStartTime);
      for (const job of jobs.slice(0, Math.max(0, jobs.length - limit))) await this.deleteJob(job.metadata!.name!, job.metadata!.uid);
    }
  }
}

export const cronJobController: Controller = {
  name: "cronjob-controller",
  watches: [
    { resource: CRONJOBS, keysFor: (cj) => [keyOf(cj)] },
    { resource: JOBS, keysFor: cronJobKeysFor },
  ],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const cj = ctx.listers.of<CronJob>(CRONJOBS).get(namespace, name);
    if (!cj) return undefined;
    const owned = ctx.listers.of<Job>(JOBS).list(namespace).filter((j) => controllerRefOf(j)?.uid === cj.metadata!.uid);
    const sync = new CronJobSync(cj, ctx);
    await sync.trackJobs(owned);
    const nextRun = cj.metadata?.deletionTimestamp ? undefined : await sync.runSchedule();
    if (!cj.metadata?.deletionTimestamp) await sync.cleanupFinishedJobs(owned);
    if (JSON.stringify(sync.status) !== JSON.stringify(cj.status ?? {})) {
      await ctx.client.resource<CronJob>(CRONJOBS).updateStatus(namespace, { ...cj, status: sync.status });
    }
    return nextRun !== undefined ? { requeueAfter: Math.max(0, nextRun - ctx.now()) + NEXT_RUN_SLACK_MS } : undefined;
  },
};

// Table columns for the batch group: Jobs and CronJobs.
import type { CronJob, Job, JobCondition } from "kubernetes-types/batch/v1";
import {
  age,
  ageColumn,
  column,
  humanDuration,
  nameColumn,
  nameOf,
  parseTime,
  podTemplateCells,
  podTemplateColumns,
  since,
  type TablePrinter,
} from "./table.ts";

/** Whether the first condition of a type is true; later duplicates do not count. */
function hasCondition(conditions: JobCondition[] | undefined, type: string): boolean {
  return conditions?.find((c) => c.type === type)?.status === "True";
}

/** A finished job stays Complete or Failed while it is deleted; otherwise deletion comes first. */
function jobStatus(job: Job): string {
  const conditions = job.status?.conditions;
  if (hasCondition(conditions, "Complete")) return "Complete";
  if (hasCondition(conditions, "Failed")) return "Failed";
  if (job.metadata?.deletionTimestamp) return "Terminating";
  if (hasCondition(conditions, "Suspended")) return "Suspended";
  if (hasCondition(conditions, "FailureTarget")) return "FailureTarget";
  return "Running";
}

/** Succeeded out of completions; a job without completions is done after one success, "of N" in parallel. */
function jobCompletions(job: Job): string {
  const succeeded = job.status?.succeeded ?? 0;
  const completions = job.spec?.completions;
  if (completions !== undefined && completions !== null) return `${succeeded}/${completions}`;
  const parallelism = job.spec?.parallelism ?? 0;
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

/** From start to completion, or to now while running; empty before the job starts. */
function jobDuration(job: Job, now: Date): string {
  const start = parseTime(job.status?.startTime);
  if (start === undefined) return "";
  const end = parseTime(job.status?.completionTime) ?? now.getTime();
  return humanDuration(end - start);
}

const job: TablePrinter<Job> = {
  columns: [
    nameColumn,
    column("Status", "string", "Complete, Failed, Terminating, Suspended, FailureTarget or Running."),
    column("Completions", "string", "Succeeded pods out of the completions the job needs."),
    column("Duration", "string", "How long the job ran, or has been running."),
    ageColumn,
    ...podTemplateColumns,
  ],
  cells(job, now) {
    return [
      nameOf(job),
      jobStatus(job),
      jobCompletions(job),
      jobDuration(job, now),
      age(job, now),
      ...podTemplateCells(job.spec?.template, job.spec?.selector),
    ];
  },
};

const cronJob: TablePrinter<CronJob> = {
  columns: [
    nameColumn,
    column("Schedule", "string", "The cron schedule."),
    column("Timezone", "string", "The time zone the schedule is read in."),
    column("Suspend", "boolean", "Whether new runs are held back."),
    column("Active", "integer", "How many of its jobs are running."),
    column("Last Schedule", "string", "How long ago a job was last scheduled."),
    ageColumn,
    ...podTemplateColumns,
  ],
  cells(cronJob, now) {
    const spec = cronJob.spec;
    const lastSchedule = cronJob.status?.lastScheduleTime;
    const jobSpec = spec?.jobTemplate?.spec;
    return [
      nameOf(cronJob),
      spec?.schedule ?? "",
      spec?.timeZone ?? "<none>",
      // kube writes this boolean column as the words True and False.
      spec?.suspend ? "True" : "False",
      cronJob.status?.active?.length ?? 0,
      lastSchedule ? since(lastSchedule, now) : "<none>",
      age(cronJob, now),
      ...podTemplateCells(jobSpec?.template, jobSpec?.selector),
    ];
  },
};

export const batchPrinters: Record<string, TablePrinter> = {
  "batch/Job": job,
  "batch/CronJob": cronJob,
};

// batch/v1: Jobs and CronJobs, declarations only.
import { defaultPodSpec } from "./pods.ts";
import { declare, type ResourceDefinition } from "./types.ts";
import { generateJobSelector, validateCronJob, validateJob } from "./workload-validation.ts";

export const batchResources: ResourceDefinition[] = [
  declare("batch/v1", "jobs", {
    hasStatus: true,
    defaults(job) {
      job.spec ??= {};
      // Both unset means one pod to completion; otherwise only parallelism has a default.
      if (job.spec.completions == null && job.spec.parallelism == null) job.spec.completions = 1;
      job.spec.parallelism ??= 1;
      job.spec.backoffLimit ??= job.spec.backoffLimitPerIndex != null ? 2147483647 : 6;
      job.spec.completionMode ??= "NonIndexed";
      job.spec.suspend ??= false;
      // JobSuccessPolicy and JobManagedBy are alpha in 1.30, off by default: their fields are dropped (dropDisabledFields).
      delete job.spec.successPolicy;
      delete job.spec.managedBy;
      const templateLabels = job.spec.template?.metadata?.labels;
      if (templateLabels && typeof templateLabels === "object" && !Object.keys(job.metadata?.labels ?? {}).length) job.metadata!.labels = { ...templateLabels };
      if (job.spec.template?.spec) defaultPodSpec(job.spec.template.spec);
      generateJobSelector(job);
    },
    validate: validateJob,
  }),
  declare("batch/v1", "cronjobs", {
    hasStatus: true,
    defaults(cj) {
      cj.spec ??= {};
      cj.spec.concurrencyPolicy ??= "Allow";
      cj.spec.suspend ??= false;
      cj.spec.successfulJobsHistoryLimit ??= 3;
      cj.spec.failedJobsHistoryLimit ??= 1;
      const podSpec = cj.spec.jobTemplate?.spec?.template?.spec;
      if (podSpec) defaultPodSpec(podSpec);
    },
    validate: validateCronJob,
  }),
];

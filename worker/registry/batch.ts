// batch/v1: Jobs and CronJobs, declarations only.
import { defaultPodSpec } from "./pods.ts";
import { declare, type ResourceDefinition } from "./types.ts";

export const batchResources: ResourceDefinition[] = [
  declare("batch/v1", "jobs", {
    hasStatus: true,
    defaults(job) {
      job.spec ??= {};
      job.spec.parallelism ??= 1;
      job.spec.backoffLimit ??= 6;
      job.spec.completionMode ??= "NonIndexed";
      job.spec.suspend ??= false;
      if (job.spec.completions === undefined && job.spec.parallelism === 1) job.spec.completions = 1;
      if (job.spec.template?.spec) {
        job.spec.template.spec.restartPolicy ??= "Never";
        defaultPodSpec(job.spec.template.spec);
      }
    },
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
  }),
];

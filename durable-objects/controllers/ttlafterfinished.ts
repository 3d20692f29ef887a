// The TTL-after-finished controller (kube-controller-manager 1.30): a Job with
// `ttlSecondsAfterFinished` is deleted (its pods with it, in the foreground) that many seconds
// after it finished, that is after its Complete or Failed condition's transition.
import type { Job } from "kubernetes-types/batch/v1";
import { isNotFound } from "../../lib/client/index.ts";
import { keyOf, splitKey, type Controller } from "./framework.ts";
import { JOBS } from "./job.ts";

/** When the Job finished (the finishing condition's lastTransitionTime), if it has. */
export function finishedAt(job: Job): number | undefined {
  const finished = job.status?.conditions?.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
  if (!finished) return undefined;
  return Date.parse(finished.lastTransitionTime ?? job.status?.completionTime ?? "") || undefined;
}

/** When the Job expires, if it has a TTL and has finished. */
export function expiresAt(job: Job): number | undefined {
  const ttl = job.spec?.ttlSecondsAfterFinished;
  const finished = finishedAt(job);
  return ttl == null || finished === undefined ? undefined : finished + ttl * 1000;
}

export const ttlAfterFinishedController: Controller = {
  name: "ttl-after-finished-controller",
  watches: [{ resource: JOBS, keysFor: (job) => ((job as Job).spec?.ttlSecondsAfterFinished != null ? [keyOf(job)] : []) }],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const job = ctx.listers.of<Job>(JOBS).get(namespace, name);
    if (!job || job.metadata?.deletionTimestamp) return undefined;
    const expires = expiresAt(job);
    if (expires === undefined) return undefined;
    const left = expires - ctx.now();
    if (left > 0) return { requeueAfter: left };
    // The preconditions make sure it is the Job that expired, not a newer one of the same name or a changed TTL.
    await ctx.client.resource<Job>(JOBS).delete(namespace, name, { propagationPolicy: "Foreground", preconditions: { uid: job.metadata!.uid, resourceVersion: job.metadata!.resourceVersion } })
      .catch((e) => {
        if (!isNotFound(e)) throw e;
      });
    return undefined;
  },
};

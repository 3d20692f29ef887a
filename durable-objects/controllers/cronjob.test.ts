// The CronJob controller's decisions: which scheduled time is due (and how many were missed), the
// Job's name and annotation for it, and the times as kube prints them.
import type { CronJob } from "kubernetes-types/batch/v1";
import { describe, expect, it } from "vitest";
import { parseCronSchedule } from "../../lib/k8s/cron.ts";
import { jobFor, jobNameFor, mostRecentScheduleTime, rfc1123z, rfc3339In } from "./cronjob.ts";

function cronJob(spec: Partial<NonNullable<CronJob["spec"]>> = {}, status: CronJob["status"] = {}): CronJob {
  return {
    metadata: { name: "tick", namespace: "ns", uid: "cj-uid", creationTimestamp: "2026-03-01T10:00:30Z" },
    spec: { schedule: "*/5 * * * *", jobTemplate: { metadata: { labels: { team: "a" } }, spec: { template: { spec: { containers: [{ name: "c" }] } } } }, ...spec },
    status,
  };
}

const at = (iso: string) => Date.parse(iso);

describe("mostRecentScheduleTime", () => {
  it.each([
    ["nothing due before the first time after creation", cronJob(), "2026-03-01T10:04:59Z", undefined, 0],
    ["the first time after creation", cronJob(), "2026-03-01T10:05:10Z", "2026-03-01T10:05:00.000Z", 1],
    ["several missed: the latest, and how many", cronJob(), "2026-03-01T10:21:00Z", "2026-03-01T10:20:00.000Z", 4],
    ["from the last schedule, not the creation", cronJob({}, { lastScheduleTime: "2026-03-01T10:15:00Z" }), "2026-03-01T10:21:00Z", "2026-03-01T10:20:00.000Z", 1],
    ["startingDeadlineSeconds bounds how far back it looks", cronJob({ startingDeadlineSeconds: 90 }), "2026-03-01T10:21:00Z", "2026-03-01T10:20:00.000Z", 1],
    ["a deadline that ends before the time: nothing due", cronJob({ startingDeadlineSeconds: 30 }), "2026-03-01T10:21:00Z", undefined, 0],
  ])("%s", (_, cj, now, mostRecent, missed) => {
    const due = mostRecentScheduleTime(cj, parseCronSchedule(cj.spec!.schedule), at(now));
    expect(due.mostRecent?.toISOString()).toBe(mostRecent);
    expect(due.missed).toBe(missed);
  });

  it("counts a year of missed minutes without walking them", () => {
    const cj = cronJob({ schedule: "* * * * *" });
    const due = mostRecentScheduleTime(cj, parseCronSchedule("* * * * *"), at("2027-03-01T10:00:30Z"));
    expect(due.missed).toBeGreaterThan(100);
    expect(due.mostRecent?.toISOString()).toBe("2027-03-01T10:00:00.000Z");
  });

  it("follows the time zone", () => {
    const cj = cronJob({ schedule: "0 9 * * *", timeZone: "Europe/Berlin" });
    const due = mostRecentScheduleTime(cj, parseCronSchedule("0 9 * * *", "Europe/Berlin"), at("2026-03-02T09:00:00Z"));
    expect(due.mostRecent?.toISOString()).toBe("2026-03-02T08:00:00.000Z");
  });
});

describe("the Job for a scheduled time", () => {
  it("is named after the minutes since the epoch, labelled from the template, owned by the CronJob", () => {
    const scheduled = new Date("2026-03-01T10:05:00Z");
    expect(jobNameFor(cronJob(), scheduled)).toBe(`tick-${scheduled.getTime() / 60_000}`);
    const job = jobFor(cronJob({ timeZone: "Asia/Kolkata" }), scheduled, "Asia/Kolkata");
    expect(job.metadata).toMatchObject({
      name: `tick-${scheduled.getTime() / 60_000}`, labels: { team: "a" },
      annotations: { "batch.kubernetes.io/cronjob-scheduled-timestamp": "2026-03-01T15:35:00+05:30" },
      ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: "tick", uid: "cj-uid", controller: true, blockOwnerDeletion: true }],
    });
  });

  it.each([
    [new Date("2026-03-01T10:05:00Z"), "UTC", "2026-03-01T10:05:00Z"],
    [new Date("2026-07-01T10:05:00Z"), "America/New_York", "2026-07-01T06:05:00-04:00"],
  ])("RFC 3339 in the zone: %s in %s", (date, zone, text) => {
    expect(rfc3339In(date, zone)).toBe(text);
  });

  it("prints a missed time as Go's RFC1123Z", () => {
    expect(rfc1123z(new Date("2026-03-01T10:05:00Z"))).toBe("Sun, 01 Mar 2026 10:05:00 +0000");
  });
});

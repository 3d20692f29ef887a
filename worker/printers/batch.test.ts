// batch-group rows as kubectl shows them, for representative objects at a fixed time.
import type { CronJob, Job, JobCondition } from "kubernetes-types/batch/v1";
import type { PodTemplateSpec } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { batchPrinters } from "./batch.ts";
import type { TablePrinter } from "./table.ts";

const now = new Date("2024-05-01T12:00:00Z");
const s = 1000;
const m = 60 * s;
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: "default", creationTimestamp: ago(20 * m), ...extra });
const template: PodTemplateSpec = { spec: { restartPolicy: "Never", containers: [{ name: "pi", image: "perl:5.34" }] } };
const selector = { matchLabels: { "batch.kubernetes.io/controller-uid": "0f3c" } };
const condition = (type: string, status = "True"): JobCondition => ({ type, status });

function printer<T>(key: string): TablePrinter<T> {
  const found = batchPrinters[key];
  if (!found) throw new Error(`no printer for ${key}`);
  return found;
}

describe("column definitions", () => {
  it.each([
    ["batch/Job", "Name,Status,Completions,Duration,Age", "Containers,Images,Selector"],
    ["batch/CronJob", "Name,Schedule,Timezone,Suspend,Active,Last Schedule,Age", "Containers,Images,Selector"],
  ])("%s", (key, normal, wide) => {
    const columns = printer(key).columns;
    expect(columns.filter((c) => c.priority === 0).map((c) => c.name)).toEqual(normal.split(","));
    expect(columns.filter((c) => c.priority === 1).map((c) => c.name)).toEqual(wide.split(","));
  });
});

describe("Job", () => {
  const jobs = printer<Job>("batch/Job");
  const job = (spec: Partial<Job["spec"]>, status: Job["status"], extra: Record<string, unknown> = {}): Job => ({
    metadata: meta("pi", extra),
    spec: { template, selector, ...spec },
    status,
  });

  it.each<[string, Job, unknown[]]>([
    ["a running job", job({ completions: 3, parallelism: 1 }, { startTime: ago(5 * m), active: 1, succeeded: 1 }), ["pi", "Running", "1/3", "5m", "20m"]],
    [
      "a complete job",
      job({ completions: 1 }, { startTime: ago(10 * m), completionTime: ago(10 * m - 45 * s), succeeded: 1, conditions: [condition("Complete")] }),
      ["pi", "Complete", "1/1", "45s", "20m"],
    ],
    ["a job that has not started", job({ completions: 1 }, {}), ["pi", "Running", "0/1", "", "20m"]],
    ["a work-queue job", job({ parallelism: 4 }, { startTime: ago(3 * m + 20 * s), succeeded: 2 }), ["pi", "Running", "2/1 of 4", "3m20s", "20m"]],
    ["a single-pod job without completions", job({}, { startTime: ago(30 * s) }), ["pi", "Running", "0/1", "30s", "20m"]],
    [
      "a failed job",
      job({ completions: 2 }, { startTime: ago(8 * m), failed: 7, conditions: [condition("FailureTarget"), condition("Failed")] }),
      ["pi", "Failed", "0/2", "8m", "20m"],
    ],
    ["a job about to fail", job({ completions: 2 }, { startTime: ago(8 * m), conditions: [condition("FailureTarget")] }), ["pi", "FailureTarget", "0/2", "8m", "20m"]],
    ["a suspended job", job({ completions: 2, suspend: true }, { conditions: [condition("Suspended")] }), ["pi", "Suspended", "0/2", "", "20m"]],
    ["a resumed job", job({ completions: 2 }, { startTime: ago(m), conditions: [condition("Suspended", "False")] }), ["pi", "Running", "0/2", "60s", "20m"]],
    [
      "a running job being deleted",
      job({ completions: 2 }, { startTime: ago(m), conditions: [condition("Suspended")] }, { deletionTimestamp: ago(s) }),
      ["pi", "Terminating", "0/2", "60s", "20m"],
    ],
    [
      "a complete job being deleted",
      job({ completions: 1 }, { startTime: ago(2 * m), completionTime: ago(m), succeeded: 1, conditions: [condition("Complete")] }, { deletionTimestamp: ago(s) }),
      ["pi", "Complete", "1/1", "60s", "20m"],
    ],
  ])("%s", (_, object, expected) => {
    expect(jobs.cells(object, now)).toEqual([...expected, "pi", "perl:5.34", "batch.kubernetes.io/controller-uid=0f3c"]);
  });
});

describe("CronJob", () => {
  const cronJobs = printer<CronJob>("batch/CronJob");
  it.each<[string, CronJob, unknown[]]>([
    [
      "a cron job that ran a minute ago and is still running",
      {
        metadata: meta("report"),
        spec: { schedule: "*/5 * * * *", timeZone: "Europe/Paris", suspend: false, jobTemplate: { spec: { template } } },
        status: { active: [{ name: "report-28577040" }], lastScheduleTime: ago(m) },
      },
      ["report", "*/5 * * * *", "Europe/Paris", "False", 1, "60s", "20m", "pi", "perl:5.34", "<none>"],
    ],
    [
      "a suspended cron job that never ran",
      { metadata: meta("nightly"), spec: { schedule: "0 3 * * *", suspend: true, jobTemplate: { spec: { template, selector } } } },
      ["nightly", "0 3 * * *", "<none>", "True", 0, "<none>", "20m", "pi", "perl:5.34", "batch.kubernetes.io/controller-uid=0f3c"],
    ],
  ])("%s", (_, object, expected) => {
    expect(cronJobs.cells(object, now)).toEqual(expected);
  });
});

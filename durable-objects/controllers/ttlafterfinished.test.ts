// When the TTL-after-finished controller deletes a Job: ttlSecondsAfterFinished after its Complete
// or Failed condition's transition, and never while it runs or without a TTL.
import type { Job } from "kubernetes-types/batch/v1";
import { describe, expect, it } from "vitest";
import { expiresAt } from "./ttlafterfinished.ts";

function job(ttl: number | undefined, condition?: { type: string; status: string; lastTransitionTime: string }): Job {
  return { metadata: { name: "j" }, spec: { ...(ttl !== undefined ? { ttlSecondsAfterFinished: ttl } : {}), template: {} }, status: condition ? { conditions: [condition] } : {} };
}

describe("expiresAt", () => {
  const finished = "2026-01-01T00:00:00Z";
  it.each([
    ["complete, TTL 100 s", job(100, { type: "Complete", status: "True", lastTransitionTime: finished }), Date.parse(finished) + 100_000],
    ["failed, TTL 0", job(0, { type: "Failed", status: "True", lastTransitionTime: finished }), Date.parse(finished)],
    ["still running", job(100), undefined],
    ["suspended is not finished", job(100, { type: "Suspended", status: "True", lastTransitionTime: finished }), undefined],
    ["no TTL", job(undefined, { type: "Complete", status: "True", lastTransitionTime: finished }), undefined],
  ])("%s", (_, j, expires) => {
    expect(expiresAt(j)).toBe(expires);
  });
});

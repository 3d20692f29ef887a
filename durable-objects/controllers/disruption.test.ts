// What a PodDisruptionBudget's status says, given its spec, its pods and their controllers' scale.
import type { Pod } from "kubernetes-types/core/v1";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1";
import { describe, expect, it } from "vitest";
import { awaitedDisruptions, countHealthy, DELETION_TIMEOUT_MS, disruptionAllowedCondition, disruptionMark, disruptionsAllowed, expectedAndDesired, needsScale, staleInMs } from "./disruption.ts";

const budget = (spec: PodDisruptionBudget["spec"]): PodDisruptionBudget => ({ metadata: { name: "b", namespace: "ns", generation: 1 }, spec });

function pod(name: string, { ready = true, deleting = false } = {}): Pod {
  return {
    metadata: { name, ...(deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) },
    status: { phase: "Running", conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  };
}

describe("expectedPods and desiredHealthy", () => {
  it.each([
    ["minAvailable 2: the pods that exist are expected", { minAvailable: 2 }, 3, 5, false, { expectedPods: 3, desiredHealthy: 2 }],
    ["minAvailable 50% of a scale of 5 rounds up", { minAvailable: "50%" }, 3, 5, true, { expectedPods: 5, desiredHealthy: 3 }],
    ["maxUnavailable 1 of a scale of 4", { maxUnavailable: 1 }, 4, 4, true, { expectedPods: 4, desiredHealthy: 3 }],
    ["maxUnavailable 30% of 5 rounds up to 2", { maxUnavailable: "30%" }, 5, 5, true, { expectedPods: 5, desiredHealthy: 3 }],
    ["maxUnavailable above the scale is 0 healthy", { maxUnavailable: 7 }, 5, 5, true, { expectedPods: 5, desiredHealthy: 0 }],
    ["minAvailable 100%", { minAvailable: "100%" }, 2, 3, true, { expectedPods: 3, desiredHealthy: 3 }],
  ] as const)("%s", (_, spec, podCount, scale, scaled, expected) => {
    const pdb = budget(spec as PodDisruptionBudget["spec"]);
    expect(needsScale(pdb)).toBe(scaled);
    expect(expectedAndDesired(pdb, podCount, scale)).toEqual(expected);
  });
});

describe("disruptionsAllowed", () => {
  it.each([
    [3, 2, 3, 1],
    [2, 2, 3, 0],
    [1, 2, 3, 0],
    // No pods expected yet: nothing may be disrupted.
    [1, 0, 0, 0],
  ])("healthy %i, desired %i, expected %i → %i", (healthy, desired, expected, allowed) => {
    expect(disruptionsAllowed(healthy, desired, expected)).toBe(allowed);
  });
});

describe("disrupted pods and health", () => {
  const now = Date.parse("2026-01-01T00:10:00Z");
  const recent = new Date(now - 30_000).toISOString();
  const expired = new Date(now - DELETION_TIMEOUT_MS - 1).toISOString();

  it("keeps an eviction for 2 minutes, forgets it for a deleted pod or after, and rechecks when the first expires", () => {
    const pods = [pod("a"), pod("b"), pod("c", { deleting: true }), pod("d")];
    const { disruptedPods, recheckAt } = awaitedDisruptions(pods, { a: recent, b: expired, c: recent, gone: recent }, now);
    expect(disruptedPods).toEqual({ a: recent });
    expect(recheckAt).toBe(Date.parse(recent) + DELETION_TIMEOUT_MS);
    expect(awaitedDisruptions(pods, undefined, now)).toEqual({ disruptedPods: {}, recheckAt: undefined });
  });

  it("counts Ready pods that are neither being deleted nor just evicted", () => {
    const pods = [pod("a"), pod("b"), pod("c", { ready: false }), pod("d", { deleting: true })];
    expect(countHealthy(pods, {})).toBe(2);
    expect(countHealthy(pods, { a: recent })).toBe(1);
  });
});

describe("the DisruptionAllowed condition", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it.each([
    [1, "True", "SufficientPods"],
    [0, "False", "InsufficientPods"],
  ])("disruptionsAllowed %i → %s %s, its transition time kept while the status holds", (allowed, status, reason) => {
    const first = disruptionAllowedCondition({ disruptionsAllowed: allowed, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0, observedGeneration: 2 }, now);
    expect(first).toEqual([{ type: "DisruptionAllowed", status, reason, message: "", observedGeneration: 2, lastTransitionTime: "2026-01-01T00:00:00Z" }]);
    const again = disruptionAllowedCondition({ disruptionsAllowed: allowed, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0, observedGeneration: 3, conditions: first }, now + 60_000);
    expect(again[0]).toMatchObject({ observedGeneration: 3, lastTransitionTime: "2026-01-01T00:00:00Z" });
  });
});

describe("stale disruption marks", () => {
  const now = Date.parse("2026-01-01T00:10:00Z");
  const marked = (reason: string, { phase = "Running", deleting = false, status = "True" } = {}): Pod => ({
    metadata: { name: "p", ...(deleting ? { deletionTimestamp: "2026-01-01T00:09:00Z" } : {}) },
    status: { phase, conditions: [{ type: "DisruptionTarget", status, reason, lastTransitionTime: "2026-01-01T00:09:00Z" }] },
  });
  it.each([
    ["an eviction's mark", marked("EvictionByEvictionAPI"), true],
    ["a pod being deleted", marked("EvictionByEvictionAPI", { deleting: true }), false],
    ["a finished pod", marked("PreemptionByScheduler", { phase: "Failed" }), false],
    ["the kubelet's own mark", marked("TerminationByKubelet"), false],
    ["a mark already taken back", marked("EvictionByEvictionAPI", { status: "False" }), false],
  ])("%s", (_, pod, counted) => {
    expect(disruptionMark(pod) !== undefined).toBe(counted);
  });

  it("is stale 2 minutes after it was set", () => {
    const mark = disruptionMark(marked("EvictionByEvictionAPI"))!;
    expect(staleInMs(mark, now)).toBe(60_000);
    expect(staleInMs(mark, now + 90_000)).toBe(0);
  });
});

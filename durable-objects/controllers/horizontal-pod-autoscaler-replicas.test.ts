// The HorizontalPodAutoscaler's arithmetic: the replicas a CPU utilization target asks for, and how
// the stabilization window and rate policies temper them.
import type { Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import {
  normalizeWithBehavior, normalizeWithoutBehavior, rawResourceReplicas, recordScale, resourceReplicas, scaleDownLimit, scaleUpLimit,
  type PodMetric, type ScalingHistory,
} from "./horizontal-pod-autoscaler-replicas.ts";

const now = Date.parse("2026-01-01T01:00:00Z");
const longAgo = "2026-01-01T00:00:00Z";

function pod(name: string, { phase = "Running", ready = true, request = "100m" } = {}): Pod {
  return {
    metadata: { name },
    spec: { containers: [{ name: "c", resources: { requests: { cpu: request } } }] },
    status: { phase, startTime: longAgo, conditions: [{ type: "Ready", status: ready ? "True" : "False", lastTransitionTime: longAgo }] },
  };
}

/** Usage in millicores per pod name. */
const metrics = (usage: Record<string, number>) =>
  new Map<string, PodMetric>(Object.entries(usage).map(([name, milli]) => [name, { value: milli, timestamp: now - 10_000, windowMs: 15_000 }]));

const history = (): ScalingHistory => ({ recommendations: [], scaleUps: [], scaleDowns: [] });

describe("the replicas a CPU utilization target asks for", () => {
  it.each([
    ["twice the target doubles", 2, 50, [pod("a"), pod("b")], { a: 100, b: 100 }, { replicas: 4, utilization: 100 }],
    ["within the 10% tolerance stays", 3, 50, [pod("a"), pod("b"), pod("c")], { a: 54, b: 54, c: 54 }, { replicas: 3, utilization: 54 }],
    ["just outside the tolerance moves", 3, 50, [pod("a"), pod("b"), pod("c")], { a: 56, b: 56, c: 56 }, { replicas: 4, utilization: 56 }],
    ["low usage scales down, rounding up", 4, 50, [pod("a"), pod("b"), pod("c"), pod("d")], { a: 10, b: 10, c: 10, d: 10 }, { replicas: 1, utilization: 10 }],
    // A pod without metrics counts as using its whole request on a scale-down: less of a step.
    ["a missing pod tempers a scale-down", 3, 50, [pod("a"), pod("b"), pod("c")], { a: 10, b: 10 }, { replicas: 3, utilization: 10 }],
    // An unready pod counts as using nothing on a scale-up.
    ["an unready pod tempers a scale-up", 3, 50, [pod("a"), pod("b"), pod("c", { ready: false })], { a: 100, b: 100, c: 100 }, { replicas: 4, utilization: 100 }],
    ["pending pods are unready", 2, 50, [pod("a"), pod("b", { phase: "Pending" })], { a: 100 }, { replicas: 2, utilization: 100 }],
  ])("%s", (_, current, target, pods, usage, expected) => {
    expect(resourceReplicas(current, target, "cpu", pods, metrics(usage), now)).toMatchObject(expected);
  });

  it.each([
    ["no pods", [], {}, "no pods returned by selector while calculating replica count"],
    ["no metrics for ready pods", [pod("a", { ready: false })], { a: 10 }, "did not receive metrics for targeted pods (pods might be unready)"],
    ["a container without a request", [{ ...pod("a"), spec: { containers: [{ name: "c" }] } }], { a: 10 }, "missing request for cpu in container c of Pod a"],
  ])("%s is an error", (_, pods, usage, message) => {
    expect(() => resourceReplicas(1, 50, "cpu", pods as Pod[], metrics(usage), now)).toThrow(message);
  });
});

describe("the replicas an average value target asks for", () => {
  it.each([
    ["twice the target doubles", 2, 100, [pod("a"), pod("b")], { a: 200, b: 200 }, { replicas: 4, rawAverage: 200 }],
    ["within the tolerance stays", 2, 100, [pod("a"), pod("b")], { a: 105, b: 95 }, { replicas: 2, rawAverage: 100 }],
    ["a third of the target", 3, 300, [pod("a"), pod("b"), pod("c")], { a: 100, b: 100, c: 100 }, { replicas: 1, rawAverage: 100 }],
    // No requests are needed: the target is an amount per pod.
    ["pods without requests", 1, 100, [{ ...pod("a"), spec: { containers: [{ name: "c" }] } }], { a: 300 }, { replicas: 3, rawAverage: 300 }],
    // A missing pod counts as using the target on a scale-down.
    ["a missing pod tempers a scale-down", 2, 100, [pod("a"), pod("b")], { a: 10 }, { replicas: 2, rawAverage: 10 }],
  ])("%s", (_, current, target, pods, usage, expected) => {
    expect(rawResourceReplicas(current, target, "cpu", pods as Pod[], metrics(usage), now)).toEqual(expected);
  });
});

describe("normalization without behavior", () => {
  it.each([
    ["within range", 3, 5, 1, 10, { replicas: 5, limited: [false, "DesiredWithinRange", "the desired count is within the acceptable range"] }],
    ["at most twice the current (or 4)", 2, 9, 1, 10, { replicas: 4, limited: [true, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"] }],
    ["at most maxReplicas", 8, 14, 1, 10, { replicas: 10, limited: [true, "TooManyReplicas", "the desired replica count is more than the maximum replica count"] }],
    ["at least minReplicas", 3, 1, 2, 10, { replicas: 2, limited: [true, "TooFewReplicas", "the desired replica count is less than the minimum replica count"] }],
  ])("%s", (_, current, desired, min, max, expected) => {
    expect(normalizeWithoutBehavior(history(), current, desired, min, max, now)).toMatchObject({ ...expected, ableToScale: ["ReadyForNewScale", "recommended size matches current size"] });
  });

  it("keeps the highest recommendation of the last 5 minutes on a scale-down", () => {
    const h = history();
    normalizeWithoutBehavior(h, 5, 8, 1, 10, now - 200_000);
    const down = normalizeWithoutBehavior(h, 8, 2, 1, 10, now);
    expect(down.replicas).toBe(8);
    expect(down.ableToScale[0]).toBe("ScaleDownStabilized");
    // Past the window the low recommendation wins.
    expect(normalizeWithoutBehavior(h, 8, 2, 1, 10, now + 301_000).replicas).toBe(2);
  });
});

describe("normalization with behavior", () => {
  it("scales up at once by the larger of 4 pods and 100% per 15 s, and down only after the 300 s window", () => {
    const h = history();
    expect(normalizeWithBehavior(h, {}, 2, 20, 1, 50, now).replicas).toBe(6);
    recordScale(h, {}, 2, 6, now);
    // Within the same 15 s period the step is measured from the period's start (2 replicas).
    expect(normalizeWithBehavior(h, {}, 6, 20, 1, 50, now + 5_000).replicas).toBe(6);
    const down = normalizeWithBehavior(h, {}, 6, 1, 1, 50, now + 20_000);
    expect(down).toMatchObject({ replicas: 6, ableToScale: ["ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"] });
  });

  it("a zero scale-down window and a Pods policy step down by that many per period", () => {
    const behavior = { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: "Pods", value: 2, periodSeconds: 60 }] } };
    expect(normalizeWithBehavior(history(), behavior, 10, 1, 1, 50, now)).toMatchObject({ replicas: 8, limited: [true, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"] });
  });

  it.each([
    ["Max picks the larger step up", "Max", 10, 20],
    ["Min picks the smaller step up", "Min", 10, 14],
    ["Disabled does not move", "Disabled", 10, 10],
  ] as const)("%s", (_, selectPolicy, current, limit) => {
    const rules = { selectPolicy, policies: [{ type: "Pods", value: 4, periodSeconds: 15 }, { type: "Percent", value: 100, periodSeconds: 15 }] };
    expect(scaleUpLimit(current, history(), rules, now)).toBe(limit);
  });

  it("a Percent policy steps down by that share, rounding down", () => {
    expect(scaleDownLimit(10, history(), { selectPolicy: "Max", policies: [{ type: "Percent", value: 25, periodSeconds: 60 }] }, now)).toBe(7);
  });
});

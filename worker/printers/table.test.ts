// The shared cell formats: kube's human durations, label maps and label selectors.
import { describe, expect, it } from "vitest";
import { formatLabels, formatLabelSelector, humanDuration, labelSelectorString } from "./table.ts";

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;

describe("humanDuration", () => {
  it.each([
    [-2 * s, "<invalid>"],
    [-1999, "0s"],
    [-1 * s, "0s"],
    [0, "0s"],
    [999, "0s"],
    [5 * s, "5s"],
    [119 * s + 999, "119s"],
    [2 * m, "2m"],
    [3 * m + 20 * s, "3m20s"],
    [9 * m + 59 * s, "9m59s"],
    [10 * m + 30 * s, "10m"],
    [179 * m, "179m"],
    [3 * h, "3h"],
    [3 * h + 5 * m, "3h5m"],
    [7 * h + 59 * m + 59 * s, "7h59m"],
    [8 * h + 30 * m, "8h"],
    [47 * h + 59 * m, "47h"],
    [2 * d, "2d"],
    [2 * d + 3 * h, "2d3h"],
    [7 * d + 23 * h, "7d23h"],
    [8 * d + 5 * h, "8d"],
    [729 * d, "729d"],
    [730 * d, "2y"],
    [745 * d, "2y15d"],
    [8 * 365 * d, "8y"],
    [20 * 365 * d + 100 * d, "20y"],
  ])("%d ms is %s", (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe("label formats", () => {
  it("writes label maps sorted by key, <none> when empty", () => {
    expect(formatLabels({ tier: "web", app: "shop" })).toBe("app=shop,tier=web");
    expect(formatLabels({})).toBe("<none>");
    expect(formatLabels(undefined)).toBe("<none>");
  });

  it.each([
    [{ matchLabels: { app: "web" } }, "app=web"],
    [
      {
        matchLabels: { tier: "front" },
        matchExpressions: [
          { key: "env", operator: "In", values: ["staging", "prod"] },
          { key: "legacy", operator: "DoesNotExist" },
          { key: "zone", operator: "NotIn", values: ["b"] },
          { key: "gpu", operator: "Exists" },
        ],
      },
      "env in (prod,staging),gpu,!legacy,tier=front,zone notin (b)",
    ],
    [{}, ""],
    [undefined, ""],
    [{ matchExpressions: [{ key: "a", operator: "In", values: [] }] }, undefined],
    [{ matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] }, undefined],
    [{ matchExpressions: [{ key: "a", operator: "Gt", values: ["1"] }] }, undefined],
  ])("selector %j is %j", (selector, text) => {
    expect(labelSelectorString(selector)).toBe(text);
  });

  it("formats selectors the way most workloads print them", () => {
    expect(formatLabelSelector({ matchLabels: { app: "web" } })).toBe("app=web");
    expect(formatLabelSelector({})).toBe("<none>");
    expect(formatLabelSelector({ matchExpressions: [{ key: "a", operator: "Bogus" }] })).toBe("<error>");
  });
});

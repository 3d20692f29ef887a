import { describe, expect, it } from "vitest";
import { LatencyRecorder, formatTable, runClosedLoop } from "./load.ts";

function recorder(samples: number[]): LatencyRecorder {
  const r = new LatencyRecorder();
  for (const s of samples) r.record(s);
  return r;
}

describe("LatencyRecorder", () => {
  it("answers nearest-rank percentiles", () => {
    // 1..100 in shuffled order: the p-th percentile is p itself.
    const samples = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) + 1);
    const r = recorder(samples);
    expect(r.percentile(50)).toBe(50);
    expect(r.percentile(99)).toBe(99);
    expect(r.percentile(100)).toBe(100);
    expect(r.percentile(0.5)).toBe(1);
    expect(r.mean()).toBe(50.5);
  });

  it("rounds the rank up on small sets", () => {
    const r = recorder([40, 10, 30, 20]);
    expect(r.percentile(25)).toBe(10);
    expect(r.percentile(26)).toBe(20);
    expect(r.percentile(50)).toBe(20);
    expect(r.percentile(75)).toBe(30);
    expect(r.percentile(99)).toBe(40);
  });

  it("sorts numerically, keeps samples recorded after a query, and grows past its first buffer", () => {
    const r = recorder([9, 10, 100]);
    expect(r.percentile(50)).toBe(10);
    r.record(0.5);
    expect(r.percentile(25)).toBe(0.5);
    for (let i = 0; i < 5000; i++) r.record(1);
    expect(r.count).toBe(5004);
    expect(r.percentile(100)).toBe(100);
  });

  it("is NaN when empty and refuses percentiles outside (0, 100]", () => {
    expect(new LatencyRecorder().percentile(50)).toBeNaN();
    expect(() => recorder([1]).percentile(0)).toThrow(RangeError);
    expect(() => recorder([1]).percentile(101)).toThrow(RangeError);
  });
});

describe("runClosedLoop", () => {
  it("keeps `concurrency` operations in flight and counts only the window", async () => {
    let inFlight = 0;
    let peak = 0;
    const result = await runClosedLoop({
      concurrency: 4, durationMs: 200, warmupMs: 50,
      op: async (_worker, seq) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        if (seq % 10 === 9) throw new Error("every tenth fails");
      },
    });
    expect(peak).toBe(4);
    expect(inFlight).toBe(0);
    expect(result.ops + result.errors).toBeGreaterThan(40);
    expect(result.ops + result.errors).toBeLessThanOrEqual(4 * (200 / 5) + 4);
    expect(result.errors).toBeGreaterThan(0);
    expect(result.latency.count).toBe(result.ops);
    expect(result.latency.percentile(50)).toBeGreaterThanOrEqual(4);
    expect(result.opsPerSecond).toBe(result.ops / 0.2);
    expect((result.firstError as Error).message).toBe("every tenth fails");
  });
});

describe("formatTable", () => {
  it("pads text left and numbers right", () => {
    expect(formatTable(["target", "ops/s"], [["etcd", 1070], ["edgeplane", "560"]])).toBe(
      ["target     ops/s", "---------  -----", "etcd        1070", "edgeplane    560"].join("\n"),
    );
  });
});

// The kubelet's back-off: 10 s doubling to 5 min, forgotten after 10 min without a failure.
import { describe, expect, it } from "vitest";
import { Backoff, goDuration } from "./backoff.ts";

describe("back-off", () => {
  it("doubles from 10 s up to 5 min", () => {
    const clock = { now: () => 0 };
    const backoff = new Backoff(clock);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      backoff.next("c", i * 1000);
      delays.push(backoff.get("c"));
    }
    expect(delays.map(goDuration)).toEqual(["10s", "20s", "40s", "1m20s", "2m40s", "5m0s", "5m0s", "5m0s"]);
  });

  it("is in back-off until the delay has passed since the failure", () => {
    let now = 1_000_000;
    const backoff = new Backoff({ now: () => now });
    expect(backoff.isInBackOffSince("c", now)).toBe(false);
    backoff.next("c", now);
    const failedAt = now;
    now += 9_999;
    expect(backoff.isInBackOffSince("c", failedAt)).toBe(true);
    now += 1;
    expect(backoff.isInBackOffSince("c", failedAt)).toBe(false);
  });

  it("starts over at 10 s after 10 minutes without a failure", () => {
    const backoff = new Backoff({ now: () => 0 });
    backoff.next("c", 0);
    backoff.next("c", 1000);
    expect(backoff.get("c")).toBe(20_000);
    backoff.next("c", 1000 + 600_001);
    expect(backoff.get("c")).toBe(10_000);
  });

  it("forgets the keys it is told to", () => {
    const backoff = new Backoff({ now: () => 0 });
    backoff.next("pod-a/c", 0);
    backoff.next("pod-b/c", 0);
    backoff.gc((key) => key.startsWith("pod-a/"));
    expect([backoff.get("pod-a/c"), backoff.get("pod-b/c")]).toEqual([0, 10_000]);
  });
});

describe("Go durations", () => {
  it.each([
    [0, "0s"],
    [350, "350ms"],
    [1500, "1.5s"],
    [10_000, "10s"],
    [80_000, "1m20s"],
    [300_000, "5m0s"],
    [3_725_000, "1h2m5s"],
  ])("%d ms is %s", (ms, text) => {
    expect(goDuration(ms)).toBe(text);
  });
});

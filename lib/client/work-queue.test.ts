// The work queue with a hand-moved clock: dedup, re-adds during processing, delayed adds, per-item
// exponential back-off, the overall token bucket, and state restored from its store.
import { describe, expect, it } from "vitest";
import { manualClock } from "./testing.ts";
import { MemoryQueueStore, WorkQueue } from "./work-queue.ts";

/** Every item due now, in the order `get` hands them out (each marked done). */
function drain(queue: WorkQueue): string[] {
  const out: string[] = [];
  for (let item = queue.get(); item !== undefined; item = queue.get()) {
    out.push(item);
    queue.done(item);
  }
  return out;
}

describe("WorkQueue", () => {
  it("processes an item queued twice once, first queued first out", () => {
    const queue = new WorkQueue({ now: manualClock().now });
    queue.add("b");
    queue.add("a");
    queue.add("b");
    expect(queue.length).toBe(2);
    expect(drain(queue)).toEqual(["b", "a"]);
    expect(queue.get()).toBeUndefined();
    expect(queue.nextDueAt()).toBeUndefined();
  });

  it("hands out thousands of items by due time, then order queued, as items are moved earlier, taken and re-added", () => {
    const clock = manualClock();
    const queue = new WorkQueue({ now: clock.now });
    const expected: { item: string; due: number; seq: number }[] = [];
    for (let i = 0; i < 3_000; i++) {
      const item = `item-${i}`;
      const delay = (i * 7919) % 1_000;
      queue.addAfter(item, delay);
      expected.push({ item, due: delay, seq: i });
    }
    // Moved earlier: 500 of them, due now, queued after everything above (one already due now keeps its place).
    for (let i = 0; i < 3_000; i += 6) {
      queue.addAfter(`item-${i}`, 0);
      if (expected[i]!.due > 0) Object.assign(expected[i]!, { due: 0, seq: 3_000 + i });
    }
    expect(queue.nextDueAt()).toBe(clock.now());
    clock.advance(1_000);
    const order = [...expected].sort((a, b) => a.due - b.due || a.seq - b.seq).map((e) => e.item);
    const taken = queue.get()!;
    expect(taken).toBe(order[0]);
    queue.add(taken);
    expect(drain(queue)).toEqual(order.slice(1));
    queue.done(taken);
    expect(drain(queue)).toEqual([taken]);
    expect(queue.nextDueAt()).toBeUndefined();
  });

  it("processes an item added while it is being processed again after done, never twice at once", () => {
    const queue = new WorkQueue({ now: manualClock().now });
    queue.add("a");
    expect(queue.get()).toBe("a");
    queue.add("a");
    queue.add("a");
    expect(queue.get()).toBeUndefined();
    expect(queue.length).toBe(0); // as client-go's Len: it waits for done
    queue.done("a");
    expect(queue.length).toBe(1);
    expect(queue.get()).toBe("a");
    queue.done("a");
    expect(queue.get()).toBeUndefined();
  });

  it("holds delayed items until due; the earlier of two times wins", () => {
    const clock = manualClock();
    const t0 = clock.now();
    const queue = new WorkQueue({ now: clock.now });
    queue.addAfter("later", 100);
    queue.addAfter("sooner", 100);
    queue.addAfter("sooner", 50);
    queue.addAfter("sooner", 80);
    expect(queue.get()).toBeUndefined();
    expect(queue.nextDueAt()).toBe(t0 + 50);
    clock.advance(49);
    expect(queue.get()).toBeUndefined();
    clock.advance(1);
    expect(drain(queue)).toEqual(["sooner"]);
    expect(queue.nextDueAt()).toBe(t0 + 100);
    queue.add("later"); // now beats in 50 ms
    expect(drain(queue)).toEqual(["later"]);
    expect(queue.nextDueAt()).toBeUndefined();
  });

  it("backs a failing item off exponentially: 5, 10, 20, 40, 80 ms; forget starts it over", () => {
    const clock = manualClock();
    const queue = new WorkQueue({ now: clock.now });
    queue.add("flaky");
    const delays: number[] = [];
    for (let failure = 0; failure < 5; failure++) {
      expect(queue.get()).toBe("flaky");
      queue.addRateLimited("flaky");
      queue.done("flaky");
      delays.push(queue.nextDueAt()! - clock.now());
      clock.set(queue.nextDueAt()! - 1);
      expect(queue.get()).toBeUndefined();
      clock.advance(1);
    }
    expect(delays).toEqual([5, 10, 20, 40, 80]);
    expect(queue.numRequeues("flaky")).toBe(5);
    expect(queue.get()).toBe("flaky");
    queue.forget("flaky");
    queue.done("flaky");
    expect(queue.numRequeues("flaky")).toBe(0);
    queue.addRateLimited("flaky");
    expect(queue.nextDueAt()! - clock.now()).toBe(5);
  });

  it("caps the back-off at maxDelayMs and takes its base from baseDelayMs", () => {
    const clock = manualClock();
    const queue = new WorkQueue({ now: clock.now, baseDelayMs: 100, maxDelayMs: 500 });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      queue.addRateLimited("x");
      delays.push(queue.nextDueAt()! - clock.now());
      clock.set(queue.nextDueAt()!);
      expect(queue.get()).toBe("x");
      queue.done("x");
    }
    expect(delays).toEqual([100, 200, 400, 500, 500]);
  });

  it("limits rate-limited adds overall with a token bucket (qps, burst)", () => {
    const clock = manualClock();
    const t0 = clock.now();
    const queue = new WorkQueue({ now: clock.now, qps: 10, burst: 2 });
    for (const item of ["a", "b", "c", "d"]) queue.addRateLimited(item);
    // The burst covers two; then one token every 100 ms.
    const dueIn = (item: string) => {
      for (let t = 0; t <= 1000; t++) {
        clock.set(t0 + t);
        const got = queue.get();
        if (got !== undefined) {
          queue.done(got);
          if (got === item) return t;
        }
      }
      return undefined;
    };
    expect([dueIn("a"), dueIn("b")]).toEqual([5, 5]);
    clock.set(t0);
    expect(dueIn("c")).toBe(100);
    clock.set(t0);
    expect(dueIn("d")).toBe(200);
    // After a quiet second the bucket is full again.
    clock.set(t0 + 2000);
    queue.addRateLimited("e");
    queue.addRateLimited("f");
    expect(queue.nextDueAt()! - clock.now()).toBe(5);
  });

  it("restores its state from the store; what was being processed is due again", () => {
    const clock = manualClock();
    const store = new MemoryQueueStore();
    const first = new WorkQueue({ store, now: clock.now });
    first.addAfter("waiting", 1000);
    first.add("busy");
    first.add("next");
    first.addRateLimited("retry");
    first.addRateLimited("retry");
    expect(first.get()).toBe("busy");
    clock.advance(10);

    const second = new WorkQueue({ store, now: clock.now });
    expect(second.numRequeues("retry")).toBe(2);
    expect(second.nextDueAt()).toBe(clock.now() - 10);
    expect(drain(second)).toEqual(["next", "retry", "busy"]);
    expect(second.nextDueAt()).toBe(clock.now() + 990);
    second.forget("retry");
    expect(store.load().map((r) => r.item)).toEqual(["waiting"]);
  });
});

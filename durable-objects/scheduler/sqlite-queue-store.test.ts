// The scheduler's queue state in a Durable Object's SQLite survives a restart of the object.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Scheduler } from "./scheduler.ts";
import { SqliteSchedulingQueueStore } from "./sqlite-queue-store.ts";
import { makeNode, makePod, testClock } from "./testing.ts";

describe("SqliteSchedulingQueueStore", () => {
  it("restores each pending pod's attempts and standing after the object restarts", async () => {
    // No scheduler object exists yet, so a store shard's storage hosts the table.
    const stub = env.STORE.get(env.STORE.idFromName(`scheduler-queue-test-${crypto.randomUUID()}`));
    const clock = testClock();
    const pods = [makePod("small-enough", { requests: { cpu: "1" } }), makePod("too-big", { requests: { cpu: "16" } })];
    await runInDurableObject(stub, (_instance, state) => {
      const s = new Scheduler({ now: clock.now, random: () => 0, queueStore: new SqliteSchedulingQueueStore(state.storage) });
      s.nodes.onAdd!(makeNode("n1", { cpu: "4" }));
      for (const p of pods) s.pods.onAdd!(p);
      const attempts = [s.scheduleNext(), s.scheduleNext()].map((a) => `${a?.pod.name}:${a?.kind}`);
      expect(attempts.sort()).toEqual(["small-enough:assumed", "too-big:unschedulable"]);
      // The end of the wake: "small-enough" is in flight, so only "too-big" is written.
      s.queue.saveState();
    });
    await evictDurableObject(stub);

    const restored = await runInDurableObject(stub, (_instance, state) => {
      const s = new Scheduler({ now: clock.now, random: () => 0, queueStore: new SqliteSchedulingQueueStore(state.storage) });
      s.nodes.onAdd!(makeNode("n1", { cpu: "4" }));
      // The informer's cache replays the pending pods; the binding of "small-enough" never landed.
      for (const p of pods) s.pods.onAdd!(p);
      s.queue.dropUnrestored();
      return { small: s.placement("default", "small-enough"), big: s.placement("default", "too-big"), wake: s.nextWakeAt() };
    });
    expect(restored).toEqual({ small: "active", big: "unschedulable", wake: clock.now() });
  });
});

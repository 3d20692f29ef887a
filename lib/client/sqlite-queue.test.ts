// The work queue's SQLite store in a Durable Object: after the object restarts, the queue has the same
// items, due times and back-off counts, and its earliest due item is what the alarm should be set to.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SqliteQueueStore } from "./sqlite-queue.ts";
import { manualClock } from "./testing.ts";
import { WorkQueue } from "./work-queue.ts";

describe("SqliteQueueStore", () => {
  it("keeps a queue across a Durable Object restart, apart from other queues in the same object", async () => {
    // No controller class exists yet, so a store shard's storage hosts the tables.
    const stub = env.STORE.get(env.STORE.idFromName(`workqueue-test-${crypto.randomUUID()}`));
    const clock = manualClock();
    const t0 = clock.now();
    await runInDurableObject(stub, (_instance, state) => {
      const queue = new WorkQueue({ store: new SqliteQueueStore(state.storage, "replicasets"), now: clock.now });
      const other = new WorkQueue({ store: new SqliteQueueStore(state.storage, "deployments"), now: clock.now });
      queue.addAfter("ns/resync", 60_000);
      queue.add("ns/busy");
      for (let i = 0; i < 3; i++) queue.addRateLimited("ns/failing");
      other.addAfter("ns/elsewhere", 5);
      expect(queue.get()).toBe("ns/busy");
      expect(queue.nextDueAt()).toBe(t0 + 5);
    });
    await evictDurableObject(stub);
    clock.advance(1);

    const restored = await runInDurableObject(stub, (_instance, state) => {
      const queue = new WorkQueue({ store: new SqliteQueueStore(state.storage, "replicasets"), now: clock.now });
      const other = new WorkQueue({ store: new SqliteQueueStore(state.storage, "deployments"), now: clock.now });
      const result = { nextDueAt: queue.nextDueAt(), requeues: queue.numRequeues("ns/failing"), length: queue.length, otherNext: other.nextDueAt(), due: [] as string[] };
      // The item that was being processed when the object stopped is due at once.
      for (let item = queue.get(); item; item = queue.get()) result.due.push(item);
      return result;
    });
    expect(restored).toEqual({ nextDueAt: t0 + 1, requeues: 3, length: 3, otherNext: t0 + 5, due: ["ns/busy"] });
  });
});

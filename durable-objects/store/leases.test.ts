// Leases: grant, keep-alive, time-to-live, revoke, and expiry driven by the store's alarm.
import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { b, failure, freshStore, ok, openWatchStream, text } from "./testing.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("leases", () => {
  it("grants with a chosen or generated id, raises TTLs to the 2 s minimum and refuses duplicates", async () => {
    const store = freshStore();
    expect(ok(await store.leaseGrant({ TTL: 30, ID: 42 }))).toMatchObject({ ID: 42, TTL: 30 });
    expect(ok(await store.leaseGrant({ TTL: 1, ID: 43 })).TTL).toBe(2);
    const generated = ok(await store.leaseGrant({ TTL: 30 }));
    expect(generated.ID).toBeGreaterThan(0);
    expect(failure(await store.leaseGrant({ TTL: 30, ID: 42 }))).toEqual({ code: 9, message: "etcdserver: lease already exists" });
    expect(ok(await store.leaseLeases()).leases.map((l) => l.ID)).toEqual(expect.arrayContaining([42, 43, generated.ID]));
    // Granting moves no revision.
    expect(ok(await store.range({ key: b("x") })).header.revision).toBe(1);
  });

  it("tells the time to live and the attached keys; keep-alive renews; unknown leases answer -1 and 0", async () => {
    const store = freshStore();
    ok(await store.leaseGrant({ TTL: 30, ID: 1 }));
    ok(await store.put({ key: b("b"), value: b("x"), lease: 1 }));
    ok(await store.put({ key: b("a"), value: b("x"), lease: 1 }));
    const ttl = ok(await store.leaseTimeToLive({ ID: 1, keys: true }));
    expect(ttl.grantedTTL).toBe(30);
    expect(ttl.TTL).toBeGreaterThanOrEqual(29);
    expect(ttl.keys.map(text)).toEqual(["a", "b"]);
    expect(ok(await store.leaseKeepAlive(1))).toMatchObject({ ID: 1, TTL: 30 });
    expect(ok(await store.leaseTimeToLive({ ID: 2 }))).toMatchObject({ ID: 2, TTL: -1 });
    expect(ok(await store.leaseKeepAlive(2))).toMatchObject({ ID: 2, TTL: 0 });
  });

  it("revoking deletes every attached key in one revision", async () => {
    const store = freshStore();
    ok(await store.leaseGrant({ TTL: 30, ID: 9 }));
    ok(await store.put({ key: b("l1"), value: b("x"), lease: 9 }));
    ok(await store.put({ key: b("l2"), value: b("x"), lease: 9 }));
    ok(await store.put({ key: b("other"), value: b("x") })); // 4
    expect(ok(await store.leaseRevoke(9)).header.revision).toBe(5);
    const left = ok(await store.range({ key: b("a"), range_end: b("z") }));
    expect(left.kvs.map((kv) => text(kv.key))).toEqual(["other"]);
    expect(failure(await store.leaseRevoke(9))).toEqual({ code: 5, message: "etcdserver: requested lease not found" });
    expect(failure(await store.put({ key: b("l1"), value: b("x"), lease: 9 })).message).toBe("etcdserver: requested lease not found");
  });

  it("an expired lease's keys are deleted in one revision by the alarm, and watchers see it", async () => {
    const store = freshStore();
    ok(await store.leaseGrant({ TTL: 2, ID: 77 }));
    ok(await store.put({ key: b("e1"), value: b("x"), lease: 77 }));
    ok(await store.put({ key: b("e2"), value: b("x"), lease: 77 })); // 3
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("e"), range_end: btoa("f") } });
    expect((await watch.next()).result.created).toBe(true);
    await sleep(2100);
    await runDurableObjectAlarm(store); // runs it now if it has not fired by itself
    const deleted = (await watch.next(3000)).result;
    expect(deleted.events.map((e: any) => [e.type, atob(e.kv.key), e.kv.mod_revision])).toEqual([
      ["DELETE", "e1", "4"], ["DELETE", "e2", "4"],
    ]);
    expect(ok(await store.range({ key: b("e"), range_end: b("f") })).kvs).toEqual([]);
    expect(ok(await store.leaseTimeToLive({ ID: 77 })).TTL).toBe(-1);
    watch.close();
  });

  it("expiry survives a restart of the store", async () => {
    const store = freshStore();
    ok(await store.leaseGrant({ TTL: 2, ID: 5 }));
    ok(await store.put({ key: b("r"), value: b("x"), lease: 5 }));
    await evictDurableObject(store, { webSockets: "close" });
    await sleep(2100);
    await runDurableObjectAlarm(store);
    const after = ok(await store.range({ key: b("r") }));
    expect(after.kvs).toEqual([]);
    expect(after.header.revision).toBe(3);
  });
});

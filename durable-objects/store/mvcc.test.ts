// The store's MVCC semantics, through its RPC surface in real workerd.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { drizzle } from "drizzle-orm/durable-sqlite";
import { describe, expect, it } from "vitest";
import { Mvcc } from "./mvcc.ts";
import * as schema from "./schema.ts";
import { b, failure, freshStore, ok, show, text } from "./testing.ts";

describe("revisions", () => {
  it("starts at revision 1; every write gets the next revision; a key carries create/mod revision and version", async () => {
    const store = freshStore();
    expect(ok(await store.range({ key: b("a") })).header.revision).toBe(1);
    expect(ok(await store.put({ key: b("a"), value: b("1") })).header.revision).toBe(2);
    expect(ok(await store.put({ key: b("b"), value: b("1") })).header.revision).toBe(3);
    expect(ok(await store.put({ key: b("a"), value: b("2") })).header.revision).toBe(4);
    const [a] = ok(await store.range({ key: b("a") })).kvs;
    expect(a).toMatchObject({ create_revision: 2, mod_revision: 4, version: 2, lease: 0 });
    expect(text(a!.value)).toBe("2");
  });

  it("a delete writes a tombstone revision; a recreated key starts a new life", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("k"), value: b("1") })); // 2
    const del = ok(await store.deleteRange({ key: b("k") })); // 3
    expect(del).toMatchObject({ header: { revision: 3 }, deleted: 1 });
    expect(ok(await store.range({ key: b("k") })).kvs).toEqual([]);
    ok(await store.put({ key: b("k"), value: b("again") })); // 4
    expect(ok(await store.range({ key: b("k") })).kvs[0]).toMatchObject({ create_revision: 4, mod_revision: 4, version: 1 });
  });

  it("a delete of nothing and a failed write leave the revision where it was", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("k"), value: b("1") }));
    expect(ok(await store.deleteRange({ key: b("nothing") })).header.revision).toBe(2);
    failure(await store.put({ key: b("k"), value: b("2"), lease: 12345 }));
    expect(ok(await store.range({ key: b("k") })).header.revision).toBe(2);
  });

  it("reads at any retained past revision see the keyspace as it was", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("a"), value: b("a1") })); // 2
    ok(await store.put({ key: b("b"), value: b("b1") })); // 3
    ok(await store.put({ key: b("a"), value: b("a2") })); // 4
    ok(await store.deleteRange({ key: b("b") })); // 5
    ok(await store.put({ key: b("c"), value: b("c1") })); // 6
    const at = async (revision: number) =>
      ok(await store.range({ key: b("a"), range_end: b("z"), revision })).kvs.map(show);
    expect(await at(1)).toEqual([]);
    expect(await at(2)).toEqual(["a=a1@2 v1"]);
    expect(await at(3)).toEqual(["a=a1@2 v1", "b=b1@3 v1"]);
    expect(await at(4)).toEqual(["a=a2@4 v2", "b=b1@3 v1"]);
    expect(await at(5)).toEqual(["a=a2@4 v2"]);
    expect(await at(6)).toEqual(["a=a2@4 v2", "c=c1@6 v1"]);
    // The header always tells the current revision.
    expect(ok(await store.range({ key: b("a"), revision: 2 })).header.revision).toBe(6);
  });

  it("survives a restart: state and revision come back from SQLite", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("a"), value: b("1") }));
    ok(await store.put({ key: b("a"), value: b("2") }));
    await evictDurableObject(store, { webSockets: "close" });
    const after = ok(await store.range({ key: b("a") }));
    expect(after.header.revision).toBe(3);
    expect(after.kvs.map(show)).toEqual(["a=2@3 v2"]);
    expect(ok(await store.range({ key: b("a"), revision: 2 })).kvs.map(show)).toEqual(["a=1@2 v1"]);
  });

  it("after a restart the clock goes on from the newest write, a delete that left no key and a compaction included", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("a"), value: b("1") })); // 2
    ok(await store.put({ key: b("b"), value: b("1") })); // 3
    ok(await store.deleteRange({ key: b("a"), range_end: b("c") })); // 4
    ok(await store.compact({ revision: 4 }));
    await evictDurableObject(store, { webSockets: "close" });
    expect(await store.status()).toMatchObject({ header: { revision: 4 }, compactRevision: 4 });
    expect(ok(await store.put({ key: b("a"), value: b("2") })).header.revision).toBe(5);
    await evictDurableObject(store, { webSockets: "close" });
    expect(ok(await store.range({ key: b("a") })).kvs.map(show)).toEqual(["a=2@5 v1"]);
    expect(ok(await store.put({ key: b("a"), value: b("3") })).header.revision).toBe(6);
  });
});

describe("range", () => {
  async function seeded() {
    const store = freshStore();
    for (const [k, v] of [["a", "5"], ["b", "4"], ["c", "3"], ["d", "2"], ["e", "1"]] as const) {
      ok(await store.put({ key: b(k), value: b(v) }));
    }
    ok(await store.put({ key: b("c"), value: b("3x") })); // c: version 2, mod 7
    return store;
  }
  const keys = (r: { kvs: { key: Uint8Array }[] }) => r.kvs.map((kv) => text(kv.key));

  it("reads one key, a range, everything from a key on, and a prefix", async () => {
    const store = await seeded();
    expect(keys(ok(await store.range({ key: b("c") })))).toEqual(["c"]);
    expect(keys(ok(await store.range({ key: b("b"), range_end: b("d") })))).toEqual(["b", "c"]);
    expect(keys(ok(await store.range({ key: b("c"), range_end: new Uint8Array([0]) })))).toEqual(["c", "d", "e"]);
    expect(keys(ok(await store.range({ key: b("a"), range_end: b("b") })))).toEqual(["a"]);
  });

  it("limits, telling whether there is more and how many there are in all", async () => {
    const store = await seeded();
    const page = ok(await store.range({ key: b("a"), range_end: b("z"), limit: 2 }));
    expect(keys(page)).toEqual(["a", "b"]);
    expect(page.more).toBe(true);
    expect(page.count).toBe(5);
    const all = ok(await store.range({ key: b("a"), range_end: b("z"), limit: 5 }));
    expect(all.more).toBe(false);
  });

  it("answers keys only or a count only", async () => {
    const store = await seeded();
    const keysOnly = ok(await store.range({ key: b("a"), range_end: b("z"), keys_only: true }));
    expect(keysOnly.kvs.every((kv) => kv.value.length === 0)).toBe(true);
    expect(keysOnly.kvs[2]).toMatchObject({ version: 2, mod_revision: 7 });
    const countOnly = ok(await store.range({ key: b("a"), range_end: b("z"), count_only: true }));
    expect(countOnly).toMatchObject({ kvs: [], count: 5 });
  });

  it("sorts by any target and filters by mod and create revision", async () => {
    const store = await seeded();
    const range = { key: b("a"), range_end: b("z") };
    expect(keys(ok(await store.range({ ...range, sort_target: "VALUE" })))).toEqual(["e", "d", "c", "b", "a"]);
    expect(keys(ok(await store.range({ ...range, sort_target: "KEY", sort_order: "DESCEND" })))).toEqual(["e", "d", "c", "b", "a"]);
    expect(keys(ok(await store.range({ ...range, sort_target: "MOD", sort_order: "DESCEND", limit: 1 })))).toEqual(["c"]);
    expect(keys(ok(await store.range({ ...range, min_mod_revision: 5 })))).toEqual(["c", "d", "e"]);
    expect(keys(ok(await store.range({ ...range, max_create_revision: 3 })))).toEqual(["a", "b"]);
    expect(keys(ok(await store.range({ ...range, min_create_revision: 4, max_mod_revision: 5 })))).toEqual(["d"]);
  });

  it("with value_contains, answers and counts only the keys whose value may hold every text (values not stored as JSON always may)", async () => {
    const store = freshStore();
    const pod = (node: string) => b(JSON.stringify({ kind: "Pod", spec: { nodeName: node } }));
    ok(await store.put({ key: b("p/1"), value: pod("node-a") })); // 2
    ok(await store.put({ key: b("p/2"), value: pod("node-b") })); // 3
    ok(await store.put({ key: b("p/3"), value: b("k8s:enc:aesgcm:v1:key1:sealed") })); // 4
    ok(await store.put({ key: b("p/4"), value: pod("node-a") })); // 5
    ok(await store.put({ key: b("p/5"), value: new Uint8Array(0) })); // 6
    ok(await store.put({ key: b("p/2"), value: pod("node-a") })); // 7
    const onA = { key: b("p/"), range_end: b("p0"), value_contains: ['"nodeName":"node-a"', '"kind":"Pod"'] };
    const all = ok(await store.range(onA));
    expect(keys(all)).toEqual(["p/1", "p/2", "p/3", "p/4", "p/5"]);
    expect(all.count).toBe(5);
    expect(keys(ok(await store.range({ ...onA, value_contains: ['"nodeName":"node-b"'] })))).toEqual(["p/3", "p/5"]);
    const page = ok(await store.range({ ...onA, value_contains: ['"nodeName":"node-a"', '"kind":"Pod"', "node-a"], limit: 2 }));
    expect([keys(page), page.more, page.count]).toEqual([["p/1", "p/2"], true, 5]);
    expect(ok(await store.range({ ...onA, value_contains: ['"nodeName":"node-c"'], count_only: true })).count).toBe(2);
    // At a past revision p/2 was still on node-b; one key is judged the same way.
    expect(keys(ok(await store.range({ ...onA, revision: 6 })))).toEqual(["p/1", "p/3", "p/4", "p/5"]);
    expect(keys(ok(await store.range({ key: b("p/2"), value_contains: ['"nodeName":"node-b"'] })))).toEqual([]);
    expect(ok(await store.range({ key: b("p/2"), value_contains: ['"nodeName":"node-a"'], count_only: true })).count).toBe(1);
  });

  it("refuses future revisions, empty keys and inverted ranges", async () => {
    const store = await seeded();
    expect(failure(await store.range({ key: b("a"), revision: 99 }))).toEqual({ code: 11, message: "etcdserver: mvcc: required revision is a future revision" });
    expect(failure(await store.range({ key: new Uint8Array(0) }))).toEqual({ code: 3, message: "etcdserver: key is not provided" });
    expect(failure(await store.range({ key: b("d"), range_end: b("b") })).code).toBe(3);
  });
});

describe("txn", () => {
  it("applies the success branch when every compare holds, all at one revision", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("x"), value: b("1") }));
    const res = ok(await store.txn({
      compare: [{ key: b("x"), target: "VALUE", result: "EQUAL", value: b("1") }, { key: b("y"), target: "VERSION", result: "EQUAL", version: 0 }],
      success: [{ request_put: { key: b("x"), value: b("2") } }, { request_put: { key: b("y"), value: b("1") } }, { request_range: { key: b("x") } }],
      failure: [{ request_put: { key: b("failed"), value: b("1") } }],
    }));
    expect(res.succeeded).toBe(true);
    expect(res.header.revision).toBe(3);
    const range = res.responses[2] as { response_range: { kvs: { mod_revision: number }[]; header: { revision: number } } };
    expect(range.response_range.kvs[0]!.mod_revision).toBe(3);
    expect(range.response_range.header.revision).toBe(3);
    expect(ok(await store.range({ key: b("y") })).kvs[0]!.mod_revision).toBe(3);
    expect(ok(await store.range({ key: b("failed") })).kvs).toEqual([]);
  });

  it("a txn whose compare fails applies nothing from its success branch", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("x"), value: b("1") }));
    const res = ok(await store.txn({
      compare: [{ key: b("x"), target: "MOD", result: "GREATER", mod_revision: 2 }],
      success: [{ request_put: { key: b("x"), value: b("2") } }, { request_delete_range: { key: b("a"), range_end: b("w") } }],
    }));
    expect(res).toMatchObject({ succeeded: false, responses: [], header: { revision: 2 } });
    expect(ok(await store.range({ key: b("x") })).kvs.map(show)).toEqual(["x=1@2 v1"]);
  });

  it("compares every target with every result, over a range too, missing keys as zero", async () => {
    const store = freshStore();
    ok(await store.leaseGrant({ TTL: 60, ID: 7 }));
    ok(await store.put({ key: b("k1"), value: b("m"), lease: 7 })); // 2
    ok(await store.put({ key: b("k2"), value: b("n") })); // 3
    const holds = async (compare: Parameters<typeof store.txn>[0]["compare"]) => ok(await store.txn({ compare })).succeeded;
    const k1 = b("k1");
    expect(await holds([{ key: k1, target: "VERSION", result: "EQUAL", version: 1 }])).toBe(true);
    expect(await holds([{ key: k1, target: "CREATE", result: "NOT_EQUAL", create_revision: 2 }])).toBe(false);
    expect(await holds([{ key: k1, target: "MOD", result: "LESS", mod_revision: 3 }])).toBe(true);
    expect(await holds([{ key: k1, target: "VALUE", result: "GREATER", value: b("a") }])).toBe(true);
    expect(await holds([{ key: k1, target: "LEASE", result: "EQUAL", lease: 7 }])).toBe(true);
    expect(await holds([{ key: b("k"), range_end: b("l"), target: "VERSION", result: "EQUAL", version: 1 }])).toBe(true);
    expect(await holds([{ key: b("k"), range_end: b("l"), target: "MOD", result: "GREATER", mod_revision: 2 }])).toBe(false);
    expect(await holds([{ key: b("missing"), target: "VERSION", result: "EQUAL", version: 0 }])).toBe(true);
    expect(await holds([{ key: b("missing"), target: "VALUE", result: "NOT_EQUAL", value: b("x") }])).toBe(false);
  });

  it("is all-or-nothing: an op that fails late rolls back the ops before it", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("x"), value: b("1") }));
    const err = failure(await store.txn({
      success: [{ request_put: { key: b("x"), value: b("2") } }, { request_put: { key: b("y"), value: b("1"), lease: 999 } }],
    }));
    expect(err.message).toBe("etcdserver: requested lease not found");
    const now = ok(await store.range({ key: b("a"), range_end: b("z") }));
    expect(now.header.revision).toBe(2);
    expect(now.kvs.map(show)).toEqual(["x=1@2 v1"]);
  });

  it("refuses a branch that writes one key twice, or too many ops", async () => {
    const store = freshStore();
    expect(failure(await store.txn({ success: [{ request_put: { key: b("a") } }, { request_put: { key: b("a") } }] })).message)
      .toBe("etcdserver: duplicate key given in txn request");
    expect(failure(await store.txn({ success: [{ request_delete_range: { key: b("a"), range_end: b("c") } }, { request_put: { key: b("b") } }] })).message)
      .toBe("etcdserver: duplicate key given in txn request");
    const many = Array.from({ length: 129 }, (_, i) => ({ request_put: { key: b(`k${i}`) } }));
    expect(failure(await store.txn({ success: many })).message).toBe("etcdserver: too many operations in txn request");
    expect(ok(await store.range({ key: b("a") })).header.revision).toBe(1);
  });

  it("runs nested txns with their own compares", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("a"), value: b("1") }));
    const res = ok(await store.txn({
      success: [{ request_txn: {
        compare: [{ key: b("a"), target: "VALUE", result: "EQUAL", value: b("nope") }],
        success: [{ request_put: { key: b("s"), value: b("1") } }],
        failure: [{ request_put: { key: b("f"), value: b("1") } }],
      } }],
    }));
    expect(res.succeeded).toBe(true);
    // etcd leaves a nested txn's header empty.
    expect(res.responses[0]).toMatchObject({ response_txn: { succeeded: false, header: { revision: 0 } } });
    expect(ok(await store.range({ key: b("f") })).kvs).toHaveLength(1);
    expect(ok(await store.range({ key: b("s") })).kvs).toHaveLength(0);
  });

  it("20 concurrent compare-and-swap incrementers lose no update", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("counter"), value: b("0") }));
    const perClient = 5;
    let conflicts = 0;
    const client = async () => {
      for (let done = 0; done < perClient; ) {
        const [kv] = ok(await store.range({ key: b("counter") })).kvs;
        const next = String(Number(text(kv!.value)) + 1);
        const res = ok(await store.txn({
          compare: [{ key: b("counter"), target: "MOD", result: "EQUAL", mod_revision: kv!.mod_revision }],
          success: [{ request_put: { key: b("counter"), value: b(next) } }],
        }));
        if (res.succeeded) done++;
        else conflicts++;
      }
    };
    await Promise.all(Array.from({ length: 20 }, client));
    const [kv] = ok(await store.range({ key: b("counter") })).kvs;
    expect(text(kv!.value)).toBe("100");
    expect(kv!.version).toBe(101);
    expect(conflicts).toBeGreaterThan(0); // the clients really did race
  }, 60_000);
});

describe("put options and bad input", () => {
  it("returns the previous key-value on request, and keeps value or lease when told to", async () => {
    const store = freshStore();
    ok(await store.leaseGrant({ TTL: 60, ID: 5 }));
    ok(await store.put({ key: b("k"), value: b("v1"), lease: 5 }));
    const put = ok(await store.put({ key: b("k"), value: b("v2"), prev_kv: true, ignore_lease: true }));
    expect(show(put.prev_kv!)).toBe("k=v1@2 v1");
    ok(await store.put({ key: b("k"), ignore_value: true }));
    const [kv] = ok(await store.range({ key: b("k") })).kvs;
    expect(kv).toMatchObject({ version: 3, lease: 0 });
    expect(text(kv!.value)).toBe("v2");
    expect(failure(await store.put({ key: b("absent"), ignore_value: true })).message).toBe("etcdserver: key not found");
    expect(failure(await store.put({ key: b("k"), value: b("x"), ignore_value: true })).message).toBe("etcdserver: value is provided");
  });

  it("refuses values over 1.5 MiB and empty keys, storing nothing", async () => {
    const store = freshStore();
    const big = new Uint8Array(1.5 * 1024 * 1024 + 1);
    expect(failure(await store.put({ key: b("big"), value: big }))).toEqual({ code: 3, message: "etcdserver: request is too large" });
    expect(failure(await store.put({ key: new Uint8Array(0), value: b("x") })).message).toBe("etcdserver: key is not provided");
    expect(failure(await store.deleteRange({ key: b("z"), range_end: b("a") })).code).toBe(3);
    expect(ok(await store.range({ key: b("big") })).header.revision).toBe(1);
    // Just under the limit is fine.
    const fits = new Uint8Array(1.5 * 1024 * 1024 - 3);
    ok(await store.put({ key: b("big"), value: fits }));
    expect(ok(await store.range({ key: b("big") })).kvs[0]!.value.length).toBe(fits.length);
  });
});

describe("compaction", () => {
  it("drops history below the revision, keeps live values, and answers compacted for older reads", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("a"), value: b("1") })); // 2
    ok(await store.put({ key: b("a"), value: b("2") })); // 3
    ok(await store.put({ key: b("b"), value: b("1") })); // 4
    ok(await store.deleteRange({ key: b("b") })); // 5
    ok(await store.put({ key: b("a"), value: b("3") })); // 6
    ok(await store.compact({ revision: 5 }));
    expect(failure(await store.range({ key: b("a"), revision: 4 }))).toEqual({ code: 11, message: "etcdserver: mvcc: required revision has been compacted" });
    const range = (revision: number) => store.range({ key: b("a"), range_end: b("z"), revision });
    expect(ok(await range(5)).kvs.map(show)).toEqual(["a=2@3 v2"]);
    expect(ok(await range(6)).kvs.map(show)).toEqual(["a=3@6 v3"]);
    expect(failure(await store.compact({ revision: 5 })).message).toBe("etcdserver: mvcc: required revision has been compacted");
    expect(failure(await store.compact({ revision: 60 })).message).toBe("etcdserver: mvcc: required revision is a future revision");
    expect((await store.status()).compactRevision).toBe(5);
  });

  it("the automatic policy keeps the last N revisions and at least T minutes of history", async () => {
    const store = freshStore();
    await runInDurableObject(store, (_instance, state) => {
      let now = 1_000_000;
      const mvcc = new Mvcc(drizzle(state.storage, { schema }), state.storage, () => now);
      mvcc.load();
      // Ten writes a minute apart: revisions 2..11 at minutes 0..9.
      for (let i = 0; i < 10; i++, now += 60_000) mvcc.put({ key: b("k"), value: b(String(i)) });
      now -= 60_000;
      // Keep 3 revisions and 5 minutes: the time floor (revision 6, written at minute 4) wins over 11 - 3.
      expect(mvcc.autoCompactionTarget(3, 5 * 60_000)).toBe(6);
      // Keep 8 revisions and 1 minute: the count wins.
      expect(mvcc.autoCompactionTarget(8, 60_000)).toBe(3);
      mvcc.compact(6);
      expect(mvcc.autoCompactionTarget(3, 5 * 60_000)).toBeUndefined();
      expect(mvcc.range({ key: b("k"), revision: 6 }).kvs.map(show)).toEqual(["k=4@6 v5"]);
      expect(() => mvcc.range({ key: b("k"), revision: 5 })).toThrow("compacted");
    });
  });
});

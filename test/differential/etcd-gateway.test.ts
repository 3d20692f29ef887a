// The differential suite: the same request sequences against etcd 3.4 and our gateway, answers
// compared field by field. Both stores start empty at revision 1 and see every write in the same
// order, so revisions match exactly; each test keeps to its own key prefix.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { b64, Peers, revisionOf, type Answer, type JsonObject, type Leeway } from "./peers.ts";

let peers: Peers;

beforeAll(async () => {
  peers = await Peers.start();
});

afterAll(async () => {
  await peers?.stop();
});

const both = (path: string, body: object, leeway?: Leeway) => peers.both(path, body, leeway);

/** The keys of one test, all under `prefix/`. */
function keyspace(prefix: string) {
  return {
    key: (name: string) => b64(`${prefix}/${name}`),
    /** [start, end) covers every key of the test. */
    start: b64(`${prefix}/`),
    end: b64(`${prefix}0`),
  };
}

/** range_end "\0": every key from `key` on. */
const FROM_KEY = b64("\0");

const kvsOf = (answer: Answer): JsonObject[] => (answer.body.kvs as JsonObject[] | undefined) ?? [];
const put = (key: string, value: string, extra: object = {}) => both("/kv/put", { key, value: b64(value), ...extra });

describe("put", () => {
  it("overwrites with and without prev_kv, stores empty values, refuses the empty key", async () => {
    const k = keyspace("put");
    await put(k.key("a"), "1");
    await put(k.key("a"), "2", { prev_kv: true });
    await both("/kv/put", { key: k.key("a"), prev_kv: true });
    await put(k.key("b"), "x", { prev_kv: true });
    await both("/kv/put", { key: k.key("c"), value: b64("numbers"), lease: 0, prev_kv: false });
    await both("/kv/range", { key: k.start, range_end: k.end });
    await both("/kv/put", { value: b64("no key") });
    await both("/kv/put", { key: "", value: b64("no key") });
  });

  it("attaches leases and keeps value or lease with ignore_value and ignore_lease", async () => {
    const k = keyspace("lput");
    await both("/lease/grant", { ID: "1101", TTL: "600" });
    await both("/lease/grant", { ID: "1102", TTL: "600" });
    await put(k.key("a"), "v1", { lease: "1101" });
    await put(k.key("a"), "v2", { ignore_lease: true, prev_kv: true });
    await both("/kv/put", { key: k.key("a"), lease: "1102", ignore_value: true, prev_kv: true });
    await both("/kv/put", { key: k.key("a"), ignore_value: true, ignore_lease: true, prev_kv: true });
    await both("/kv/put", { key: k.key("a"), ignore_value: true, prev_kv: true });
    await both("/kv/range", { key: k.key("a") });

    await put(k.key("a"), "x", { ignore_value: true });
    await both("/kv/put", { key: k.key("a"), lease: "1101", ignore_lease: true });
    await both("/kv/put", { key: k.key("missing"), ignore_value: true });
    await put(k.key("missing"), "x", { ignore_lease: true });
    await put(k.key("a"), "x", { lease: "999999" });
    // Both wrong: a plain put looks at the lease first, a put inside a txn at the key first.
    await both("/kv/put", { key: k.key("missing"), ignore_value: true, lease: "999999" });
    await both("/kv/txn", { success: [{ request_put: { key: k.key("missing"), ignore_value: true, lease: "999999" } }] });
    await both("/kv/txn", { success: [{ request_put: { key: k.key("a"), value: b64("x"), lease: "999999" } }] });
    await both("/kv/range", { key: k.start, range_end: k.end });

    await both("/lease/revoke", { ID: "1101" });
    await both("/lease/revoke", { ID: "1102" });
    await both("/kv/range", { key: k.start, range_end: k.end });
  });
});

describe("range", () => {
  it("reads one key, a prefix, [key, range_end) and every key from a key on", async () => {
    const k = keyspace("range");
    for (const name of ["a", "b", "b/1", "b/2", "c"]) await put(k.key(name), `value of ${name}`);
    await both("/kv/range", { key: k.key("a") });
    await both("/kv/range", { key: k.key("nope") });
    await both("/kv/range", { key: k.start, range_end: k.end });
    await both("/kv/range", { key: k.key("b"), range_end: k.key("c") });
    await both("/kv/range", { key: k.key("b/"), range_end: k.key("b0") });
    await both("/kv/range", { key: k.key("a"), range_end: k.key("a\0") });
    await both("/kv/range", { key: k.key("zzz"), range_end: k.end });
    await both("/kv/range", { key: "" });
    await both("/kv/range", {});

    // "~" sorts after every other test's keys, so "from here on" stays within this test.
    const tail = keyspace("~range");
    for (const name of ["a", "b", "c"]) await put(tail.key(name), name);
    await both("/kv/range", { key: tail.key("b"), range_end: FROM_KEY });
    await both("/kv/range", { key: tail.start, range_end: FROM_KEY, keys_only: true });
    // key "\0" with range_end "\0" is the whole store.
    await both("/kv/range", { key: FROM_KEY, range_end: FROM_KEY, count_only: true });
    await both("/kv/range", { key: FROM_KEY, range_end: FROM_KEY, limit: "3", keys_only: true });
  });

  it("limits with more and count, keys_only and count_only", async () => {
    const k = keyspace("limit");
    for (const name of ["a", "b", "c", "d", "e"]) await put(k.key(name), name.repeat(3));
    const range = { key: k.start, range_end: k.end };
    for (const limit of ["-1", "0", "1", "2", "4", "5", "6"]) {
      await both("/kv/range", { ...range, limit });
      await both("/kv/range", { ...range, limit, keys_only: true });
      await both("/kv/range", { ...range, limit, count_only: true });
    }
    await both("/kv/range", { ...range, limit: 2 });
    await both("/kv/range", { ...range, keys_only: true });
    await both("/kv/range", { ...range, count_only: true });
    await both("/kv/range", { ...range, count_only: true, keys_only: true });
    await both("/kv/range", { key: k.key("a"), count_only: true });
    await both("/kv/range", { key: k.key("a"), keys_only: true });
    await both("/kv/range", { key: k.key("nope"), count_only: true });
    await both("/kv/range", { ...range, serializable: true });
  });

  it("reads at past, current and future revisions", async () => {
    const k = keyspace("history");
    const range = { key: k.start, range_end: k.end };
    const first = revisionOf(await put(k.key("a"), "v1"));
    await put(k.key("b"), "v1");
    await put(k.key("a"), "v2");
    await both("/kv/deleterange", { key: k.key("b") });
    await both("/kv/txn", { success: [{ request_put: { key: k.key("c"), value: b64("v1") } }, { request_put: { key: k.key("d"), value: b64("v1") } }] });
    const last = revisionOf(await put(k.key("a"), "v3"));
    for (let revision = first - 1; revision <= last; revision++) {
      await both("/kv/range", { ...range, revision: String(revision) });
      await both("/kv/range", { ...range, revision, count_only: true });
      await both("/kv/range", { ...range, revision, limit: "1" });
      await both("/kv/range", { key: k.key("a"), revision, keys_only: true });
    }
    await both("/kv/range", { ...range, revision: "0" });
    await both("/kv/range", { ...range, revision: String(last + 1) });
    await both("/kv/range", { key: k.key("a"), revision: String(last + 1000) });
    await both("/kv/txn", { success: [{ request_range: { ...range, revision: String(last + 1) } }] });
    await both("/kv/txn", { success: [{ request_range: { ...range, revision: String(first) } }] });
  });

  it("sorts by every target in every order", async () => {
    const k = await writeSortable("sort");
    const range = { key: k.start, range_end: k.end };
    for (const sort_target of ["KEY", "VERSION", "CREATE", "MOD", "VALUE"]) {
      for (const sort_order of ["NONE", "ASCEND", "DESCEND"]) {
        await both("/kv/range", { ...range, sort_target, sort_order });
        await both("/kv/range", { ...range, sort_target, sort_order, limit: "2" });
      }
      await both("/kv/range", { ...range, sort_target });
      await both("/kv/range", { ...range, sort_target, keys_only: true, sort_order: "DESCEND" });
    }
    await both("/kv/range", { ...range, sort_order: "DESCEND" });
    await both("/kv/range", { ...range, sort_order: 2, sort_target: 3 });
    await both("/kv/range", { ...range, sort_order: "SIDEWAYS" });
    await both("/kv/range", { ...range, sort_target: "COLOUR" });
  });

  it("filters by min and max mod and create revision", async () => {
    const k = await writeSortable("filter");
    const range = { key: k.start, range_end: k.end };
    const all = kvsOf(await both("/kv/range", range));
    const mods = all.map((kv) => Number(kv.mod_revision)).sort((a, b) => a - b);
    const creates = all.map((kv) => Number(kv.create_revision)).sort((a, b) => a - b);
    for (const [min, max] of [["min_mod_revision", "max_mod_revision"], ["min_create_revision", "max_create_revision"]] as const) {
      const revisions = min === "min_mod_revision" ? mods : creates;
      for (const at of [revisions[0]! - 1, revisions[1]!, revisions[2]! + 1, revisions[4]! + 1]) {
        await both("/kv/range", { ...range, [min]: String(at) });
        await both("/kv/range", { ...range, [max]: String(at) });
        await both("/kv/range", { ...range, [min]: String(at), limit: "1" });
        await both("/kv/range", { ...range, [max]: String(at), count_only: true });
      }
      await both("/kv/range", { ...range, [min]: String(revisions[1]), [max]: String(revisions[3]) });
      await both("/kv/range", { ...range, [min]: String(revisions[1]), [max]: String(revisions[3]), sort_order: "DESCEND", sort_target: "MOD" });
    }
    await both("/kv/range", { ...range, min_mod_revision: String(mods[1]), max_create_revision: String(creates[3]), keys_only: true });
  });
});

/**
 * Five keys whose orders by key, version, create revision, mod revision and value all differ
 * and have no ties (Go's sort is not stable, so ties would make etcd's order arbitrary).
 */
async function writeSortable(prefix: string) {
  const k = keyspace(prefix);
  const values: Record<string, string> = { a: "m", b: "z", c: "b", d: "q", e: "f" };
  for (const name of ["c", "a", "e", "b", "d"]) await put(k.key(name), values[name]!);
  for (const [name, updates] of [["d", 4], ["e", 3], ["a", 2], ["c", 1]] as const) {
    for (let i = 0; i < updates; i++) await put(k.key(name), values[name]!);
  }
  return k;
}

describe("txn", () => {
  const TARGETS = ["VERSION", "CREATE", "MOD", "VALUE", "LEASE"] as const;
  const RESULTS = ["EQUAL", "NOT_EQUAL", "GREATER", "LESS"] as const;
  const OPERAND = { VERSION: "version", CREATE: "create_revision", MOD: "mod_revision", VALUE: "value", LEASE: "lease" } as const;

  it("compares every target with every result, taking either branch", async () => {
    const k = keyspace("cmp");
    await both("/lease/grant", { ID: "1201", TTL: "600" });
    await put(k.key("x"), "v1");
    await put(k.key("x"), "v2", { lease: "1201" });
    const [x] = kvsOf(await both("/kv/range", { key: k.key("x") }));
    const branches = {
      success: [{ request_range: { key: k.key("x"), keys_only: true } }],
      failure: [{ request_range: { key: k.key("missing"), count_only: true } }],
    };
    for (const target of TARGETS) {
      for (const result of RESULTS) {
        for (const delta of [-1, 0, 1]) {
          const operand = target === "VALUE" ? b64(["v1", "v2", "v3"][delta + 1]!) : String(Number(x![OPERAND[target]]) + delta);
          await both("/kv/txn", { compare: [{ key: k.key("x"), target, result, [OPERAND[target]]: operand }], ...branches });
        }
      }
    }
    // Enums by number, operands as JSON numbers.
    await both("/kv/txn", { compare: [{ key: k.key("x"), target: 0, result: 2, version: 1 }], ...branches });
    await both("/lease/revoke", { ID: "1201" });
  });

  it("compares on missing keys", async () => {
    const k = keyspace("cmpmissing");
    const branches = { success: [{ request_range: { key: k.key("a") } }], failure: [{ request_range: { key: k.key("b") } }] };
    for (const target of TARGETS) {
      for (const result of RESULTS) {
        for (const operand of target === "VALUE" ? [undefined, "", b64("a")] : [undefined, "0", "1"]) {
          const compare = { key: k.key("missing"), target, result, ...(operand === undefined ? {} : { [OPERAND[target]]: operand }) };
          await both("/kv/txn", { compare: [compare], ...branches });
        }
      }
    }
  });

  it("compares over a range_end: every key in range must hold", async () => {
    const k = keyspace("cmprange");
    await put(k.key("r/a"), "same");
    await put(k.key("r/b"), "same");
    await put(k.key("r/b"), "same");
    await put(k.key("r/c"), "other");
    const range = { key: k.key("r/"), range_end: k.key("r0") };
    const empty = { key: k.key("s/"), range_end: k.key("s0") };
    const branches = { success: [{ request_range: { ...range, count_only: true } }], failure: [] };
    const compares = [
      { ...range, target: "VERSION", result: "GREATER", version: "0" },
      { ...range, target: "VERSION", result: "EQUAL", version: "1" },
      { ...range, target: "VERSION", result: "LESS", version: "3" },
      { ...range, target: "VALUE", result: "EQUAL", value: b64("same") },
      { ...range, target: "VALUE", result: "NOT_EQUAL", value: b64("zzz") },
      { ...range, target: "MOD", result: "LESS", mod_revision: "1000000" },
      { ...range, target: "CREATE", result: "GREATER", create_revision: "1" },
      { ...range, target: "LEASE", result: "EQUAL", lease: "0" },
      { ...empty, target: "VERSION", result: "EQUAL", version: "0" },
      { ...empty, target: "VALUE", result: "EQUAL" },
      { ...empty, target: "VALUE", result: "NOT_EQUAL", value: b64("x") },
      { key: k.key("r/b"), range_end: FROM_KEY, target: "CREATE", result: "GREATER", create_revision: "1" },
    ];
    for (const compare of compares) await both("/kv/txn", { compare: [compare], ...branches });
    // Several compares: all must hold.
    await both("/kv/txn", { compare: [compares[0], compares[2]], ...branches });
    await both("/kv/txn", { compare: [compares[0], compares[1]], ...branches });
  });

  it("writes in either branch, and reads its own writes", async () => {
    const k = keyspace("txnwrite");
    const txn = (version: string) => both("/kv/txn", {
      compare: [{ key: k.key("flag"), target: "VERSION", result: "EQUAL", version }],
      success: [
        { request_put: { key: k.key("flag"), value: b64("set"), prev_kv: true } },
        { request_put: { key: k.key("a"), value: b64("from success") } },
        { request_range: { key: k.start, range_end: k.end } },
      ],
      failure: [
        { request_range: { key: k.start, range_end: k.end } },
        { request_delete_range: { key: k.key("a"), prev_kv: true } },
        { request_delete_range: { key: k.key("nothing") } },
        { request_put: { key: k.key("b"), value: b64("from failure") } },
        { request_delete_range: { key: k.key("nothing") } },
        { request_range: { key: k.start, range_end: k.end, count_only: true } },
      ],
    });
    await txn("0");
    await txn("0");
    await txn("1");
    await both("/kv/txn", {});
    await both("/kv/txn", { compare: [{ key: k.key("flag"), target: "VERSION", result: "EQUAL", version: "2" }] });
    await both("/kv/txn", { success: [{ request_range: { key: k.start, range_end: k.end } }] });
    await both("/kv/txn", { success: [{ request_range: { key: "" } }] });
    await both("/kv/txn", { success: [{}] });
  });

  it("nests transactions, judging every compare against the state before the txn", async () => {
    const k = keyspace("nested");
    const absent = (name: string) => ({ key: k.key(name), target: "VERSION", result: "EQUAL", version: "0" });
    const all = { request_range: { key: k.start, range_end: k.end } };
    const nested = {
      compare: [absent("a")],
      success: [
        all,
        { request_put: { key: k.key("a"), value: b64("1") } },
        {
          request_txn: {
            compare: [absent("a")],
            success: [{ request_put: { key: k.key("b"), value: b64("2") } }, all],
            failure: [{ request_put: { key: k.key("c"), value: b64("3") } }],
          },
        },
        all,
        { request_delete_range: { key: k.key("nothing") } },
        { request_txn: { compare: [absent("b")], success: [{ request_txn: { success: [all] } }], failure: [all] } },
      ],
      failure: [
        {
          request_txn: {
            compare: [absent("c")],
            success: [{ request_put: { key: k.key("c"), value: b64("from failure") } }],
            failure: [{ request_delete_range: { key: k.start, range_end: k.end, prev_kv: true } }],
          },
        },
        all,
      ],
    };
    await both("/kv/txn", nested);
    await both("/kv/txn", nested);
    await both("/kv/txn", nested);
    await both("/kv/txn", nested);
    await both("/kv/txn", { success: [{ request_txn: { success: [all] } }, { request_txn: {} }] });
  });

  it("refuses a key written twice in one branch", async () => {
    const k = keyspace("dup");
    const p = (name: string) => ({ request_put: { key: k.key(name), value: b64(name) } });
    const d = (name: string, end?: string) => ({ request_delete_range: { key: k.key(name), ...(end === undefined ? {} : { range_end: end }) } });
    const txn = (...success: object[]) => both("/kv/txn", { success });
    await txn(p("a"), p("a"));
    await txn(p("a"), d("a"));
    await txn(d("a"), p("a"));
    await txn(d("a", k.key("c")), p("b"));
    await txn(p("c"), d("a", k.key("c")));
    await txn(d("a"), d("a"), d("a", k.key("z")));
    await both("/kv/txn", { success: [p("a")], failure: [p("a")] });
    await txn(p("a"), { request_txn: { success: [p("a")] } });
    await txn({ request_txn: { success: [p("a")] } }, p("a"));
    await txn({ request_txn: { success: [p("a")], failure: [p("a")] } });
    await txn({ request_txn: { success: [p("a")], failure: [p("b")] } }, { request_txn: { success: [p("b")] } });
    await txn({ request_txn: { success: [p("a")] } }, { request_txn: { failure: [p("a")] } });
    await txn(d("a", k.key("c")), { request_txn: { success: [p("b")] } });
    await txn({ request_txn: { failure: [d("a", k.key("c"))] } }, p("b"));
    await txn(p("b"), { request_txn: { failure: [d("a", k.key("c"))] } });
    await txn({ request_txn: { success: [d("a")] } }, { request_txn: { success: [p("a")] } });
    // etcd reads range_end "\0" as an empty interval here, so a delete from a key on clashes with nothing.
    await txn(d("m", FROM_KEY), p("n"));
    await txn(p("n"), { request_txn: { success: [d("m", FROM_KEY)] } });
    await both("/kv/range", { key: k.start, range_end: k.end });
  });
});

describe("delete range", () => {
  it("deletes one key, a range or nothing, with and without prev_kv", async () => {
    const k = keyspace("del");
    for (const name of ["a", "b", "c", "d", "e", "f"]) await put(k.key(name), name);
    await both("/kv/deleterange", { key: k.key("a") });
    await both("/kv/deleterange", { key: k.key("b"), prev_kv: true });
    await both("/kv/deleterange", { key: k.key("b"), prev_kv: true });
    await both("/kv/deleterange", { key: k.key("c"), range_end: k.key("e"), prev_kv: true });
    await both("/kv/deleterange", { key: k.key("c"), range_end: k.key("e"), prev_kv: true });
    await both("/kv/deleterange", { key: k.key("e"), range_end: k.end });
    await both("/kv/range", { key: k.start, range_end: k.end });
    await put(k.key("b"), "again");
    await both("/kv/range", { key: k.start, range_end: k.end });
    await both("/kv/deleterange", { key: k.start, range_end: k.end, prev_kv: true });
    await both("/kv/deleterange", { key: "" });

    const tail = keyspace("~~del");
    for (const name of ["a", "b", "c"]) await put(tail.key(name), name);
    await both("/kv/deleterange", { key: tail.key("b"), range_end: FROM_KEY, prev_kv: true });
    await both("/kv/range", { key: tail.start, range_end: FROM_KEY });
  });
});

describe("leases", () => {
  it("grants with a chosen ID, keeps alive, tells time to live and lists by expiry", async () => {
    const k = keyspace("lease");
    await both("/lease/grant", { ID: "1301", TTL: "600" });
    await both("/lease/grant", { ID: "1301", TTL: "60" });
    // Below the minimum TTL: etcd grants its 2 s minimum. Revoked at once, before it can expire.
    await both("/lease/grant", { ID: "1302", TTL: "1" });
    await both("/lease/revoke", { ID: "1302" });
    await both("/lease/grant", { ID: "1303", TTL: "9000000001" });
    await both("/lease/grant", { ID: "-1304", TTL: "600" });
    await both("/lease/revoke", { ID: "-1304" });

    const keepAlive = await both("/lease/keepalive", { ID: "1301" });
    expect(keepAlive.lineBreak).toBe(true);
    await both("/lease/keepalive", { ID: "1399" });

    // The TTL left counts down in seconds and may differ by one between the two requests.
    const ttl = { ignore: ["TTL"] };
    await both("/lease/timetolive", { ID: "1301" }, ttl);
    await both("/lease/timetolive", { ID: "1301", keys: true }, ttl);
    await put(k.key("a"), "a", { lease: "1301" });
    await both("/lease/timetolive", { ID: "1301", keys: true }, ttl);
    await put(k.key("b"), "b", { lease: "1301" });
    await put(k.key("c"), "c", { lease: "1301" });
    // etcd lists a lease's keys from a Go map, in no fixed order.
    await both("/lease/timetolive", { ID: "1301", keys: true }, { ...ttl, unordered: ["keys"] });
    await both("/kv/lease/timetolive", { ID: "1301" }, ttl);
    await both("/lease/timetolive", { ID: "1399", keys: true });

    // etcd lists leases soonest expiry first.
    await both("/lease/grant", { ID: "1311", TTL: "900" });
    await both("/lease/grant", { ID: "1310", TTL: "700" });
    await both("/lease/grant", { ID: "1312", TTL: "800" });
    await both("/lease/leases", {});
    await both("/kv/lease/leases", {});
    for (const ID of ["1301", "1310", "1311", "1312"]) await both("/lease/revoke", { ID });
    await both("/lease/leases", {});
  });

  it("revokes a lease's keys in one revision, and a missing lease not at all", async () => {
    const k = keyspace("revoke");
    await both("/lease/grant", { ID: "1320", TTL: "600" });
    await both("/lease/grant", { ID: "1321", TTL: "600" });
    for (const name of ["c", "a", "b"]) await put(k.key(name), name, { lease: "1320" });
    await put(k.key("other"), "other", { lease: "1321" });
    await put(k.key("a"), "a2", { ignore_lease: true });
    const before = revisionOf(await both("/kv/range", { key: k.start, range_end: k.end }));
    const revoked = await both("/lease/revoke", { ID: "1320" });
    expect(revisionOf(revoked)).toBe(before + 1);
    await both("/kv/range", { key: k.start, range_end: k.end });
    await both("/kv/range", { key: k.start, range_end: k.end, revision: String(before) });
    await both("/lease/revoke", { ID: "1320" });
    await both("/kv/lease/revoke", { ID: "1321" });
    // A lease with no keys goes without a new revision.
    await both("/lease/grant", { ID: "1322", TTL: "600" });
    await both("/lease/revoke", { ID: "1322" });
    await both("/kv/range", { key: k.start, range_end: k.end });
    await put(k.key("late"), "late", { lease: "1320" });
  });
});

describe("watch", () => {
  /** A history with puts, updates, deletes, a two-key txn and a lease revocation. */
  async function writeHistory(prefix: string) {
    const k = keyspace(prefix);
    const first = revisionOf(await put(k.key("a"), "v1"));
    await put(k.key("a"), "v2");
    await put(k.key("b"), "v1");
    await both("/kv/deleterange", { key: k.key("a") });
    await both("/kv/txn", { success: [{ request_put: { key: k.key("c"), value: b64("v1") } }, { request_put: { key: k.key("b"), value: b64("v2") } }] });
    await both("/lease/grant", { ID: "1401", TTL: "600" });
    await put(k.key("d"), "leased", { lease: "1401" });
    await put(k.key("e"), "leased", { lease: "1401" });
    await both("/lease/revoke", { ID: "1401" });
    await put(k.key("a"), "v3");
    await both("/kv/deleterange", { key: k.start, range_end: k.end });
    return { k, first };
  }

  it("replays history from a past start_revision, with and without prev_kv", async () => {
    const { k, first } = await writeHistory("wreplay");
    const range = { key: k.start, range_end: k.end };
    for (const create of [
      { ...range, start_revision: String(first) },
      { ...range, start_revision: String(first), prev_kv: true },
      { ...range, start_revision: String(first + 4), prev_kv: true },
      { key: k.key("a"), start_revision: String(first), prev_kv: true },
      { key: k.key("b"), start_revision: String(first) },
    ]) {
      const watch = await peers.watch([{ create_request: create }]);
      try {
        await watch.expectLines(2);
      } finally {
        watch.close();
      }
    }
  });

  it("filters out puts or deletes", async () => {
    const { k, first } = await writeHistory("wfilter");
    const range = { key: k.start, range_end: k.end, start_revision: String(first) };
    for (const filters of [["NOPUT"], ["NODELETE"], [1]]) {
      const watch = await peers.watch([{ create_request: { ...range, filters, prev_kv: true } }]);
      try {
        await watch.expectLines(2);
      } finally {
        watch.close();
      }
    }
    // With both filters nothing is left to replay: the progress answer comes right after "created".
    const nothing = await peers.watch([{ create_request: { ...range, filters: ["NOPUT", "NODELETE"] } }, { progress_request: {} }]);
    try {
      await nothing.expectLines(2);
    } finally {
      nothing.close();
    }
    const live = await peers.watch([{ create_request: { key: k.start, range_end: k.end, filters: ["NOPUT"] } }]);
    try {
      await live.expectLines(1);
      await put(k.key("x"), "filtered out");
      await both("/kv/deleterange", { key: k.key("x") });
      await live.expectLines(1);
    } finally {
      live.close();
    }
  });

  it("sends live events on a key and on a range, with and without prev_kv", async () => {
    const k = keyspace("wlive");
    await put(k.key("a"), "before");
    for (const create of [
      { key: k.start, range_end: k.end },
      { key: k.start, range_end: k.end, prev_kv: true },
      { key: k.start, range_end: FROM_KEY, prev_kv: true },
      { key: k.key("a"), prev_kv: true },
    ]) {
      const watch = await peers.watch([{ create_request: create }]);
      try {
        await watch.expectLines(1);
        await put(k.key("a"), "live");
        await watch.expectLines(1);
        await put(k.key("b"), "live");
        await put("b3V0c2lkZQ==", "outside the range");
        await both("/kv/txn", { success: [{ request_put: { key: k.key("c"), value: b64("1") } }, { request_put: { key: k.key("a"), value: b64("txn") } }] });
        await both("/kv/deleterange", { key: k.start, range_end: k.end, prev_kv: true });
        await put(k.key("a"), "after");
        await watch.expectLines(create.range_end ? 4 : 3);
      } finally {
        watch.close();
      }
    }
  });

  it("sends a lease revocation as one response of deletes", async () => {
    const k = keyspace("wlease");
    await both("/lease/grant", { ID: "1402", TTL: "600" });
    for (const name of ["b", "a", "c"]) await put(k.key(name), name, { lease: "1402" });
    const watch = await peers.watch([{ create_request: { key: k.start, range_end: k.end, prev_kv: true } }]);
    try {
      await watch.expectLines(1);
      await both("/lease/revoke", { ID: "1402" });
      await watch.expectLines(1);
    } finally {
      watch.close();
    }
  });

  it("names watchers, refuses a duplicate ID, cancels and answers progress requests", async () => {
    const k = keyspace("wids");
    const create = (name: string, watch_id?: string) => ({ create_request: { key: k.key(name), ...(watch_id ? { watch_id } : {}) } });
    const watch = await peers.watch([
      create("a"),
      create("b", "7"),
      create("c"),
      create("d", "7"),
      { cancel_request: { watch_id: "7" } },
      { cancel_request: { watch_id: "99" } },
      { progress_request: {} },
      create("e", "1"),
      create("f"),
    ]);
    try {
      await watch.expectLines(8);
      await put(k.key("b"), "to a cancelled watcher");
      await put(k.key("d"), "to a refused watcher");
      await put(k.key("c"), "to watcher 1");
      await put(k.key("f"), "to the next free ID");
      await watch.expectLines(2);
    } finally {
      watch.close();
    }
  });

  it("starts at a future revision", async () => {
    const k = keyspace("wfuture");
    const now = revisionOf(await put(k.key("a"), "now"));
    const watch = await peers.watch([{ create_request: { key: k.key("a"), start_revision: String(now + 2) } }]);
    try {
      await watch.expectLines(1);
      await put(k.key("a"), "too early");
      await put(k.key("a"), "on time");
      await watch.expectLines(1);
    } finally {
      watch.close();
    }
  });
});

describe("compaction", () => {
  it("compacts history: compacted reads and watches fail, later ones replay", async () => {
    const k = keyspace("compact");
    const range = { key: k.start, range_end: k.end };
    await both("/kv/compaction", { revision: "0" });
    const first = revisionOf(await put(k.key("a"), "v1"));
    await put(k.key("b"), "v1");
    await both("/kv/deleterange", { key: k.key("b") });
    await put(k.key("c"), "v1");
    const at = revisionOf(await put(k.key("a"), "v2"));
    await put(k.key("c"), "v2");
    await put(k.key("d"), "v1");
    const last = revisionOf(await put(k.key("a"), "v3"));

    await both("/kv/compaction", { revision: String(at) });
    for (let revision = first; revision <= last; revision++) {
      await both("/kv/range", { ...range, revision: String(revision) });
      await both("/kv/range", { key: k.key("a"), revision: String(revision), count_only: true });
    }
    await both("/kv/range", range);
    await both("/kv/txn", { success: [{ request_range: { ...range, revision: String(at - 1) } }] });
    await both("/kv/compaction", { revision: String(at) });
    await both("/kv/compaction", { revision: String(first) });
    await both("/kv/compaction", { revision: String(last + 1) });

    const compacted = await peers.watch([{ create_request: { ...range, start_revision: String(at - 1) } }]);
    try {
      await compacted.expectLines(2);
    } finally {
      compacted.close();
    }
    // From the compact revision itself history replays; an event there has no prev_kv to show.
    for (const create of [{ ...range, start_revision: String(at), prev_kv: true }, { ...range, start_revision: String(at + 1), prev_kv: true }]) {
      const watch = await peers.watch([{ create_request: create }]);
      try {
        await watch.expectLines(2);
      } finally {
        watch.close();
      }
    }

    await both("/kv/compaction", { revision: String(last), physical: true });
    await both("/kv/range", { ...range, revision: String(last - 1) });
    await both("/kv/range", { ...range, revision: String(last) });
    await both("/kv/compaction", { revision: "0" });
  });
});

describe("deliberate differences", () => {
  it("answers an inverted range with InvalidArgument where etcd answers nothing", async () => {
    const answer = await peers.ours("/kv/range", { key: b64("b"), range_end: b64("a") });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 3, message: "etcdserver: range end must be greater than key" });
  });

  it("answers 401 to a request without the admin's token", async () => {
    for (const headers of [{}, { Authorization: "Bearer not-the-token" }] as Record<string, string>[]) {
      const answer = await peers.ours("/kv/range", { key: b64("a") }, headers);
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ code: 16 });
    }
  });
});

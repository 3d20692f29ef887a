// The etcd v3 JSON gateway as an operator's curl sees it: admin-only, etcd's encodings and errors.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const ADMIN = { Authorization: "Bearer test-admin-token" };
const b64 = (s: string) => btoa(s);

let prefixes = 0;
/** Keys for one test, so tests sharing the main shard do not see each other's keys. */
function keyspace() {
  const prefix = `/gw-test-${++prefixes}-${crypto.randomUUID()}/`;
  return { key: (name: string) => b64(prefix + name), start: b64(prefix), end: b64(prefix.slice(0, -1) + "0") };
}

async function call(path: string, body: unknown, headers: Record<string, string> = ADMIN) {
  const res = await exports.default.fetch(`https://edgeplane.test${path}`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe("etcd gateway", () => {
  it("refuses requests without the admin's bearer token", async () => {
    const ks = keyspace();
    for (const headers of [{}, { Authorization: "Bearer wrong" }, { Authorization: "Basic dGVzdA==" }] as Record<string, string>[]) {
      const res = await call("/etcd/v3/kv/put", { key: ks.key("a"), value: b64("x") }, headers);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: 16 });
    }
    const read = await call("/etcd/v3/kv/range", { key: ks.key("a") });
    expect(read.body.kvs).toBeUndefined();
  });

  it("speaks etcd's JSON: base64 bytes, int64 as strings, zero values left out", async () => {
    const ks = keyspace();
    const put = await call("/etcd/v3/kv/put", { key: ks.key("a"), value: b64("hello") });
    expect(put.status).toBe(200);
    expect(Object.keys(put.body.header)).toEqual(["cluster_id", "member_id", "revision", "raft_term"]);
    const rev = put.body.header.revision;
    expect(rev).toMatch(/^\d+$/);
    const got = await call("/etcd/v3/kv/range", { key: ks.start, range_end: ks.end });
    expect(got.body.kvs).toEqual([{ key: ks.key("a"), create_revision: rev, mod_revision: rev, version: "1", value: b64("hello") }]);
    expect(got.body.count).toBe("1");
    expect(got.body.more).toBeUndefined();
    const txn = await call("/etcd/v3/kv/txn", {
      compare: [{ key: ks.key("a"), target: "VALUE", result: "EQUAL", value: b64("hello") }],
      success: [{ request_delete_range: { key: ks.key("a"), prev_kv: true } }],
    });
    expect(txn.body.succeeded).toBe(true);
    expect(txn.body.responses[0].response_delete_range).toMatchObject({ deleted: "1", prev_kvs: [{ value: b64("hello") }] });
    expect(txn.body.responses[0].response_delete_range.header).toEqual({ revision: String(Number(rev) + 1) });
  });

  it("answers bad input with etcd's typed errors and applies nothing", async () => {
    const ks = keyspace();
    const before = (await call("/etcd/v3/kv/range", { key: ks.key("a") })).body.header.revision;
    const cases: [string, unknown, number, number][] = [
      ["/etcd/v3/kv/put", "{not json", 400, 3],
      ["/etcd/v3/kv/put", { key: "%%%", value: b64("x") }, 400, 3],
      ["/etcd/v3/kv/put", { key: "", value: b64("x") }, 400, 3],
      ["/etcd/v3/kv/put", { key: ks.key("a"), value: b64("x"), lease: "abc" }, 400, 3],
      ["/etcd/v3/kv/put", { key: ks.key("a"), value: btoa("x".repeat(1.5 * 1024 * 1024 + 1)) }, 400, 3],
      ["/etcd/v3/kv/range", { key: ks.key("b"), range_end: ks.key("a") }, 400, 3],
      ["/etcd/v3/kv/deleterange", { key: ks.key("b"), range_end: ks.key("a") }, 400, 3],
      ["/etcd/v3/kv/txn", { compare: [{ key: ks.key("a"), target: "BOGUS" }] }, 400, 3],
      ["/etcd/v3/kv/txn", { success: [{ request_put: { key: ks.key("a") } }, { request_unknown: {} }] }, 400, 3],
      ["/etcd/v3/kv/txn", { success: [{ request_put: { key: ks.key("a") } }, { request_put: { key: ks.key("b"), lease: 404 } }] }, 404, 5],
      ["/etcd/v3/kv/frobnicate", {}, 404, 12],
    ];
    for (const [path, body, status, code] of cases) {
      const res = await call(path, body);
      expect([path, res.status, res.body.code]).toEqual([path, status, code]);
      expect(res.body.error).toBe(res.body.message);
    }
    const after = await call("/etcd/v3/kv/range", { key: ks.key("a") });
    expect(after.body.header.revision).toBe(before);
    expect(after.body.kvs).toBeUndefined();
  });

  it("streams a watch as {\"result\": …} lines", async () => {
    const ks = keyspace();
    const put = await call("/etcd/v3/kv/put", { key: ks.key("w"), value: b64("1") });
    const res = await exports.default.fetch("https://edgeplane.test/etcd/v3/watch", {
      method: "POST",
      headers: ADMIN,
      body: JSON.stringify({ create_request: { key: ks.key("w"), start_revision: put.body.header.revision } }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    const lines: any[] = [];
    while (lines.length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        lines.push(JSON.parse(buffered.slice(0, nl)));
        buffered = buffered.slice(nl + 1);
      }
    }
    await reader.cancel();
    expect(lines[0].result.created).toBe(true);
    expect(lines[1].result.events).toEqual([{ kv: { key: ks.key("w"), create_revision: put.body.header.revision, mod_revision: put.body.header.revision, version: "1", value: b64("1") } }]);
  });

  it("addresses one shard by name; leases live in their shard", async () => {
    const ks = keyspace();
    await call("/etcd/shards/events/v3/kv/put", { key: ks.key("e"), value: b64("x") });
    expect((await call("/etcd/v3/kv/range", { key: ks.key("e") })).body.kvs).toBeUndefined();
    expect((await call("/etcd/shards/events/v3/kv/range", { key: ks.key("e") })).body.kvs).toHaveLength(1);
    const lease = await call("/etcd/v3/lease/grant", { TTL: 60 });
    const keepalive = await exports.default.fetch("https://edgeplane.test/etcd/v3/lease/keepalive", {
      method: "POST", headers: ADMIN, body: JSON.stringify({ ID: lease.body.ID }),
    });
    expect(JSON.parse(await keepalive.text())).toMatchObject({ result: { ID: lease.body.ID, TTL: "60" } });
  });

  it("serves health checks without credentials", async () => {
    for (const path of ["/healthz", "/livez", "/readyz"]) {
      const res = await exports.default.fetch(`https://edgeplane.test${path}`);
      expect([path, res.status, await res.text()]).toEqual([path, 200, "ok"]);
    }
    const verbose = await exports.default.fetch("https://edgeplane.test/readyz?verbose");
    expect(await verbose.text()).toContain("[+]store ok");
  });
});

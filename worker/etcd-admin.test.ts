// edgeplane's own admin endpoints beside the etcd gateway: the cluster's shards, and a shard's
// snapshot export and restore into another cluster name of the deployment.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const ADMIN = { Authorization: "Bearer test-admin-token" };
const b64 = (s: string) => btoa(s);

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = ADMIN) {
  const res = await exports.default.fetch(`https://edgeplane.test/etcd${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

describe("etcd admin endpoints", () => {
  it("are for the admin only", async () => {
    expect((await call("GET", "/cluster", undefined, {})).status).toBe(401);
    expect((await call("POST", "/snapshot/head", {}, { Authorization: "Bearer wrong" })).status).toBe(401);
  });

  it("describe the cluster's shards with their status and member identity", async () => {
    const cluster = `admin-${crypto.randomUUID().slice(0, 8)}`;
    const { status, body } = await call("GET", `/cluster?cluster=${cluster}`);
    expect(status).toBe(200);
    expect(body.cluster).toBe(cluster);
    expect(body.shards.map((s: { name: string; prefix?: string }) => [s.name, s.prefix])).toEqual([["main", undefined], ["audit", "/audit/"]]);
    expect(body.shards[0]).toMatchObject({ revision: 1, compact_revision: -1, db_size: expect.any(Number), member_id: expect.stringMatching(/^\d+$/) });
    expect((await call("GET", "/cluster?cluster=a/b")).body).toMatchObject({ code: 3 });
  });

  it("export a shard at a revision and restore it into a never-written cluster only", async () => {
    const [source, target] = [`src-${crypto.randomUUID().slice(0, 8)}`, `dst-${crypto.randomUUID().slice(0, 8)}`];
    // Keys of a cluster that is not the Worker's own are written through its shard's restore only,
    // so the source is made by restoring a hand-written log.
    const entries = [
      { revision: 2, sub: 0, key: b64("/x"), create_revision: 2, version: 1, lease: 0, value: b64("1") },
      { revision: 3, sub: 0, key: b64("/y"), create_revision: 3, version: 1, lease: 0, value: b64("2") },
      { revision: 4, sub: 0, key: b64("/x"), deleted: true },
    ];
    const head = { revision: 4, compact_revision: -1, leases: [{ ID: 9, TTL: 30, remaining: 30 }] };
    expect((await call("POST", `/restore/begin?cluster=${source}`)).status).toBe(200);
    expect((await call("POST", `/restore/entries?cluster=${source}`, { entries })).status).toBe(200);
    expect((await call("POST", `/restore/finish?cluster=${source}`, { head })).status).toBe(200);

    const exported = await call("POST", `/shards/main/snapshot/head?cluster=${source}`);
    expect(exported.body).toMatchObject({ revision: 4, compact_revision: -1, leases: [{ ID: 9, TTL: 30 }] });
    const page = await call("POST", `/shards/main/snapshot/entries?cluster=${source}`, { head: exported.body });
    expect(page.body).toEqual({ entries });

    expect((await call("POST", `/shards/main/restore/begin?cluster=${source}`)).body).toMatchObject({ code: 9, message: expect.stringContaining("not empty") });
    expect((await call("POST", `/shards/nowhere/restore/begin?cluster=${target}`)).body).toMatchObject({ code: 5 });
    expect((await call("POST", `/shards/main/restore/entries?cluster=${target}`, { entries: [{ revision: "x" }] })).body).toMatchObject({ code: 3 });
  });
});

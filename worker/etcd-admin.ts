// edgeplane's own operator endpoints beside etcd's gateway, for the cluster admin (the etcd
// gateway's authentication covers them): the cluster's store shards with their status, and a
// shard's snapshot export and restore in pages. `?cluster=NAME` addresses another cluster of this
// deployment, which is how a snapshot is restored into a new cluster name.
import { Hono, type Context } from "hono";
import { EtcdFailure, GrpcCode, httpStatusOf, type StoreResult } from "../lib/etcd/errors.ts";
import { headerIdentity, parseJsonBody } from "../lib/etcd/gateway-json.ts";
import { decodeShardSnapshotHead, decodeSnapshotCursor, decodeSnapshotEntry, encodeSnapshotEntry } from "../lib/etcd/snapshot.ts";
import { MAIN_SHARD, shardMapOf, storeObjectName } from "../lib/shards.ts";
import type { AppEnv } from "./context.ts";

type Stub = DurableObjectStub<import("../durable-objects/store/index.ts").StoreShard>;

/** A restore page is at most a few MiB of JSON; etcd's own request limit is 1.5 MiB of bytes. */
const MAX_RESTORE_BODY_BYTES = 16 * 1024 * 1024;
const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The shards of a cluster in this deployment: main and every STORE_SHARDS name, with its key prefix. */
function shardsOf(env: Env): { name: string; prefix?: string }[] {
  const named = new Map<string, string>();
  for (const { prefix, shard } of shardMapOf(env.STORE_SHARDS).prefixes) named.set(shard, new TextDecoder().decode(prefix));
  return [{ name: MAIN_SHARD }, ...[...named].map(([name, prefix]) => ({ name, prefix }))];
}

function clusterOf(c: Context<AppEnv>): string {
  const cluster = c.req.query("cluster") ?? c.env.CLUSTER_NAME;
  if (!CLUSTER_NAME.test(cluster)) throw new EtcdFailure(GrpcCode.InvalidArgument, `edgeplane: ${JSON.stringify(cluster)} is not a cluster name`);
  return cluster;
}

function shardStub(c: Context<AppEnv>): Stub {
  const shard = c.req.param("shard") ?? MAIN_SHARD;
  if (!shardsOf(c.env).some((s) => s.name === shard)) {
    throw new EtcdFailure(GrpcCode.NotFound, `edgeplane: this deployment has no store shard ${JSON.stringify(shard)} (STORE_SHARDS)`);
  }
  return c.env.STORE.get(c.env.STORE.idFromName(storeObjectName(clusterOf(c), shard)));
}

async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.length > MAX_RESTORE_BODY_BYTES) throw new EtcdFailure(GrpcCode.InvalidArgument, "edgeplane: a restore page is limited to 16 MiB");
  return parseJsonBody(text);
}

/** Runs a handler, answering store and decoding failures as etcd's gateway words errors. */
function handler(run: (c: Context<AppEnv>) => Promise<StoreResult<object>>) {
  return async (c: Context<AppEnv>) => {
    try {
      const result = await run(c);
      if (!result.ok) return c.json({ error: result.error.message, ...result.error }, httpStatusOf(result.error.code) as 400);
      return c.json(result.value);
    } catch (e) {
      if (e instanceof EtcdFailure) return c.json({ error: e.message, code: e.code, message: e.message }, httpStatusOf(e.code) as 400);
      throw e;
    }
  };
}

export const etcdAdmin = new Hono<AppEnv>();

/** The cluster's shards: name, key prefix, revision, compaction floor, database size and member identity. */
etcdAdmin.get("/cluster", handler(async (c) => {
  const cluster = clusterOf(c);
  const shards = await Promise.all(shardsOf(c.env).map(async (shard) => {
    const id = c.env.STORE.idFromName(storeObjectName(cluster, shard.name));
    const status = await (c.env.STORE.get(id) as Stub).status();
    const identity = headerIdentity(id.toString());
    return {
      ...shard, revision: status.header.revision, compact_revision: status.compactRevision, db_size: status.dbSize,
      cluster_id: identity.cluster_id, member_id: identity.member_id,
    };
  }));
  return { ok: true, value: { cluster, shards } };
}));

etcdAdmin.post("/snapshot/head", handler(async (c) => shardStub(c).snapshotHead()));

etcdAdmin.post("/snapshot/entries", handler(async (c) => {
  const body = await jsonBody(c);
  const head = decodeShardSnapshotHead(body.head);
  const result = await shardStub(c).snapshotPage(head, decodeSnapshotCursor(body.after));
  if (!result.ok) return result;
  return { ok: true, value: { entries: result.value.entries.map(encodeSnapshotEntry), next: result.value.next } };
}));

etcdAdmin.post("/restore/begin", handler(async (c) => shardStub(c).restoreBegin()));

etcdAdmin.post("/restore/entries", handler(async (c) => {
  const body = await jsonBody(c);
  if (!Array.isArray(body.entries)) throw new EtcdFailure(GrpcCode.InvalidArgument, `edgeplane: a restore page needs "entries"`);
  return shardStub(c).restoreEntries(body.entries.map(decodeSnapshotEntry));
}));

etcdAdmin.post("/restore/finish", handler(async (c) => shardStub(c).restoreFinish(decodeShardSnapshotHead((await jsonBody(c)).head))));

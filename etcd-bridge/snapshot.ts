// Snapshot files of a whole cluster, written by `npm run admin -- snapshot save` and by etcdctl's
// `snapshot save` through the bridge, read back by `npm run admin -- snapshot restore`. The format
// (README, "Snapshots and restore"): JSON lines — a header, then per shard a line with its
// revision, compaction floor and leases followed by its revision log entries, then an end line —
// padded with newlines to a multiple of 512 bytes and followed by the 32-byte SHA-256 of all that
// precedes it, the layout etcd's own snapshots have (etcdctl checks it).
import { createHash } from "node:crypto";
import { createWriteStream, readFileSync, renameSync, rmSync } from "node:fs";
import { once } from "node:events";
import { decodeShardSnapshotHead, decodeSnapshotEntry } from "../lib/etcd/snapshot.ts";
import type { Gateway, Json } from "./gateway.ts";

export const SNAPSHOT_FORMAT = "edgeplane-snapshot/v1";
const BLOCK = 512;
const DIGEST_BYTES = 32;
/** Chunks handed on while writing (etcd's snapshot stream sends 32 KiB messages). */
const CHUNK_BYTES = 32 * 1024;
/** Restore pages stay well under the Worker's 16 MiB limit. */
const RESTORE_PAGE_BYTES = 4 * 1024 * 1024;

export interface ShardSummary {
  name: string;
  revision: number;
  compact_revision: number;
  entries: number;
  leases: number;
}

export interface SnapshotSummary {
  cluster: string;
  shards: ShardSummary[];
  bytes: number;
}

const query = (cluster: string) => `?cluster=${encodeURIComponent(cluster)}`;

/**
 * The snapshot of a cluster as byte chunks: each shard is read at its own revision (fixed when
 * its turn comes), page by page. `summary` is filled in as it goes.
 */
export async function* snapshotChunks(gateway: Gateway, cluster?: string, summary?: SnapshotSummary): AsyncGenerator<Buffer> {
  const info = await gateway.cluster(cluster);
  const name = info.cluster;
  const hash = createHash("sha256");
  let pending: string[] = [];
  let pendingBytes = 0;
  let total = 0;
  const take = (): Buffer => {
    const chunk = Buffer.from(pending.join(""), "utf8");
    pending = [];
    pendingBytes = 0;
    hash.update(chunk);
    total += chunk.length;
    return chunk;
  };
  const line = (value: object) => {
    const text = JSON.stringify(value) + "\n";
    pending.push(text);
    pendingBytes += text.length;
  };
  const out: SnapshotSummary = summary ?? { cluster: name, shards: [], bytes: 0 };
  out.cluster = name;

  line({ format: SNAPSHOT_FORMAT, cluster: name, created: new Date().toISOString(), shards: info.shards.map((s) => s.name) });
  let entries = 0;
  for (const shard of info.shards) {
    const path = `/shards/${encodeURIComponent(shard.name)}/snapshot`;
    const head = await gateway.post(`${path}/head${query(name)}`);
    const leases = Array.isArray(head.leases) ? head.leases : [];
    line({ shard: shard.name, revision: head.revision, compact_revision: head.compact_revision, leases });
    const shardSummary: ShardSummary = { name: shard.name, revision: Number(head.revision), compact_revision: Number(head.compact_revision), entries: 0, leases: leases.length };
    let after: unknown;
    do {
      const page = await gateway.post(`${path}/entries${query(name)}`, { head, after });
      for (const entry of (page.entries as Json[] | undefined) ?? []) line(entry);
      shardSummary.entries += ((page.entries as Json[] | undefined) ?? []).length;
      after = page.next;
      if (pendingBytes >= CHUNK_BYTES) yield take();
    } while (after);
    entries += shardSummary.entries;
    out.shards.push(shardSummary);
  }
  line({ end: true, shards: info.shards.length, entries });
  const body = pending.join("");
  const padding = (BLOCK - ((total + Buffer.byteLength(body)) % BLOCK)) % BLOCK;
  pending.push("\n".repeat(padding));
  const last = take();
  const digest = hash.digest();
  out.bytes = total + DIGEST_BYTES;
  yield Buffer.concat([last, digest]);
}

/** Writes the snapshot to `path` (through `path.part`, renamed once complete). */
export async function saveSnapshot(gateway: Gateway, path: string, cluster?: string): Promise<SnapshotSummary> {
  const part = `${path}.part`;
  const file = createWriteStream(part, { mode: 0o600 });
  const summary: SnapshotSummary = { cluster: cluster ?? "", shards: [], bytes: 0 };
  try {
    for await (const chunk of snapshotChunks(gateway, cluster, summary)) {
      if (!file.write(chunk)) await once(file, "drain");
    }
    file.end();
    await once(file, "finish");
    renameSync(part, path);
    return summary;
  } catch (e) {
    file.destroy();
    rmSync(part, { force: true });
    throw e;
  }
}

export interface SnapshotShard {
  name: string;
  /** The shard line as written: revision, compact_revision, leases. */
  head: Json;
  /** The revision log entries in commit order, as the Worker's restore endpoint takes them. */
  entries: Json[];
}

export interface ParsedSnapshot {
  format: string;
  cluster: string;
  created: string;
  shards: SnapshotShard[];
}

/** Reads a snapshot file's bytes: checks the checksum and every line, or throws saying what is wrong. */
export function parseSnapshot(data: Buffer): ParsedSnapshot {
  if (data.length < DIGEST_BYTES || (data.length - DIGEST_BYTES) % BLOCK !== 0) {
    throw new Error(`not an edgeplane snapshot: ${data.length} bytes is not a multiple of ${BLOCK} plus a ${DIGEST_BYTES}-byte checksum`);
  }
  const body = data.subarray(0, data.length - DIGEST_BYTES);
  const expected = data.subarray(data.length - DIGEST_BYTES);
  if (!createHash("sha256").update(body).digest().equals(expected)) throw new Error("the snapshot's SHA-256 checksum does not match its contents: the file is damaged");
  const lines = body.toString("utf8").split("\n").filter((l) => l !== "");
  const parse = (i: number): Json => {
    try {
      return JSON.parse(lines[i]!) as Json;
    } catch {
      throw new Error(`snapshot line ${i + 1} is not JSON`);
    }
  };
  const header = parse(0);
  if (header.format !== SNAPSHOT_FORMAT) throw new Error(`not an ${SNAPSHOT_FORMAT} file (format ${JSON.stringify(header.format)})`);
  const snapshot: ParsedSnapshot = { format: SNAPSHOT_FORMAT, cluster: String(header.cluster), created: String(header.created), shards: [] };
  let shard: SnapshotShard | undefined;
  let last = { revision: 0, sub: -1 };
  for (let i = 1; i < lines.length; i++) {
    const record = parse(i);
    if (record.end === true) {
      const entries = snapshot.shards.reduce((n, s) => n + s.entries.length, 0);
      if (record.entries !== entries || record.shards !== snapshot.shards.length || i !== lines.length - 1) {
        throw new Error(`the snapshot's end line does not match what precedes it`);
      }
      return snapshot;
    }
    if (typeof record.shard === "string") {
      const head = decodeShardSnapshotHead(record);
      shard = { name: record.shard, head: { revision: head.revision, compact_revision: head.compact_revision, leases: head.leases }, entries: [] };
      snapshot.shards.push(shard);
      last = { revision: 0, sub: -1 };
      continue;
    }
    if (!shard) throw new Error(`snapshot line ${i + 1} is an entry before any shard line`);
    const entry = decodeSnapshotEntry(record);
    const ordered = entry.revision > last.revision || (entry.revision === last.revision && entry.sub > last.sub);
    if (!ordered || entry.revision > Number(shard.head.revision)) throw new Error(`snapshot line ${i + 1} is out of order for shard ${shard.name}`);
    last = { revision: entry.revision, sub: entry.sub };
    shard.entries.push(record);
  }
  throw new Error("the snapshot has no end line: it is incomplete");
}

export function readSnapshot(path: string): ParsedSnapshot {
  return parseSnapshot(readFileSync(path));
}

/**
 * Restores a snapshot into `cluster` (the deployment's own when not given), which must never
 * have been written: every shard of the target is checked before anything is written, then each
 * shard's log is sent in pages and made its state.
 */
export async function restoreSnapshot(gateway: Gateway, snapshot: ParsedSnapshot, cluster?: string): Promise<SnapshotSummary> {
  const info = await gateway.cluster(cluster);
  const target = info.cluster;
  const known = new Set(info.shards.map((s) => s.name));
  const missing = snapshot.shards.filter((s) => !known.has(s.name)).map((s) => s.name);
  if (missing.length) {
    throw new Error(`the snapshot holds store shard(s) ${missing.join(", ")}, which the target deployment does not have (STORE_SHARDS ${info.shards.map((s) => s.name).join(", ")})`);
  }
  const path = (shard: string, step: string) => `/shards/${encodeURIComponent(shard)}/restore/${step}${query(target)}`;
  for (const shard of info.shards) {
    try {
      await gateway.post(path(shard.name, "begin"));
    } catch (e) {
      throw new Error(`cluster ${target} cannot take the snapshot: shard ${shard.name}: ${(e as Error).message}`);
    }
  }
  const summary: SnapshotSummary = { cluster: target, shards: [], bytes: 0 };
  for (const shard of snapshot.shards) {
    let page: Json[] = [];
    let pageBytes = 0;
    const flush = async () => {
      if (page.length) await gateway.post(path(shard.name, "entries"), { entries: page });
      page = [];
      pageBytes = 0;
    };
    for (const entry of shard.entries) {
      page.push(entry);
      pageBytes += String(entry.key ?? "").length + String(entry.value ?? "").length + 100;
      if (pageBytes >= RESTORE_PAGE_BYTES) await flush();
    }
    await flush();
    await gateway.post(path(shard.name, "finish"), { head: shard.head });
    summary.shards.push({
      name: shard.name, revision: Number(shard.head.revision), compact_revision: Number(shard.head.compact_revision),
      entries: shard.entries.length, leases: (shard.head.leases as unknown[]).length,
    });
  }
  return summary;
}

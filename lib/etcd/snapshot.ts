// One store shard's state as a snapshot carries it: the revision log up to a revision (what live
// keys, past reads and watch replay are made from), the clock, the compaction floor and the
// leases. The store exports and imports these; the Worker and the snapshot file write them as JSON.
import { errors } from "./errors.ts";
import { fromBase64, toBase64 } from "./gateway-json.ts";
import type { Bytes } from "./messages.ts";

/** One entry of the revision log: a put (with the key's create revision, version and lease) or a delete. */
export interface SnapshotEntry {
  revision: number;
  /** The entry's place among those of its revision (a txn or a lease revoke writes several). */
  sub: number;
  key: Bytes;
  deleted: boolean;
  create_revision: number;
  version: number;
  lease: number;
  value: Bytes;
}

export interface SnapshotLease {
  ID: number;
  /** The TTL the lease was granted with, in seconds. */
  TTL: number;
  /** What was left of it when the snapshot was taken, in seconds (informational: a restore grants the full TTL, as etcd does on a new leader). */
  remaining: number;
}

/** Where a shard's snapshot stands: every entry at or below `revision` belongs to it. */
export interface ShardSnapshotHead {
  revision: number;
  compact_revision: number;
  leases: SnapshotLease[];
}

/** Where the next page of entries starts: after this (revision, sub). */
export interface SnapshotCursor {
  revision: number;
  sub: number;
}

export interface SnapshotPage {
  entries: SnapshotEntry[];
  /** Set when more entries follow; ask again from here. */
  next?: SnapshotCursor;
}

type Json = Record<string, unknown>;

export function encodeSnapshotEntry(e: SnapshotEntry): Json {
  if (e.deleted) return { revision: e.revision, sub: e.sub, key: toBase64(e.key), deleted: true };
  return {
    revision: e.revision, sub: e.sub, key: toBase64(e.key),
    create_revision: e.create_revision, version: e.version, lease: e.lease, value: toBase64(e.value),
  };
}

function number(body: Json, field: string, fallback?: number): number {
  const v = body[field] ?? fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw errors.badRequest(`snapshot field "${field}" must be an integer, got ${JSON.stringify(v)}`);
  return v;
}

function text(body: Json, field: string): string {
  const v = body[field] ?? "";
  if (typeof v !== "string") throw errors.badRequest(`snapshot field "${field}" must be a base64 string`);
  return v;
}

function object(v: unknown, what: string): Json {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw errors.badRequest(`${what} must be an object`);
  return v as Json;
}

export function decodeSnapshotEntry(raw: unknown): SnapshotEntry {
  const body = object(raw, "a snapshot entry");
  const deleted = body.deleted === true;
  return {
    revision: number(body, "revision"),
    sub: number(body, "sub"),
    key: fromBase64(text(body, "key"), "key"),
    deleted,
    create_revision: deleted ? 0 : number(body, "create_revision"),
    version: deleted ? 0 : number(body, "version"),
    lease: deleted ? 0 : number(body, "lease", 0),
    value: deleted ? new Uint8Array(0) : fromBase64(text(body, "value"), "value"),
  };
}

export function decodeShardSnapshotHead(raw: unknown): ShardSnapshotHead {
  const body = object(raw, "a shard's snapshot head");
  const leases = body.leases ?? [];
  if (!Array.isArray(leases)) throw errors.badRequest(`snapshot field "leases" must be an array`);
  return {
    revision: number(body, "revision"),
    compact_revision: number(body, "compact_revision"),
    leases: leases.map((l) => {
      const lease = object(l, "a snapshot lease");
      return { ID: number(lease, "ID"), TTL: number(lease, "TTL"), remaining: number(lease, "remaining", 0) };
    }),
  };
}

export function decodeSnapshotCursor(raw: unknown): SnapshotCursor | undefined {
  if (raw === undefined || raw === null) return undefined;
  const body = object(raw, "a snapshot cursor");
  return { revision: number(body, "revision"), sub: number(body, "sub") };
}

// etcd's MVCC semantics over the store's SQLite: the revision clock, range at any retained
// revision, transactions with compares, the lessor and compaction. Everything here is
// synchronous: a transaction awaits nothing but SQLite, which is what keeps the store linearizable.
import { and, asc, desc, eq, lt, lte, sql } from "drizzle-orm";
import { errors } from "../../lib/etcd/errors.ts";
import { bytesEqual, compareBytes, isInverted, keyRange, rangeContains, rangesOverlap, type KeyRange } from "../../lib/etcd/keys.ts";
import type {
  Compare, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, Event, KeyValue, LeaseGrantRequest,
  LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
  PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp, ResponseOp, TxnRequest, TxnResponse,
} from "../../lib/etcd/messages.ts";
import { StoredTextFilter } from "../../lib/etcd/stored-text-filter.ts";
import { leases, liveKeys, revisionLog, revisionTimes, storeState } from "./schema.ts";
import { liveRowToKeyValue, Statements, type Db, type PrevKvs } from "./statements.ts";

/** etcd's defaults: --max-request-bytes 1.5 MiB, --max-txn-ops 128, the lessor's minimum and maximum TTL. */
export const MAX_VALUE_BYTES = 1.5 * 1024 * 1024;
export const MAX_TXN_OPS = 128;
export const MIN_LEASE_TTL_SECONDS = 2;
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;
/** store_state's compaction floor while a snapshot restore is under way (restoreBegin to restoreFinish). */
export const RESTORING = -2;
/** How often a (time, revision) sample is kept for time-based compaction. */
const REVISION_SAMPLE_EVERY_MS = 10_000;

/** What a committed write produced: the new revision and its events in commit order. */
export interface Commit {
  revision: number;
  events: Event[];
}

/** A write in progress inside one SQLite transaction; allocates the revision on its first change. */
class WriteBatch {
  readonly events: Event[] = [];
  constructor(readonly base: number) {}
  get revision(): number {
    return this.events.length ? this.base + 1 : this.base;
  }
}

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();
const needlesOf = (filter: StoredTextFilter | undefined) => filter ? filter.needles.map((n) => utf8.encode(n)) : [];

export class Mvcc {
  revision = 1;
  /** Like etcd's, -1 until the first compaction, so revision 0 can be compacted once. */
  compactRevision = -1;
  private lastSampleAt = 0;
  private readonly q: Statements;
  /**
   * Whether anyone will be shown the value a put replaces (a watcher that asked for prev_kv on
   * that key); the owner sets it. Until then every put reads it.
   */
  wantsPrevKv: (key: Uint8Array) => boolean = () => true;
  /** A snapshot restore has begun and not finished (store_state says RESTORING). */
  restoring = false;

  constructor(
    private readonly db: Db,
    private readonly storage: DurableObjectStorage,
    private readonly now: () => number = Date.now,
  ) {
    this.q = new Statements(storage.sql);
  }

  /**
   * Loads the clock; a new store starts at revision 1 like etcd. Writes do not store the clock:
   * it is the newest revision in the log (compaction always keeps it), or store_state's when that
   * is ahead (a restored snapshot), so a write dirties no page of its own for it. While a restore
   * is under way the log is the restore's, not yet the shard's.
   */
  load(): void {
    const state = this.db.select().from(storeState).where(eq(storeState.id, 1)).get();
    this.restoring = state?.compactRevision === RESTORING;
    if (this.restoring) {
      this.revision = 1;
      this.compactRevision = -1;
    } else if (state) {
      const newest = this.db.select({ revision: sql<number | null>`max(${revisionLog.revision})` }).from(revisionLog).get()?.revision ?? 0;
      this.revision = Math.max(state.revision, newest);
      this.compactRevision = state.compactRevision;
    } else {
      this.db.insert(storeState).values({ id: 1, revision: 1, compactRevision: -1 }).run();
    }
    const sample = this.db.select().from(revisionTimes).orderBy(desc(revisionTimes.revision)).limit(1).get();
    this.lastSampleAt = sample?.at ?? 0;
  }

  // ---- reads ----

  range(req: RangeRequest): RangeResponse {
    validateKey(req.key);
    const range = checkedRange(req.key, req.range_end);
    const header = { revision: this.revision };
    const rev = req.revision ?? 0;
    if (rev > this.revision) throw errors.futureRevision();
    if (rev > 0 && rev < this.compactRevision) throw errors.compacted();

    // etcd reads limit+1 keys in key order (the extra one tells `more`) unless it must sort or
    // filter them all first; a sort_target with sort_order NONE then sorts just those keys.
    const readsAll =
      (req.sort_order && req.sort_order !== "NONE") ||
      req.min_mod_revision || req.max_mod_revision || req.min_create_revision || req.max_create_revision;
    const limit = req.limit && req.limit > 0 ? req.limit : 0;
    const fetch = !readsAll && limit > 0 ? limit + 1 : 0;
    const atPast = rev > 0 && rev < this.revision;

    const filter = req.value_contains?.length ? new StoredTextFilter(req.value_contains) : undefined;
    let kvs: KeyValue[];
    let total: number;
    if (atPast) {
      kvs = this.readAt(range, rev);
      if (filter) kvs = kvs.filter((kv) => filter.bytes(kv.value));
      total = kvs.length;
      if (fetch) kvs = kvs.slice(0, fetch);
    } else {
      // The common case, served by the live table alone.
      if (req.count_only) return { header, kvs: [], more: false, count: this.countLive(range, filter) };
      kvs = this.readLive(range, fetch, filter);
      // Only a read cut short by its limit needs counting apart (a count reads the whole range again).
      total = fetch && kvs.length >= fetch ? this.countLive(range, filter) : kvs.length;
    }
    if (req.count_only) return { header, kvs: [], more: false, count: total };
    if (req.max_mod_revision) kvs = kvs.filter((kv) => kv.mod_revision <= req.max_mod_revision!);
    if (req.min_mod_revision) kvs = kvs.filter((kv) => kv.mod_revision >= req.min_mod_revision!);
    if (req.max_create_revision) kvs = kvs.filter((kv) => kv.create_revision <= req.max_create_revision!);
    if (req.min_create_revision) kvs = kvs.filter((kv) => kv.create_revision >= req.min_create_revision!);
    sortKeyValues(kvs, req);
    let more = false;
    if (limit > 0 && kvs.length > limit) {
      kvs = kvs.slice(0, limit);
      more = true;
    }
    if (req.keys_only) for (const kv of kvs) kv.value = EMPTY;
    return { header, kvs, more, count: total };
  }

  private countLive(range: KeyRange, filter?: StoredTextFilter): number {
    if (range.end === undefined) return this.readLive(range, 0, filter).length;
    return this.q.countRange(range.key, range.end, needlesOf(filter));
  }

  /** Live keys in range, in key order; `limit` 0 means all; with `filter`, only values that may hold its needles. */
  private readLive(range: KeyRange, limit: number, filter?: StoredTextFilter): KeyValue[] {
    if (range.end === undefined) {
      const kv = this.liveKey(range.key);
      return kv && (!filter || filter.bytes(kv.value)) ? [kv] : [];
    }
    return this.q.liveRange(range.key, range.end, limit > 0 ? limit : -1, needlesOf(filter));
  }

  private deleteLive(range: KeyRange): void {
    if (range.end === undefined) this.q.deleteKey(range.key);
    else this.q.deleteRange(range.key, range.end);
  }

  /** The newest log entry at or below `rev` for each key in range, tombstones dropped. */
  private readAt(range: KeyRange, rev: number): KeyValue[] {
    const keyFilter =
      range.end === undefined
        ? sql`l.key = ${range.key}`
        : range.end === null
          ? sql`l.key >= ${range.key}`
          : sql`l.key >= ${range.key} AND l.key < ${range.end}`;
    const rows = this.db.all<LogRow>(sql`
      SELECT l.key, l.deleted, l.create_revision, l.revision, l.version, l.lease, l.value FROM revision_log l
      WHERE ${keyFilter} AND l.revision = (
        SELECT max(revision) FROM revision_log m WHERE m.key = l.key AND m.revision <= ${rev})
      ORDER BY l.key`);
    return rows.filter((r) => !r.deleted).map(logRowToKeyValue);
  }

  private liveKey(key: Uint8Array): KeyValue | undefined {
    return this.q.liveKey(key);
  }

  // ---- writes ----

  put(req: PutRequest): { response: PutResponse; commit: Commit } {
    return this.write((batch) => {
      validatePut(req);
      this.checkPut(req);
      return this.applyPut(batch, req);
    });
  }

  deleteRange(req: DeleteRangeRequest): { response: DeleteRangeResponse; commit: Commit } {
    return this.write((batch) => {
      validateKey(req.key);
      checkedRange(req.key, req.range_end);
      return this.applyDeleteRange(batch, req);
    });
  }

  txn(req: TxnRequest): { response: TxnResponse; commit: Commit } {
    validateTxn(req);
    // Every compare, nested ones included, is judged against the state before the txn, as etcd does.
    const path = this.choosePath(req);
    this.checkPath(req, path);
    if (isReadOnly(req, path)) {
      const response = this.applyTxn(new WriteBatch(this.revision), req, path);
      response.header.revision = this.revision;
      return { response, commit: { revision: this.revision, events: [] } };
    }
    return this.write((batch) => this.applyTxn(batch, req, path));
  }

  /**
   * Runs `apply` in one SQLite transaction. The clock moves only if it changed something and
   * only once SQLite accepted it; a throw anywhere leaves the store as it was.
   */
  private write<R extends { header: { revision: number } }>(apply: (batch: WriteBatch) => R): { response: R; commit: Commit } {
    const batch = new WriteBatch(this.revision);
    const response = this.storage.transactionSync(() => {
      const response = apply(batch);
      if (batch.events.length) {
        this.sampleRevisionTime(batch.revision);
        // A shard written after a restore began (and never finished) is no longer being restored.
        if (this.restoring) this.db.update(storeState).set({ compactRevision: this.compactRevision }).where(eq(storeState.id, 1)).run();
      }
      return response;
    });
    this.revision = batch.revision;
    if (batch.events.length) this.restoring = false;
    response.header.revision = batch.revision;
    return { response, commit: { revision: batch.revision, events: batch.events } };
  }

  private sampleRevisionTime(revision: number): void {
    const now = this.now();
    if (now - this.lastSampleAt < REVISION_SAMPLE_EVERY_MS) return;
    this.db.insert(revisionTimes).values({ revision, at: now }).onConflictDoNothing().run();
    this.lastSampleAt = now;
  }

  private checkPut(req: PutRequest, inTxn = false): void {
    const missingKey = (req.ignore_value || req.ignore_lease) && !this.liveKey(req.key);
    // etcd looks at the lease first for a plain put but at the key first inside a txn.
    if (inTxn && missingKey) throw errors.keyNotFound();
    if (req.lease && !this.leaseExists(req.lease)) throw errors.leaseNotFound();
    if (missingKey) throw errors.keyNotFound();
  }

  private applyPut(batch: WriteBatch, req: PutRequest): PutResponse {
    const revision = batch.base + 1;
    const value = req.value ?? EMPTY;
    const lease = req.lease ?? 0;
    // The previous value is read only when someone will see it; otherwise one upsert says what the
    // key's creation revision and version now are.
    if (!req.prev_kv && !req.ignore_value && !req.ignore_lease && !this.wantsPrevKv(req.key)) {
      const { create_revision, version } = this.q.putLive(req.key, revision, lease, value);
      const kv: KeyValue = { key: req.key, create_revision, mod_revision: revision, version, value, lease };
      this.appendLog(batch, kv, false);
      batch.events.push({ type: "PUT", kv });
      return { header: { revision } };
    }
    const prev = this.liveKey(req.key);
    const kv: KeyValue = {
      key: req.key,
      create_revision: prev ? prev.create_revision : revision,
      mod_revision: revision,
      version: prev ? prev.version + 1 : 1,
      value: req.ignore_value ? prev!.value : value,
      lease: req.ignore_lease ? prev!.lease : lease,
    };
    this.q.upsertLive(kv);
    this.appendLog(batch, kv, false);
    batch.events.push({ type: "PUT", kv, prev_kv: prev });
    return { header: { revision }, prev_kv: req.prev_kv ? prev : undefined };
  }

  private applyDeleteRange(batch: WriteBatch, req: DeleteRangeRequest): DeleteRangeResponse {
    const range = keyRange(req.key, req.range_end);
    const doomed = this.readLive(range, 0);
    if (doomed.length) {
      this.deleteLive(range);
      for (const prev of doomed) this.recordDelete(batch, prev);
    }
    return { header: { revision: batch.revision }, deleted: doomed.length, prev_kvs: req.prev_kv ? doomed : [] };
  }

  private recordDelete(batch: WriteBatch, prev: KeyValue): void {
    const tombstone: KeyValue = { key: prev.key, create_revision: 0, mod_revision: batch.base + 1, version: 0, value: EMPTY, lease: 0 };
    this.appendLog(batch, tombstone, true);
    batch.events.push({ type: "DELETE", kv: tombstone, prev_kv: prev });
  }

  private appendLog(batch: WriteBatch, kv: KeyValue, deleted: boolean): void {
    this.q.appendLog(batch.base + 1, batch.events.length, kv, deleted);
  }

  // ---- transactions ----

  /** Which branch each (nested) txn takes: true for success, in depth-first order. */
  private choosePath(req: TxnRequest, path: boolean[] = []): boolean[] {
    const succeeded = (req.compare ?? []).every((c) => this.compare(c));
    path.push(succeeded);
    for (const op of (succeeded ? req.success : req.failure) ?? []) {
      if ("request_txn" in op) this.choosePath(op.request_txn, path);
    }
    return path;
  }

  private checkPath(req: TxnRequest, path: boolean[], at = { i: 0 }): void {
    const succeeded = path[at.i++]!;
    for (const op of (succeeded ? req.success : req.failure) ?? []) {
      if ("request_put" in op) this.checkPut(op.request_put, true);
      else if ("request_txn" in op) this.checkPath(op.request_txn, path, at);
    }
  }

  private applyTxn(batch: WriteBatch, req: TxnRequest, path: boolean[], at = { i: 0 }): TxnResponse {
    const succeeded = path[at.i++]!;
    const responses: ResponseOp[] = [];
    for (const op of (succeeded ? req.success : req.failure) ?? []) {
      responses.push(this.applyOp(batch, op, path, at));
    }
    // etcd leaves a nested txn's header empty; the outermost one gets the revision at the end.
    return { header: { revision: 0 }, succeeded, responses };
  }

  /** Each answer's header holds the revision as of its operation, as etcd's do. */
  private applyOp(batch: WriteBatch, op: RequestOp, path: boolean[], at: { i: number }): ResponseOp {
    if ("request_range" in op) return { response_range: { ...this.range(op.request_range), header: { revision: batch.revision } } };
    if ("request_put" in op) return { response_put: this.applyPut(batch, op.request_put) };
    if ("request_delete_range" in op) return { response_delete_range: this.applyDeleteRange(batch, op.request_delete_range) };
    return { response_txn: this.applyTxn(batch, op.request_txn, path, at) };
  }

  private compare(c: Compare): boolean {
    const range = keyRange(c.key, c.range_end);
    // A compare on one key's revisions, version or lease (the apiserver's compare-and-swap) reads no value.
    const one = range.end !== undefined ? undefined : c.target === "VALUE" ? this.liveKey(c.key) : this.q.liveKeyMeta(c.key);
    const kvs = range.end === undefined ? (one ? [one] : []) : this.readLive(range, 0);
    if (kvs.length === 0) {
      // A missing key has version, revisions and lease 0, and no value to compare: etcd fails VALUE compares.
      if (c.target === "VALUE") return false;
      return compareKeyValue(c, { key: c.key, create_revision: 0, mod_revision: 0, version: 0, value: EMPTY, lease: 0 });
    }
    return kvs.every((kv) => compareKeyValue(c, kv));
  }

  // ---- leases ----

  private leaseExists(id: number): boolean {
    return this.q.leaseExists(id);
  }

  leaseGrant(req: LeaseGrantRequest): LeaseGrantResponse {
    if (req.TTL > MAX_LEASE_TTL_SECONDS) throw errors.leaseTTLTooLarge();
    // Only ID 0 asks the server to choose; etcd takes any other, negative ones included.
    const id = req.ID ? req.ID : this.newLeaseId();
    if (this.leaseExists(id)) throw errors.leaseExists();
    const ttl = Math.max(req.TTL, MIN_LEASE_TTL_SECONDS);
    this.db.insert(leases).values({ id, ttl, expiresAt: this.now() + ttl * 1000 }).run();
    return { header: { revision: this.revision }, ID: id, TTL: ttl };
  }

  private newLeaseId(): number {
    for (;;) {
      const id = Math.floor(Math.random() * Number.MAX_SAFE_INTEGER) + 1;
      if (!this.leaseExists(id)) return id;
    }
  }

  /** Revokes a lease: its keys go in one revision. */
  leaseRevoke(id: number): { response: { header: { revision: number } }; commit: Commit } {
    if (!this.leaseExists(id)) throw errors.leaseNotFound();
    return this.write((batch) => {
      const attached = this.db.select().from(liveKeys).where(attachedTo(id)).orderBy(asc(liveKeys.key)).all();
      if (attached.length) {
        this.db.delete(liveKeys).where(attachedTo(id)).run();
        for (const row of attached) this.recordDelete(batch, drizzleRowToKeyValue(row));
      }
      this.db.delete(leases).where(eq(leases.id, id)).run();
      return { header: { revision: batch.revision } };
    });
  }

  leaseKeepAlive(id: number): LeaseKeepAliveResponse {
    const lease = this.db.select().from(leases).where(eq(leases.id, id)).get();
    if (!lease || lease.expiresAt <= this.now()) return { header: { revision: this.revision }, ID: id, TTL: 0 };
    this.db.update(leases).set({ expiresAt: this.now() + lease.ttl * 1000 }).where(eq(leases.id, id)).run();
    return { header: { revision: this.revision }, ID: id, TTL: lease.ttl };
  }

  leaseTimeToLive(req: LeaseTimeToLiveRequest): LeaseTimeToLiveResponse {
    const header = { revision: this.revision };
    const lease = this.db.select().from(leases).where(eq(leases.id, req.ID)).get();
    if (!lease) return { header, ID: req.ID, TTL: -1, grantedTTL: 0, keys: [] };
    const remaining = Math.max(0, Math.floor((lease.expiresAt - this.now()) / 1000));
    const keys = req.keys
      ? this.db.select({ key: liveKeys.key }).from(liveKeys).where(attachedTo(req.ID)).orderBy(asc(liveKeys.key)).all().map((r) => r.key)
      : [];
    return { header, ID: req.ID, TTL: remaining, grantedTTL: lease.ttl, keys };
  }

  leaseLeases(): LeaseLeasesResponse {
    // etcd lists leases soonest expiry first.
    const rows = this.db.select({ ID: leases.id }).from(leases).orderBy(asc(leases.expiresAt), asc(leases.id)).all();
    return { header: { revision: this.revision }, leases: rows };
  }

  /** Leases whose time is up, oldest first. */
  expiredLeases(): number[] {
    return this.db.select({ id: leases.id }).from(leases).where(lte(leases.expiresAt, this.now())).orderBy(asc(leases.expiresAt)).all().map((r) => r.id);
  }

  nextLeaseExpiry(): number | undefined {
    return this.db.select({ at: leases.expiresAt }).from(leases).orderBy(asc(leases.expiresAt)).limit(1).get()?.at;
  }

  // ---- compaction ----

  compact(revision: number): CompactionResponse {
    if (revision > this.revision) throw errors.futureRevision();
    if (revision <= this.compactRevision) throw errors.compacted();
    this.storage.transactionSync(() => {
      // Keep, for every key, its newest entry at or below `revision` unless that is a tombstone
      // older than `revision`; keep everything from `revision` on, so watches from there replay.
      this.db.run(sql`
        DELETE FROM revision_log WHERE revision < ${revision} AND (deleted = 1 OR EXISTS (
          SELECT 1 FROM revision_log n WHERE n.key = revision_log.key AND n.revision > revision_log.revision AND n.revision <= ${revision}))`);
      this.db.delete(revisionTimes).where(lt(revisionTimes.revision, revision)).run();
      this.db.update(storeState).set({ compactRevision: revision }).where(eq(storeState.id, 1)).run();
    });
    this.compactRevision = revision;
    return { header: { revision: this.revision } };
  }

  /**
   * The revision the automatic policy may compact to: at least `retainRevisions` revisions and
   * at least `retainMs` of history stay. Undefined when there is nothing to do.
   */
  autoCompactionTarget(retainRevisions: number, retainMs: number): number | undefined {
    const byCount = this.revision - retainRevisions;
    const sample = this.db.select().from(revisionTimes).where(lte(revisionTimes.at, this.now() - retainMs))
      .orderBy(desc(revisionTimes.revision)).limit(1).get();
    if (!sample) return undefined;
    const target = Math.min(byCount, sample.revision);
    return target > this.compactRevision ? target : undefined;
  }

  // ---- history for watchers ----

  /** Log entries from `fromRevision` on, in commit order, for keys in `range`, with their previous values when asked. */
  history(range: KeyRange, fromRevision: number, prevKv: PrevKvs): Event[] {
    return this.q.history(range.key, range.end, fromRevision, prevKv);
  }
}

/** Keys attached to a lease; "lease <> 0" lets SQLite use the index of leased keys (lease ids are never 0). */
function attachedTo(id: number) {
  return and(eq(liveKeys.lease, id), sql`${liveKeys.lease} <> 0`);
}

// ---- validation (before anything is applied) ----

function validateKey(key: Uint8Array): void {
  if (key.length === 0) throw errors.emptyKey();
}

function checkedRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyRange {
  const range = keyRange(key, rangeEnd);
  if (isInverted(range)) throw errors.invalidRange();
  return range;
}

function validatePut(req: PutRequest): void {
  validateKey(req.key);
  if (req.ignore_value && req.value && req.value.length) throw errors.valueProvided();
  if (req.ignore_lease && req.lease) throw errors.leaseProvided();
  if ((req.value?.length ?? 0) + req.key.length > MAX_VALUE_BYTES) throw errors.requestTooLarge();
}

function validateTxn(req: TxnRequest): void {
  if ((req.compare?.length ?? 0) > MAX_TXN_OPS || (req.success?.length ?? 0) > MAX_TXN_OPS || (req.failure?.length ?? 0) > MAX_TXN_OPS) {
    throw errors.tooManyOps();
  }
  for (const c of req.compare ?? []) {
    validateKey(c.key);
    checkedRange(c.key, c.range_end);
  }
  for (const ops of [req.success ?? [], req.failure ?? []]) {
    for (const op of ops) {
      if ("request_range" in op) {
        validateKey(op.request_range.key);
        checkedRange(op.request_range.key, op.request_range.range_end);
      } else if ("request_put" in op) validatePut(op.request_put);
      else if ("request_delete_range" in op) {
        validateKey(op.request_delete_range.key);
        checkedRange(op.request_delete_range.key, op.request_delete_range.range_end);
      } else validateTxn(op.request_txn);
    }
    checkIntervals(ops);
  }
}

/** etcd refuses a txn branch that puts one key twice, or puts a key it also deletes. */
function checkIntervals(ops: RequestOp[]): { puts: Uint8Array[]; deletes: KeyRange[] } {
  const puts: Uint8Array[] = [];
  const deletes: KeyRange[] = [];
  for (const op of ops) {
    if (!("request_delete_range" in op)) continue;
    const range = keyRange(op.request_delete_range.key, op.request_delete_range.range_end);
    // etcd's interval tree reads range_end "\0" as an empty interval: such a delete clashes with nothing.
    if (range.end !== null) deletes.push(range);
  }
  for (const op of ops) {
    let keys: Uint8Array[] = [];
    let nestedDeletes: KeyRange[] = [];
    if ("request_put" in op) keys = [op.request_put.key];
    else if ("request_txn" in op) {
      // A nested txn's branches are alternatives: either may clash with this level.
      const success = checkIntervals(op.request_txn.success ?? []);
      const failure = checkIntervals(op.request_txn.failure ?? []);
      keys = [...success.puts, ...failure.puts];
      nestedDeletes = [...success.deletes, ...failure.deletes];
      for (const d of nestedDeletes) {
        if (puts.some((k) => rangeContains(d, k))) throw errors.duplicateKey();
      }
    }
    for (const key of keys) {
      if (puts.some((k) => bytesEqual(k, key))) throw errors.duplicateKey();
      if (deletes.some((d) => rangesOverlap(d, { key, end: undefined }))) throw errors.duplicateKey();
    }
    puts.push(...keys);
    deletes.push(...nestedDeletes);
  }
  return { puts, deletes };
}

function isReadOnly(req: TxnRequest, path: boolean[], at = { i: 0 }): boolean {
  const succeeded = path[at.i++]!;
  for (const op of (succeeded ? req.success : req.failure) ?? []) {
    if ("request_put" in op || "request_delete_range" in op) return false;
    if ("request_txn" in op && !isReadOnly(op.request_txn, path, at)) return false;
  }
  return true;
}

function compareKeyValue(c: Compare, kv: KeyValue): boolean {
  let order: number;
  switch (c.target) {
    case "VALUE":
      order = compareBytes(kv.value, c.value ?? EMPTY);
      break;
    case "VERSION":
      order = kv.version - (c.version ?? 0);
      break;
    case "CREATE":
      order = kv.create_revision - (c.create_revision ?? 0);
      break;
    case "MOD":
      order = kv.mod_revision - (c.mod_revision ?? 0);
      break;
    case "LEASE":
      order = kv.lease - (c.lease ?? 0);
      break;
  }
  switch (c.result) {
    case "EQUAL":
      return order === 0;
    case "NOT_EQUAL":
      return order !== 0;
    case "GREATER":
      return order > 0;
    case "LESS":
      return order < 0;
  }
}

function sortKeyValues(kvs: KeyValue[], req: RangeRequest): void {
  const target = req.sort_target ?? "KEY";
  // etcd returns keys in ascending key order; other targets sort ascending unless told otherwise.
  const order = req.sort_order && req.sort_order !== "NONE" ? req.sort_order : target === "KEY" ? "NONE" : "ASCEND";
  if (order === "NONE") return;
  const by = (a: KeyValue, b: KeyValue): number => {
    switch (target) {
      case "KEY":
        return compareBytes(a.key, b.key);
      case "VERSION":
        return a.version - b.version;
      case "CREATE":
        return a.create_revision - b.create_revision;
      case "MOD":
        return a.mod_revision - b.mod_revision;
      case "VALUE":
        return compareBytes(a.value, b.value);
    }
  };
  kvs.sort(order === "ASCEND" ? by : (a, b) => by(b, a));
}

interface LogRow {
  key: ArrayBuffer;
  deleted: number;
  create_revision: number;
  revision: number;
  version: number;
  lease: number;
  value: ArrayBuffer;
}

function logRowToKeyValue(r: LogRow): KeyValue {
  return { key: new Uint8Array(r.key), create_revision: r.create_revision, mod_revision: r.revision, version: r.version, value: new Uint8Array(r.value), lease: r.lease };
}

function drizzleRowToKeyValue(r: typeof liveKeys.$inferSelect): KeyValue {
  return { key: r.key, create_revision: r.createRevision, mod_revision: r.modRevision, version: r.version, value: r.value, lease: r.lease };
}


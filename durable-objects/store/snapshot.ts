// Snapshots of one shard, for `npm run admin -- snapshot` and etcdctl's `snapshot save`: export
// reads the revision log up to a fixed revision in pages (writes after it do not disturb a page;
// a compaction in between is detected and the snapshot must be taken again); restore writes a
// snapshot's log into a shard that has never been written, then rebuilds its live keys, clock,
// compaction floor and leases in one transaction.
import { and, asc, count, eq, gt, lte, or, sql } from "drizzle-orm";
import { EtcdFailure, GrpcCode } from "../../lib/etcd/errors.ts";
import type { ShardSnapshotHead, SnapshotCursor, SnapshotEntry, SnapshotPage } from "../../lib/etcd/snapshot.ts";
import { RESTORING, type Mvcc } from "./mvcc.ts";
import { leases, liveKeys, revisionLog, revisionTimes, storeState } from "./schema.ts";
import type { Db } from "./statements.ts";

/** A page stops after this many bytes of keys and values (well under RPC and HTTP body limits)… */
const PAGE_BYTES = 4 * 1024 * 1024;
/** …or this many entries. */
const PAGE_ENTRIES = 5_000;
const READ_CHUNK = 500;

export class ShardSnapshots {
  constructor(
    private readonly db: Db,
    private readonly storage: DurableObjectStorage,
    private readonly mvcc: Mvcc,
    private readonly now: () => number = Date.now,
  ) {}

  // ---- export ----

  /** Fixes the snapshot at the current revision and reads the leases as they are now. */
  head(): ShardSnapshotHead {
    const now = this.now();
    const rows = this.db.select().from(leases).orderBy(asc(leases.id)).all();
    return {
      revision: this.mvcc.revision,
      compact_revision: this.mvcc.compactRevision,
      leases: rows.map((l) => ({ ID: l.id, TTL: l.ttl, remaining: Math.max(0, Math.ceil((l.expiresAt - now) / 1000)) })),
    };
  }

  /** The log entries of the snapshot `head` that come after `after`, in commit order. */
  page(head: { revision: number; compact_revision: number }, after: SnapshotCursor | undefined): SnapshotPage {
    if (this.mvcc.compactRevision !== head.compact_revision) {
      throw new EtcdFailure(GrpcCode.OutOfRange,
        `edgeplane: the shard was compacted to revision ${this.mvcc.compactRevision} while the snapshot at revision ${head.revision} was read; take the snapshot again`);
    }
    if (head.revision > this.mvcc.revision) throw new EtcdFailure(GrpcCode.OutOfRange, "etcdserver: mvcc: required revision is a future revision");
    const entries: SnapshotEntry[] = [];
    let bytes = 0;
    let cursor = after;
    for (;;) {
      const from = cursor
        ? or(gt(revisionLog.revision, cursor.revision), and(eq(revisionLog.revision, cursor.revision), gt(revisionLog.sub, cursor.sub)))
        : undefined;
      const rows = this.db.select().from(revisionLog).where(and(lte(revisionLog.revision, head.revision), from))
        .orderBy(asc(revisionLog.revision), asc(revisionLog.sub)).limit(READ_CHUNK).all();
      for (const row of rows) {
        entries.push({
          revision: row.revision, sub: row.sub, key: row.key, deleted: row.deleted,
          create_revision: row.createRevision, version: row.version, lease: row.lease, value: row.value,
        });
        bytes += row.key.length + row.value.length;
        cursor = { revision: row.revision, sub: row.sub };
        if (bytes >= PAGE_BYTES || entries.length >= PAGE_ENTRIES) return { entries, next: cursor };
      }
      if (rows.length < READ_CHUNK) return { entries };
    }
  }

  // ---- restore ----

  /** Refuses unless the shard has never been written; clears what an interrupted restore left. */
  restoreBegin(): void {
    this.requireNeverWritten();
    this.storage.transactionSync(() => {
      this.db.delete(revisionLog).run();
      this.db.delete(revisionTimes).run();
      // The log written from here on is the restore's: a restart before restoreFinish must not take it for the shard's.
      this.db.update(storeState).set({ compactRevision: RESTORING }).where(eq(storeState.id, 1)).run();
    });
    this.mvcc.restoring = true;
  }

  restoreEntries(entries: SnapshotEntry[]): void {
    this.requireNeverWritten();
    this.storage.transactionSync(() => {
      for (const e of entries) {
        this.db.insert(revisionLog).values({
          revision: e.revision, sub: e.sub, key: e.key, deleted: e.deleted,
          createRevision: e.deleted ? 0 : e.create_revision, version: e.deleted ? 0 : e.version,
          lease: e.deleted ? 0 : e.lease, value: e.value,
        }).run();
      }
    });
  }

  /** Makes the restored log the shard's state: live keys, clock, compaction floor, leases (with their full TTL). */
  restoreFinish(head: ShardSnapshotHead): void {
    this.requireNeverWritten();
    const newest = this.db.select({ revision: sql<number>`max(${revisionLog.revision})` }).from(revisionLog).get()?.revision ?? 0;
    if (newest > head.revision) {
      throw new EtcdFailure(GrpcCode.InvalidArgument, `edgeplane: the restored log reaches revision ${newest}, past the snapshot's revision ${head.revision}`);
    }
    if (head.revision < 1 || head.compact_revision > head.revision) {
      throw new EtcdFailure(GrpcCode.InvalidArgument, `edgeplane: a snapshot at revision ${head.revision} cannot be compacted at ${head.compact_revision}`);
    }
    const now = this.now();
    this.storage.transactionSync(() => {
      this.db.run(sql`
        INSERT INTO live_keys (key, create_revision, mod_revision, version, lease, value)
        SELECT l.key, l.create_revision, l.revision, l.version, l.lease, l.value FROM revision_log l
        WHERE l.deleted = 0 AND l.revision = (SELECT max(m.revision) FROM revision_log m WHERE m.key = l.key)`);
      for (const lease of head.leases) this.db.insert(leases).values({ id: lease.ID, ttl: lease.TTL, expiresAt: now + lease.TTL * 1000 }).run();
      this.db.update(storeState).set({ revision: head.revision, compactRevision: head.compact_revision }).where(eq(storeState.id, 1)).run();
      this.db.insert(revisionTimes).values({ revision: head.revision, at: now }).onConflictDoNothing().run();
    });
    this.mvcc.load();
  }

  /** A shard a restore may write: still at revision 1, never compacted, no keys and no leases. */
  private requireNeverWritten(): void {
    const keys = this.db.select({ n: count() }).from(liveKeys).get()?.n ?? 0;
    const leaseCount = this.db.select({ n: count() }).from(leases).get()?.n ?? 0;
    if (this.mvcc.revision !== 1 || this.mvcc.compactRevision !== -1 || keys || leaseCount) {
      throw new EtcdFailure(GrpcCode.FailedPrecondition,
        `edgeplane: the store shard is not empty (revision ${this.mvcc.revision}, ${keys} keys, ${leaseCount} leases); a snapshot restores only into a cluster that has never been written`);
    }
  }
}

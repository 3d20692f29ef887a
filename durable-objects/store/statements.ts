// The store's hot queries as plain SQL on the object's own SQLite (`ctx.storage.sql`), which keeps
// each statement compiled: the put path spends nothing on a query builder or on mapping rows
// (drizzle's share of a put was ~7%, bench:profile). Everything else goes through drizzle.
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import type { Event, KeyValue } from "../../lib/etcd/messages.ts";
import type * as schema from "./schema.ts";

export type Db = DrizzleSqliteDODatabase<typeof schema>;

const NO_VALUE = new Uint8Array(0);
const LIVE_COLUMNS = "key, create_revision, mod_revision, version, lease, value";

type LiveRow = {
  key: ArrayBuffer;
  create_revision: number;
  mod_revision: number;
  version: number;
  lease: number;
  value: ArrayBuffer;
};

/** A live_keys row as etcd's KeyValue. */
export function liveRowToKeyValue(r: LiveRow): KeyValue {
  return {
    key: new Uint8Array(r.key), create_revision: r.create_revision, mod_revision: r.mod_revision, version: r.version,
    lease: r.lease, value: new Uint8Array(r.value),
  };
}

/** A revision_log row with, when asked for, the key's entry before it (p_*: null when there is none). */
type HistoryRow = {
  revision: number;
  key: ArrayBuffer;
  deleted: number;
  create_revision: number;
  version: number;
  lease: number;
  value: ArrayBuffer;
  p_revision: number | null;
  p_deleted: number | null;
  p_create_revision: number;
  p_version: number;
  p_lease: number;
  p_value: ArrayBuffer;
};

const HISTORY_COLUMNS = "l.revision, l.key, l.deleted, l.create_revision, l.version, l.lease, l.value";
/**
 * Each entry's previous entry for the same key, found through the (key, revision) index in the
 * same statement: a replay with prev_kv is one query, not one per event.
 */
const PREVIOUS_JOIN = `LEFT JOIN revision_log p ON p.key = l.key AND p.revision =
  (SELECT max(m.revision) FROM revision_log m WHERE m.key = l.key AND m.revision < l.revision)`;
/** The same, looked up for tombstones only. */
const PREVIOUS_OF_DELETES_JOIN = `LEFT JOIN revision_log p ON l.deleted = 1 AND p.key = l.key AND p.revision =
  (SELECT max(m.revision) FROM revision_log m WHERE m.key = l.key AND m.revision < l.revision)`;

/** Which events of a history carry the value before them. */
export type PrevKvs = "none" | "deletes" | "all";
const PREVIOUS_COLUMNS = "p.revision AS p_revision, p.deleted AS p_deleted, p.create_revision AS p_create_revision, p.version AS p_version, p.lease AS p_lease, p.value AS p_value";

/**
 * A live-key range's condition and its parameters. A value may hold the needles when SQLite finds
 * every one in its bytes, or when it is not stored as plain JSON (its first byte is not "{": sealed
 * at rest), as StoredTextFilter.bytes judges.
 */
function rangeWhere(from: Uint8Array, to: Uint8Array | null, needles: Uint8Array[]): [string, Uint8Array[]] {
  const bounds = to === null ? "key >= ?" : "key >= ? AND key < ?";
  const holding = needles.length ? ` AND (substr(value, 1, 1) IS NOT X'7B' OR (${needles.map(() => "instr(value, ?) > 0").join(" AND ")}))` : "";
  return [bounds + holding, [from, ...(to === null ? [] : [to]), ...needles]];
}

/** What an upsert that did not read the key first learns: the key's creation and its new version. */
export interface Upserted {
  create_revision: number;
  version: number;
}

export class Statements {
  constructor(private readonly sql: SqlStorage) {}

  liveKey(key: Uint8Array): KeyValue | undefined {
    const [row] = this.sql.exec<LiveRow>(`SELECT ${LIVE_COLUMNS} FROM live_keys WHERE key = ?`, key).toArray();
    return row ? liveRowToKeyValue(row) : undefined;
  }

  /** A live key without its value (an empty one in its place): what compares on revisions, version or lease need. */
  liveKeyMeta(key: Uint8Array): KeyValue | undefined {
    const [row] = this.sql.exec<Omit<LiveRow, "key" | "value">>(
      "SELECT create_revision, mod_revision, version, lease FROM live_keys WHERE key = ?", key).toArray();
    return row ? { key, create_revision: row.create_revision, mod_revision: row.mod_revision, version: row.version, lease: row.lease, value: NO_VALUE } : undefined;
  }

  /**
   * Live keys in [from, to) (to null: to the end), key order; limit -1 means all. With `needles`,
   * only keys whose value may hold every one (see holdingAll): SQLite tests the bytes, so the rows
   * left out are never copied out of it.
   */
  liveRange(from: Uint8Array, to: Uint8Array | null, limit: number, needles: Uint8Array[] = []): KeyValue[] {
    const [where, bounds] = rangeWhere(from, to, needles);
    return this.sql.exec<LiveRow>(`SELECT ${LIVE_COLUMNS} FROM live_keys WHERE ${where} ORDER BY key LIMIT ?`, ...bounds, limit).toArray().map(liveRowToKeyValue);
  }

  countRange(from: Uint8Array, to: Uint8Array | null, needles: Uint8Array[] = []): number {
    const [where, bounds] = rangeWhere(from, to, needles);
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM live_keys WHERE ${where}`, ...bounds).one().n;
  }

  deleteKey(key: Uint8Array): void {
    this.sql.exec("DELETE FROM live_keys WHERE key = ?", key);
  }

  deleteRange(from: Uint8Array, to: Uint8Array | null): void {
    if (to === null) this.sql.exec("DELETE FROM live_keys WHERE key >= ?", from);
    else this.sql.exec("DELETE FROM live_keys WHERE key >= ? AND key < ?", from, to);
  }

  /** Writes a key whose previous state is known (or known to be absent). */
  upsertLive(kv: KeyValue): void {
    this.sql.exec(
      `INSERT INTO live_keys (${LIVE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET
        create_revision = excluded.create_revision, mod_revision = excluded.mod_revision, version = excluded.version,
        lease = excluded.lease, value = excluded.value`,
      kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.lease, kv.value,
    );
  }

  /** Writes a key at `revision` without reading it first: a new key starts at version 1, an existing one counts on. */
  putLive(key: Uint8Array, revision: number, lease: number, value: Uint8Array): Upserted {
    return this.sql.exec<{ create_revision: number; version: number }>(
      `INSERT INTO live_keys (${LIVE_COLUMNS}) VALUES (?1, ?2, ?2, 1, ?3, ?4) ON CONFLICT(key) DO UPDATE SET
        mod_revision = excluded.mod_revision, version = live_keys.version + 1, lease = excluded.lease, value = excluded.value
        RETURNING create_revision, version`,
      key, revision, lease, value,
    ).one();
  }

  appendLog(revision: number, sub: number, kv: KeyValue, deleted: boolean): void {
    this.sql.exec(
      "INSERT INTO revision_log (revision, sub, key, deleted, create_revision, version, lease, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      revision, sub, kv.key, deleted ? 1 : 0, kv.create_revision, kv.version, kv.lease, kv.value,
    );
  }

  /**
   * Log entries from `fromRevision` on for keys in [from, to) (to undefined: the key `from` alone;
   * null: to the end), in commit order, as watch events; per `prevKvs`, each (or each tombstone) carries the key's
   * value before it (none when the key did not exist, was deleted, or that entry was compacted).
   */
  history(from: Uint8Array, to: Uint8Array | null | undefined, fromRevision: number, prevKvs: PrevKvs): Event[] {
    // A range is filtered while reading the log from `fromRevision` on ("+" keeps SQLite off the key
    // index, which would read the prefix's whole history and sort it): catch-up watches start recent.
    const keyFilter = to === undefined ? "l.key = ?2" : to === null ? "+l.key >= ?2" : "+l.key >= ?2 AND +l.key < ?3";
    const withPrevKv = prevKvs !== "none";
    const query = withPrevKv
      ? `SELECT ${HISTORY_COLUMNS}, ${PREVIOUS_COLUMNS} FROM revision_log l ${prevKvs === "all" ? PREVIOUS_JOIN : PREVIOUS_OF_DELETES_JOIN}`
      : `SELECT ${HISTORY_COLUMNS} FROM revision_log l`;
    const args = to === undefined || to === null ? [fromRevision, from] : [fromRevision, from, to];
    const rows = this.sql.exec<HistoryRow>(`${query} WHERE l.revision >= ?1 AND ${keyFilter} ORDER BY l.revision, l.sub`, ...args);
    const events: Event[] = [];
    for (const row of rows) {
      const key = new Uint8Array(row.key);
      const event: Event = row.deleted
        ? { type: "DELETE", kv: { key, create_revision: 0, mod_revision: row.revision, version: 0, value: NO_VALUE, lease: 0 } }
        : {
          type: "PUT",
          kv: { key, create_revision: row.create_revision, mod_revision: row.revision, version: row.version, value: new Uint8Array(row.value), lease: row.lease },
        };
      if (withPrevKv && row.p_revision !== null && !row.p_deleted) {
        event.prev_kv = {
          key, create_revision: row.p_create_revision, mod_revision: row.p_revision, version: row.p_version,
          value: new Uint8Array(row.p_value), lease: row.p_lease,
        };
      }
      events.push(event);
    }
    return events;
  }

  leaseExists(id: number): boolean {
    return this.sql.exec("SELECT 1 FROM leases WHERE id = ?", id).toArray().length > 0;
  }
}

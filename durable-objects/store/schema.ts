// The store's SQLite schema (drizzle-orm). drizzle-kit turns changes here into migrations/.
import { sql } from "drizzle-orm";
import { customType, index, integer, primaryKey, sqliteTable } from "drizzle-orm/sqlite-core";

/** etcd keys and values are bytes; SQLite BLOBs compare with memcmp, which is etcd's key order. */
const bytes = customType<{ data: Uint8Array; driverData: ArrayBuffer | Uint8Array }>({
  dataType: () => "blob",
  fromDriver: (value) => (value instanceof Uint8Array ? value : new Uint8Array(value)),
});

/** One row: the store's clock and its compaction floor. */
export const storeState = sqliteTable("store_state", {
  id: integer("id").primaryKey(),
  revision: integer("revision").notNull(),
  compactRevision: integer("compact_revision").notNull(),
});

/** The live keyspace at the current revision: what reads and compares at "now" look at. */
export const liveKeys = sqliteTable(
  "live_keys",
  {
    key: bytes("key").primaryKey(),
    createRevision: integer("create_revision").notNull(),
    modRevision: integer("mod_revision").notNull(),
    version: integer("version").notNull(),
    lease: integer("lease").notNull(),
    value: bytes("value").notNull(),
  },
  // Only leased keys are indexed: a put of an unleased key then touches no index page.
  (t) => [index("live_keys_leased").on(t.lease).where(sql`${t.lease} <> 0`)],
);

/**
 * The revision log: every put and delete, in commit order. Reads at a past revision and watch
 * replay come from here; compaction trims it.
 */
export const revisionLog = sqliteTable(
  "revision_log",
  {
    revision: integer("revision").notNull(),
    sub: integer("sub").notNull(),
    key: bytes("key").notNull(),
    deleted: integer("deleted", { mode: "boolean" }).notNull(),
    createRevision: integer("create_revision").notNull(),
    version: integer("version").notNull(),
    lease: integer("lease").notNull(),
    value: bytes("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.revision, t.sub] }), index("revision_log_key").on(t.key, t.revision)],
);

export const leases = sqliteTable(
  "leases",
  {
    id: integer("id").primaryKey(),
    ttl: integer("ttl").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("leases_expiry").on(t.expiresAt)],
);

/** Sparse (time, revision) samples, so compaction can keep "at least T minutes" of history. */
export const revisionTimes = sqliteTable("revision_times", {
  revision: integer("revision").primaryKey(),
  at: integer("at").notNull(),
});

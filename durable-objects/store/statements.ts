// The store's hot queries, built once and run with placeholders: building SQL text on every
// call cost more than SQLite itself did (bench:store profile).
import { and, asc, count, eq, gte, lt, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { leases, liveKeys, revisionLog, storeState } from "./schema.ts";
import type * as schema from "./schema.ts";

export type Db = DrizzleSqliteDODatabase<typeof schema>;

const p = sql.placeholder;

export function prepareStatements(db: Db) {
  const inRange = and(gte(liveKeys.key, p("from")), lt(liveKeys.key, p("to")));
  const fromKey = gte(liveKeys.key, p("from"));
  const liveKeysIn = (where: typeof inRange) =>
    db.select().from(liveKeys).where(where).orderBy(asc(liveKeys.key)).limit(p("limit")).prepare();
  const countIn = (where: typeof inRange) => db.select({ n: count() }).from(liveKeys).where(where).prepare();
  return {
    liveKey: db.select().from(liveKeys).where(eq(liveKeys.key, p("key"))).prepare(),
    liveRange: liveKeysIn(inRange),
    liveFrom: liveKeysIn(fromKey),
    countRange: countIn(inRange),
    countFrom: countIn(fromKey),
    deleteKey: db.delete(liveKeys).where(eq(liveKeys.key, p("key"))).prepare(),
    deleteRange: db.delete(liveKeys).where(inRange).prepare(),
    deleteFrom: db.delete(liveKeys).where(fromKey).prepare(),
    upsertLive: db.insert(liveKeys).values({
      key: p("key"), createRevision: p("createRevision"), modRevision: p("modRevision"),
      version: p("version"), lease: p("lease"), value: p("value"),
    }).onConflictDoUpdate({
      target: liveKeys.key,
      set: {
        createRevision: sql`excluded.create_revision`, modRevision: sql`excluded.mod_revision`,
        version: sql`excluded.version`, lease: sql`excluded.lease`, value: sql`excluded.value`,
      },
    }).prepare(),
    appendLog: db.insert(revisionLog).values({
      revision: p("revision"), sub: p("sub"), key: p("key"), deleted: p("deleted"),
      createRevision: p("createRevision"), version: p("version"), lease: p("lease"), value: p("value"),
    }).prepare(),
    setRevision: db.update(storeState).set({ revision: sql`${p("revision")}` }).where(eq(storeState.id, 1)).prepare(),
    leaseExists: db.select({ id: leases.id }).from(leases).where(eq(leases.id, p("id"))).prepare(),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

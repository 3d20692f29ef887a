// An informer cache in a Durable Object's own SQLite: objects, index entries and the resourceVersion
// cursor in `informer_*` tables, keyed by informer name and written in one transaction per batch, so
// a woken object catches up from where it stopped instead of relisting.
import type { KubeObject } from "./api-client.ts";
import type { SqlDurableStorage } from "./durable-storage.ts";
import { objectKey, type CacheWrite, type Indexers, type InformerCache, type RelistProgress } from "./informer-cache.ts";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS informer_objects (informer TEXT NOT NULL, key TEXT NOT NULL, object TEXT NOT NULL, PRIMARY KEY (informer, key))`,
  `CREATE TABLE IF NOT EXISTS informer_index (informer TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (informer, name, value, key))`,
  `CREATE INDEX IF NOT EXISTS informer_index_by_key ON informer_index (informer, key)`,
  // `indexes`: the indexer names the entries were made for; other names mean the entries are rebuilt.
  `CREATE TABLE IF NOT EXISTS informer_cursor (informer TEXT PRIMARY KEY, resource_version TEXT NOT NULL, indexes TEXT NOT NULL)`,
  // The keys a relist under way has seen: what is left unseen when it ends was deleted meanwhile.
  `CREATE TABLE IF NOT EXISTS informer_seen (informer TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (informer, key))`,
  // A relist stopped between pages: its resourceVersion and the next page's continue token.
  `CREATE TABLE IF NOT EXISTS informer_relist (informer TEXT PRIMARY KEY, resource_version TEXT NOT NULL, continue TEXT NOT NULL)`,
];

/** Rows read at a time when the whole cache is walked (an index rebuild). */
const PAGE = 500;

export class SqliteCache<T extends KubeObject> implements InformerCache<T> {
  private readonly storage: SqlDurableStorage;
  private readonly name: string;
  private indexers: Indexers<T> = {};
  private indexNames = "[]";

  /** `name` tells this informer's rows from other informers' in the same object. */
  constructor(storage: SqlDurableStorage, name: string) {
    this.storage = storage;
    this.name = name;
  }

  open(indexers: Indexers<T>): void {
    this.indexers = indexers;
    this.indexNames = JSON.stringify(Object.keys(indexers).sort());
    for (const statement of SCHEMA) this.storage.sql.exec(statement);
    const saved = this.storage.sql.exec(`SELECT indexes FROM informer_cursor WHERE informer = ?`, this.name).toArray()[0];
    if (saved && saved.indexes !== this.indexNames) {
      this.storage.transactionSync(() => {
        this.storage.sql.exec(`DELETE FROM informer_index WHERE informer = ?`, this.name);
        for (let page = this.page(undefined, PAGE); page.length; page = this.page(objectKey(page.at(-1)!), PAGE)) {
          for (const object of page) this.index(objectKey(object), object);
        }
        this.storage.sql.exec(`UPDATE informer_cursor SET indexes = ? WHERE informer = ?`, this.indexNames, this.name);
      });
    }
  }

  get(key: string): T | undefined {
    const row = this.storage.sql.exec(`SELECT object FROM informer_objects WHERE informer = ? AND key = ?`, this.name, key).toArray()[0];
    return row ? (JSON.parse(row.object as string) as T) : undefined;
  }

  list(): T[] {
    return this.storage.sql.exec(`SELECT object FROM informer_objects WHERE informer = ? ORDER BY key`, this.name)
      .toArray().map((row) => JSON.parse(row.object as string) as T);
  }

  page(after: string | undefined, limit: number): T[] {
    return this.storage.sql.exec(`SELECT object FROM informer_objects WHERE informer = ? AND key > ? ORDER BY key LIMIT ?`, this.name, after ?? "", limit)
      .toArray().map((row) => JSON.parse(row.object as string) as T);
  }

  resetSeen(): void {
    this.storage.sql.exec(`DELETE FROM informer_seen WHERE informer = ?`, this.name);
  }

  unseen(limit: number): string[] {
    return this.storage.sql.exec(
      `SELECT o.key FROM informer_objects o WHERE o.informer = ? AND NOT EXISTS (SELECT 1 FROM informer_seen s WHERE s.informer = o.informer AND s.key = o.key) ORDER BY o.key LIMIT ?`,
      this.name, limit,
    ).toArray().map((row) => row.key as string);
  }

  byIndex(index: string, value: string): T[] {
    if (!(index in this.indexers)) throw new Error(`no index named ${index}`);
    return this.storage.sql.exec(
      `SELECT o.object FROM informer_index i JOIN informer_objects o ON o.informer = i.informer AND o.key = i.key
       WHERE i.informer = ? AND i.name = ? AND i.value = ? ORDER BY i.key`,
      this.name, index, value,
    ).toArray().map((row) => JSON.parse(row.object as string) as T);
  }

  resourceVersion(): string | undefined {
    const row = this.storage.sql.exec(`SELECT resource_version FROM informer_cursor WHERE informer = ?`, this.name).toArray()[0];
    return row ? (row.resource_version as string) : undefined;
  }

  relistProgress(): RelistProgress | undefined {
    const row = this.storage.sql.exec(`SELECT resource_version, continue FROM informer_relist WHERE informer = ?`, this.name).toArray()[0];
    return row ? { resourceVersion: row.resource_version as string, continue: row.continue as string } : undefined;
  }

  apply(write: CacheWrite<T>): void {
    const sql = this.storage.sql;
    this.storage.transactionSync(() => {
      if (write.replace) {
        sql.exec(`DELETE FROM informer_objects WHERE informer = ?`, this.name);
        sql.exec(`DELETE FROM informer_index WHERE informer = ?`, this.name);
      }
      for (const key of write.delete) this.remove(key);
      for (const object of write.put) {
        const key = objectKey(object);
        sql.exec(
          `INSERT INTO informer_objects (informer, key, object) VALUES (?, ?, ?) ON CONFLICT (informer, key) DO UPDATE SET object = excluded.object`,
          this.name, key, JSON.stringify(object),
        );
        this.reindex(key, object, !write.replace);
      }
      for (const key of write.seen ?? []) sql.exec(`INSERT OR IGNORE INTO informer_seen (informer, key) VALUES (?, ?)`, this.name, key);
      if (write.relist === null) sql.exec(`DELETE FROM informer_relist WHERE informer = ?`, this.name);
      else if (write.relist) {
        sql.exec(
          `INSERT INTO informer_relist (informer, resource_version, continue) VALUES (?, ?, ?)
           ON CONFLICT (informer) DO UPDATE SET resource_version = excluded.resource_version, continue = excluded.continue`,
          this.name, write.relist.resourceVersion, write.relist.continue,
        );
      }
      if (write.resourceVersion === undefined) return;
      sql.exec(
        `INSERT INTO informer_cursor (informer, resource_version, indexes) VALUES (?, ?, ?)
         ON CONFLICT (informer) DO UPDATE SET resource_version = excluded.resource_version, indexes = excluded.indexes`,
        this.name, write.resourceVersion, this.indexNames,
      );
    });
  }

  private remove(key: string): void {
    this.storage.sql.exec(`DELETE FROM informer_objects WHERE informer = ? AND key = ?`, this.name, key);
    this.storage.sql.exec(`DELETE FROM informer_index WHERE informer = ? AND key = ?`, this.name, key);
  }

  /**
   * Makes `key`'s index entries those of `object`, writing only what differs from the entries it
   * had (`existing`: it may have some): an update seldom changes an indexed field.
   */
  private reindex(key: string, object: T, existing: boolean): void {
    const sql = this.storage.sql;
    const wanted = new Map<string, Set<string>>();
    for (const [name, fn] of Object.entries(this.indexers)) wanted.set(name, new Set(fn(object)));
    if (existing) {
      // By the key's own index: left to itself SQLite scans the informer's whole primary key (it
      // covers name and value), which made a list of 20,000 pods cost ~7x the CPU (quadratic).
      for (const row of sql.exec(`SELECT name, value FROM informer_index INDEXED BY informer_index_by_key WHERE informer = ? AND key = ?`, this.name, key).toArray()) {
        const [name, value] = [row.name as string, row.value as string];
        if (wanted.get(name)?.delete(value)) continue;
        sql.exec(`DELETE FROM informer_index WHERE informer = ? AND name = ? AND value = ? AND key = ?`, this.name, name, value, key);
      }
    }
    for (const [name, values] of wanted) {
      for (const value of values) sql.exec(`INSERT INTO informer_index (informer, name, value, key) VALUES (?, ?, ?, ?)`, this.name, name, value, key);
    }
  }

  private index(key: string, object: T): void {
    for (const [name, fn] of Object.entries(this.indexers)) {
      for (const value of new Set(fn(object))) {
        this.storage.sql.exec(`INSERT INTO informer_index (informer, name, value, key) VALUES (?, ?, ?, ?)`, this.name, name, value, key);
      }
    }
  }
}

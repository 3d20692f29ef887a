// The part of a Durable Object's storage that the client's SQLite backends use, described by its
// shape so lib/ needs no Workers types (a DurableObjectStorage fits it).

export type SqlValue = ArrayBuffer | string | number | null;

export interface SqlDurableStorage {
  sql: { exec(query: string, ...bindings: SqlValue[]): { toArray(): Record<string, SqlValue>[] } };
  transactionSync<T>(closure: () => T): T;
}

// A work queue's state in a Durable Object's own SQLite (`workqueue_items`, keyed by queue name), so
// queued items, their due times and back-off counts survive a restart of the object.
import type { SqlDurableStorage } from "./durable-storage.ts";
import type { QueueRecord, QueueStore } from "./work-queue.ts";

export class SqliteQueueStore implements QueueStore {
  private readonly storage: SqlDurableStorage;
  private readonly queue: string;

  /** `queue` tells this queue's items from other queues' in the same object. */
  constructor(storage: SqlDurableStorage, queue: string) {
    this.storage = storage;
    this.queue = queue;
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS workqueue_items (
      queue TEXT NOT NULL, item TEXT NOT NULL, due_at REAL, processing INTEGER NOT NULL, failures INTEGER NOT NULL, seq INTEGER NOT NULL,
      PRIMARY KEY (queue, item))`);
  }

  load(): QueueRecord[] {
    return this.storage.sql.exec(`SELECT item, due_at, processing, failures, seq FROM workqueue_items WHERE queue = ?`, this.queue)
      .toArray().map((row) => ({
        item: row.item as string,
        dueAt: row.due_at === null ? null : Number(row.due_at),
        processing: row.processing === 1,
        failures: Number(row.failures),
        seq: Number(row.seq),
      }));
  }

  save(record: QueueRecord): void {
    this.storage.sql.exec(
      `INSERT INTO workqueue_items (queue, item, due_at, processing, failures, seq) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (queue, item) DO UPDATE SET due_at = excluded.due_at, processing = excluded.processing, failures = excluded.failures, seq = excluded.seq`,
      this.queue, record.item, record.dueAt, record.processing ? 1 : 0, record.failures, record.seq,
    );
  }

  remove(item: string): void {
    this.storage.sql.exec(`DELETE FROM workqueue_items WHERE queue = ? AND item = ?`, this.queue, item);
  }
}

// The scheduling queue's per-pod state in a Durable Object's own SQLite (`scheduling_queue`), so a
// restarted scheduler keeps each pending pod's attempts, back-off and unschedulable standing.
import type { SqlDurableStorage } from "../../lib/client/durable-storage.ts";
import type { QueuedPodRecord, SchedulingQueueStore } from "./queue.ts";

export class SqliteSchedulingQueueStore implements SchedulingQueueStore {
  constructor(private readonly storage: SqlDurableStorage) {
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS scheduling_queue (
      pod_key TEXT PRIMARY KEY, uid TEXT NOT NULL, queue TEXT NOT NULL, attempts INTEGER NOT NULL,
      timestamp REAL NOT NULL, initial_attempt_timestamp REAL NOT NULL, unschedulable_plugins TEXT NOT NULL)`);
  }

  load(): QueuedPodRecord[] {
    return this.storage.sql.exec(`SELECT * FROM scheduling_queue`).toArray().map((row) => ({
      key: row.pod_key as string,
      uid: row.uid as string,
      queue: row.queue as QueuedPodRecord["queue"],
      attempts: Number(row.attempts),
      timestamp: Number(row.timestamp),
      initialAttemptTimestamp: Number(row.initial_attempt_timestamp),
      unschedulablePlugins: JSON.parse(row.unschedulable_plugins as string) as string[],
    }));
  }

  save(r: QueuedPodRecord): void {
    this.storage.sql.exec(
      `INSERT INTO scheduling_queue (pod_key, uid, queue, attempts, timestamp, initial_attempt_timestamp, unschedulable_plugins)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (pod_key) DO UPDATE SET uid = excluded.uid, queue = excluded.queue, attempts = excluded.attempts,
         timestamp = excluded.timestamp, initial_attempt_timestamp = excluded.initial_attempt_timestamp,
         unschedulable_plugins = excluded.unschedulable_plugins`,
      r.key, r.uid, r.queue, r.attempts, r.timestamp, r.initialAttemptTimestamp, JSON.stringify(r.unschedulablePlugins),
    );
  }

  remove(key: string): void {
    this.storage.sql.exec(`DELETE FROM scheduling_queue WHERE pod_key = ?`, key);
  }
}

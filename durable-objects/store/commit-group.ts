// Group commit: a write runs at once when the disk is idle; writes that arrive while a commit is
// on its way to disk wait and are applied together in one turn, so they share the next commit.
// Each write stays its own SQLite transaction with its own revision; responses leave only once
// their commit is durable (the Durable Object's output gate), so nothing unacknowledged is read
// as acknowledged and nothing acknowledged is lost.

export class CommitGroup {
  private readonly waiting: (() => void)[] = [];
  private flushing = false;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Runs `write` (synchronous, SQLite only) in the current or the next commit. */
  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push(() => {
        try {
          resolve(write());
        } catch (e) {
          reject(e);
        }
      });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.waiting.length) {
        for (const write of this.waiting.splice(0)) write();
        await this.storage.sync();
      }
    } finally {
      this.flushing = false;
    }
  }
}

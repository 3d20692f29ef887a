// A value read from the store and shared, for a short while, by the requests one isolate serves
// (RBAC policy, CRDs, admission configuration): kube-apiserver follows such objects through an
// informer; an isolate instead reads them again once its copy is older than `freshMs`, or at once
// after it wrote them itself (invalidate). A read that fails is not kept.
// Only the settled value is shared, never a read in flight: workerd ties a promise that settles
// through a store RPC to the request that made it, so a second request awaiting it would depend on
// the first one's I/O ("Cannot perform I/O on behalf of a different request", or a cancelled hang
// when the first request ends early). A request that finds no fresh value makes its own read —
// unless another request's read is under way and the copy is at most STALE_FACTOR × freshMs
// older than fresh: then the copy serves, so a busy isolate whose reads come back late makes one
// read at a time, not one per request (each of which slowed the next ones further).

/** How much older than fresh a copy may be served while another request reads a newer one. */
export const STALE_FACTOR = 4;

export class IsolateCache<T> {
  private current: { value: T; at: number; read: number } | undefined;
  /** Reads are numbered: a value is kept only if no later read is kept and no invalidate() came after it began. */
  private reads = 0;
  private invalidatedAfter = 0;
  /** Reads started and not yet settled. */
  private pending = 0;
  private readonly freshMs: number;
  private readonly clock: () => number;

  constructor(freshMs: number, clock: () => number = Date.now) {
    this.freshMs = freshMs;
    this.clock = clock;
  }

  /** The copy if it is at most `maxAgeMs` old; else a read of the caller's own (see above for a copy a little older). */
  async get(load: () => Promise<T>, maxAgeMs = this.freshMs): Promise<T> {
    const at = this.clock();
    const current = this.current;
    if (current && at - current.at <= maxAgeMs) return current.value;
    // A caller asking for a younger copy than usual (maxAgeMs below freshMs) always reads.
    if (current && this.pending > 0 && maxAgeMs >= this.freshMs && at - current.at <= maxAgeMs * (1 + STALE_FACTOR)) return current.value;
    const read = ++this.reads;
    this.pending++;
    let value: T;
    try {
      value = await load();
    } catch (e) {
      // As before a failed read: the copy it was meant to replace is not served again.
      if (read > (this.current?.read ?? 0)) this.current = undefined;
      throw e;
    } finally {
      this.pending--;
    }
    if (read > this.invalidatedAfter && read > (this.current?.read ?? 0)) this.current = { value, at, read };
    return value;
  }

  invalidate(): void {
    this.current = undefined;
    this.invalidatedAfter = this.reads;
  }
}

/** An IsolateCache per key (a cluster and namespace, say); invalidate() forgets every key. */
export class KeyedIsolateCache<T> {
  private readonly entries = new Map<string, IsolateCache<T>>();
  private readonly freshMs: number;
  private readonly maxKeys: number;

  constructor(freshMs: number, maxKeys = 1000) {
    this.freshMs = freshMs;
    this.maxKeys = maxKeys;
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= this.maxKeys) this.entries.clear();
      entry = new IsolateCache<T>(this.freshMs);
      this.entries.set(key, entry);
    }
    return entry.get(load);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  invalidate(): void {
    this.entries.clear();
  }
}

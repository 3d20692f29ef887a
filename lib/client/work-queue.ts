// A work queue as client-go's: an item queued twice is processed once, an item added while it is
// being processed is processed again after `done`, delayed adds, and rate-limited retries (per-item
// exponential back-off combined with an overall token bucket). Its state goes through a QueueStore,
// so in a Durable Object it survives restarts and its earliest due item is the object's alarm.

/** One item's state as the store keeps it. */
export interface QueueRecord {
  item: string;
  /** When it is next due (ms); null while it is not queued. */
  dueAt: number | null;
  /** Handed out by `get` and not yet `done`. */
  processing: boolean;
  /** Rate-limited retries since the last `forget`. */
  failures: number;
  /** Order among items due at the same time: first queued, first out. */
  seq: number;
}

export interface QueueStore {
  load(): QueueRecord[];
  save(record: QueueRecord): void;
  remove(item: string): void;
}

export class MemoryQueueStore implements QueueStore {
  private readonly records = new Map<string, QueueRecord>();

  load(): QueueRecord[] {
    return [...this.records.values()].map((r) => ({ ...r }));
  }

  save(record: QueueRecord): void {
    this.records.set(record.item, { ...record });
  }

  remove(item: string): void {
    this.records.delete(item);
  }
}

export interface WorkQueueOptions {
  store?: QueueStore;
  now?: () => number;
  /** Per-item back-off: `baseDelayMs` doubling per failure up to `maxDelayMs` (client-go: 5 ms, 1000 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** The overall token bucket for rate-limited adds (client-go: 10 per second, burst 100). */
  qps?: number;
  burst?: number;
}

/** A queued item's place: when it is due and its order; stale once the record moved on. */
interface Slot {
  record: QueueRecord;
  dueAt: number;
  seq: number;
}

const before = (a: Slot, b: Slot) => a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);

export class WorkQueue<T extends string = string> {
  private readonly store: QueueStore;
  private readonly now: () => number;
  private readonly records = new Map<string, QueueRecord>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private tokensAt: number;
  private nextSeq = 0;
  /**
   * A binary heap of queued items by (dueAt, seq), so `get` is O(log n), not a scan of every item
   * (150,000 pods queued at once made a wake quadratic). Entries are checked when they reach the
   * top: a record that moved on (taken, re-queued earlier, dropped) leaves a stale one behind.
   */
  private readonly heap: Slot[] = [];

  constructor(options: WorkQueueOptions = {}) {
    this.store = options.store ?? new MemoryQueueStore();
    this.now = options.now ?? Date.now;
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 1_000_000;
    this.qps = options.qps ?? 10;
    this.burst = options.burst ?? 100;
    this.tokens = this.burst;
    this.tokensAt = this.now();
    const now = this.now();
    for (const record of this.store.load()) {
      // Whatever was being processed when the object stopped was not finished: it is due again.
      if (record.processing) {
        record.processing = false;
        record.dueAt = Math.min(record.dueAt ?? now, now);
        this.store.save(record);
      }
      this.records.set(record.item, record);
      this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
      this.place(record);
    }
  }

  add(item: T): void {
    this.addAfter(item, 0);
  }

  /** Queues `item` to be due in `delayMs`; an item already waiting keeps the earlier of the two times. */
  addAfter(item: T, delayMs: number): void {
    this.enqueue(item, delayMs);
  }

  /** Queues `item` after its back-off (5 ms, 10 ms, 20 ms… per failure) or the token bucket's wait, whichever is longer. */
  addRateLimited(item: T): void {
    const failures = this.records.get(item)?.failures ?? 0;
    const backoff = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** failures);
    this.enqueue(item, Math.max(backoff, this.reserveToken()), failures + 1);
  }

  /** Stops tracking `item`'s failures (it succeeded): its next rate-limited add starts from the base delay. */
  forget(item: T): void {
    const record = this.records.get(item);
    if (!record || record.failures === 0) return;
    record.failures = 0;
    this.persist(record);
  }

  numRequeues(item: T): number {
    return this.records.get(item)?.failures ?? 0;
  }

  /** The next due item (earliest due first, then first queued), now marked as being processed; undefined if none is due. */
  get(): T | undefined {
    const top = this.top();
    if (!top || top.dueAt > this.now()) return undefined;
    this.pop();
    const next = top.record;
    next.processing = true;
    next.dueAt = null;
    this.store.save(next);
    return next.item as T;
  }

  /** Ends the processing of `item`; if it was added again meanwhile, it is queued once more. */
  done(item: T): void {
    const record = this.records.get(item);
    if (!record?.processing) return;
    record.processing = false;
    // Added again while it was processed: its place was passed over then.
    this.place(record);
    this.persist(record);
  }

  /** When the earliest queued item is due (possibly already past), for a Durable Object alarm; undefined if nothing is queued. */
  nextDueAt(): number | undefined {
    return this.top()?.dueAt;
  }

  /** Items queued (due or waiting), not counting those being processed. */
  get length(): number {
    let n = 0;
    for (const record of this.records.values()) if (!record.processing && record.dueAt !== null) n++;
    return n;
  }

  private enqueue(item: T, delayMs: number, failures?: number): void {
    const due = this.now() + Math.max(0, delayMs);
    let record = this.records.get(item);
    if (!record) this.records.set(item, (record = { item, dueAt: null, processing: false, failures: 0, seq: 0 }));
    let changed = failures !== undefined && failures !== record.failures;
    if (failures !== undefined) record.failures = failures;
    if (record.dueAt === null || due < record.dueAt) {
      record.dueAt = due;
      record.seq = this.nextSeq++;
      changed = true;
      this.place(record);
    }
    if (changed) this.store.save(record);
  }

  /** Takes a token from the bucket and answers how long to wait for it (0 while the burst lasts). */
  private reserveToken(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.tokensAt) / 1000) * this.qps);
    this.tokensAt = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  /** Gives a queued record that is not being processed its place in the heap. */
  private place(record: QueueRecord): void {
    if (record.processing || record.dueAt === null) return;
    const heap = this.heap;
    heap.push({ record, dueAt: record.dueAt, seq: record.seq });
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** The earliest queued item that is not being processed, dropping stale places on the way. */
  private top(): Slot | undefined {
    for (;;) {
      const slot = this.heap[0];
      if (!slot) return undefined;
      const { record } = slot;
      if (this.records.get(record.item) === record && !record.processing && record.dueAt === slot.dueAt && record.seq === slot.seq) return slot;
      this.pop();
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < heap.length && before(heap[l]!, heap[least]!)) least = l;
      if (r < heap.length && before(heap[r]!, heap[least]!)) least = r;
      if (least === i) return;
      [heap[i], heap[least]] = [heap[least]!, heap[i]!];
      i = least;
    }
  }

  /** Saves a record, or drops it when nothing about it is left to remember. */
  private persist(record: QueueRecord): void {
    if (!record.processing && record.dueAt === null && record.failures === 0) {
      this.records.delete(record.item);
      this.store.remove(record.item);
    } else {
      this.store.save(record);
    }
  }
}

// How a control-plane Durable Object wakes: a poke (the store's fire-and-forget call after a commit)
// asks for a wake shortly after, so a burst of commits shares one; the alarm runs one wake at a
// time; and after a wake the alarm is set to when work is next due, or removed, so an idle cluster
// costs nothing. The scheduler and the controller manager both wake this way. What a poke says
// changed is kept in `changes`, for informers to skip catch-ups with nothing new.
import { StoreChanges, type PokeNews } from "./store-changes.ts";

/** The alarm calls of a Durable Object's storage. */
export interface AlarmStorage {
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
  deleteAlarm(): Promise<void>;
}

/** What a wake found: work left over (wake again soon), when work is next due, or a time to try again regardless of pokes. */
export interface WakeOutcome {
  more?: boolean;
  nextDueAt?: number;
  retryAt?: number;
}

/** How long a poke waits for the commits after it before the wake it asks for. */
export const POKE_BATCH_MS = 100;

export class AlarmWakes {
  /** The wake in progress (or the last one), and a wake asked for that has not started yet. */
  private current: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  /** Pokes so far: one that lands during a wake must not be overwritten by the alarm that wake sets last. */
  private pokes = 0;
  private readonly storage: AlarmStorage;
  private readonly wake: () => Promise<WakeOutcome>;
  /** What the pokes so far said was committed: informers given it (InformerOptions.changes) skip empty catch-ups. */
  readonly changes = new StoreChanges();

  constructor(storage: AlarmStorage, wake: () => Promise<WakeOutcome>) {
    this.storage = storage;
    this.wake = wake;
  }

  /** The store's poke: a wake within POKE_BATCH_MS, unless one is due sooner. */
  async poke(news?: PokeNews): Promise<void> {
    this.changes.note(news);
    this.pokes++;
    const due = Date.now() + POKE_BATCH_MS;
    const alarm = await this.storage.getAlarm();
    if (alarm === null || alarm > due) await this.storage.setAlarm(due);
  }

  /**
   * The alarm handler. One wake at a time: a call during a wake gets a fresh wake after it (which
   * sees what changed meanwhile); calls while that one waits to start share it. Alarms are
   * at-least-once and wakes idempotent, so a repeated wake just finds nothing to do.
   */
  alarm(): Promise<void> {
    if (!this.queued) {
      const next = this.current.catch(() => undefined).then(() => {
        this.queued = undefined;
        return this.run();
      });
      this.queued = next;
      this.current = next;
    }
    return this.queued;
  }

  private async run(): Promise<void> {
    const pokesSeen = this.pokes;
    const outcome = await this.wake();
    if (outcome.retryAt !== undefined) return this.storage.setAlarm(outcome.retryAt);
    // A commit during the wake (a pod created meanwhile, a victim deleted) is news to the next one.
    const next = outcome.more || this.pokes !== pokesSeen ? Date.now() + POKE_BATCH_MS : outcome.nextDueAt;
    if (next === undefined) await this.storage.deleteAlarm();
    else await this.storage.setAlarm(Math.max(next, Date.now()));
  }
}

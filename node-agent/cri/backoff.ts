// Per-key exponential back-off as the kubelet keeps it for crashed containers and failed image
// pulls (client-go's flowcontrol.Backoff): 10 s doubling to 5 min, forgotten after twice the
// maximum without a new failure (a container that ran 10 minutes starts over at 10 s).

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

interface Entry {
  backoffMs: number;
  lastUpdate: number;
}

export class Backoff {
  readonly clock: Clock;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly entries = new Map<string, Entry>();

  constructor(clock: Clock = systemClock, initialMs = 10_000, maxMs = 300_000) {
    this.clock = clock;
    this.initialMs = initialMs;
    this.maxMs = maxMs;
  }

  /** The current delay for `key` (0 when it has none). */
  get(key: string): number {
    return this.entries.get(key)?.backoffMs ?? 0;
  }

  /** Records a failure at `eventTime`: the first delay, or the previous one doubled up to the maximum. */
  next(key: string, eventTime: number): void {
    const entry = this.entries.get(key);
    if (!entry || this.hasExpired(eventTime, entry.lastUpdate)) {
      this.entries.set(key, { backoffMs: this.initialMs, lastUpdate: eventTime });
      return;
    }
    entry.backoffMs = Math.min(entry.backoffMs * 2, this.maxMs);
    entry.lastUpdate = eventTime;
  }

  /** Whether, now, less than the current delay has passed since `eventTime`. */
  isInBackOffSince(key: string, eventTime: number): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    if (this.hasExpired(eventTime, entry.lastUpdate)) return false;
    return this.clock.now() - eventTime < entry.backoffMs;
  }

  /** Forgets keys whose back-off has long expired, and every key for which `drop` says so. */
  gc(drop: (key: string) => boolean = () => false): void {
    const now = this.clock.now();
    for (const [key, entry] of this.entries) {
      if (drop(key) || this.hasExpired(now, entry.lastUpdate)) this.entries.delete(key);
    }
  }

  private hasExpired(eventTime: number, lastUpdate: number): boolean {
    return eventTime - lastUpdate > this.maxMs * 2;
  }
}

/** A duration as Go prints it ("10s", "1m20s", "5m0s", "1.5s", "350ms"), as the kubelet's messages show it. */
export function goDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${trimNumber(ms)}ms`;
  const totalSeconds = ms / 1000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = trimNumber(totalSeconds - hours * 3600 - minutes * 60);
  if (hours) return `${hours}h${minutes}m${seconds}s`;
  if (minutes) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

function trimNumber(n: number): string {
  return String(Number(n.toFixed(6)));
}

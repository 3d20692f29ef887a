// Records events.k8s.io/v1 Events as client-go's tools/events does: the first occurrence is a
// singleton Event; repeats of the same occurrence within 6 minutes of the last become that Event's
// `series` (count, lastObservedTime) instead of new Events. The second occurrence is written at once;
// later counts are written by `flush`, which also ends series that have been quiet for 6 minutes.
// With `correlate` it also does what client-go's tools/record does for kube-controller-manager's
// controllers: similar Events (differing only in their note) aggregate, and a per-object spam filter
// drops what a controller says beyond a burst, so a ReplicaSet of 1,000 pods gets 25 Events, not 1,000.
import type { ObjectReference } from "kubernetes-types/core/v1";
import type { Event } from "kubernetes-types/events/v1";
import { builtin } from "../k8s/resources.ts";
import { isAlreadyExists, isNotFound, type ApiClient, type KubeObject, type ResourceClient } from "./api-client.ts";
import { microTime } from "./micro-time.ts";

/** How long after its last occurrence a series is over (client-go's finishTime). */
export const SERIES_FINISH_MS = 6 * 60 * 1000;

/** tools/record's EventAggregator: the 10th similar Event (same object, type and reason, another note) within 10 minutes is aggregated. */
export const AGGREGATE_MAX_EVENTS = 10;
export const AGGREGATE_INTERVAL_MS = 10 * 60 * 1000;
/** The prefix of an aggregated Event's note (EventAggregatorByReasonMessageFunc). */
export const AGGREGATE_NOTE_PREFIX = "(combined from similar events): ";
/** tools/record's EventSourceObjectSpamFilter: 25 Events about one object at once, then one more per 5 minutes. */
export const SPAM_BURST = 25;
export const SPAM_REFILL_MS = 5 * 60 * 1000;
/** client-go's LRU size for each of the correlator's caches. */
const CORRELATOR_ENTRIES = 4096;

export type EventType = "Normal" | "Warning";

export interface EventRecorderOptions {
  /** e.g. "default-scheduler", "kubernetes.io/kubelet". */
  reportingController: string;
  /** This instance of the controller, e.g. "default-scheduler-<host>". */
  reportingInstance: string;
  now?: () => number;
  /**
   * Correlate as tools/record does (kube-controller-manager's recorder): similar Events about one
   * object aggregate from the 10th within 10 minutes into one "(combined from similar events): …"
   * Event whose series counts the rest, and at most 25 Events about one object are written at once,
   * then one per 5 minutes (the rest are dropped).
   */
  correlate?: boolean;
}

/** What the aggregator remembers of similar Events: the notes seen (at most 9 kept) and when the last came. */
interface Similar {
  notes: Set<string>;
  last: number;
  /** The note of the combined Event, once there is one. */
  combined?: string;
}

/** A spam filter's token bucket for one object: tokens as of `at`. */
interface Bucket {
  tokens: number;
  at: number;
}

interface Occurrence {
  event: Event;
  lastObserved: number;
  /** The series count the server has. */
  written: number;
  /** Writes of this Event, one after another. */
  writing: Promise<unknown>;
}

/** An object reference as Events carry it: without resourceVersion, so a changing object still aggregates. */
export function referenceTo(object: KubeObject | ObjectReference): ObjectReference {
  if (!("metadata" in object)) return object as ObjectReference;
  const o = object as KubeObject;
  const ref: ObjectReference = { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata?.name, namespace: o.metadata?.namespace, uid: o.metadata?.uid };
  return Object.fromEntries(Object.entries(ref).filter(([, v]) => v !== undefined && v !== "")) as ObjectReference;
}

export class EventRecorder {
  private readonly events: ResourceClient<Event>;
  private readonly options: EventRecorderOptions;
  private readonly now: () => number;
  private readonly occurrences = new Map<string, Occurrence>();
  private readonly similar = new Map<string, Similar>();
  private readonly buckets = new Map<string, Bucket>();
  /** Writes under way, which `flush` waits for. */
  private readonly pending = new Set<Promise<unknown>>();
  private lastNanos = 0n;

  constructor(client: ApiClient, options: EventRecorderOptions) {
    this.events = client.resource<Event>(builtin("events.k8s.io/v1", "events"));
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /**
   * Records one occurrence; resolves once it is written (or counted in a series whose next count
   * `flush` writes, or dropped by the spam filter). Answers the Event as this recorder last wrote it.
   * A caller that does not wait for it may leave it to `flush`, which waits for every write under way.
   */
  async record(
    regarding: KubeObject | ObjectReference,
    related: KubeObject | ObjectReference | undefined,
    type: EventType,
    reason: string,
    action: string,
    note: string,
  ): Promise<Event> {
    const now = this.now();
    const regardingRef = referenceTo(regarding);
    const relatedRef = related ? referenceTo(related) : undefined;
    const { reportingController, reportingInstance } = this.options;
    if (this.options.correlate) {
      note = this.aggregate(JSON.stringify([type, reason, reportingController, reportingInstance, sorted(regardingRef)]), note, now);
      if (!this.allowed(JSON.stringify([reportingController, reportingInstance, sorted(regardingRef)]), now)) {
        return { apiVersion: "events.k8s.io/v1", kind: "Event", eventTime: microTime(now), reportingController, reportingInstance, action, reason, type, note, regarding: regardingRef };
      }
    }
    const key = JSON.stringify([type, action, reason, reportingController, reportingInstance, sorted(regardingRef), relatedRef ? sorted(relatedRef) : null, note]);

    const seen = this.occurrences.get(key);
    if (seen && now - seen.lastObserved < SERIES_FINISH_MS) {
      seen.lastObserved = now;
      const count = (seen.event.series?.count ?? 1) + 1;
      seen.event = { ...seen.event, series: { count, lastObservedTime: microTime(now) } };
      // The second occurrence is written at once; later ones wait for flush.
      if (count === 2) await this.write(seen);
      return seen.event;
    }

    const event: Event = {
      apiVersion: "events.k8s.io/v1", kind: "Event",
      metadata: { name: `${regardingRef.name}.${this.nanos(now).toString(16)}`, namespace: regardingRef.namespace || "default" },
      eventTime: microTime(now),
      reportingController, reportingInstance, action, reason, type, note,
      regarding: regardingRef,
      ...(relatedRef ? { related: relatedRef } : {}),
    };
    const occurrence: Occurrence = { event, lastObserved: now, written: 0, writing: Promise.resolve() };
    this.occurrences.set(key, occurrence);
    await this.write(occurrence);
    return occurrence.event;
  }

  /**
   * Writes the counts of series that grew since their last write, waits for every write under way,
   * and forgets occurrences quiet for 6 minutes (and what the correlator no longer needs).
   */
  async flush(): Promise<void> {
    const now = this.now();
    const writes: Promise<unknown>[] = [...this.pending];
    for (const [key, occurrence] of this.occurrences) {
      if ((occurrence.event.series?.count ?? 1) > occurrence.written) writes.push(this.write(occurrence));
      if (now - occurrence.lastObserved >= SERIES_FINISH_MS) this.occurrences.delete(key);
    }
    for (const [key, similar] of this.similar) if (now - similar.last > AGGREGATE_INTERVAL_MS) this.similar.delete(key);
    for (const [key, bucket] of this.buckets) if (this.tokens(bucket, now) >= SPAM_BURST) this.buckets.delete(key);
    const results = await Promise.allSettled(writes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /**
   * The note to record (EventAggregator): the note itself until this is the 10th different note of
   * similar Events within 10 minutes, then one combined note, so the rest count in one Event's series.
   */
  private aggregate(key: string, note: string, now: number): string {
    let similar = this.similar.get(key);
    if (!similar || now - similar.last > AGGREGATE_INTERVAL_MS) similar = { notes: new Set(), last: now };
    this.similar.delete(key);
    this.similar.set(key, similar);
    evictOldest(this.similar);
    similar.notes.add(note);
    similar.last = now;
    if (similar.notes.size < AGGREGATE_MAX_EVENTS) return note;
    // Keep the set from growing: as client-go, forget one note once the threshold is reached.
    similar.notes.delete(similar.notes.values().next().value!);
    // The combined Event's note is fixed once written (events.k8s.io/v1 notes are immutable): the first combined note stands for the rest.
    similar.combined ??= `${AGGREGATE_NOTE_PREFIX}${note}`;
    return similar.combined;
  }

  /** The spam filter (EventSourceObjectSpamFilter): whether a token is left for one more Event about this object. */
  private allowed(key: string, now: number): boolean {
    const bucket = this.buckets.get(key) ?? { tokens: SPAM_BURST, at: now };
    bucket.tokens = this.tokens(bucket, now);
    bucket.at = now;
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    evictOldest(this.buckets);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private tokens(bucket: Bucket, now: number): number {
    return Math.min(SPAM_BURST, bucket.tokens + (now - bucket.at) / SPAM_REFILL_MS);
  }

  /** Creates the Event or patches its series, in order per Event; a series whose Event is gone is created anew. */
  private write(occurrence: Occurrence): Promise<void> {
    const run = async () => {
      const event = occurrence.event;
      const count = event.series?.count ?? 1;
      if (count <= occurrence.written) return;
      const { namespace, name } = event.metadata!;
      if (occurrence.written > 0 && event.series) {
        try {
          await this.events.patch(namespace, name!, { series: event.series }, "merge");
          occurrence.written = count;
          return;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      try {
        await this.events.create(namespace, event);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        await this.events.patch(namespace, name!, { series: event.series ?? null }, "merge");
      }
      occurrence.written = count;
    };
    const next = occurrence.writing.then(run, run);
    occurrence.writing = next.catch(() => {});
    const tracked = next.catch(() => {});
    this.pending.add(tracked);
    void tracked.then(() => this.pending.delete(tracked));
    return next;
  }

  /** Unix nanoseconds for an Event name, never the same twice from this recorder. */
  private nanos(ms: number): bigint {
    let nanos = BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.round((ms % 1) * 1_000_000));
    if (nanos <= this.lastNanos) nanos = this.lastNanos + 1n;
    this.lastNanos = nanos;
    return nanos;
  }
}

/** Bounds a correlator cache as client-go's LRU does: the least recently used entry goes first. */
function evictOldest<V>(cache: Map<string, V>): void {
  if (cache.size > CORRELATOR_ENTRIES) cache.delete(cache.keys().next().value!);
}

/** A reference with its keys in one order, so equal references make equal keys. */
function sorted(ref: ObjectReference): [string, unknown][] {
  return Object.entries(ref).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

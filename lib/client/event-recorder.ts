// Records events.k8s.io/v1 Events as client-go's tools/events does: the first occurrence is a
// singleton Event; repeats of the same occurrence within 6 minutes of the last become that Event's
// `series` (count, lastObservedTime) instead of new Events. The second occurrence is written at once;
// later counts are written by `flush`, which also ends series that have been quiet for 6 minutes.
import type { ObjectReference } from "kubernetes-types/core/v1";
import type { Event } from "kubernetes-types/events/v1";
import { builtin } from "../k8s/resources.ts";
import { isAlreadyExists, isNotFound, type ApiClient, type KubeObject, type ResourceClient } from "./api-client.ts";
import { microTime } from "./micro-time.ts";

/** How long after its last occurrence a series is over (client-go's finishTime). */
export const SERIES_FINISH_MS = 6 * 60 * 1000;

export type EventType = "Normal" | "Warning";

export interface EventRecorderOptions {
  /** e.g. "default-scheduler", "kubernetes.io/kubelet". */
  reportingController: string;
  /** This instance of the controller, e.g. "default-scheduler-<host>". */
  reportingInstance: string;
  now?: () => number;
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
  private lastNanos = 0n;

  constructor(client: ApiClient, options: EventRecorderOptions) {
    this.events = client.resource<Event>(builtin("events.k8s.io/v1", "events"));
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /**
   * Records one occurrence; resolves once it is written (or counted in a series whose next count
   * `flush` writes). Answers the Event as this recorder last wrote it.
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

  /** Writes the counts of series that grew since their last write, and forgets occurrences quiet for 6 minutes. */
  async flush(): Promise<void> {
    const now = this.now();
    const writes: Promise<void>[] = [];
    for (const [key, occurrence] of this.occurrences) {
      if ((occurrence.event.series?.count ?? 1) > occurrence.written) writes.push(this.write(occurrence));
      if (now - occurrence.lastObserved >= SERIES_FINISH_MS) this.occurrences.delete(key);
    }
    await Promise.all(writes);
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

/** A reference with its keys in one order, so equal references make equal keys. */
function sorted(ref: ObjectReference): [string, unknown][] {
  return Object.entries(ref).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// The kubelet's Events: core/v1 Events (the kubelet's own recorder writes those, and the system:node
// role may write only those; lib's EventRecorder writes events.k8s.io/v1), with source
// {component: kubelet, host: <node>}, a repeat of the same event on the same object counted
// (count, lastTimestamp) on the first Event as client-go's correlator does. Writes never block the
// pod worker and a failed write is only logged.
import type { Event, ObjectReference, Pod } from "kubernetes-types/core/v1";
import { builtin } from "../lib/k8s/resources.ts";
import type { ApiClient, ResourceClient } from "../lib/client/index.ts";

/** How long a repeat is folded into the first Event (client-go's aggregation window is 10 minutes). */
const REPEAT_WINDOW_MS = 10 * 60_000;

interface Seen {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
  last: number;
  writing: Promise<unknown>;
}

export class KubeletEvents {
  private readonly events: ResourceClient<Event>;
  private readonly nodeName: string;
  private readonly log: (message: string) => void;
  private readonly seen = new Map<string, Seen>();
  private lastNanos = 0n;

  constructor(client: ApiClient, nodeName: string, log: (message: string) => void) {
    this.events = client.resource<Event>(builtin("v1", "events"));
    this.nodeName = nodeName;
    this.log = log;
  }

  /** Records an Event about the pod (or one of its containers, by fieldPath "spec.containers{web}"). */
  record(pod: Pod, type: "Normal" | "Warning", reason: string, message: string, fieldPath?: string): void {
    const involvedObject: ObjectReference = {
      apiVersion: "v1", kind: "Pod", name: pod.metadata?.name, namespace: pod.metadata?.namespace, uid: pod.metadata?.uid,
      ...(fieldPath ? { fieldPath } : {}),
    };
    const key = JSON.stringify([involvedObject.uid, fieldPath, type, reason, message]);
    const now = Date.now();
    const stamp = new Date(now).toISOString().replace(/\.\d+Z$/, "Z");
    const seen = this.seen.get(key);
    if (seen && now - seen.last < REPEAT_WINDOW_MS) {
      seen.count++;
      seen.last = now;
      const patch = { count: seen.count, lastTimestamp: stamp };
      seen.writing = seen.writing.then(() => this.events.patch(seen.namespace, seen.name, patch, "merge")).catch((e) => this.log(`event ${reason}: ${(e as Error).message}`));
      return;
    }
    const namespace = pod.metadata?.namespace ?? "default";
    const name = `${pod.metadata?.name}.${this.nanos(now).toString(16)}`;
    const event: Event = {
      apiVersion: "v1", kind: "Event",
      metadata: { name, namespace },
      involvedObject, reason, message, type,
      source: { component: "kubelet", host: this.nodeName },
      firstTimestamp: stamp, lastTimestamp: stamp, count: 1,
      reportingComponent: "kubelet", reportingInstance: this.nodeName,
    };
    const entry: Seen = { name, namespace, count: 1, firstTimestamp: stamp, last: now, writing: Promise.resolve() };
    entry.writing = this.events.create(namespace, event).catch((e) => this.log(`event ${reason}: ${(e as Error).message}`));
    this.seen.set(key, entry);
    this.forgetOld(now);
  }

  /** Unix nanoseconds for an Event's name (client-go's), never the same twice here. */
  private nanos(ms: number): bigint {
    let nanos = BigInt(ms) * 1_000_000n;
    if (nanos <= this.lastNanos) nanos = this.lastNanos + 1n;
    return (this.lastNanos = nanos);
  }

  private forgetOld(now: number): void {
    if (this.seen.size < 1024) return;
    for (const [key, seen] of this.seen) if (now - seen.last >= REPEAT_WINDOW_MS) this.seen.delete(key);
  }
}

// events.k8s.io/v1: Event is the same stored object as core/v1 Event, with renamed fields, as in
// kube-apiserver: regarding ↔ involvedObject, note ↔ message, deprecated* ↔ the old counters.
import { eventTTLSeconds } from "./object-leases.ts";
import { declare, type KubeObject, type ResourceDefinition } from "./types.ts";

const RENAMES: [events: string, core: string][] = [
  ["regarding", "involvedObject"], ["note", "message"], ["deprecatedSource", "source"],
  ["deprecatedFirstTimestamp", "firstTimestamp"], ["deprecatedLastTimestamp", "lastTimestamp"],
  ["deprecatedCount", "count"], ["reportingController", "reportingComponent"],
];

function rename(object: KubeObject, apiVersion: string, from: 0 | 1): KubeObject {
  const out: KubeObject = { ...object, apiVersion };
  for (const pair of RENAMES) {
    const source = pair[from];
    const target = pair[1 - from]!;
    if (source in out) {
      out[target] = out[source];
      delete out[source];
    }
  }
  return out;
}

export const eventsV1ToCore = (event: KubeObject): KubeObject => rename(event, "v1", 0);
export const coreToEventsV1 = (event: KubeObject): KubeObject => rename(event, "events.k8s.io/v1", 1);

export const eventsResources: ResourceDefinition[] = [
  declare("events.k8s.io/v1", "events", {
    generation: false,
    ttl: eventTTLSeconds,
    conversion: { toStorage: eventsV1ToCore, fromStorage: coreToEventsV1 },
    selectableFields: (ev) => ({
      "regarding.kind": ev.regarding?.kind ?? "", "regarding.namespace": ev.regarding?.namespace ?? "", "regarding.name": ev.regarding?.name ?? "",
      "regarding.uid": ev.regarding?.uid ?? "", reason: ev.reason ?? "", reportingController: ev.reportingController ?? "", type: ev.type ?? "",
    }),
  }),
];

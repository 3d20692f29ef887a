// The event recorder against the real apiserver: events.k8s.io/v1 Events named as kube names them,
// repeats aggregated into one Event's series, series ended after 6 quiet minutes.
import type { ConfigMap, Event as CoreEvent } from "kubernetes-types/core/v1";
import type { Event } from "kubernetes-types/events/v1";
import { describe, expect, it } from "vitest";
import { builtin } from "../k8s/resources.ts";
import { EventRecorder, SERIES_FINISH_MS, SPAM_REFILL_MS } from "./event-recorder.ts";
import { freshNamespace, manualClock, testClient } from "./testing.ts";

const client = testClient();
const events = client.resource<Event>(builtin("events.k8s.io/v1", "events"));

describe("EventRecorder", () => {
  it("writes a singleton Event, then aggregates identical repeats into its series", async () => {
    const ns = await freshNamespace(client);
    const pod = await client.pods().create(ns, { metadata: { name: "web-1" }, spec: { containers: [{ name: "c", image: "busybox" }] } });
    const node = { apiVersion: "v1", kind: "Node", name: "node-a" };
    const clock = manualClock(Date.UTC(2026, 0, 1, 12, 0, 0) + 0.125);
    const recorder = new EventRecorder(client, { reportingController: "default-scheduler", reportingInstance: "default-scheduler-test", now: clock.now });

    const first = await recorder.record(pod, node, "Normal", "Scheduled", "Binding", `Successfully assigned ${ns}/web-1 to node-a`);
    const nanos = BigInt(Date.UTC(2026, 0, 1, 12, 0, 0)) * 1_000_000n + 125000n;
    expect(first.metadata!.name).toBe(`web-1.${nanos.toString(16)}`);
    const stored = await events.get(ns, first.metadata!.name!);
    expect(stored).toMatchObject({
      eventTime: "2026-01-01T12:00:00.000125Z",
      reportingController: "default-scheduler", reportingInstance: "default-scheduler-test",
      action: "Binding", reason: "Scheduled", type: "Normal", note: `Successfully assigned ${ns}/web-1 to node-a`,
      regarding: { apiVersion: "v1", kind: "Pod", name: "web-1", namespace: ns, uid: pod.metadata!.uid },
      related: { kind: "Node", name: "node-a" },
    });
    expect(stored.series).toBeUndefined();

    clock.advance(1000);
    await recorder.record(pod, node, "Normal", "Scheduled", "Binding", `Successfully assigned ${ns}/web-1 to node-a`);
    const all = (await events.list(ns)).items;
    expect(all).toHaveLength(1);
    expect(all[0]!.series).toEqual({ count: 2, lastObservedTime: "2026-01-01T12:00:01.000125Z" });
    // The core/v1 view of the same object.
    const core = await client.resource<CoreEvent>(builtin("v1", "events")).get(ns, first.metadata!.name!);
    expect(core).toMatchObject({ involvedObject: { name: "web-1" }, message: `Successfully assigned ${ns}/web-1 to node-a`, series: { count: 2 } });

    // Later repeats are counted, and written by flush.
    clock.advance(1000);
    await recorder.record(pod, node, "Normal", "Scheduled", "Binding", `Successfully assigned ${ns}/web-1 to node-a`);
    clock.advance(1000);
    await recorder.record(pod, node, "Normal", "Scheduled", "Binding", `Successfully assigned ${ns}/web-1 to node-a`);
    expect((await events.get(ns, first.metadata!.name!)).series!.count).toBe(2);
    await recorder.flush();
    expect((await events.get(ns, first.metadata!.name!)).series).toEqual({ count: 4, lastObservedTime: "2026-01-01T12:00:03.000125Z" });
    expect((await events.list(ns)).items).toHaveLength(1);
  });

  it("keeps different occurrences apart and starts a new Event once a series has been quiet for 6 minutes", async () => {
    const ns = await freshNamespace(client);
    const cm = await client.resource<ConfigMap>(builtin("v1", "configmaps")).create(ns, { metadata: { name: "settings" } });
    const clock = manualClock();
    const recorder = new EventRecorder(client, { reportingController: "example.com/checker", reportingInstance: "checker-1", now: clock.now });
    const names = new Set<string>();
    const record = async (type: "Normal" | "Warning", reason: string, note: string) => {
      names.add((await recorder.record(cm, undefined, type, reason, "Check", note)).metadata!.name!);
      clock.advance(1);
    };
    await record("Normal", "Checked", "fine");
    await record("Warning", "Checked", "fine");
    await record("Normal", "Stale", "fine");
    await record("Normal", "Checked", "not fine");
    await record("Normal", "Checked", "fine"); // the first again
    expect(names.size).toBe(4);
    // Events about a cluster-scoped object go to "default".
    const aboutNode = await recorder.record({ apiVersion: "v1", kind: "Node", name: `node-${ns}` }, undefined, "Normal", "NodeReady", "Check", "ready");
    expect((await events.get("default", aboutNode.metadata!.name!)).regarding).toEqual({ apiVersion: "v1", kind: "Node", name: `node-${ns}` });
    expect((await events.list(ns)).items.map((e) => `${e.type} ${e.reason} ${e.note} ${e.series?.count ?? 1}`).sort()).toEqual([
      "Normal Checked fine 2", "Normal Checked not fine 1", "Normal Stale fine 1", "Warning Checked fine 1",
    ]);

    clock.advance(SERIES_FINISH_MS);
    await recorder.flush();
    await record("Normal", "Checked", "fine");
    expect(names.size).toBe(5);
    expect((await events.list(ns, { fieldSelector: "reason=Checked,type=Normal" })).items.map((e) => e.series?.count ?? 1).sort()).toEqual([1, 1, 2]);
  });

  it("correlates as kube-controller-manager's recorder: similar Events combine from the 10th, and at most 25 about one object are written, then one per 5 minutes", async () => {
    const ns = await freshNamespace(client);
    const cm = await client.resource<ConfigMap>(builtin("v1", "configmaps")).create(ns, { metadata: { name: "owner" } });
    const other = await client.resource<ConfigMap>(builtin("v1", "configmaps")).create(ns, { metadata: { name: "other" } });
    const clock = manualClock();
    const recorder = new EventRecorder(client, { reportingController: "replicaset-controller", reportingInstance: "kcm-1", now: clock.now, correlate: true });
    // Not waited for one by one, as the ReplicaSet controller records them: flush waits.
    for (let i = 1; i <= 30; i++) {
      void recorder.record(cm, undefined, "Normal", "SuccessfulCreate", "Create", `Created pod: web-${i}`);
      clock.advance(10);
    }
    await recorder.record(other, undefined, "Normal", "SuccessfulCreate", "Create", "Created pod: other-1");
    await recorder.flush();
    const about = async (name: string) => (await events.list(ns)).items.filter((e) => e.regarding?.name === name).map((e) => `${e.note} ×${e.series?.count ?? 1}`).sort();
    // Nine singles, then one combined Event counting the 10th to the 25th; the last five were dropped.
    expect(await about("owner")).toEqual([
      ...Array.from({ length: 9 }, (_, i) => `Created pod: web-${i + 1} ×1`),
      "(combined from similar events): Created pod: web-10 ×16",
    ].sort());
    // The filter is per object.
    expect(await about("other")).toEqual(["Created pod: other-1 ×1"]);

    // Five minutes later there is room for one more.
    clock.advance(SPAM_REFILL_MS);
    await recorder.record(cm, undefined, "Normal", "SuccessfulCreate", "Create", "Created pod: web-31");
    await recorder.record(cm, undefined, "Normal", "SuccessfulCreate", "Create", "Created pod: web-32");
    await recorder.flush();
    expect((await about("owner")).filter((e) => e.startsWith("(combined"))).toEqual(["(combined from similar events): Created pod: web-10 ×17"]);
  });
});

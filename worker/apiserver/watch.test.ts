// Watches across compaction: a watcher whose resourceVersion is just before the compaction
// revision must never silently miss what happened at it. Selective watches (label and field
// selectors, which skip most events before parsing them) see exactly what enters, changes in and
// leaves their selection.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ConfigMap, Pod } from "kubernetes-types/core/v1";
import type { ResourceClient, WatchOptions } from "../../lib/client/api-client.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { compactStore, freshNamespace, testClient } from "../../lib/client/testing.ts";

const client = testClient();
const configMaps = client.resource<ConfigMap>(builtin("v1", "configmaps"));
const pods = client.resource<Pod>(builtin("v1", "pods"));

/** The events of a watch from `resourceVersion` up to its first bookmark (the replay's end), as "TYPE name". */
async function replay<T extends { metadata?: { name?: string } }>(resource: ResourceClient<T>, ns: string, options: WatchOptions): Promise<string[]> {
  const seen: string[] = [];
  const abort = new AbortController();
  for await (const event of resource.watch(ns, { ...options, allowWatchBookmarks: true }, abort.signal)) {
    if (event.type === "BOOKMARK") break;
    seen.push(`${event.type} ${event.object.metadata!.name}`);
  }
  abort.abort();
  return seen;
}

describe("watch after compaction", () => {
  it("answers 410 Expired when a delete at exactly the compaction revision lost its earlier value", async () => {
    const ns = await freshNamespace(client, "watch-compact");
    const created = await configMaps.create(ns, { metadata: { name: "doomed" } });
    await configMaps.delete(ns, "doomed");
    // The delete is the newest revision: compacting at it removes the value it deleted.
    const deletedAt = (await configMaps.list(ns)).metadata!.resourceVersion!;
    await compactStore(deletedAt);
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const event of configMaps.watch(ns, { resourceVersion: created.metadata!.resourceVersion })) seen.push(event.type);
    })().catch((e) => e);
    expect(seen).toEqual([]);
    expect(failure).toMatchObject({ code: 410, reason: "Expired" });
  });

  it("reports an update whose earlier value was compacted as MODIFIED", async () => {
    const ns = await freshNamespace(client, "watch-compact");
    const created = await configMaps.create(ns, { metadata: { name: "kept" }, data: { v: "1" } });
    await configMaps.update(ns, { ...created, data: { v: "2" } });
    const updatedAt = (await configMaps.list(ns)).metadata!.resourceVersion!;
    await compactStore(updatedAt);
    const abort = new AbortController();
    for await (const event of configMaps.watch(ns, { resourceVersion: created.metadata!.resourceVersion }, abort.signal)) {
      expect(event.type).toBe("MODIFIED");
      expect((event.object as ConfigMap).data).toEqual({ v: "2" });
      abort.abort();
      break;
    }
  });

  it("a selective watch whose earlier value was compacted still hears that the object left its selection", async () => {
    const ns = await freshNamespace(client, "watch-compact");
    const created = await configMaps.create(ns, { metadata: { name: "moved", labels: { app: "web" } } });
    await configMaps.patch(ns, "moved", { metadata: { labels: { app: "db" } } }, "merge");
    await compactStore((await configMaps.list(ns)).metadata!.resourceVersion!);
    expect(await replay(configMaps, ns, { resourceVersion: created.metadata!.resourceVersion, labelSelector: "app=web" })).toEqual(["DELETED moved"]);
  });
});

describe("selective watches", () => {
  it("see objects enter, change in and leave a label selection, and nothing of the others", async () => {
    const ns = await freshNamespace(client, "watch-select");
    const start = (await configMaps.list(ns)).metadata!.resourceVersion!;
    await configMaps.create(ns, { metadata: { name: "x", labels: { app: "other" } } });
    await configMaps.create(ns, { metadata: { name: "y", labels: { app: "web" } } });
    await configMaps.patch(ns, "x", { metadata: { labels: { app: "web" } } }, "merge");
    await configMaps.patch(ns, "x", { data: { v: "1" } }, "merge");
    await configMaps.patch(ns, "y", { metadata: { labels: { app: "db" } } }, "merge");
    await configMaps.delete(ns, "x");
    await configMaps.delete(ns, "y");
    expect(await replay(configMaps, ns, { resourceVersion: start, labelSelector: "app=web" })).toEqual(["ADDED y", "ADDED x", "MODIFIED x", "DELETED y", "DELETED x"]);
  });

  it("of a node's pods (spec.nodeName) see that node's pods only", async () => {
    const ns = await freshNamespace(client, "watch-select");
    const start = (await pods.list(ns)).metadata!.resourceVersion!;
    const pod = (name: string, nodeName: string): Pod => ({ metadata: { name }, spec: { nodeName, containers: [{ name: "c", image: "busybox" }] } });
    await pods.create(ns, pod("on-a", "node-a"));
    await pods.create(ns, pod("on-b", "node-b"));
    // "node-a" is also in the name of this node: only the exact field value counts.
    await pods.create(ns, pod("on-a2", "node-a2"));
    await pods.patch(ns, "on-a", { metadata: { labels: { seen: "yes" } } }, "merge");
    await pods.patch(ns, "on-b", { metadata: { labels: { seen: "yes" } } }, "merge");
    await pods.delete(ns, "on-a", { gracePeriodSeconds: 0 });
    await pods.delete(ns, "on-b", { gracePeriodSeconds: 0 });
    expect(await replay(pods, ns, { resourceVersion: start, fieldSelector: "spec.nodeName=node-a" })).toEqual(["ADDED on-a", "MODIFIED on-a", "DELETED on-a"]);
  });
});

describe("many watch streams of one isolate", () => {
  /** Opens a raw watch; `events` are its first `count` events (JSON lines), read as they come, then it is closed. */
  async function openWatch(path: string, count: number, accept = "application/json"): Promise<{ events: Promise<any[]> }> {
    const res = await exports.default.fetch(`https://edgeplane.test${path}`, { headers: { Authorization: "Bearer test-admin-token", Accept: accept } });
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const events = (async () => {
      const events: any[] = [];
      let pending = "";
      while (events.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += value;
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0 && events.length < count) {
          events.push(JSON.parse(pending.slice(0, nl)));
          pending = pending.slice(nl + 1);
        }
      }
      await reader.cancel();
      return events;
    })();
    return { events };
  }
  const summary = (events: any[]) => events.map((e) => `${e.type} ${e.object.metadata.name}@${e.object.metadata.resourceVersion}`);

  it("each get the events their selector and format call for, though the isolate builds each event once for all", async () => {
    const ns = await freshNamespace(client, "watch-many");
    const rv = (await configMaps.list(ns)).metadata!.resourceVersion!;
    const path = `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${rv}`;
    // Five streams: a Worker has at most six connections open at once, and the writes need one.
    const plain = await Promise.all([openWatch(path, 5), openWatch(path, 5)]);
    const web = await openWatch(`${path}&labelSelector=app%3Dweb`, 3);
    const table = await openWatch(path, 5, "application/json;as=Table;v=v1;g=meta.k8s.io");
    const partial = await openWatch(path, 5, "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io");
    const a = await configMaps.create(ns, { metadata: { name: "a", labels: { app: "web" } }, data: { v: "1" } });
    const b = await configMaps.create(ns, { metadata: { name: "b", labels: { app: "db" } } });
    const a2 = await configMaps.patch(ns, "a", { data: { v: "2" } }, "merge");
    const a3 = await configMaps.patch(ns, "a", { metadata: { labels: { app: "db" } } }, "merge");
    await configMaps.delete(ns, "b");
    const deletedAt = (await configMaps.list(ns)).metadata!.resourceVersion!;
    const expected = [
      `ADDED a@${a.metadata!.resourceVersion}`, `ADDED b@${b.metadata!.resourceVersion}`, `MODIFIED a@${a2.metadata!.resourceVersion}`,
      `MODIFIED a@${a3.metadata!.resourceVersion}`, `DELETED b@${deletedAt}`,
    ];
    for (const events of await Promise.all(plain.map((w) => w.events))) {
      expect(summary(events)).toEqual(expected);
      expect(events[2].object).toMatchObject({ kind: "ConfigMap", data: { v: "2" }, metadata: { labels: { app: "web" } } });
    }
    // The label change took "a" out of the selection: a DELETED of its new state.
    expect(summary(await web.events)).toEqual([`ADDED a@${a.metadata!.resourceVersion}`, `MODIFIED a@${a2.metadata!.resourceVersion}`, `DELETED a@${a3.metadata!.resourceVersion}`]);
    const tables = await table.events;
    expect(tables.map((e) => `${e.type} ${e.object.kind} ${e.object.rows[0].object.metadata.name}`)).toEqual(["ADDED Table a", "ADDED Table b", "MODIFIED Table a", "MODIFIED Table a", "DELETED Table b"]);
    const partials = await partial.events;
    expect(partials.map((e) => `${e.object.kind} ${e.object.metadata.name} ${"data" in e.object}`)).toEqual(Array.from("abaab", (n) => `PartialObjectMetadata ${n} false`));
  });

  it("of one resource at two API versions each see their own version's objects", async () => {
    const ns = await freshNamespace(client, "watch-many");
    const rv = (await configMaps.list(ns)).metadata!.resourceVersion!;
    const core = await openWatch(`/api/v1/namespaces/${ns}/events?watch=true&resourceVersion=${rv}`, 1);
    const v1 = await openWatch(`/apis/events.k8s.io/v1/namespaces/${ns}/events?watch=true&resourceVersion=${rv}`, 1);
    const core2 = await openWatch(`/api/v1/namespaces/${ns}/events?watch=true&resourceVersion=${rv}`, 1);
    await client.resource(builtin("v1", "events")).create(ns, {
      metadata: { name: "pulled" }, involvedObject: { kind: "Pod", name: "web", namespace: ns }, reason: "Pulled", message: "already present", type: "Normal",
    } as never);
    for (const events of [await core.events, await core2.events]) expect(events[0].object).toMatchObject({ apiVersion: "v1", kind: "Event", message: "already present" });
    expect((await v1.events)[0].object).toMatchObject({ apiVersion: "events.k8s.io/v1", kind: "Event", note: "already present" });
  });
});

// The informer against the real apiserver: list then watch, handlers, listers and indexers, resuming
// a dropped watch without losing or repeating an event, relisting after compaction, and catch-up.
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { ConfigMap, Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { builtin } from "../k8s/resources.ts";
import { storeObjectName, MAIN_SHARD } from "../shards.ts";
import { ApiClient, type KubeObject } from "./api-client.ts";
import { byNodeName, byOwnerUid, Informer, type InformerOptions } from "./informer.ts";
import { MemoryCache } from "./informer-cache.ts";
import { StoreChanges } from "./store-changes.ts";
import { compactStore, droppingFetch, freshNamespace, loggingFetch, testClient, workerFetch } from "./testing.ts";

const client = testClient();
const configMapNames = builtin("v1", "configmaps");
const configMaps = client.resource<ConfigMap>(configMapNames);

/** What the handlers saw, as "add|update|delete name@resourceVersion", and a way to await a condition on it. */
function watchHandlers<T extends KubeObject>(informer: Informer<T>) {
  const seen: string[] = [];
  const waiters: { done: () => boolean; resolve: () => void }[] = [];
  const push = (line: string) => {
    seen.push(line);
    for (const w of waiters.splice(0)) if (w.done()) w.resolve(); else waiters.push(w);
  };
  const at = (o: T) => `${o.metadata!.name}@${o.metadata!.resourceVersion}`;
  informer.addEventHandler({
    onAdd: (o) => push(`add ${at(o)}`),
    onUpdate: (old, o) => push(`update ${old.metadata!.name} ${old.metadata!.resourceVersion}->${o.metadata!.resourceVersion}`),
    onDelete: (o) => push(`delete ${at(o)}`),
  });
  return {
    seen,
    /** Resolves once `count` handler calls have been seen. */
    until(count: number): Promise<void> {
      const done = () => seen.length >= count;
      return done() ? Promise.resolve() : new Promise((resolve) => waiters.push({ done, resolve }));
    },
  };
}

function configMapInformer(fetchClient: ApiClient, ns: string, options: InformerOptions<ConfigMap> = {}) {
  return new Informer(fetchClient.resource<ConfigMap>(configMapNames), { namespace: ns, ...options });
}

/** Nine changes to three objects: create, update and delete each. Returns the resourceVersion of each, in order. */
async function nineChanges(ns: string): Promise<string[]> {
  const lines: string[] = [];
  for (const name of ["a", "b", "c"]) lines.push(`add ${name}@${(await configMaps.create(ns, { metadata: { name }, data: { v: "1" } })).metadata!.resourceVersion}`);
  for (const name of ["a", "b", "c"]) lines.push(`modified ${name}@${(await configMaps.patch(ns, name, { data: { v: "2" } }, "merge")).metadata!.resourceVersion}`);
  for (const name of ["a", "b", "c"]) {
    await configMaps.delete(ns, name);
    lines.push(`delete ${name}`);
  }
  return lines;
}

describe("Informer", () => {
  it("lists, then watches: handlers see every change; listers and indexers answer from the cache", async () => {
    const ns = await freshNamespace(client);
    const pods = client.pods();
    const spec = { containers: [{ name: "c", image: "busybox" }] };
    await pods.create(ns, { metadata: { name: "p1", labels: { app: "web" }, ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: "owner-1" }] }, spec });
    await pods.create(ns, { metadata: { name: "p2", labels: { app: "db" } }, spec });
    await pods.bind(ns, "p2", { metadata: { name: "p2" }, target: { kind: "Node", name: "node-a" } });

    const informer = new Informer<Pod>(pods, { namespace: ns, indexers: { node: byNodeName, owner: byOwnerUid } });
    const handlers = watchHandlers(informer);
    const stop = new AbortController();
    const running = informer.run(stop.signal);
    await handlers.until(2);
    expect(handlers.seen.map((s) => s.split("@")[0]).sort()).toEqual(["add p1", "add p2"]);
    expect(informer.hasSynced).toBe(true);

    expect(informer.lister.get(ns, "p1")!.metadata!.labels).toEqual({ app: "web" });
    expect(informer.lister.get(ns, "nope")).toBeUndefined();
    expect(informer.lister.list(ns).map((p) => p.metadata!.name).sort()).toEqual(["p1", "p2"]);
    expect(informer.lister.list(ns, "app=db").map((p) => p.metadata!.name)).toEqual(["p2"]);
    expect(informer.lister.list("elsewhere")).toEqual([]);
    expect(informer.lister.byIndex("node", "node-a").map((p) => p.metadata!.name)).toEqual(["p2"]);
    expect(informer.lister.byIndex("owner", "owner-1").map((p) => p.metadata!.name)).toEqual(["p1"]);

    await pods.bind(ns, "p1", { metadata: { name: "p1" }, target: { kind: "Node", name: "node-a" } });
    await pods.delete(ns, "p2", { gracePeriodSeconds: 0 });
    await handlers.until(4);
    expect(handlers.seen[2]).toMatch(/^update p1 \d+->\d+$/);
    expect(handlers.seen[3]).toMatch(/^delete p2@\d+$/);
    expect(informer.lister.byIndex("node", "node-a").map((p) => p.metadata!.name)).toEqual(["p1"]);
    expect(informer.lister.list(ns).map((p) => p.metadata!.name)).toEqual(["p1"]);
    stop.abort();
    await running;
  });

  it("resumes a watch dropped mid-stream from the last resourceVersion: no event lost, none repeated", async () => {
    const ns = await freshNamespace(client);
    // Every watch answer is cut after two lines, so nine events and the bookmark take five watches.
    const dropping = droppingFetch(undefined, 2);
    const { fetch, log } = loggingFetch(dropping.fetch);
    const informer = configMapInformer(testClient(fetch), ns);
    const handlers = watchHandlers(informer);
    await informer.catchUp();
    const expected = await nineChanges(ns);
    await informer.catchUp();
    expect(handlers.seen.map((s) => s.replace(/^update (\w+) \d+->(\d+)$/, "modified $1@$2").replace(/^(delete \w+)@\d+$/, "$1"))).toEqual(expected);
    expect(log.filter((l) => l.startsWith("GET"))).toHaveLength(1);
    expect(dropping.watches()).toBe(5);
    expect(dropping.open()).toBe(0);
  });

  it("keeps watching across dropped connections and a store restart in run mode, each event once", async () => {
    const ns = await freshNamespace(client);
    const dropping = droppingFetch(undefined, 3);
    const informer = configMapInformer(testClient(dropping.fetch), ns, { backoff: { initialMs: 1, maxMs: 10 } });
    const handlers = watchHandlers(informer);
    await informer.catchUp();
    const stop = new AbortController();
    const running = informer.run(stop.signal);
    const expected = await nineChanges(ns);
    await handlers.until(9);
    // The store restarts under the apiserver's watch; the next changes still arrive once each.
    await evictDurableObject(env.STORE.get(env.STORE.idFromName(storeObjectName(env.CLUSTER_NAME, MAIN_SHARD))));
    const more = await configMaps.create(ns, { metadata: { name: "after-restart" } });
    await handlers.until(10);
    stop.abort();
    await running;
    expect(handlers.seen.slice(0, 9).map((s) => s.replace(/^update (\w+) \d+->(\d+)$/, "modified $1@$2").replace(/^(delete \w+)@\d+$/, "$1"))).toEqual(expected);
    expect(handlers.seen[9]).toBe(`add after-restart@${more.metadata!.resourceVersion}`);
    expect(handlers.seen).toHaveLength(10);
    expect(dropping.watches()).toBeGreaterThanOrEqual(4);
  });

  it("relists when its resourceVersion was compacted away, handing the handlers exactly what changed", async () => {
    const ns = await freshNamespace(client);
    for (const name of ["keep", "change", "remove"]) await configMaps.create(ns, { metadata: { name }, data: { v: "1" } });
    const { fetch, log } = loggingFetch();
    const informer = configMapInformer(testClient(fetch), ns);
    const handlers = watchHandlers(informer);
    await informer.catchUp();
    expect(handlers.seen).toHaveLength(3);
    const before = informer.resourceVersion!;

    // While the informer is stopped: an update, a delete, a create, then compaction past its cursor.
    const changed = await configMaps.patch(ns, "change", { data: { v: "2" } }, "merge");
    await configMaps.delete(ns, "remove");
    const added = await configMaps.create(ns, { metadata: { name: "new" } });
    await compactStore((await configMaps.list(ns)).metadata.resourceVersion!);

    log.length = 0;
    await informer.catchUp();
    expect(log).toEqual([`WATCH /api/v1/namespaces/${ns}/configmaps`, `GET /api/v1/namespaces/${ns}/configmaps`]);
    const listedAt = (name: string) => handlers.seen.find((s) => s.startsWith(`add ${name}@`))!.split("@")[1];
    expect(handlers.seen.slice(3).sort()).toEqual([
      `add new@${added.metadata!.resourceVersion}`,
      `delete remove@${listedAt("remove")}`,
      `update change ${listedAt("change")}->${changed.metadata!.resourceVersion}`,
    ].sort());
    expect(Number(informer.resourceVersion)).toBeGreaterThan(Number(before));
    expect(informer.lister.list(ns).map((c) => c.metadata!.name).sort()).toEqual(["change", "keep", "new"]);

    // The same in run mode: the watch's 410 leads to a relist, then watching goes on.
    await configMaps.delete(ns, "keep");
    // One more write elsewhere, so the compaction goes past the delete (compacted at exactly a
    // delete's revision, the store keeps no earlier state of the object for the watch to send).
    await freshNamespace(client);
    await compactStore((await configMaps.list(ns)).metadata.resourceVersion!);
    const stop = new AbortController();
    const running = informer.run(stop.signal);
    await handlers.until(7);
    expect(handlers.seen[6]).toMatch(/^delete keep@\d+$/);
    const late = await configMaps.create(ns, { metadata: { name: "late" } });
    await handlers.until(8);
    stop.abort();
    await running;
    expect(handlers.seen[7]).toBe(`add late@${late.metadata!.resourceVersion}`);
  });

  it("relists a page at a time: each page reaches the cache and the handlers before the next is asked for, the cursor moving last", async () => {
    const ns = await freshNamespace(client);
    const names = Array.from({ length: 120 }, (_, i) => `cm-${String(i).padStart(3, "0")}`);
    await Promise.all(names.map((name) => configMaps.create(ns, { metadata: { name } })));
    const { fetch, log } = loggingFetch();
    const informer = configMapInformer(testClient(fetch), ns, { pageSize: 50 });
    /** For each handler call: how many list pages had been asked for, and where the cursor was. */
    const calls: { what: string; pages: number; cursor: string | undefined; cached: number }[] = [];
    const record = (what: string) => calls.push({ what, pages: log.filter((l) => l.startsWith("GET")).length, cursor: informer.resourceVersion, cached: informer.lister.list(ns).length });
    informer.addEventHandler({ onAdd: (o) => record(`add ${o.metadata!.name}`), onUpdate: (_, o) => record(`update ${o.metadata!.name}`), onDelete: (o) => record(`delete ${o.metadata!.name}`) });

    await informer.catchUp();
    expect(calls.map((c) => c.what)).toEqual(names.map((n) => `add ${n}`));
    // The first 50 were handed over after one page, with those 50 in the cache; the last 20 after three.
    expect(calls.map((c) => c.pages)).toEqual([...Array(50).fill(1), ...Array(50).fill(2), ...Array(20).fill(3)]);
    expect(calls.map((c) => c.cached)).toEqual([...Array(50).fill(50), ...Array(50).fill(100), ...Array(20).fill(120)]);
    expect(calls.every((c) => c.cursor === undefined)).toBe(true);
    expect(informer.resourceVersion).toBeDefined();
    const before = informer.resourceVersion!;

    // Gone while the cursor was compacted away: 70 deleted, one changed. The deletes come after the last page.
    await Promise.all(names.slice(50).map((name) => configMaps.delete(ns, name)));
    await configMaps.patch(ns, names[0]!, { data: { v: "2" } }, "merge");
    await compactStore((await configMaps.list(ns)).metadata.resourceVersion!);
    calls.length = 0;
    log.length = 0;
    await informer.catchUp();
    expect(log).toEqual([`WATCH /api/v1/namespaces/${ns}/configmaps`, `GET /api/v1/namespaces/${ns}/configmaps`]);
    expect(calls.map((c) => c.what)).toEqual([`update ${names[0]}`, ...names.slice(50).map((n) => `delete ${n}`)]);
    expect(calls.every((c) => c.cursor === before)).toBe(true);
    expect(Number(informer.resourceVersion)).toBeGreaterThan(Number(before));
    expect(informer.lister.list(ns).map((c) => c.metadata!.name).sort()).toEqual(names.slice(0, 50));
  });

  it("leaves its old cursor when a relist is cut short, and the next catch-up finishes it without handing anything over twice", async () => {
    const ns = await freshNamespace(client);
    const names = Array.from({ length: 30 }, (_, i) => `cm-${String(i).padStart(2, "0")}`);
    await Promise.all(names.map((name) => configMaps.create(ns, { metadata: { name } })));
    let failNextPage = true;
    const failing: typeof workerFetch = (request) => {
      if (failNextPage && new URL(request.url).searchParams.has("continue")) {
        failNextPage = false;
        return Promise.reject(new Error("connection reset"));
      }
      return workerFetch(request);
    };
    const informer = configMapInformer(testClient(failing), ns, { pageSize: 20 });
    const handlers = watchHandlers(informer);
    await expect(informer.catchUp()).rejects.toThrow("connection reset");
    expect(informer.resourceVersion).toBeUndefined();
    expect(handlers.seen.map((s) => s.split("@")[0])).toEqual(names.slice(0, 20).map((n) => `add ${n}`));

    await informer.catchUp();
    expect(handlers.seen.map((s) => s.split("@")[0])).toEqual(names.map((n) => `add ${n}`));
    expect(informer.resourceVersion).toBeDefined();
    expect(informer.lister.list(ns)).toHaveLength(30);
  });

  it("stops a list between pages when its signal says so and goes on from the next page at the next catch-up, also after a restart; a continue token too old by then starts the list again", async () => {
    const ns = await freshNamespace(client);
    const names = Array.from({ length: 120 }, (_, i) => `cm-${String(i).padStart(3, "0")}`);
    await Promise.all(names.map((name) => configMaps.create(ns, { metadata: { name } })));
    /** Each list request's continue token ("" for a first page). */
    const lists: string[] = [];
    const noting: typeof workerFetch = (request) => {
      const url = new URL(request.url);
      if (url.searchParams.get("watch") !== "true" && request.method === "GET") lists.push(url.searchParams.get("continue") ?? "");
      return workerFetch(request);
    };
    const cache = new MemoryCache<ConfigMap>();
    const first = configMapInformer(testClient(noting), ns, { pageSize: 50, cache });
    const firstSeen = watchHandlers(first);
    const stop = new AbortController();
    first.addEventHandler({ onAdd: () => stop.abort() });
    await first.catchUp(stop.signal);
    // One page in, handed over and cached; no cursor yet, so nothing may act on the cache.
    expect(firstSeen.seen.map((s) => s.split("@")[0])).toEqual(names.slice(0, 50).map((n) => `add ${n}`));
    expect(first.listing).toBe(true);
    expect(first.hasSynced).toBe(false);
    expect(lists).toEqual([""]);

    // A restart: another informer over the same cache goes on from the second page, handing over only what it had not.
    const second = configMapInformer(testClient(noting), ns, { pageSize: 50, cache });
    const secondSeen = watchHandlers(second);
    await second.catchUp();
    expect(lists).toHaveLength(3);
    expect(lists.slice(1).every((token) => token !== "")).toBe(true);
    expect(secondSeen.seen.map((s) => s.split("@")[0])).toEqual(names.slice(50).map((n) => `add ${n}`));
    expect(second.listing).toBe(false);
    expect(second.lister.list(ns)).toHaveLength(120);

    // A relist stopped after its first page, its list's revision then compacted away: the list starts again.
    await Promise.all(names.slice(100).map((name) => configMaps.delete(ns, name)));
    await configMaps.patch(ns, names[0]!, { data: { v: "2" } }, "merge");
    await compactStore((await configMaps.list(ns)).metadata.resourceVersion!);
    const third = configMapInformer(testClient(noting), ns, { pageSize: 50, cache });
    const thirdSeen = watchHandlers(third);
    const stopAgain = new AbortController();
    third.addEventHandler({ onUpdate: () => stopAgain.abort() });
    lists.length = 0;
    await third.catchUp(stopAgain.signal);
    expect(lists).toEqual([""]);
    expect(third.listing).toBe(true);
    await configMaps.create(ns, { metadata: { name: "late" } });
    await compactStore((await configMaps.list(ns)).metadata.resourceVersion!);
    await third.catchUp();
    // The old token answered 410 Gone; the list started again from its first page at a newer revision (101 objects: 3 pages).
    expect(lists).toHaveLength(5);
    expect(lists[1]).not.toBe("");
    expect(lists[2]).toBe("");
    expect(thirdSeen.seen.map((s) => s.split(/[@ ]/).slice(0, 2).join(" "))).toEqual([`update ${names[0]}`, "add late", ...names.slice(100).map((n) => `delete ${n}`)]);
    expect(third.listing).toBe(false);
    expect(third.lister.list(ns).map((c) => c.metadata!.name).sort()).toEqual([...names.slice(0, 100), "late"].sort());
  });

  it("with indexLabels, lists by selector from its label index and follows relabelling", async () => {
    const ns = await freshNamespace(client);
    const other = await freshNamespace(client);
    await configMaps.create(ns, { metadata: { name: "web-1", labels: { app: "web", tier: "front" } } });
    await configMaps.create(ns, { metadata: { name: "web-2", labels: { app: "web" } } });
    await configMaps.create(ns, { metadata: { name: "db-1", labels: { app: "db" } } });
    await configMaps.create(other, { metadata: { name: "web-3", labels: { app: "web" } } });
    const informer = new Informer(client.resource<ConfigMap>(configMapNames), { indexLabels: true });
    await informer.catchUp();
    const names = (namespace: string, selector: string) => informer.lister.list(namespace, selector).map((c) => c.metadata!.name).sort();
    expect(names(ns, "app=web")).toEqual(["web-1", "web-2"]);
    expect(names(ns, "app in (web,db),tier!=front")).toEqual(["db-1", "web-2"]);
    expect(names(ns, "tier")).toEqual(["web-1"]);
    expect(names(ns, "!tier")).toEqual(["db-1", "web-2"]);
    expect(names(other, "app=web")).toEqual(["web-3"]);
    expect(informer.lister.list(undefined, "app=web")).toHaveLength(3);

    await configMaps.patch(ns, "web-2", { metadata: { labels: { app: "db" } } }, "merge");
    await informer.catchUp();
    expect(names(ns, "app=web")).toEqual(["web-1"]);
    expect(names(ns, "app=db")).toEqual(["db-1", "web-2"]);
  });

  it("catchUp returns once caught up to now and leaves no watch open", async () => {
    const ns = await freshNamespace(client);
    const dropping = droppingFetch();
    const informer = configMapInformer(testClient(dropping.fetch), ns);
    await informer.catchUp();
    expect(dropping.watches()).toBe(0); // the first time is a list

    // Nothing changed: the bookmark after the (empty) replay ends it.
    await informer.catchUp();
    expect(dropping.watches()).toBe(1);
    expect(dropping.open()).toBe(0);

    await configMaps.create(ns, { metadata: { name: "x" }, data: { v: "1" } });
    const last = await configMaps.patch(ns, "x", { data: { v: "2" } }, "merge");
    await informer.catchUp();
    expect(dropping.watches()).toBe(2);
    expect(dropping.open()).toBe(0);
    expect(informer.lister.get(ns, "x")!.data).toEqual({ v: "2" });
    expect(Number(informer.resourceVersion)).toBeGreaterThanOrEqual(Number(last.metadata!.resourceVersion));
  });

  it("with StoreChanges, catchUp watches only when a poke's news or one of its client's own writes says the resource changed", async () => {
    const ns = await freshNamespace(client);
    const changes = new StoreChanges();
    const { fetch, log } = loggingFetch();
    const own = new ApiClient({ fetch, baseUrl: "https://edgeplane.test", token: "test-admin-token", onWrite: (resource) => changes.wrote(resource) });
    const informer = configMapInformer(own, ns, { changes });
    const watched = () => log.filter((line) => line.startsWith("WATCH")).length;
    await informer.catchUp();
    expect(log).toEqual([`GET /api/v1/namespaces/${ns}/configmaps`]);
    // No news yet: it cannot know, so it watches.
    await informer.catchUp();
    expect(watched()).toBe(1);

    // The last configmap commit is at its cursor: nothing to see, no request.
    const prefix = "/registry/configmaps/";
    changes.note({ revisions: { [prefix]: Number(informer.resourceVersion) } });
    await informer.catchUp();
    expect(log).toHaveLength(2);

    // Someone else's write, then its poke's news.
    const theirs = await configMaps.create(ns, { metadata: { name: "theirs" } });
    await informer.catchUp();
    expect(informer.lister.get(ns, "theirs")).toBeUndefined(); // the news has not come yet
    changes.note({ revisions: { [prefix]: Number(theirs.metadata!.resourceVersion) } });
    await informer.catchUp();
    expect(watched()).toBe(2);
    expect(informer.lister.get(ns, "theirs")).toBeDefined();
    // Older news (a late poke) changes nothing.
    changes.note({ revisions: { [prefix]: Number(theirs.metadata!.resourceVersion) - 1 } });
    await informer.catchUp();
    expect(watched()).toBe(2);

    // Its own write needs no news: the next catch-up looks.
    await own.resource<ConfigMap>(configMapNames).create(ns, { metadata: { name: "mine" } });
    await informer.catchUp();
    expect(watched()).toBe(3);
    expect(informer.lister.get(ns, "mine")).toBeDefined();
    await informer.catchUp();
    expect(watched()).toBe(3);
    // News of another resource says nothing about this one.
    changes.note({ revisions: { "/registry/secrets/": Number.MAX_SAFE_INTEGER } });
    await informer.catchUp();
    expect(watched()).toBe(3);
  });

  it("keeps only the projection of each object when given one", async () => {
    const ns = await freshNamespace(client);
    await configMaps.create(ns, { metadata: { name: "big", labels: { a: "b" } }, data: { payload: "x".repeat(1000) } });
    const informer = configMapInformer(client, ns, { project: (cm) => ({ metadata: { name: cm.metadata!.name, namespace: cm.metadata!.namespace, resourceVersion: cm.metadata!.resourceVersion, labels: cm.metadata!.labels } }) });
    const handlers = watchHandlers(informer);
    await informer.catchUp();
    expect(informer.lister.get(ns, "big")).toEqual({ metadata: { name: "big", namespace: ns, resourceVersion: expect.any(String), labels: { a: "b" } } });
    await configMaps.patch(ns, "big", { data: { payload: "y" } }, "merge");
    await informer.catchUp();
    expect(informer.lister.get(ns, "big")!).not.toHaveProperty("data");
    expect(handlers.seen).toHaveLength(2);
  });
});

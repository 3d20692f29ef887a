// The SQLite informer cache in a Durable Object's storage: a woken object catches up from its stored
// cursor (no relist) and sees what changed while it was gone; projections keep rows small.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { ConfigMap } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { builtin } from "../k8s/resources.ts";
import type { IndexFunc } from "./informer-cache.ts";
import { Informer } from "./informer.ts";
import { SqliteCache } from "./sqlite-cache.ts";
import { freshNamespace, loggingFetch, testClient, workerFetch } from "./testing.ts";

const client = testClient();
const configMapNames = builtin("v1", "configmaps");
const configMaps = client.resource<ConfigMap>(configMapNames);
const byColour: IndexFunc<ConfigMap> = (cm) => (cm.metadata?.labels?.colour ? [cm.metadata.labels.colour] : []);
const project = (cm: ConfigMap): ConfigMap => ({
  metadata: { name: cm.metadata!.name, namespace: cm.metadata!.namespace, resourceVersion: cm.metadata!.resourceVersion, labels: cm.metadata!.labels },
});

/** A Durable Object to host the cache in: there is no controller class yet, so a store shard's storage lends itself. */
const host = () => env.STORE.get(env.STORE.idFromName(`informer-test-${crypto.randomUUID()}`));

describe("SqliteCache", () => {
  it("lets a restarted Durable Object catch up from its stored cursor without relisting", async () => {
    const ns = await freshNamespace(client);
    await configMaps.create(ns, { metadata: { name: "red", labels: { colour: "red" } }, data: { payload: "x".repeat(500) } });
    await configMaps.create(ns, { metadata: { name: "blue", labels: { colour: "blue" } } });
    const { fetch, log } = loggingFetch();
    const stub = host();

    /** One wake-up: a fresh informer over the object's storage catches up and reports what it saw. */
    const wakeUp = () => runInDurableObject(stub, async (_instance, state) => {
      const informer = new Informer(testClient(fetch).resource<ConfigMap>(configMapNames), {
        namespace: ns, cache: new SqliteCache(state.storage, "configmaps"), indexers: { colour: byColour }, project,
      });
      const seen: string[] = [];
      informer.addEventHandler({
        onAdd: (o) => seen.push(`add ${o.metadata!.name}`),
        onUpdate: (old, o) => seen.push(`update ${o.metadata!.name} ${old.metadata!.labels?.colour}->${o.metadata!.labels?.colour}`),
        onDelete: (o) => seen.push(`delete ${o.metadata!.name}`),
      });
      const cursorBefore = informer.resourceVersion;
      await informer.catchUp();
      const rows = state.storage.sql.exec(`SELECT object FROM informer_objects WHERE informer = 'configmaps' ORDER BY key`).toArray();
      return {
        seen, cursorBefore, cursorAfter: informer.resourceVersion,
        names: informer.lister.list(ns).map((o) => o.metadata!.name).sort(),
        green: informer.lister.byIndex("colour", "green").map((o) => o.metadata!.name),
        red: informer.lister.byIndex("colour", "red").map((o) => o.metadata!.name),
        rows: rows.map((r) => JSON.parse(r.object as string)),
      };
    });

    const first = await wakeUp();
    expect(first.cursorBefore).toBeUndefined();
    expect(first.seen.sort()).toEqual(["add blue", "add red"]);
    expect(log).toEqual([`GET /api/v1/namespaces/${ns}/configmaps`]);
    // Only the projection is stored.
    expect(first.rows.map((r) => Object.keys(r).join())).toEqual(["metadata", "metadata"]);
    expect(first.rows[1]).toEqual({ metadata: { name: "red", namespace: ns, resourceVersion: expect.any(String), labels: { colour: "red" } } });

    await evictDurableObject(stub);
    await configMaps.patch(ns, "blue", { metadata: { labels: { colour: "green" } } }, "merge");
    await configMaps.delete(ns, "red");
    await configMaps.create(ns, { metadata: { name: "white" } });

    log.length = 0;
    const second = await wakeUp();
    expect(second.cursorBefore).toBe(first.cursorAfter);
    expect(log).toEqual([`WATCH /api/v1/namespaces/${ns}/configmaps`]);
    expect(second.seen).toEqual(["update blue blue->green", "delete red", "add white"]);
    expect(second.names).toEqual(["blue", "white"]);
    expect(second.green).toEqual(["blue"]);
    expect(second.red).toEqual([]);
    expect(Number(second.cursorAfter)).toBeGreaterThan(Number(first.cursorAfter));
  });

  it("keeps a list's continue token with each page, so an evicted object goes on from the next page", async () => {
    const ns = await freshNamespace(client);
    const names = Array.from({ length: 25 }, (_, i) => `cm-${String(i).padStart(2, "0")}`);
    await Promise.all(names.map((name) => configMaps.create(ns, { metadata: { name } })));
    const tokens: string[] = [];
    const noting: typeof workerFetch = (request) => {
      tokens.push(new URL(request.url).searchParams.get("continue") ?? "");
      return workerFetch(request);
    };
    const stub = host();
    /** One wake: a fresh informer over the object's storage lists until `pages` pages are in. */
    const wakeUp = (pages: number) => runInDurableObject(stub, async (_instance, state) => {
      const informer = new Informer(testClient(noting).resource<ConfigMap>(configMapNames), { namespace: ns, cache: new SqliteCache(state.storage, "configmaps"), pageSize: 10 });
      const added: string[] = [];
      const stop = new AbortController();
      informer.addEventHandler({ onAdd: (o) => added.push(o.metadata!.name!) });
      informer.addEventHandler({ onAdd: () => added.length >= pages * 10 && stop.abort() });
      await informer.catchUp(stop.signal);
      return { added, listing: informer.listing, saved: state.storage.sql.exec(`SELECT continue FROM informer_relist WHERE informer = 'configmaps'`).toArray().length };
    });

    const first = await wakeUp(1);
    expect(first).toEqual({ added: names.slice(0, 10), listing: true, saved: 1 });
    await evictDurableObject(stub);
    const second = await wakeUp(1);
    expect(second).toEqual({ added: names.slice(10, 20), listing: true, saved: 1 });
    await evictDurableObject(stub);
    const third = await wakeUp(5);
    expect(third).toEqual({ added: names.slice(20), listing: false, saved: 0 });
    expect(tokens.map((t) => t !== "")).toEqual([false, true, true]);
  });

  it("keeps informers apart by name, writes objects and cursor together, and rebuilds index entries for new indexers", async () => {
    const stub = host();
    await runInDurableObject(stub, (_instance, state) => {
      const a = new SqliteCache<ConfigMap>(state.storage, "a");
      const b = new SqliteCache<ConfigMap>(state.storage, "b");
      a.open({});
      b.open({});
      a.apply({ put: [{ metadata: { name: "x", namespace: "n", labels: { colour: "red" } } }], delete: [], resourceVersion: "5" });
      b.apply({ put: [{ metadata: { name: "y" } }], delete: [], resourceVersion: "9" });
      expect(a.list().map((o) => o.metadata!.name)).toEqual(["x"]);
      expect(a.get("n/x")).toBeDefined();
      expect(b.get("y")).toBeDefined();
      expect(a.get("y")).toBeUndefined();
      expect([a.resourceVersion(), b.resourceVersion()]).toEqual(["5", "9"]);

      // A write that fails halfway changes nothing: not the objects, not the cursor.
      const unserializable = { metadata: { name: "z", namespace: "n" }, data: { n: 1n } } as unknown as ConfigMap;
      expect(() => a.apply({ put: [unserializable], delete: ["n/x"], resourceVersion: "6" })).toThrow(/BigInt/);
      expect(a.list().map((o) => o.metadata!.name)).toEqual(["x"]);
      expect(a.resourceVersion()).toBe("5");

      // Opened with another set of indexers, the entries are rebuilt from the stored objects.
      const reopened = new SqliteCache<ConfigMap>(state.storage, "a");
      reopened.open({ colour: byColour });
      expect(reopened.byIndex("colour", "red").map((o) => o.metadata!.name)).toEqual(["x"]);
      expect(() => reopened.byIndex("size", "big")).toThrow("no index named size");
      reopened.apply({ replace: true, put: [{ metadata: { name: "w", namespace: "n" } }], delete: [], resourceVersion: "7" });
      expect(reopened.list().map((o) => o.metadata!.name)).toEqual(["w"]);
      expect(reopened.byIndex("colour", "red")).toEqual([]);
      expect(b.list().map((o) => o.metadata!.name)).toEqual(["y"]);
    });
  });

  it("walks a large cache a page at a time, and rebuilds index entries over every page", async () => {
    const stub = host();
    await runInDurableObject(stub, (_instance, state) => {
      const cache = new SqliteCache<ConfigMap>(state.storage, "many");
      const informer = new Informer(configMaps, { cache, indexers: {} });
      const names = Array.from({ length: 1_200 }, (_, i) => `cm-${String(i).padStart(4, "0")}`);
      cache.apply({ put: names.map((name, i) => ({ metadata: { name, namespace: "n", labels: { colour: i % 2 ? "red" : "blue" } } })), delete: [], resourceVersion: "5" });

      const visited: string[] = [];
      informer.lister.each((cm) => {
        visited.push(cm.metadata!.name!);
        // Deleted ahead of the walk, after the first object: a walk that read everything first would still visit it.
        if (visited.length === 1) cache.apply({ put: [], delete: ["n/cm-1199"], resourceVersion: "6" });
      });
      expect(visited).toEqual(names.slice(0, 1_199));

      const reopened = new SqliteCache<ConfigMap>(state.storage, "many");
      new Informer(configMaps, { cache: reopened, indexers: { colour: byColour } });
      expect(reopened.byIndex("colour", "red")).toHaveLength(599);
      expect(reopened.byIndex("colour", "blue")).toHaveLength(600);
    });
  });
});

// Watch streams over the store's hibernatable WebSocket: etcd's create/cancel/progress protocol,
// history replay without gaps or duplicates, and resumption across restarts.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { StoreShard } from "./index.ts";
import { b, freshStore, ok, openWatchStream, text } from "./testing.ts";

type Stream = Awaited<ReturnType<typeof openWatchStream>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Events as "TYPE key@revision" (with "<prev" for prev_kv) from one response. */
function events(response: any): string[] {
  return (response?.result?.events ?? []).map((e: any) =>
    `${e.type ?? "PUT"} ${atob(e.kv.key)}@${e.kv.mod_revision}${e.prev_kv ? `<${atob(e.prev_kv.value ?? "")}` : ""}`);
}

/** Collects events until `count` have arrived (or the stream goes quiet). */
async function collect(watch: Stream, count: number): Promise<string[]> {
  const seen: string[] = [];
  while (seen.length < count) {
    const next = await watch.next(3000);
    if (!next) break;
    seen.push(...events(next));
  }
  return seen;
}

describe("watch", () => {
  it("creates watchers with ids, delivers live events, honours filters and prev_kv, and cancels", async () => {
    const store = freshStore();
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("a") } });
    expect((await watch.next()).result).toMatchObject({ created: true, header: { revision: "1" } });
    watch.send({ create_request: { key: btoa("a"), range_end: btoa("c"), prev_kv: true, filters: ["NODELETE"], watch_id: 5 } });
    expect((await watch.next()).result).toMatchObject({ created: true, watch_id: "5" });

    ok(await store.put({ key: b("a"), value: b("1") }));
    ok(await store.put({ key: b("b"), value: b("2") }));
    ok(await store.put({ key: b("a"), value: b("3") }));
    ok(await store.deleteRange({ key: b("a") }));
    const byWatcher: Record<string, string[]> = {};
    for (let i = 0; i < 6; i++) {
      const r = await watch.next();
      (byWatcher[r.result.watch_id ?? "0"] ??= []).push(...events(r));
    }
    expect(byWatcher["0"]).toEqual(["PUT a@2", "PUT a@4", "DELETE a@5"]);
    expect(byWatcher["5"]).toEqual(["PUT a@2", "PUT b@3", "PUT a@4<1"]);

    watch.send({ cancel_request: { watch_id: 5 } });
    expect((await watch.next()).result).toMatchObject({ watch_id: "5", canceled: true });
    ok(await store.put({ key: b("b"), value: b("4") }));
    expect(await watch.next(300)).toBeUndefined();

    watch.send({ progress_request: {} });
    expect((await watch.next()).result).toMatchObject({ watch_id: "-1", header: { revision: "6" } });
    watch.send({ create_request: { key: btoa("x"), watch_id: 0 } });
    expect((await watch.next()).result).toMatchObject({ watch_id: "1", created: true });
    watch.send({ create_request: { key: btoa("x"), watch_id: 1 } });
    expect((await watch.next()).result).toMatchObject({ watch_id: "-1", canceled: true, cancel_reason: "mvcc: duplicate watch ID provided on the WatchStream" });
    watch.close();
  });

  it("a watcher from revision R sees exactly the events after R, in order, then live ones", async () => {
    const store = freshStore();
    for (let i = 0; i < 20; i++) ok(await store.put({ key: b(`k${i % 4}`), value: b(String(i)) })); // revisions 2..21
    ok(await store.deleteRange({ key: b("k0") })); // 22
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("k"), range_end: btoa("l"), start_revision: 15 } });
    expect((await watch.next()).result.created).toBe(true);
    ok(await store.put({ key: b("k9"), value: b("live") })); // 23
    const seen = await collect(watch, 9);
    const expected = [...Array.from({ length: 7 }, (_, i) => `PUT k${(i + 13) % 4}@${i + 15}`), "DELETE k0@22", "PUT k9@23"];
    expect(seen).toEqual(expected);
    watch.close();
  });

  it("replays with prev_kv and the NOPUT filter", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("p"), value: b("1") }));
    ok(await store.put({ key: b("p"), value: b("2") }));
    ok(await store.deleteRange({ key: b("p") }));
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("p"), start_revision: 1, prev_kv: true } });
    await watch.next();
    expect(events(await watch.next())).toEqual(["PUT p@2", "PUT p@3<1", "DELETE p@4<2"]);
    watch.send({ create_request: { key: btoa("p"), start_revision: 1, filters: ["NOPUT"] } });
    await watch.next();
    expect(events(await watch.next())).toEqual(["DELETE p@4"]);
    watch.close();
  });

  it("replays a prefix with prev_kv from mid-history: each event carries its own key's value before it", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("q/a"), value: b("a1") })); // 2
    ok(await store.put({ key: b("q/b"), value: b("b1") })); // 3
    ok(await store.put({ key: b("q/a"), value: b("a2") })); // 4
    ok(await store.deleteRange({ key: b("q/b") })); // 5
    ok(await store.put({ key: b("q/b"), value: b("b2") })); // 6: re-created, nothing before it
    ok(await store.put({ key: b("q/a"), value: b("a3") })); // 7
    ok(await store.put({ key: b("r"), value: b("outside") })); // 8
    ok(await store.txn({ success: [{ request_put: { key: b("q/a"), value: b("a4") } }, { request_put: { key: b("q/b"), value: b("b3") } }] })); // 9
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("q/"), range_end: btoa("q0"), start_revision: 4, prev_kv: true } });
    await watch.next();
    expect(events(await watch.next())).toEqual(["PUT q/a@4<a1", "DELETE q/b@5<b1", "PUT q/b@6", "PUT q/a@7<a2", "PUT q/a@9<a3", "PUT q/b@9<b2"]);
    watch.close();
  });

  it("sends a watcher that names value_contains only events whose new or old value holds every needle, live and replayed", async () => {
    const store = freshStore();
    const pod = (node: string, app = "web") => b(JSON.stringify({ metadata: { labels: { app } }, spec: { nodeName: node } }));
    const needles = ['"nodeName":"n1"', '"app":"web"'];
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("pods/"), range_end: btoa("pods0"), prev_kv: true, value_contains: needles } });
    const created = await watch.next();
    const start = Number(created.result.header.revision) + 1;
    ok(await store.put({ key: b("pods/a"), value: pod("n1") })); // created on n1: sent
    ok(await store.put({ key: b("pods/b"), value: pod("n2") })); // created on n2: not sent
    ok(await store.put({ key: b("pods/b"), value: pod("n2", "db") })); // n2 → n2: not sent
    ok(await store.put({ key: b("pods/a"), value: pod("n1", "db") })); // leaves the selection: sent (old value held)
    ok(await store.put({ key: b("pods/c"), value: b("k8s:enc:aesgcm:v1:key1:sealed") })); // sealed: sent
    ok(await store.deleteRange({ key: b("pods/b") })); // an n2 pod deleted: not sent
    ok(await store.put({ key: b("pods/d"), value: pod("n1") }));
    ok(await store.deleteRange({ key: b("pods/d") })); // an n1 pod deleted: sent
    ok(await store.put({ key: b("pods/e"), value: pod("n10") })); // on n10, whose name starts with n1: not sent
    const expected = [`PUT pods/a@${start}`, `PUT pods/a@${start + 3}`, `PUT pods/c@${start + 4}`, `PUT pods/d@${start + 6}`, `DELETE pods/d@${start + 7}`];
    const live = (await collect(watch, expected.length)).map((e) => e.split("<")[0]);
    expect(live).toEqual(expected);
    expect(await watch.next(300)).toBeUndefined();
    watch.send({ create_request: { key: btoa("pods/"), range_end: btoa("pods0"), start_revision: start, prev_kv: true, value_contains: needles } });
    await watch.next();
    expect(events(await watch.next()).map((e) => e.split("<")[0])).toEqual(expected);
    watch.send({ create_request: { key: btoa("pods/"), value_contains: ['"a'] } });
    expect((await watch.next()).error).toMatch(/value_contains/);
    watch.close();
  });

  it("sends events as binary frames on a stream opened with ?events=binary, everything else as JSON", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("bin/a"), value: b("1") })); // 2
    const watch = await openWatchStream(store, { binary: true });
    watch.send({ create_request: { key: btoa("bin/"), range_end: btoa("bin0"), start_revision: 2, prev_kv: true, progress_notify: true, watch_id: 4 } });
    expect((await watch.next()).result.created).toBe(true);
    const shown = (m: any) => m.frame.events.map((e: any) => `${e.type} ${text(e.kv.key)}=${text(e.kv.value)}@${e.kv.mod_revision} v${e.kv.version}${e.prev_kv ? `<${text(e.prev_kv.value)}` : ""}`);
    const replayed = await watch.next();
    expect(replayed.frame.watchId).toBe(4);
    expect(shown(replayed)).toEqual(["PUT bin/a=1@2 v1"]);
    expect((await watch.next()).result.header.revision).toBe("2"); // caught up: a progress notice, as JSON
    ok(await store.put({ key: b("bin/a"), value: b("2") }));
    ok(await store.deleteRange({ key: b("bin/a") }));
    expect(shown(await watch.next())).toEqual(["PUT bin/a=2@3 v2<1"]);
    expect(shown(await watch.next())).toEqual(["DELETE bin/a=@4 v0<2"]);
    watch.close();
  });

  it("with prev_kv_only_deletes, sends the value before with deletes only, live and replayed", async () => {
    const store = freshStore();
    const start = Number(ok(await store.put({ key: b("pd/a"), value: b("1") })).header.revision); // 2
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("pd/"), range_end: btoa("pd0"), start_revision: start, prev_kv: true, prev_kv_only_deletes: true } });
    await watch.next();
    expect(events(await watch.next())).toEqual(["PUT pd/a@2"]);
    ok(await store.put({ key: b("pd/a"), value: b("2") })); // 3
    ok(await store.deleteRange({ key: b("pd/a") })); // 4
    expect(await collect(watch, 2)).toEqual(["PUT pd/a@3", "DELETE pd/a@4<2"]);
    watch.send({ create_request: { key: btoa("pd/"), range_end: btoa("pd0"), start_revision: start, prev_kv: true, prev_kv_only_deletes: true } });
    await watch.next();
    expect(events(await watch.next())).toEqual(["PUT pd/a@2", "PUT pd/a@3", "DELETE pd/a@4<2"]);
    watch.close();
  });

  it("sends a binary watcher the commits of one commit group in one frame, a JSON watcher one response per revision", async () => {
    const store = freshStore();
    const binary = await openWatchStream(store, { binary: true });
    const json = await openWatchStream(store);
    for (const watch of [binary, json]) {
      watch.send({ create_request: { key: btoa("grp/"), range_end: btoa("grp0"), watch_id: 1 } });
      expect((await watch.next()).result.created).toBe(true);
    }
    // Called in one turn: the first write commits at once, the two after it wait and share the next commit.
    await runInDurableObject(store, (shard: StoreShard) => Promise.all(["a", "b", "c"].map((k) => shard.put({ key: b(`grp/${k}`), value: b(k) }))));
    const shown = (m: any) => [m.frame.revision, ...m.frame.events.map((e: any) => `${text(e.kv.key)}@${e.kv.mod_revision}`)];
    expect(shown(await binary.next())).toEqual([2, "grp/a@2"]);
    expect(shown(await binary.next())).toEqual([4, "grp/b@3", "grp/c@4"]);
    expect(await collect(json, 3)).toEqual(["PUT grp/a@2", "PUT grp/b@3", "PUT grp/c@4"]);
    // What is asked after the writes is answered after their events.
    binary.send({ progress_request: {} });
    expect((await binary.next()).result.header.revision).toBe("4");
    binary.close();
    json.close();
  });

  it("across a store restart, a client resuming from its last revision misses nothing and sees nothing twice", async () => {
    const store = freshStore();
    for (let i = 0; i < 5; i++) ok(await store.put({ key: b(`r${i}`), value: b("x") })); // 2..6
    const first = await openWatchStream(store);
    first.send({ create_request: { key: btoa("r"), range_end: btoa("s"), start_revision: 2 } });
    await first.next();
    const before = await collect(first, 5);
    expect(before).toHaveLength(5);
    // More writes, then the object restarts mid-stream: the socket drops.
    for (let i = 5; i < 8; i++) ok(await store.put({ key: b(`r${i}`), value: b("x") })); // 7..9
    const live = await collect(first, 3);
    await evictDurableObject(store, { webSockets: "close" });
    for (let i = 8; i < 10; i++) ok(await store.put({ key: b(`r${i}`), value: b("x") })); // 10..11, while nobody watches
    const seenBeforeDrop = [...before, ...live];
    const last = Number(seenBeforeDrop.at(-1)!.split("@")[1]);
    expect(await first.next(1000)).toBeUndefined();
    expect(first.closed).toBe(true);

    const resumed = await openWatchStream(store);
    resumed.send({ create_request: { key: btoa("r"), range_end: btoa("s"), start_revision: last + 1 } });
    await resumed.next();
    const after = await collect(resumed, 11 - last);
    const all = [...seenBeforeDrop, ...after];
    expect(all).toEqual(Array.from({ length: 10 }, (_, i) => `PUT r${i}@${i + 2}`));
    resumed.close();
  });

  it("a hibernated store keeps its watchers: events after waking still arrive", async () => {
    const store = freshStore();
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("h"), watch_id: 3, prev_kv: true } });
    await watch.next();
    await evictDurableObject(store, { webSockets: "hibernate" });
    ok(await store.put({ key: b("h"), value: b("after") }));
    const r = await watch.next();
    expect(r.result.watch_id).toBe("3");
    expect(events(r)).toEqual(["PUT h@2"]);
    watch.close();
  });

  it("watching from a compacted revision answers the compacted error with the compact revision", async () => {
    const store = freshStore();
    for (let i = 0; i < 5; i++) ok(await store.put({ key: b("c"), value: b(String(i)) }));
    ok(await store.compact({ revision: 4 }));
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("c"), start_revision: 2 } });
    expect((await watch.next()).result.created).toBe(true);
    const compacted = (await watch.next()).result;
    expect(compacted).toMatchObject({ canceled: true, compact_revision: "4" });
    expect(compacted.header.revision).toBeUndefined();
    // From the compact revision itself, history is still there.
    watch.send({ create_request: { key: btoa("c"), start_revision: 4 } });
    await watch.next();
    expect(events(await watch.next())).toEqual(["PUT c@4", "PUT c@5", "PUT c@6"]);
    watch.close();
  });

  it("sends progress notifications to idle watchers that asked for them", async () => {
    const store = freshStore(); // WATCH_PROGRESS_NOTIFY_SECONDS is 1 in the test settings
    ok(await store.put({ key: b("q"), value: b("1") }));
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("q"), progress_notify: true, watch_id: 2 } });
    await watch.next();
    watch.send({ create_request: { key: btoa("q"), watch_id: 4 } });
    await watch.next();
    await sleep(1100);
    await runDurableObjectAlarm(store);
    const notice = (await watch.next()).result;
    expect(notice).toMatchObject({ watch_id: "2", header: { revision: "2" } });
    expect(notice.events).toBeUndefined();
    expect(await watch.next(300)).toBeUndefined(); // watcher 4 did not ask
    watch.close();
  });

  it("tells a watcher that asked for progress notifications the current revision right after its replay", async () => {
    const store = freshStore();
    ok(await store.put({ key: b("r"), value: b("1") }));
    ok(await store.put({ key: b("other"), value: b("2") }));
    ok(await store.put({ key: b("r"), value: b("3") }));
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("r"), start_revision: 2, progress_notify: true } });
    expect((await watch.next()).result).toMatchObject({ created: true, header: { revision: "4" } });
    expect(events(await watch.next())).toEqual(["PUT r@2", "PUT r@4"]);
    const caughtUp = (await watch.next()).result;
    expect(caughtUp).toMatchObject({ header: { revision: "4" } });
    expect(caughtUp.events).toBeUndefined();
    // Nothing to replay: the notice comes at once. From a future revision, or without a start, none.
    watch.send({ create_request: { key: btoa("r"), start_revision: 5, progress_notify: true, watch_id: 7 } });
    expect((await watch.next()).result).toMatchObject({ created: true, watch_id: "7" });
    expect((await watch.next()).result).toMatchObject({ watch_id: "7", header: { revision: "4" } });
    watch.send({ create_request: { key: btoa("r"), start_revision: 9, progress_notify: true, watch_id: 8 } });
    expect((await watch.next()).result).toMatchObject({ created: true, watch_id: "8" });
    watch.send({ create_request: { key: btoa("r"), progress_notify: true, watch_id: 9 } });
    expect((await watch.next()).result).toMatchObject({ created: true, watch_id: "9" });
    expect(await watch.next(300)).toBeUndefined();
    watch.close();
  });

  it("rejects malformed watch requests and empty ranges", async () => {
    const store = freshStore();
    const watch = await openWatchStream(store);
    watch.send({ create_request: { key: btoa("b"), range_end: btoa("a") } });
    expect((await watch.next()).result).toMatchObject({ watch_id: "-1", created: true, canceled: true, cancel_reason: "mvcc: watcher range is empty" });
    watch.send({ create_request: { key: "!!" } });
    expect(await watch.next()).toMatchObject({ code: 3 });
    expect(await watch.next(1000)).toBeUndefined();
    expect(watch.closed).toBe(true);
  });
});

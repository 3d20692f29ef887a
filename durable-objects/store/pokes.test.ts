// The store's pokes, sent to a real controller manager object (one of its own, under a throwaway
// cluster name): each carries the revision of the last commit under every prefix the target
// watches, and a prefix with no commit since the shard started is reported at the revision before
// its first commit, so a cache already past that skips its catch-up; resources the target is not
// poked for stay unknown (always caught up).
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PokeNews, StoreChanges } from "../../lib/client/store-changes.ts";
import { builtin, type ResourceNames } from "../../lib/k8s/resources.ts";
import { until } from "../../test/support/until.ts";
import type { KubeControllerManager } from "../controllers/object.ts";
import type { Commit } from "./mvcc.ts";
import { CONTROLLER_POKES, isCustomResourceKey, Pokes } from "./pokes.ts";

const configMaps = builtin("v1", "configmaps");
const pods = builtin("v1", "pods");
const podTemplates = builtin("v1", "podtemplates");
const leases = builtin("coordination.k8s.io/v1", "leases");

/** A commit of puts at `revision`, as the store's MVCC layer hands it to the pokes. */
function commit(revision: number, ...keys: string[]): Commit {
  return {
    revision,
    events: keys.map((key) => ({ type: "PUT" as const, kv: { key: new TextEncoder().encode(key), create_revision: revision, mod_revision: revision, version: 1, value: new Uint8Array(), lease: 0 } })),
  };
}

describe("the store's pokes", () => {
  it("tell the poked object the revision of the last commit under each prefix it watches", async () => {
    const cluster = `pokes-${crypto.randomUUID()}`;
    const manager = env.CONTROLLERS.get(env.CONTROLLERS.idFromName(cluster));
    // Whether a cache of `resource` at `resourceVersion` is up to date by the news so far. The
    // poke also asks for a wake, which this test does not want: the alarm goes each time.
    const upToDate = (resource: ResourceNames, resourceVersion: number) =>
      runInDurableObject(manager, async (object: KubeControllerManager, state) => {
        await state.storage.deleteAlarm();
        return (object["wakes"].changes as StoreChanges).upToDate(resource, String(resourceVersion), 0);
      });
    const pokes = new Pokes(env, cluster, [CONTROLLER_POKES]);

    pokes.committed(commit(41, "/registry/configmaps/default/a"));
    await until("the first poke's news", async () => (await upToDate(configMaps, 41)) || undefined);
    expect(await upToDate(configMaps, 40)).toBe(false);
    // No commit under PodTemplates since the shard started: none after revision 40.
    expect(await upToDate(podTemplates, 40)).toBe(true);
    expect(await upToDate(podTemplates, 39)).toBe(false);
    // Leases are not among the prefixes the controller manager is poked for: never known.
    expect(await upToDate(leases, Number.MAX_SAFE_INTEGER)).toBe(false);

    // Commits that touch nothing it watches send nothing; a later poke carries every prefix's revision.
    pokes.committed(commit(42, "/registry/leases/kube-node-lease/n1"));
    pokes.committed(commit(43, "/registry/pods/default/p", "/registry/configmaps/default/b"));
    await until("the second poke's news", async () => (await upToDate(pods, 43)) || undefined);
    expect(await upToDate(pods, 42)).toBe(false);
    expect(await upToDate(configMaps, 42)).toBe(false);
    expect(await upToDate(configMaps, 43)).toBe(true);
    expect(await upToDate(podTemplates, 40)).toBe(true);
  });

  it("poke a target at most once per hold: a burst of commits is told in one more poke, with the last revision; a commit after a quiet spell at once", async () => {
    const sent: PokeNews[] = [];
    const target = { poke: async (news: PokeNews) => void sent.push(news) };
    const fakeEnv = { ...env, POKED: { idFromName: () => ({}), get: () => target } } as unknown as Env;
    const pokes = new Pokes(fakeEnv, "pokes-hold", [{ binding: "POKED", prefixes: ["/registry/configmaps/"] }], 200);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // A commit every 10 ms for 150 ms: each poke returns long before the next commit.
    const start = Date.now();
    for (let revision = 10; revision < 25; revision++) {
      pokes.committed(commit(revision, "/registry/configmaps/default/a"));
      await sleep(10);
    }
    const elapsed = Date.now() - start;
    await until("the held poke", async () => (sent.at(-1)?.revisions["/registry/configmaps/"] === 24 ? true : undefined));
    const told = sent.map((n) => n.revisions["/registry/configmaps/"]);
    expect(told[0]).toBe(10);
    // One poke at once, then at most one per 200 ms hold (two when the loop took its 150 ms).
    expect(told.length).toBeLessThanOrEqual(1 + Math.ceil(elapsed / 200));
    await sleep(300);
    pokes.committed(commit(30, "/registry/configmaps/default/a"));
    expect(sent.map((n) => n.revisions["/registry/configmaps/"])).toEqual([...told, 30]);
  });

  it.each([
    ["/registry/gc.example.com/widgets/default/w", true],
    ["/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.gc.example.com", true],
    ["/registry/configmaps/default/a.b", false],
    ["/registry/deployments/default/web", false],
    ["/other/x.y/z", false],
  ])("a custom resource or CRD key, which the controller manager is poked for too: %s → %s", (key, expected) => {
    expect(isCustomResourceKey(new TextEncoder().encode(key))).toBe(expected);
    expect(CONTROLLER_POKES.customResources).toBe(true);
  });
});

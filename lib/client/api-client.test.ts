// The API client against the real apiserver and store in workerd: CRUD, the four patch types,
// paging, preconditions, subresources, watches and Status errors as the server built them.
import type { ConfigMap, Namespace, Pod } from "kubernetes-types/core/v1";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { Scale } from "kubernetes-types/autoscaling/v1";
import { describe, expect, it } from "vitest";
import { builtin } from "../k8s/resources.ts";
import { ApiError } from "../k8s/status.ts";
import { ApiClient, isAlreadyExists, isConflict, isGone, isNotFound, retryOnConflict, type WatchEvent } from "./api-client.ts";
import { compactStore, freshNamespace, loggingFetch, testClient, workerFetch } from "./testing.ts";

const client = testClient();
const configMaps = client.resource<ConfigMap>(builtin("v1", "configmaps"));
const deployments = client.resource<Deployment>(builtin("apps/v1", "deployments"));

async function thrown(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}

const deployment = (name: string): Deployment => ({
  metadata: { name },
  spec: {
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "web", image: "nginx:1" }, { name: "log", image: "busybox" }] } },
  },
});

describe("ApiClient", () => {
  it("creates, reads, updates and deletes, with resourceVersion and uid preconditions", async () => {
    const ns = await freshNamespace(client);
    const created = await configMaps.create(ns, { metadata: { name: "settings" }, data: { a: "1" } });
    expect(created).toMatchObject({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: ns }, data: { a: "1" } });
    const read = await configMaps.get(ns, "settings");
    expect(read.metadata!.uid).toBe(created.metadata!.uid);

    const updated = await configMaps.update(ns, { ...read, data: { a: "2" } });
    expect(Number(updated.metadata!.resourceVersion)).toBeGreaterThan(Number(read.metadata!.resourceVersion));
    const stale = await thrown(configMaps.update(ns, { ...read, data: { a: "3" } }));
    expect(isConflict(stale)).toBe(true);
    expect(stale).toMatchObject({ code: 409, reason: "Conflict", details: { name: "settings", kind: "configmaps" } });
    expect(stale.message).toBe('Operation cannot be fulfilled on configmaps "settings": the object has been modified; please apply your changes to the latest version and try again');

    const wrongUid = await thrown(configMaps.delete(ns, "settings", { preconditions: { uid: "00000000-0000-0000-0000-000000000000" } }));
    expect(wrongUid).toMatchObject({ code: 409, reason: "Conflict" });
    expect(wrongUid.message).toContain("Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000");
    const wrongVersion = await thrown(configMaps.delete(ns, "settings", { preconditions: { resourceVersion: read.metadata!.resourceVersion } }));
    expect(wrongVersion.message).toContain(`Precondition failed: ResourceVersion in precondition: ${read.metadata!.resourceVersion}`);

    await configMaps.delete(ns, "settings", { preconditions: { uid: created.metadata!.uid, resourceVersion: updated.metadata!.resourceVersion } });
    const gone = await thrown(configMaps.get(ns, "settings"));
    expect(isNotFound(gone)).toBe(true);
    expect(gone).toMatchObject({ code: 404, reason: "NotFound", message: 'configmaps "settings" not found', details: { name: "settings", kind: "configmaps" } });
  });

  it("throws the server's Status: AlreadyExists, Invalid with field causes, BadRequest, Unauthorized", async () => {
    const ns = await freshNamespace(client);
    await configMaps.create(ns, { metadata: { name: "twice" } });
    const again = await thrown(configMaps.create(ns, { metadata: { name: "twice" } }));
    expect(isAlreadyExists(again)).toBe(true);
    expect(again).toMatchObject({ code: 409, reason: "AlreadyExists", message: 'configmaps "twice" already exists' });

    const invalid = await thrown(configMaps.create(ns, { metadata: { name: "Bad_Name" } }));
    expect(invalid).toMatchObject({ code: 422, reason: "Invalid", details: { name: "Bad_Name", kind: "ConfigMap" } });
    expect(invalid.details!.causes).toContainEqual(expect.objectContaining({ field: "metadata.name", reason: "FieldValueInvalid" }));

    const badSelector = await thrown(configMaps.list(ns, { labelSelector: "a in (" }));
    expect(badSelector).toMatchObject({ code: 400, reason: "BadRequest" });

    const anonymous = new ApiClient({ fetch: workerFetch, baseUrl: "https://edgeplane.test" });
    expect(await thrown(anonymous.resource<ConfigMap>(builtin("v1", "configmaps")).list(ns))).toMatchObject({ code: 401, reason: "Unauthorized" });
    // The token may come from a function (a rotating node credential).
    const rotating = new ApiClient({ fetch: workerFetch, baseUrl: "https://edgeplane.test/", token: async () => "test-admin-token" });
    expect((await rotating.resource<ConfigMap>(builtin("v1", "configmaps")).get(ns, "twice")).metadata!.name).toBe("twice");
  });

  it("patches with merge, strategic merge, JSON patch and server-side apply", async () => {
    const ns = await freshNamespace(client);
    await deployments.create(ns, deployment("web"));

    const merged = await deployments.patch(ns, "web", { metadata: { labels: { tier: "front" } }, spec: { replicas: 2 } }, "merge");
    expect(merged.metadata!.labels).toEqual({ tier: "front" });
    expect(merged.spec!.replicas).toBe(2);

    // Strategic merge keys containers by name: "log" stays, "web" gets a new image.
    const strategic = await deployments.patch(ns, "web", { spec: { template: { spec: { containers: [{ name: "web", image: "nginx:2" }] } } } }, "strategic");
    expect(strategic.spec!.template.spec!.containers.map((c) => `${c.name}=${c.image}`)).toEqual(["web=nginx:2", "log=busybox"]);
    // A merge patch replaces the whole list.
    const replaced = await deployments.patch(ns, "web", { spec: { template: { spec: { containers: [{ name: "web", image: "nginx:3" }] } } } }, "merge");
    expect(replaced.spec!.template.spec!.containers.map((c) => c.name)).toEqual(["web"]);

    const jsonPatched = await deployments.patch(ns, "web", [
      { op: "test", path: "/spec/replicas", value: 2 },
      { op: "replace", path: "/spec/replicas", value: 4 },
    ], "json");
    expect(jsonPatched.spec!.replicas).toBe(4);
    const failedTest = await thrown(deployments.patch(ns, "web", [{ op: "test", path: "/spec/replicas", value: 99 }], "json"));
    expect(failedTest.code).toBeGreaterThanOrEqual(400);
    expect(failedTest.code).toBeLessThan(500);

    const applied = await configMaps.patch(ns, "applied", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "applied" }, data: { owner: "a" } }, "apply", { fieldManager: "first" });
    expect(applied.data).toEqual({ owner: "a" });
    const conflict = await thrown(configMaps.patch(ns, "applied", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "applied" }, data: { owner: "b" } }, "apply", { fieldManager: "second" }));
    expect(conflict).toMatchObject({ code: 409, reason: "Conflict" });
    expect(conflict.details!.causes).toContainEqual(expect.objectContaining({ field: ".data.owner" }));
    const forced = await configMaps.patch(ns, "applied", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "applied" }, data: { owner: "b" } }, "apply", { fieldManager: "second", force: true });
    expect(forced.data).toEqual({ owner: "b" });
    expect(forced.metadata!.managedFields!.map((f) => f.manager)).toContain("second");
  });

  it("pages lists with limit and continue; listAll follows every page at one resourceVersion", async () => {
    const ns = await freshNamespace(client);
    for (let i = 0; i < 5; i++) await configMaps.create(ns, { metadata: { name: `cm-${i}`, labels: { batch: i < 3 ? "one" : "two" } } });
    const first = await configMaps.list(ns, { limit: 2 });
    expect(first.items.map((c) => c.metadata!.name)).toEqual(["cm-0", "cm-1"]);
    expect(first.items[0]).toMatchObject({ apiVersion: "v1", kind: "ConfigMap" });
    expect(first.metadata.continue).toBeTruthy();
    const second = await configMaps.list(ns, { limit: 2, continue: first.metadata.continue });
    expect(second.items.map((c) => c.metadata!.name)).toEqual(["cm-2", "cm-3"]);

    const { fetch, log } = loggingFetch();
    const all = await testClient(fetch).resource<ConfigMap>(builtin("v1", "configmaps")).listAll(ns, { limit: 2 });
    expect(all.items.map((c) => c.metadata!.name)).toEqual(["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"]);
    expect(log).toHaveLength(3);
    expect(all.metadata.resourceVersion).toBe(first.metadata.resourceVersion);

    const selected = await configMaps.list(ns, { labelSelector: "batch=two" });
    expect(selected.items.map((c) => c.metadata!.name)).toEqual(["cm-3", "cm-4"]);
    const byName = await configMaps.list(ns, { fieldSelector: "metadata.name=cm-1" });
    expect(byName.items.map((c) => c.metadata!.name)).toEqual(["cm-1"]);

    await configMaps.deleteCollection(ns, { labelSelector: "batch=one" });
    expect((await configMaps.listAll(ns)).items.map((c) => c.metadata!.name)).toEqual(["cm-3", "cm-4"]);
  });

  it("binds a pod to a node and evicts it", async () => {
    const ns = await freshNamespace(client);
    const pods = client.pods();
    await pods.create(ns, { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "busybox" }] } });
    await pods.bind(ns, "p", { metadata: { name: "p" }, target: { kind: "Node", name: "node-1" } });
    expect((await pods.get(ns, "p")).spec!.nodeName).toBe("node-1");
    const rebind = await thrown(pods.bind(ns, "p", { metadata: { name: "p" }, target: { kind: "Node", name: "node-2" } }));
    expect(rebind).toMatchObject({ code: 409, reason: "Conflict" });
    expect(rebind.message).toContain('is already assigned to node "node-1"');

    await pods.create(ns, { metadata: { name: "q" }, spec: { containers: [{ name: "c", image: "busybox" }] } });
    await pods.evict(ns, "q");
    expect(isNotFound(await thrown(pods.get(ns, "q")))).toBe(true);
    expect(await thrown(pods.evict(ns, "nobody"))).toMatchObject({ code: 404, reason: "NotFound" });
  });

  it("reads and writes the status and scale subresources; cluster-scoped resources ignore the namespace", async () => {
    const ns = await freshNamespace(client);
    const created = await deployments.create(ns, deployment("web"));
    const withStatus = await deployments.updateStatus(ns, { ...created, spec: { ...created.spec!, replicas: 7 }, status: { replicas: 1, observedGeneration: 1 } });
    expect(withStatus.status).toMatchObject({ replicas: 1, observedGeneration: 1 });
    expect(withStatus.spec!.replicas).toBe(1);
    const patchedStatus = await deployments.patch(ns, "web", { status: { readyReplicas: 1 } }, "merge", { subresource: "status" });
    expect(patchedStatus.status!.readyReplicas).toBe(1);

    const scale = await deployments.subresource<Scale>(ns, "web", "scale");
    expect(scale).toMatchObject({ kind: "Scale", spec: { replicas: 1 } });
    const scaled = await deployments.subresource<Scale>(ns, "web", "scale", { method: "PUT", body: { ...scale, spec: { replicas: 3 } } });
    expect(scaled.spec!.replicas).toBe(3);
    expect((await deployments.get(ns, "web")).spec!.replicas).toBe(3);

    const namespaces = client.resource<Namespace>(builtin("v1", "namespaces"));
    expect(namespaces.path("ignored", ns)).toBe(`/api/v1/namespaces/${ns}`);
    expect((await namespaces.get("ignored", ns)).metadata!.name).toBe(ns);
  });

  it("retries a read-modify-write on conflict", async () => {
    const ns = await freshNamespace(client);
    await configMaps.create(ns, { metadata: { name: "counter" }, data: { n: "0" } });
    let attempts = 0;
    const result = await retryOnConflict(async () => {
      const current = await configMaps.get(ns, "counter");
      // Someone else writes between the first read and its write.
      if (++attempts === 1) await configMaps.update(ns, { ...current, data: { n: "10" } });
      return configMaps.update(ns, { ...current, data: { n: String(Number(current.data!.n) + 1) } });
    });
    expect(attempts).toBe(2);
    expect(result.data!.n).toBe("11");

    let tries = 0;
    const alwaysConflicting = await thrown(retryOnConflict(async () => {
      tries++;
      throw new ApiError(409, "Conflict", "always");
    }, 3));
    expect(tries).toBe(3);
    expect(alwaysConflicting.reason).toBe("Conflict");
  });

  it("decodes a watch stream into events, with a BOOKMARK right after the replay, and throws an ERROR event as its ApiError", async () => {
    const ns = await freshNamespace(client);
    const start = (await configMaps.list(ns)).metadata.resourceVersion;
    await configMaps.create(ns, { metadata: { name: "w" }, data: { v: "1" } });
    await configMaps.patch(ns, "w", { data: { v: "2" } }, "merge");
    await configMaps.delete(ns, "w");
    const events: string[] = [];
    for await (const event of configMaps.watch(ns, { resourceVersion: start })) {
      events.push(`${event.type} ${event.object.metadata!.name} ${event.object.data?.v}`);
      if (events.length === 3) break;
    }
    expect(events).toEqual(["ADDED w 1", "MODIFIED w 2", "DELETED w 2"]);

    // An aborted signal ends the iteration quietly.
    const abort = new AbortController();
    const seen: WatchEvent<ConfigMap>[] = [];
    const watching = (async () => {
      for await (const event of configMaps.watch(ns, { resourceVersion: start }, abort.signal)) {
        seen.push(event);
        if (seen.length === 3) abort.abort();
      }
    })();
    await watching;
    expect(seen.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "DELETED"]);

    // With bookmarks allowed, one follows as soon as the replay is delivered: before anything
    // written after the replay, so a client knows where "now" was.
    const replayed = await configMaps.create(ns, { metadata: { name: "v" } });
    const stream: string[] = [];
    let later: ConfigMap | undefined;
    for await (const event of configMaps.watch(ns, { resourceVersion: start, allowWatchBookmarks: true })) {
      stream.push(event.type === "BOOKMARK" ? `BOOKMARK ${event.object.metadata!.resourceVersion}` : `${event.type} ${event.object.metadata!.name}`);
      if (stream.length === 4) later = await configMaps.create(ns, { metadata: { name: "later" } });
      if (event.type === "ADDED" && event.object.metadata!.name === "later") break;
    }
    expect(stream.map((line) => line.replace(/^BOOKMARK \d+$/, "BOOKMARK"))).toEqual(["ADDED w", "MODIFIED w", "DELETED w", "ADDED v", "BOOKMARK", "ADDED later"]);
    const bookmarkAt = Number(stream[4]!.split(" ")[1]);
    expect(bookmarkAt).toBeGreaterThanOrEqual(Number(replayed.metadata!.resourceVersion));
    expect(bookmarkAt).toBeLessThan(Number(later!.metadata!.resourceVersion));

    // Once the store is compacted past it, the same resourceVersion is answered with an ERROR event.
    const now = (await configMaps.list(ns)).metadata.resourceVersion!;
    await compactStore(now);
    const expired = await thrown((async () => {
      for await (const event of configMaps.watch(ns, { resourceVersion: start })) throw new Error(`unexpected ${event.type}`);
    })());
    expect(isGone(expired)).toBe(true);
    expect(expired).toMatchObject({ code: 410, reason: "Expired" });
  });
});

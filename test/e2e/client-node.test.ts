// @kubernetes/client-node 1.x, the JavaScript client that operators and controllers are built on,
// against the local control plane: typed CRUD, a raw watch, and an informer that must ride out an
// apiserver restart without replaying objects it already has.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ApiException, CoreV1Api, KubeConfig, makeInformer, PatchStrategy, setHeaderOptions, Watch,
  type Informer, type ObjectCache, type V1ConfigMap,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { kubeconfig, startControlPlane, type ControlPlane } from "../../scripts/dev-server.ts";

let plane: ControlPlane;
let dir: string;
let core: CoreV1Api;
let kc: KubeConfig;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgeplane-client-node-"));
  plane = await startControlPlane({ stateDir: join(dir, "state"), tlsDir: join(dir, "tls") });
  kc = new KubeConfig();
  kc.loadFromString(kubeconfig(plane.url, plane.token, plane.caPem));
  core = kc.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await plane?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function configMap(name: string, data: Record<string, string>): V1ConfigMap {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels: { app: "client-node" } }, data };
}

it("lists, creates, reads, replaces, patches and deletes configmaps through CoreV1Api", async () => {
  const namespace = "client-node-crud";
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // By label: the root CA publisher adds the namespace's kube-root-ca.crt beside the test's own.
  expect((await core.listNamespacedConfigMap({ namespace, labelSelector: "app=client-node" })).items).toEqual([]);

  const created = await core.createNamespacedConfigMap({ namespace, body: configMap("alpha", { k: "1" }) });
  expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
  expect(created.metadata?.namespace).toBe(namespace);
  await core.createNamespacedConfigMap({ namespace, body: configMap("beta", { k: "2" }) });

  const list = await core.listNamespacedConfigMap({ namespace, labelSelector: "app=client-node" });
  expect(list.items.map((cm) => cm.metadata?.name)).toEqual(["alpha", "beta"]);
  expect(Number(list.metadata?.resourceVersion)).toBeGreaterThan(0);

  const read = await core.readNamespacedConfigMap({ name: "alpha", namespace });
  expect(read.data).toEqual({ k: "1" });
  read.data = { k: "one" };
  const replaced = await core.replaceNamespacedConfigMap({ name: "alpha", namespace, body: read });
  expect(replaced.data).toEqual({ k: "one" });
  expect(replaced.metadata?.resourceVersion).not.toBe(read.metadata?.resourceVersion);

  // A replace carrying the stale resourceVersion is a conflict.
  const stale = await core.replaceNamespacedConfigMap({ name: "alpha", namespace, body: read }).catch((e: unknown) => e);
  expect(stale).toBeInstanceOf(ApiException);
  expect((stale as ApiException<string>).code).toBe(409);

  const merged = await core.patchNamespacedConfigMap(
    { name: "alpha", namespace, body: { data: { extra: "x" } } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
  expect(merged.data).toEqual({ k: "one", extra: "x" });
  const jsonPatched = await core.patchNamespacedConfigMap(
    { name: "alpha", namespace, body: [{ op: "remove", path: "/data/k" }] },
    setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
  );
  expect(jsonPatched.data).toEqual({ extra: "x" });
  const strategic = await core.patchNamespacedConfigMap(
    { name: "beta", namespace, body: { metadata: { labels: { tier: "b" } } } },
    setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
  );
  expect(strategic.metadata?.labels).toEqual({ app: "client-node", tier: "b" });

  await core.deleteNamespacedConfigMap({ name: "alpha", namespace });
  const missing = await core.readNamespacedConfigMap({ name: "alpha", namespace }).catch((e: unknown) => e);
  expect(missing).toBeInstanceOf(ApiException);
  expect((missing as ApiException<string>).code).toBe(404);
  expect(JSON.parse((missing as ApiException<string>).body)).toMatchObject({ kind: "Status", reason: "NotFound" });
  expect((await core.listNamespacedConfigMap({ namespace, labelSelector: "app=client-node" })).items.map((cm) => cm.metadata?.name)).toEqual(["beta"]);
});

it("a Watch sees ADDED, MODIFIED and DELETED made over another connection", async () => {
  const namespace = "client-node-watch";
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const writer = new KubeConfig();
  writer.loadFromString(kubeconfig(plane.url, plane.token, plane.caPem));
  const writerCore = writer.makeApiClient(CoreV1Api);

  const events: string[] = [];
  let ended: unknown = "open";
  const controller = await new Watch(kc).watch(
    `/api/v1/namespaces/${namespace}/configmaps`,
    { allowWatchBookmarks: true },
    (type: string, obj: V1ConfigMap) => {
      // Only the test's own object: the controllers publish kube-root-ca.crt here at their own pace.
      if (type !== "BOOKMARK" && obj.metadata?.name === "watched") events.push(`${type} ${obj.metadata?.name} ${JSON.stringify(obj.data ?? {})}`);
    },
    (err: unknown) => (ended = err),
  );
  try {
    await writerCore.createNamespacedConfigMap({ namespace, body: configMap("watched", { a: "1" }) });
    await writerCore.patchNamespacedConfigMap(
      { name: "watched", namespace, body: { data: { a: "2" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await writerCore.deleteNamespacedConfigMap({ name: "watched", namespace });
    await waitFor("the DELETED event", () => events.length >= 3);
    expect(ended).toBe("open");
  } finally {
    controller.abort();
  }
  expect(events).toEqual([
    `ADDED watched {"a":"1"}`,
    `MODIFIED watched {"a":"2"}`,
    `DELETED watched {"a":"2"}`,
  ]);
});

it("an informer's cache survives an apiserver restart without a second add for any object", async () => {
  const namespace = "client-node-informer";
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // makeInformer returns a ListWatch, which is also the cache.
  const informer = makeInformer(kc, `/api/v1/namespaces/${namespace}/configmaps`, () => core.listNamespacedConfigMap({ namespace })) as
    Informer<V1ConfigMap> & ObjectCache<V1ConfigMap>;
  const adds = new Map<string, number>();
  const deletes: string[] = [];
  let connects = 0;
  let updates = 0;
  informer.on("add", (cm) => adds.set(cm.metadata!.name!, (adds.get(cm.metadata!.name!) ?? 0) + 1));
  informer.on("update", () => updates++);
  informer.on("delete", (cm) => deletes.push(cm.metadata!.name!));
  informer.on("connect", () => connects++);
  // client-node's informer stops on a failed (re)connect and leaves restarting to its user, as
  // controllers built on it do: retry every half second while the apiserver is away.
  let running = true;
  informer.on("error", () => {
    if (running) setTimeout(() => running && void informer.start(), 500);
  });
  // The test's own configmaps (the root CA publisher adds kube-root-ca.crt too).
  const cache = () => informer.list().filter((cm) => cm.metadata?.labels?.app === "client-node").map((cm) => `${cm.metadata?.name}=${cm.data?.v}`).sort();

  try {
    await informer.start();
    await core.createNamespacedConfigMap({ namespace, body: configMap("before-1", { v: "1" }) });
    await core.createNamespacedConfigMap({ namespace, body: configMap("before-2", { v: "1" }) });
    await core.patchNamespacedConfigMap(
      { name: "before-1", namespace, body: { data: { v: "2" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await waitFor("the informer to see the first objects", () => cache().join() === "before-1=2,before-2=1");

    const port = Number(new URL(plane.url).port);
    await plane.stop();
    plane = await startControlPlane({ port, token: plane.token, stateDir: join(dir, "state"), tlsDir: join(dir, "tls") });

    await core.createNamespacedConfigMap({ namespace, body: configMap("after", { v: "1" }) });
    await core.patchNamespacedConfigMap(
      { name: "before-2", namespace, body: { data: { v: "2" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await waitFor("the informer to see the changes made after the restart", () => cache().join() === "after=1,before-1=2,before-2=2", 30_000);
  } finally {
    running = false;
    await informer.stop();
  }
  expect(Object.fromEntries(adds)).toEqual({ "before-1": 1, "before-2": 1, after: 1, "kube-root-ca.crt": 1 });
  expect(deletes).toEqual([]);
  expect(updates).toBeGreaterThanOrEqual(2);
  expect(connects).toBeGreaterThanOrEqual(2); // it did reconnect after the restart
});

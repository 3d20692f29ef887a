// The generic registry store on its own, as every resource sees it: object semantics on create,
// optimistic concurrency on update, status vs spec, finalizers and graceful deletion, the
// namespace lifecycle its declaration asks for, and paged lists.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ObjectStorage } from "../storage/object-storage.ts";
import { builtinStore } from "./builtins.ts";
import type { KubeObject } from "./types.ts";

const storage = new ObjectStorage(env);
const namespaces = builtinStore(storage, "v1", "namespaces");
const configMaps = builtinStore(storage, "v1", "configmaps");
const deployments = builtinStore(storage, "apps/v1", "deployments");
const ns = `store-${crypto.randomUUID().slice(0, 8)}`;

const deployment = (name: string): KubeObject => ({
  metadata: { name, labels: { app: name } },
  spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "busybox" }] } } },
});

// The file's first write starts a fresh store (its migrations): on a loaded machine that alone can pass vitest's 10 s hook default.
beforeAll(async () => {
  await namespaces.create(undefined, { metadata: { name: ns } });
}, 60_000);

describe("RegistryStore", () => {
  it("creates with uid, timestamps, generation, defaults and the store revision as resourceVersion", async () => {
    const created = await deployments.create(ns, deployment("web"));
    expect(created).toMatchObject({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: ns, generation: 1 }, spec: { replicas: 1 } });
    expect(created.metadata!.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(created.metadata!.resourceVersion)).toBeGreaterThan(0);
    expect(await deployments.get(ns, "web")).toEqual(created);
    await expect(deployments.create(ns, deployment("web"))).rejects.toMatchObject({ code: 409, reason: "AlreadyExists" });
  });

  it("generates names from generateName and refuses objects in a namespace that does not exist", async () => {
    const made = await configMaps.create(ns, { metadata: { generateName: "cm-" } });
    expect(made.metadata!.name).toMatch(/^cm-[a-z0-9]{5}$/);
    await expect(configMaps.create("no-such-namespace", { metadata: { name: "x" } })).rejects.toMatchObject({ code: 404, reason: "NotFound" });
  });

  it("updates only from the current resourceVersion, and bumps generation on spec changes only", async () => {
    const created = await deployments.create(ns, deployment("api"));
    const scaled = await deployments.update(ns, "api", { ...created, spec: { ...created.spec, replicas: 3 } });
    expect(scaled.metadata).toMatchObject({ generation: 2 });
    await expect(deployments.update(ns, "api", { ...created, spec: { ...created.spec, replicas: 5 } })).rejects.toMatchObject({ code: 409, reason: "Conflict" });
    const labelled = await deployments.guaranteedUpdate(ns, "api", {}, (current) => ({ ...current, metadata: { ...current.metadata, labels: { tier: "api" } } }));
    expect(labelled.metadata).toMatchObject({ generation: 2, labels: { tier: "api" } });
  });

  it("keeps status apart from spec: a main update keeps the stored status, /status moves only the status", async () => {
    const created = await deployments.create(ns, deployment("status"));
    const withStatus = await deployments.guaranteedUpdate(ns, "status", { subresource: "status" }, (current) => ({ ...current, spec: { ...current.spec, replicas: 9 }, status: { replicas: 2 } }));
    expect(withStatus.status).toEqual({ replicas: 2 });
    expect(withStatus.spec.replicas).toBe(created.spec.replicas);
    const main = await deployments.guaranteedUpdate(ns, "status", {}, (current) => ({ ...current, status: { replicas: 7 } }));
    expect(main.status).toEqual({ replicas: 2 });
  });

  it("retries a racing update on the object as it is now", async () => {
    await configMaps.create(ns, { metadata: { name: "counter" }, data: { n: "0" } });
    const increment = () => configMaps.guaranteedUpdate(ns, "counter", {}, (current) => ({ ...current, data: { n: String(Number(current.data.n) + 1) } }));
    await Promise.all(Array.from({ length: 8 }, increment));
    expect((await configMaps.get(ns, "counter")).data).toEqual({ n: "8" });
  });

  it("marks an object with finalizers for deletion and lets it go when the last finalizer is removed", async () => {
    await configMaps.create(ns, { metadata: { name: "held", finalizers: ["example.com/hold"] } });
    const marked = await configMaps.delete(ns, "held");
    expect(marked.metadata!.deletionTimestamp).toBeTruthy();
    expect((await configMaps.get(ns, "held")).metadata!.deletionTimestamp).toBe(marked.metadata!.deletionTimestamp);
    await configMaps.guaranteedUpdate(ns, "held", {}, (current) => ({ ...current, metadata: { ...current.metadata, finalizers: [] } }));
    expect(await configMaps.find(ns, "held")).toBeUndefined();
  });

  it("honours delete preconditions", async () => {
    const created = await configMaps.create(ns, { metadata: { name: "precondition" } });
    await expect(configMaps.delete(ns, "precondition", { preconditions: { uid: "other" } })).rejects.toMatchObject({ code: 409 });
    await configMaps.delete(ns, "precondition", { preconditions: { uid: created.metadata!.uid, resourceVersion: created.metadata!.resourceVersion } });
    await expect(configMaps.get(ns, "precondition")).rejects.toMatchObject({ code: 404 });
  });

  it("turns a deleted namespace Terminating until its finalizers are gone, and refuses new content meanwhile", async () => {
    const name = `${ns}-gone`;
    await namespaces.create(undefined, { metadata: { name } });
    const terminating = await namespaces.delete(undefined, name);
    expect(terminating.status).toEqual({ phase: "Terminating" });
    expect(terminating.spec).toEqual({ finalizers: ["kubernetes"] });
    await expect(configMaps.create(name, { metadata: { name: "late" } })).rejects.toMatchObject({ code: 403, message: expect.stringContaining("because it is being terminated") });
    await namespaces.guaranteedUpdate(undefined, name, { subresource: "finalize" }, (current) => ({ ...current, spec: { finalizers: [] } }));
    expect(await namespaces.find(undefined, name)).toBeUndefined();
    if (!(await namespaces.find(undefined, "kube-public"))) await namespaces.create(undefined, { metadata: { name: "kube-public" } });
    await expect(namespaces.delete(undefined, "kube-public")).rejects.toMatchObject({ code: 403, message: 'namespaces "kube-public" is forbidden: this namespace may not be deleted' });
  });

  it("lists in pages at one revision, with a continue token and the remaining count", async () => {
    const paged = `${ns}-paged`;
    await namespaces.create(undefined, { metadata: { name: paged } });
    for (let i = 0; i < 5; i++) await configMaps.create(paged, { metadata: { name: `cm-${i}` } });
    const first = await configMaps.list(paged, { limit: 2 });
    expect(first.items.map((o: KubeObject) => o.metadata!.name)).toEqual(["cm-0", "cm-1"]);
    expect(first.metadata).toMatchObject({ remainingItemCount: 3, continue: expect.any(String) });
    await configMaps.create(paged, { metadata: { name: "cm-9" } });
    const rest = await configMaps.list(paged, { limit: 10, continue: first.metadata!.continue });
    expect(rest.items.map((o: KubeObject) => o.metadata!.name)).toEqual(["cm-2", "cm-3", "cm-4"]);
    expect(rest.metadata!.resourceVersion).toBe(first.metadata!.resourceVersion);
  });
});

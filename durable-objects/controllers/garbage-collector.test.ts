// What the garbage collector decides for a dependent given its owners' states, and which
// dependents hold up an owner's foreground deletion; then each propagation policy against the
// real apiserver, woken as the store's poke would wake it, for built-in and custom resources.
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1";
import type { ConfigMap, Pod } from "kubernetes-types/core/v1";
import type { OwnerReference } from "kubernetes-types/meta/v1";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../lib/client/index.ts";
import { isNotFound } from "../../lib/client/index.ts";
import { freshNamespace, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { blockingDependents, decideForDependent, type OwnerState } from "./garbage-collector.ts";
import { wakeControllerManager } from "./testing.ts";

const ref = (uid: string, blockOwnerDeletion?: boolean): OwnerReference => ({ apiVersion: "apps/v1", kind: "ReplicaSet", name: uid, uid, ...(blockOwnerDeletion === undefined ? {} : { blockOwnerDeletion }) });

function dependent(refs: OwnerReference[], { finalizers, deleting }: { finalizers?: string[]; deleting?: boolean } = {}): KubeObject {
  return { metadata: { name: "d", uid: "d", ownerReferences: refs, ...(finalizers ? { finalizers } : {}), ...(deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) } };
}

const states = (entries: Record<string, OwnerState>) => new Map(Object.entries(entries));

describe("decideForDependent", () => {
  it.each([
    ["an owner that stays keeps it", dependent([ref("a")]), states({ a: "solid" }), false, { action: "none" }],
    ["no owners: nothing to collect", dependent([]), states({}), false, { action: "none" }],
    ["already being deleted: left to its own deletion", dependent([ref("a")], { deleting: true }), states({ a: "dangling" }), false, { action: "none" }],
    ["every owner gone: deleted in the background", dependent([ref("a"), ref("b")]), states({ a: "dangling", b: "dangling" }), false, { action: "delete", propagationPolicy: "Background" }],
    ["one owner gone, one staying: the reference to the gone one is dropped", dependent([ref("a"), ref("b")]), states({ a: "dangling", b: "solid" }), false, { action: "removeReferences", uids: ["a"] }],
    ["an owner deleting in the foreground beside one that stays: that reference is dropped", dependent([ref("a"), ref("b")]), states({ a: "waitingForDependentsDeletion", b: "solid" }), false, { action: "removeReferences", uids: ["a"] }],
    ["owner waiting and no dependents of its own: deleted in the background", dependent([ref("a")]), states({ a: "waitingForDependentsDeletion" }), false, { action: "delete", propagationPolicy: "Background" }],
    ["owner waiting and dependents of its own: deleted in the foreground too", dependent([ref("a")]), states({ a: "waitingForDependentsDeletion" }), true, { action: "delete", propagationPolicy: "Foreground" }],
    ["owners gone and an orphan finalizer: its own dependents are orphaned", dependent([ref("a")], { finalizers: ["orphan"] }), states({ a: "dangling" }), true, { action: "delete", propagationPolicy: "Orphan" }],
  ])("%s", (_, object, owners, hasDependents, decision) => {
    expect(decideForDependent(object, owners, hasDependents)).toEqual(decision);
  });
});

describe("blockingDependents", () => {
  it("are those whose reference to the owner says blockOwnerDeletion", () => {
    const dependents = [
      { name: "blocks", object: dependent([ref("owner", true)]) },
      { name: "does-not-block", object: dependent([ref("owner", false)]) },
      { name: "unset", object: dependent([ref("owner")]) },
      { name: "blocks-another", object: dependent([ref("other", true), ref("owner", false)]) },
    ];
    expect(blockingDependents("owner", dependents).map((d) => d.name)).toEqual(["blocks"]);
  });
});

// ---- against the real apiserver, through the controller manager's object ----

const client = testClient();
const deployments = client.resource<Deployment>(builtin("apps/v1", "deployments"));
const replicaSets = client.resource<ReplicaSet>(builtin("apps/v1", "replicasets"));
const pods = client.resource<Pod>(builtin("v1", "pods"));
const configMaps = client.resource<ConfigMap>(builtin("v1", "configmaps"));

const wake = wakeControllerManager;

/** A Deployment of 2 with its ReplicaSet and pods made by the controllers. */
async function deploymentWithPods(ns: string): Promise<void> {
  await deployments.create(ns, {
    metadata: { name: "web" },
    spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "busybox" }] } } },
  });
  await wake();
  expect((await replicaSets.list(ns)).items).toHaveLength(1);
  expect((await pods.list(ns)).items).toHaveLength(2);
}

const names = async (list: Promise<{ items: KubeObject[] }>) => (await list).items.map((o) => o.metadata!.name);

describe("the garbage collector", () => {
  it("background: the owner goes at once, its ReplicaSet and pods after", async () => {
    const ns = await freshNamespace(client, "gc");
    await deploymentWithPods(ns);
    await deployments.delete(ns, "web", { propagationPolicy: "Background" });
    await wake();
    expect(await names(replicaSets.list(ns))).toEqual([]);
    expect(await names(pods.list(ns))).toEqual([]);
  });

  it("foreground: the owner stays with its foregroundDeletion finalizer until its dependents are gone", async () => {
    const ns = await freshNamespace(client, "gc");
    await deploymentWithPods(ns);
    await deployments.delete(ns, "web", { propagationPolicy: "Foreground" });
    const waiting = await deployments.get(ns, "web");
    expect(waiting.metadata!.finalizers).toEqual(["foregroundDeletion"]);
    expect(waiting.metadata!.deletionTimestamp).toBeTruthy();
    await wake();
    expect(await names(pods.list(ns))).toEqual([]);
    expect(await names(replicaSets.list(ns))).toEqual([]);
    expect(await names(deployments.list(ns))).toEqual([]);
  });

  it("orphan: the ReplicaSet stays without its owner reference and keeps its pods", async () => {
    const ns = await freshNamespace(client, "gc");
    await deploymentWithPods(ns);
    await deployments.delete(ns, "web", { propagationPolicy: "Orphan" });
    await wake();
    expect(await names(deployments.list(ns))).toEqual([]);
    const [rs] = (await replicaSets.list(ns)).items;
    expect(rs!.metadata!.ownerReferences ?? []).toEqual([]);
    const left = (await pods.list(ns)).items;
    expect(left).toHaveLength(2);
    for (const pod of left) expect(pod.metadata!.ownerReferences).toEqual([expect.objectContaining({ uid: rs!.metadata!.uid })]);
  });

  it("collects objects whose owners no longer exist (by uid), and drops only the dangling reference when another owner stays", async () => {
    const ns = await freshNamespace(client, "gc");
    const owner = await configMaps.create(ns, { metadata: { name: "owner" } });
    const ghost = { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: "00000000-0000-0000-0000-000000000000" };
    const live = { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata!.uid! };
    await configMaps.create(ns, { metadata: { name: "dangling", ownerReferences: [ghost] } });
    await configMaps.create(ns, { metadata: { name: "half", ownerReferences: [ghost, live] } });
    await wake();
    expect((await names(configMaps.list(ns))).sort()).toEqual(expect.arrayContaining(["half", "owner"]));
    expect(await names(configMaps.list(ns))).not.toContain("dangling");
    expect((await configMaps.get(ns, "half")).metadata!.ownerReferences).toEqual([live]);
  });
});

// ---- custom resources: owners and dependents through the CRDs served ----

const crds = client.resource<KubeObject & { spec?: unknown }>(builtin("apiextensions.k8s.io/v1", "customresourcedefinitions"));
const widgets = client.resource<KubeObject>({ group: "gc-test.example.com", version: "v1", kind: "Widget", resource: "widgets", singular: "widget", namespaced: true });

async function installWidgets(): Promise<void> {
  await crds.create(undefined, {
    metadata: { name: "widgets.gc-test.example.com" },
    spec: {
      group: "gc-test.example.com", scope: "Namespaced", names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
      versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
    },
  }).catch((e) => {
    if ((e as { code?: number }).code !== 409) throw e;
  });
}

/** A Widget and a ConfigMap it owns (blocking its owner's foreground deletion, as controllers set it). */
async function widgetOwningConfigMap(ns: string): Promise<KubeObject> {
  await installWidgets();
  const widget = await widgets.create(ns, { apiVersion: "gc-test.example.com/v1", kind: "Widget", metadata: { name: "w" } });
  await configMaps.create(ns, {
    metadata: { name: "owned", ownerReferences: [{ apiVersion: "gc-test.example.com/v1", kind: "Widget", name: "w", uid: widget.metadata!.uid!, controller: true, blockOwnerDeletion: true }] },
  });
  await wake();
  expect(await names(configMaps.list(ns))).toContain("owned");
  return widget;
}

describe("the garbage collector with custom resources", () => {
  it("background: a custom owner deleted takes the ConfigMap it owns with it", async () => {
    const ns = await freshNamespace(client, "gc-cr");
    await widgetOwningConfigMap(ns);
    await widgets.delete(ns, "w");
    await wake();
    await expect(configMaps.get(ns, "owned")).rejects.toSatisfy(isNotFound);
  });

  it("foreground: the custom owner stays with its foregroundDeletion finalizer until its ConfigMap is gone", async () => {
    const ns = await freshNamespace(client, "gc-cr");
    await widgetOwningConfigMap(ns);
    await widgets.delete(ns, "w", { propagationPolicy: "Foreground" });
    expect((await widgets.get(ns, "w")).metadata!.finalizers).toEqual(["foregroundDeletion"]);
    await wake();
    await expect(configMaps.get(ns, "owned")).rejects.toSatisfy(isNotFound);
    await expect(widgets.get(ns, "w")).rejects.toSatisfy(isNotFound);
  });

  it("orphan: the ConfigMap stays without its reference to the custom owner", async () => {
    const ns = await freshNamespace(client, "gc-cr");
    await widgetOwningConfigMap(ns);
    await widgets.delete(ns, "w", { propagationPolicy: "Orphan" });
    await wake();
    await expect(widgets.get(ns, "w")).rejects.toSatisfy(isNotFound);
    expect((await configMaps.get(ns, "owned")).metadata!.ownerReferences ?? []).toEqual([]);
  });

  it("a custom resource whose built-in owner is deleted goes too", async () => {
    const ns = await freshNamespace(client, "gc-cr");
    await installWidgets();
    const owner = await configMaps.create(ns, { metadata: { name: "owner" } });
    await widgets.create(ns, { apiVersion: "gc-test.example.com/v1", kind: "Widget", metadata: { name: "dependent", ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata!.uid! }] } });
    await wake();
    expect(await names(widgets.list(ns))).toEqual(["dependent"]);
    await configMaps.delete(ns, "owner");
    await wake();
    expect(await names(widgets.list(ns))).toEqual([]);
  });
});

// The namespace controller: the conditions a Terminating namespace carries for what one pass found,
// which CRDs add content to delete; then, against the real apiserver, a deleted namespace emptied
// of built-in and custom resources, kept while a finalizer holds an object, and finally finalized.
import type { Deployment } from "kubernetes-types/apps/v1";
import type { ConfigMap, Namespace } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { isNotFound, type KubeObject } from "../../lib/client/index.ts";
import { freshNamespace, testClient } from "../../lib/client/testing.ts";
import { builtin, type ResourceNames } from "../../lib/k8s/resources.ts";
import { customContent, deletionConditions, mergeConditions, type ContentLeft } from "./namespace.ts";
import { wakeControllerManager } from "./testing.ts";

const resource = (group: string, plural: string): ResourceNames => ({ group, version: "v1", kind: plural, resource: plural, singular: plural, namespaced: true });
const left = (r: ResourceNames, remaining: number, finalizers: Record<string, number> = {}, error?: string): ContentLeft =>
  ({ resource: r, remaining, finalizers: new Map(Object.entries(finalizers)), estimateSeconds: 0, ...(error ? { error } : {}) });
const byType = (conditions: { type: string; status: string; reason?: string; message?: string }[]) =>
  Object.fromEntries(conditions.map((c) => [c.type, `${c.status} ${c.reason}: ${c.message}`]));

describe("deletionConditions", () => {
  it("says all is done when nothing is left", () => {
    expect(byType(deletionConditions({ discoveryErrors: [], content: [left(resource("", "pods"), 0)] }))).toEqual({
      NamespaceDeletionDiscoveryFailure: "False ResourcesDiscovered: All resources successfully discovered",
      NamespaceDeletionGroupVersionParsingFailure: "False ParsedGroupVersions: All legacy kube types successfully parsed",
      NamespaceDeletionContentFailure: "False ContentDeleted: All content successfully deleted, may be waiting on finalization",
      NamespaceContentRemaining: "False ContentRemoved: All content successfully removed",
      NamespaceFinalizersRemaining: "False ContentHasNoFinalizers: All content-preserving finalizers finished",
    });
  });

  it("counts what remains by group resource and finalizer, and names failures", () => {
    const conditions = byType(deletionConditions({
      discoveryErrors: ["apiextensions.k8s.io/v1: boom"],
      content: [
        left(resource("", "configmaps"), 2, { "example.com/hold": 2 }),
        left(resource("example.com", "widgets"), 1, { "example.com/hold": 1, "other/x": 1 }),
        left(resource("apps", "deployments"), 0, {}, "the server is busy"),
      ],
    }));
    expect(conditions).toMatchObject({
      NamespaceDeletionDiscoveryFailure: "True DiscoveryFailed: Discovery failed for some groups, 1 failing: apiextensions.k8s.io/v1: boom",
      NamespaceDeletionContentFailure: "True ContentDeletionFailed: Failed to delete all resource types, 1 remaining: the server is busy",
      NamespaceContentRemaining: "True SomeResourcesRemain: Some resources are remaining: configmaps has 2 resource instances, widgets.example.com has 1 resource instances",
      NamespaceFinalizersRemaining: "True SomeFinalizersRemain: Some content in the namespace has finalizers remaining: example.com/hold in 3 resource instances, other/x in 1 resource instances",
    });
  });

  it("keeps a condition's lastTransitionTime while its status stays", () => {
    const old = [{ type: "NamespaceContentRemaining", status: "True", reason: "SomeResourcesRemain", message: "a", lastTransitionTime: "2026-01-01T00:00:00Z" }];
    const [same] = mergeConditions(old, [{ type: "NamespaceContentRemaining", status: "True", reason: "SomeResourcesRemain", message: "b" }], Date.parse("2026-01-02T00:00:00Z"));
    expect(same!.lastTransitionTime).toBe("2026-01-01T00:00:00Z");
    const [moved] = mergeConditions(old, [{ type: "NamespaceContentRemaining", status: "False", reason: "ContentRemoved", message: "c" }], Date.parse("2026-01-02T00:00:00Z"));
    expect(moved!.lastTransitionTime).toBe("2026-01-02T00:00:00Z");
  });
});

describe("customContent", () => {
  const crd = (scope: string, established: boolean) => ({
    metadata: { name: "widgets.example.com" },
    spec: { group: "example.com", scope, names: { plural: "widgets", kind: "Widget" }, versions: [{ name: "v1beta1", served: true, storage: false }, { name: "v1", served: true, storage: true }] },
    status: { conditions: [{ type: "Established", status: established ? "True" : "False" }], acceptedNames: { plural: "widgets", kind: "Widget" } },
  });
  it.each([
    ["a namespaced, established CRD: its storage version", crd("Namespaced", true), ["example.com/v1/widgets"]],
    ["a cluster-scoped CRD: nothing in namespaces", crd("Cluster", true), []],
    ["a CRD not yet established: not served", crd("Namespaced", false), []],
  ])("%s", (_, definition, expected) => {
    expect(customContent([definition]).map((r) => `${r.group}/${r.version}/${r.resource}`)).toEqual(expected);
  });
});

// ---- against the real apiserver ----

const client = testClient();
const namespaces = client.resource<Namespace>(builtin("v1", "namespaces"));
const configMaps = client.resource<ConfigMap>(builtin("v1", "configmaps"));
const deployments = client.resource<Deployment>(builtin("apps/v1", "deployments"));
const crds = client.resource<KubeObject & { spec?: unknown }>(builtin("apiextensions.k8s.io/v1", "customresourcedefinitions"));
const gadgets = client.resource<KubeObject>({ group: "ns-test.example.com", version: "v1", kind: "Gadget", resource: "gadgets", singular: "gadget", namespaced: true });

const wake = wakeControllerManager;

async function installGadgets(): Promise<void> {
  await crds.create(undefined, {
    metadata: { name: "gadgets.ns-test.example.com" },
    spec: {
      group: "ns-test.example.com", scope: "Namespaced", names: { plural: "gadgets", singular: "gadget", kind: "Gadget", listKind: "GadgetList" },
      versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
    },
  }).catch((e) => {
    if ((e as { code?: number }).code !== 409) throw e;
  });
}

describe("the namespace controller", () => {
  it("empties a Terminating namespace of built-in and custom resources, waits for finalizers, then finalizes it", async () => {
    await installGadgets();
    const ns = await freshNamespace(client, "nsc");
    await configMaps.create(ns, { metadata: { name: "plain" } });
    await configMaps.create(ns, { metadata: { name: "held", finalizers: ["example.com/hold"] } });
    await deployments.create(ns, { metadata: { name: "d" }, spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "x" }] } } } });
    await gadgets.create(ns, { apiVersion: "ns-test.example.com/v1", kind: "Gadget", metadata: { name: "g" } });
    await namespaces.delete(undefined, ns);
    await wake();

    expect((await gadgets.list(ns)).items).toEqual([]);
    expect((await deployments.list(ns)).items).toEqual([]);
    expect((await configMaps.list(ns)).items.map((c) => c.metadata!.name)).toEqual(["held"]);
    const terminating = await namespaces.get(undefined, ns);
    expect(terminating.status!.phase).toBe("Terminating");
    expect(terminating.spec!.finalizers).toEqual(["kubernetes"]);
    expect(byType(terminating.status!.conditions!)).toMatchObject({
      NamespaceContentRemaining: "True SomeResourcesRemain: Some resources are remaining: configmaps has 1 resource instances",
      NamespaceFinalizersRemaining: "True SomeFinalizersRemain: Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
    });

    await configMaps.patch(ns, "held", { metadata: { finalizers: null } }, "merge");
    await wake();
    await expect(namespaces.get(undefined, ns)).rejects.toSatisfy(isNotFound);
    // Each pass deletes and lists every namespaced resource, and a held ConfigMap makes the
    // controller retry with back-off: on a loaded machine this takes 30–45 s (it did before custom
    // resources joined the graph too).
  }, 90_000);
});

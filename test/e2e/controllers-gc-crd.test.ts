// The garbage collector with custom resources, through real kubectl against a control plane as npm
// start serves it: a custom resource owning a ConfigMap takes it along when deleted (background and
// foreground, as `kubectl delete --cascade` asks), leaves it ownerless with --cascade=orphan, and a
// custom resource owned by a ConfigMap goes when its owner does.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { until } from "../support/until.ts";

let harness: KubectlHarness;
const kubectl = "/usr/bin/kubectl";

const CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.gc.example.com" },
  spec: {
    group: "gc.example.com", scope: "Namespaced", names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
    versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
  },
};

/** kubectl apply of one object written as JSON (YAML's superset) to a file. */
async function apply(object: unknown): Promise<void> {
  const file = join(harness.dir, `object-${crypto.randomUUID()}.json`);
  writeFileSync(file, JSON.stringify(object));
  await harness.ok(kubectl, "apply", "-f", file);
}

beforeAll(async () => {
  harness = await startKubectlHarness("controllers-gc-crd-e2e-");
  await apply(CRD);
  await harness.ok(kubectl, "wait", "--for=condition=Established", "crd/widgets.gc.example.com", "--timeout=30s");
});

afterAll(async () => {
  await harness?.stop();
});

const exists = async (ns: string, what: string) => (await harness.kubectl(kubectl, "get", what, "-n", ns)).code === 0;
const gone = (ns: string, what: string) => async () => ((await harness.kubectl(kubectl, "get", what, "-n", ns)).stderr.includes("NotFound") ? true : undefined);

/** A Widget and a ConfigMap it controls, in a new namespace. */
async function widgetOwningConfigMap(ns: string): Promise<void> {
  await harness.ok(kubectl, "create", "namespace", ns);
  await apply({ apiVersion: "gc.example.com/v1", kind: "Widget", metadata: { name: "w", namespace: ns } });
  const uid = await harness.ok(kubectl, "get", "widget", "w", "-n", ns, "-o", "jsonpath={.metadata.uid}");
  await apply({
    apiVersion: "v1", kind: "ConfigMap",
    metadata: { name: "owned", namespace: ns, ownerReferences: [{ apiVersion: "gc.example.com/v1", kind: "Widget", name: "w", uid, controller: true, blockOwnerDeletion: true }] },
    data: { a: "b" },
  });
}

describe("kubectl delete of a custom resource that owns a ConfigMap", () => {
  it("background (kubectl's default): the ConfigMap goes after its owner", async () => {
    await widgetOwningConfigMap("cr-bg");
    expect(await harness.ok(kubectl, "delete", "widget", "w", "-n", "cr-bg")).toBe(`widget.gc.example.com "w" deleted\n`);
    await until("the ConfigMap collected", gone("cr-bg", "configmap/owned"));
  });

  it("foreground: the ConfigMap is gone by the time the Widget is", async () => {
    await widgetOwningConfigMap("cr-fg");
    await harness.ok(kubectl, "delete", "widget", "w", "-n", "cr-fg", "--cascade=foreground", "--timeout=30s");
    expect(await exists("cr-fg", "configmap/owned")).toBe(false);
  });

  it("orphan: the ConfigMap stays without its owner reference", async () => {
    await widgetOwningConfigMap("cr-orphan");
    await harness.ok(kubectl, "delete", "widget", "w", "-n", "cr-orphan", "--cascade=orphan", "--timeout=30s");
    await until("the ConfigMap released", async () => ((await harness.ok(kubectl, "get", "configmap", "owned", "-n", "cr-orphan", "-o", "jsonpath={.metadata.ownerReferences}")) === "" ? true : undefined));
    expect(await harness.ok(kubectl, "get", "configmap", "owned", "-n", "cr-orphan", "-o", "jsonpath={.data.a}")).toBe("b");
  });
});

describe("a custom resource owned by a ConfigMap", () => {
  it("goes when its owner is deleted", async () => {
    await harness.ok(kubectl, "create", "namespace", "cr-dependent");
    await harness.ok(kubectl, "create", "configmap", "owner", "-n", "cr-dependent");
    const uid = await harness.ok(kubectl, "get", "configmap", "owner", "-n", "cr-dependent", "-o", "jsonpath={.metadata.uid}");
    await apply({ apiVersion: "gc.example.com/v1", kind: "Widget", metadata: { name: "dependent", namespace: "cr-dependent", ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid }] } });
    await harness.ok(kubectl, "delete", "configmap", "owner", "-n", "cr-dependent");
    await until("the Widget collected", gone("cr-dependent", "widget/dependent"));
  });
});

// Custom resources in workerd: a CRD is established and its resources are served with schema
// validation, pruning, defaults, CEL rules, subresources, printer columns and discovery.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { rawApi } from "../../lib/client/testing.ts";
import { until } from "../../test/support/until.ts";

const AUTH = { Authorization: "Bearer test-admin-token" };

const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => rawApi(method, path, body, { headers });

let counter = 0;
/** A fresh CRD (its own group) for widgets, with everything a schema may say. */
function widgetCrd(overrides: { scope?: string } = {}) {
  const group = `t${++counter}-${crypto.randomUUID().slice(0, 6)}.example.com`;
  return {
    group,
    crd: {
      apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition",
      metadata: { name: `widgets.${group}` },
      spec: {
        group, scope: overrides.scope ?? "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget", shortNames: ["wdg"], categories: ["all", "gadgets"] },
        versions: [
          {
            name: "v1", served: true, storage: true,
            subresources: { status: {}, scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".status.selector" } },
            additionalPrinterColumns: [
              { name: "Size", type: "string", jsonPath: ".spec.size" },
              { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" },
              { name: "Ready", type: "string", jsonPath: `.status.conditions[?(@.type=="Ready")].status` },
              { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
            ],
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: {
                  spec: {
                    type: "object", required: ["size"],
                    "x-kubernetes-validations": [
                      { rule: "self.replicas <= self.maxReplicas", message: "replicas must not exceed maxReplicas" },
                      { rule: "self.size == oldSelf.size", message: "size is immutable" },
                    ],
                    properties: {
                      size: { type: "string", enum: ["small", "large"] },
                      replicas: { type: "integer", minimum: 0, default: 1 },
                      maxReplicas: { type: "integer", maximum: 10, default: 5 },
                      color: { type: "string", pattern: "^[a-z]+$", maxLength: 10, nullable: true },
                      port: { "x-kubernetes-int-or-string": true },
                      extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                      tags: { type: "array", maxItems: 2, items: { type: "string" } },
                      template: { type: "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true },
                    },
                  },
                  status: {
                    type: "object",
                    properties: {
                      replicas: { type: "integer" }, selector: { type: "string" },
                      conditions: { type: "array", items: { type: "object", properties: { type: { type: "string" }, status: { type: "string" } } } },
                    },
                  },
                },
              },
            },
          },
          { name: "v1beta1", served: true, storage: false, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } },
        ],
      },
    },
  };
}

async function freshNamespace(): Promise<string> {
  const name = `crd-${++counter}-${crypto.randomUUID().slice(0, 6)}`;
  expect((await api("POST", "/api/v1/namespaces", { metadata: { name } })).status).toBe(201);
  return name;
}

async function installWidgets(overrides: { scope?: string } = {}) {
  const { group, crd } = widgetCrd(overrides);
  const created = await api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return { group, created: created.body };
}

describe("CustomResourceDefinitions", () => {
  it("is established at once, with accepted names, stored versions and the cleanup finalizer", async () => {
    const { created } = await installWidgets();
    expect(created.status.conditions).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: "Established", status: "True" }), expect.objectContaining({ type: "NamesAccepted", status: "True" }),
    ]));
    expect(created.status.acceptedNames).toMatchObject({ plural: "widgets", kind: "Widget", listKind: "WidgetList" });
    expect(created.status.storedVersions).toEqual(["v1"]);
    expect(created.metadata.finalizers).toContain("customresourcecleanup.apiextensions.k8s.io");
  });

  it("refuses an invalid CRD with each cause and stores nothing", async () => {
    const { crd } = widgetCrd();
    const bad = structuredClone(crd) as any;
    bad.metadata.name = "wrong.example.com";
    bad.spec.versions[1].storage = true;
    bad.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size = { enum: ["x"] };
    bad.spec.versions[0].schema.openAPIV3Schema.properties.spec["x-kubernetes-validations"].push({ rule: "self.size ==" });
    const res = await api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bad);
    expect(res.status).toBe(422);
    const fields = res.body.details.causes.map((c: any) => c.field);
    expect(fields).toEqual(expect.arrayContaining([
      "metadata.name", "spec.versions",
      "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].type",
      "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[2].rule",
    ]));
    expect((await api("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/wrong.example.com")).status).toBe(404);
  });

  it("serves discovery for the new group, legacy and aggregated", async () => {
    const { group } = await installWidgets();
    const groups = (await api("GET", "/apis")).body.groups;
    expect(groups.find((g: any) => g.name === group)).toMatchObject({ preferredVersion: { version: "v1" }, versions: [{ version: "v1" }, { version: "v1beta1" }] });
    const list = (await api("GET", `/apis/${group}/v1`)).body;
    expect(list.resources.map((r: any) => r.name)).toEqual(["widgets", "widgets/status", "widgets/scale"]);
    expect(list.resources[0]).toMatchObject({ kind: "Widget", namespaced: true, shortNames: ["wdg"], categories: ["all", "gadgets"], singularName: "widget" });
    const aggregated = (await api("GET", "/apis", undefined, { Accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" })).body;
    const entry = aggregated.items.find((g: any) => g.metadata.name === group);
    expect(entry.versions[0].resources[0]).toMatchObject({ resource: "widgets", scope: "Namespaced", responseKind: { group, version: "v1", kind: "Widget" } });
  });

  it("validates custom resources against the schema: 422 with each cause, nothing stored", async () => {
    const { group } = await installWidgets();
    const ns = await freshNamespace();
    const res = await api("POST", `/apis/${group}/v1/namespaces/${ns}/widgets`, {
      apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "bad" },
      spec: { size: "medium", replicas: "three", color: "Red!", tags: ["a", "b", "c"], port: 1.5, template: { metadata: {} } },
    });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ kind: "Status", reason: "Invalid", code: 422, details: { kind: "Widget", group, name: "bad" } });
    const causes = Object.fromEntries(res.body.details.causes.map((c: any) => [c.field, c]));
    expect(causes["spec.size"]).toMatchObject({ reason: "FieldValueNotSupported", message: 'Unsupported value: "medium": supported values: "small", "large"' });
    expect(causes["spec.replicas"].message).toBe('Invalid value: "string": spec.replicas in body must be of type integer: "string"');
    expect(causes["spec.color"].message).toBe(`Invalid value: "Red!": spec.color in body should match '^[a-z]+$'`);
    expect(causes["spec.tags"]).toMatchObject({ reason: "FieldValueTooMany" });
    expect(causes["spec.port"]).toBeDefined();
    expect(causes["spec.template.kind"]).toMatchObject({ reason: "FieldValueRequired" });
    expect(res.body.message).toContain(`Widget.${group} "bad" is invalid: `);
    expect((await api("GET", `/apis/${group}/v1/namespaces/${ns}/widgets/bad`)).status).toBe(404);

    const missing = await api("POST", `/apis/${group}/v1/namespaces/${ns}/widgets`, { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "bad" }, spec: {} });
    expect(missing.body.details.causes).toEqual([{ reason: "FieldValueRequired", field: "spec.size", message: "Required value" }]);
  });

  it("prunes unknown fields, drops nulls, fills in defaults; Strict refuses unknown fields", async () => {
    const { group } = await installWidgets();
    const ns = await freshNamespace();
    const body = { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "w" }, spec: { size: "small", color: null, bogus: 1, maxReplicas: null, extra: { anything: { goes: true } } }, junk: true };
    const strict = await api("POST", `/apis/${group}/v1/namespaces/${ns}/widgets?fieldValidation=Strict`, body);
    expect(strict.status).toBe(400);
    expect(strict.body.message).toContain('unknown field "junk"');
    expect(strict.body.message).toContain('unknown field "spec.bogus"');
    const res = await api("POST", `/apis/${group}/v1/namespaces/${ns}/widgets`, body);
    expect(res.status).toBe(201);
    expect(res.headers.get("Warning")).toContain('unknown field \\"spec.bogus\\"');
    expect(res.body.junk).toBeUndefined();
    expect(res.body.spec).toEqual({ size: "small", color: null, replicas: 1, maxReplicas: 5, extra: { anything: { goes: true } } });
    expect(res.body.metadata.generation).toBe(1);
  });

  it("enforces CEL rules, transition rules included, and answers for each", async () => {
    const { group } = await installWidgets();
    const ns = await freshNamespace();
    const path = `/apis/${group}/v1/namespaces/${ns}/widgets`;
    const tooMany = await api("POST", path, { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "w" }, spec: { size: "small", replicas: 8, maxReplicas: 4 } });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.details.causes).toEqual([{ reason: "FieldValueInvalid", field: "spec", message: 'Invalid value: "object": replicas must not exceed maxReplicas' }]);
    expect((await api("POST", path, { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "w" }, spec: { size: "small" } })).status).toBe(201);
    const changed = await api("PATCH", `${path}/w`, { spec: { size: "large" } }, { "Content-Type": "application/merge-patch+json" });
    expect(changed.status).toBe(422);
    expect(changed.body.details.causes[0].message).toBe('Invalid value: "object": size is immutable');
    expect((await api("GET", `${path}/w`)).body.spec.size).toBe("small");
  });

  it("serves every version over one storage version, status and scale subresources, Tables and watch", async () => {
    const { group } = await installWidgets();
    const ns = await freshNamespace();
    const path = `/apis/${group}/v1/namespaces/${ns}/widgets`;
    const created = (await api("POST", path, { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "w" }, spec: { size: "small", replicas: 2 }, status: { replicas: 9 } })).body;
    expect(created.status).toBeUndefined();
    const old = (await api("GET", `/apis/${group}/v1beta1/namespaces/${ns}/widgets/w`)).body;
    expect(old).toMatchObject({ apiVersion: `${group}/v1beta1`, spec: { size: "small", replicas: 2 } });

    const status = await api("PUT", `${path}/w/status`, { ...created, spec: { size: "large" }, status: { replicas: 2, selector: "app=w", conditions: [{ type: "Ready", status: "True" }] } });
    expect(status.status).toBe(200);
    expect(status.body.spec.size).toBe("small");
    expect(status.body.metadata.generation).toBe(1);

    const scale = (await api("GET", `${path}/w/scale`)).body;
    expect(scale).toMatchObject({ kind: "Scale", spec: { replicas: 2 }, status: { replicas: 2, selector: "app=w" } });
    const scaled = await api("PATCH", `${path}/w/scale`, { spec: { replicas: 4 } }, { "Content-Type": "application/merge-patch+json" });
    expect(scaled.body.spec.replicas).toBe(4);
    const after = (await api("GET", `${path}/w`)).body;
    expect(after.spec.replicas).toBe(4);
    expect(after.metadata.generation).toBe(2);

    const table = (await api("GET", path, undefined, { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io" })).body;
    expect(table.columnDefinitions.map((c: any) => c.name)).toEqual(["Name", "Size", "Replicas", "Ready", "Age"]);
    expect(table.rows[0].cells.slice(0, 4)).toEqual(["w", "small", 4, "True"]);

    const watch = await exports.default.fetch(`https://edgeplane.test${path}?watch=true&resourceVersion=${created.metadata.resourceVersion}`, { headers: AUTH });
    const reader = watch.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while ((text.match(/\n/g) ?? []).length < 2) text += (await reader.read()).value;
    await reader.cancel();
    expect(text.split("\n").filter(Boolean).map((l) => JSON.parse(l).type)).toEqual(["MODIFIED", "MODIFIED"]);
  });

  it("publishes each served version in /openapi/v3 and /openapi/v2, and drops it with the CRD", async () => {
    const { group } = await installWidgets();
    const reversed = group.split(".").reverse().join(".");
    const index = (await api("GET", "/openapi/v3")).body;
    const url = index.paths[`apis/${group}/v1`].serverRelativeURL;
    expect(url).toMatch(new RegExp(`^/openapi/v3/apis/${group.replace(/\./g, "\\.")}/v1\\?hash=[0-9A-F]{128}$`));
    const document = (await api("GET", url)).body;
    const widget = document.components.schemas[`${reversed}.v1.Widget`];
    expect(widget["x-kubernetes-group-version-kind"]).toEqual([{ group, kind: "Widget", version: "v1" }]);
    expect(widget.properties.spec.properties.size.enum).toEqual(["small", "large"]);
    expect(document.components.schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]).toBeDefined();
    expect(Object.keys(document.paths)).toContain(`/apis/${group}/v1/namespaces/{namespace}/widgets/{name}`);
    const swagger = (await api("GET", "/openapi/v2")).body;
    expect(swagger.definitions[`${reversed}.v1beta1.Widget`]).toBeDefined();
    expect(swagger.paths[`/apis/${group}/v1/namespaces/{namespace}/widgets`].post.parameters[0].schema.$ref).toBe(`#/definitions/${reversed}.v1.Widget`);
    expect((await api("DELETE", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`)).status).toBe(200);
    for (let i = 0; i < 50 && (await api("GET", "/openapi/v3")).body.paths[`apis/${group}/v1`]; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await api("GET", "/openapi/v3")).body.paths[`apis/${group}/v1`]).toBeUndefined();
  });

  it("serves cluster-scoped custom resources", async () => {
    const { group } = await installWidgets({ scope: "Cluster" });
    const created = await api("POST", `/apis/${group}/v1/widgets`, { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "global" }, spec: { size: "large" } });
    expect(created.status).toBe(201);
    expect(created.body.metadata.namespace).toBeUndefined();
    expect((await api("GET", `/apis/${group}/v1/namespaces/default/widgets`)).status).toBe(404);
  });

  it("deleting a CRD deletes its custom resources, then the CRD; its API goes away", async () => {
    const { group } = await installWidgets();
    const ns = await freshNamespace();
    for (const name of ["a", "b"]) {
      expect((await api("POST", `/apis/${group}/v1/namespaces/${ns}/widgets`, { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name }, spec: { size: "small" } })).status).toBe(201);
    }
    expect((await api("DELETE", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`)).status).toBe(200);
    let crd;
    for (let i = 0; i < 50; i++) {
      crd = await api("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`);
      if (crd.status === 404) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(crd!.status).toBe(404);
    expect((await api("GET", `/apis/${group}/v1/namespaces/${ns}/widgets`)).status).toBe(404);
    // Installing the same CRD again shows none of the old objects.
    const again = widgetCrd();
    again.crd.metadata.name = `widgets.${group}`;
    again.crd.spec.group = group;
    expect((await api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", again.crd)).status).toBe(201);
    expect((await api("GET", `/apis/${group}/v1/namespaces/${ns}/widgets`)).body.items).toEqual([]);
  });

  it("a custom resource's own finalizer holds its CRD's deletion until the finalizer is removed", async () => {
    const { group } = await installWidgets();
    const ns = await freshNamespace();
    const path = `/apis/${group}/v1/namespaces/${ns}/widgets`;
    expect((await api("POST", path, { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "held", finalizers: ["example.com/hold"] }, spec: { size: "small" } })).status).toBe(201);
    const crdPath = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`;
    expect((await api("DELETE", crdPath)).status).toBe(200);
    const terminating = await until("the widget marked for deletion", async () => {
      const widget = await api("GET", `${path}/held`);
      return widget.body.metadata?.deletionTimestamp ? widget : undefined;
    });
    expect(terminating.body.metadata.finalizers).toEqual(["example.com/hold"]);
    const crd = await api("GET", crdPath);
    expect(crd.status).toBe(200);
    expect(crd.body.status.conditions).toContainEqual(expect.objectContaining({ type: "Terminating", status: "True" }));
    expect((await api("PATCH", `${path}/held`, { metadata: { finalizers: null } }, { "Content-Type": "application/merge-patch+json" })).status).toBe(200);
    await until("the CRD gone", async () => ((await api("GET", crdPath)).status === 404 ? true : undefined));
  });
});

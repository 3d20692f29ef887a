// /openapi/v2 and /openapi/v3 in workerd, as kubectl reads them: the index and its hashes, caching
// headers, one document per served group-version with every kind's schema and extensions.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { resources as served } from "../registry/index.ts";
import spec from "./spec.generated.json" with { type: "json" };

/** What the published OpenAPI data covers: kinds newer than it (listed by the generator) are served without schemas. */
const resources = served.filter((d) => !(spec.unpublished as string[]).includes(`${d.group}/${d.version}/${d.kind}`));
import { SWAGGER_PROTOBUF_TYPE } from "./index.ts";

const AUTH = { Authorization: "Bearer test-admin-token" };
type Json = any;

function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`https://edgeplane.test${path}`, { headers: { ...AUTH, ...headers }, redirect: "manual" });
}

async function sha512Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-512", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

async function index(): Promise<Record<string, string>> {
  const body = (await (await get("/openapi/v3")).json()) as { paths: Record<string, { serverRelativeURL: string }> };
  return Object.fromEntries(Object.entries(body.paths).map(([gv, { serverRelativeURL }]) => [gv, serverRelativeURL]));
}

async function v3(groupVersion: string): Promise<Json> {
  return (await get(`/openapi/v3/${groupVersion}`)).json();
}

/** Every `$ref` in a document. */
function refs(value: Json, into: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, into));
  else if (value && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      if (key === "$ref" && typeof v === "string") into.push(v);
      else refs(v, into);
    }
  }
  return into;
}

const gvOf = (def: { group: string; version: string }) => (def.group ? `apis/${def.group}/${def.version}` : `api/${def.version}`);
const hasGVK = (extension: Json, def: { group: string; version: string; kind: string }) =>
  [extension].flat().some((gvk: Json) => gvk?.group === def.group && gvk?.version === def.version && gvk?.kind === def.kind);

describe("/openapi/v3", () => {
  it("refuses requests without a token with 401 Status", async () => {
    for (const path of ["/openapi/v2", "/openapi/v3", "/openapi/v3/api/v1"]) {
      const res = await exports.default.fetch(`https://edgeplane.test${path}`);
      expect(res.status, path).toBe(401);
      expect(await res.json()).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
    }
  });

  it("indexes every served group-version and discovery document by a URL with the document's SHA-512", async () => {
    const res = await get("/openapi/v3");
    expect(res.headers.get("Content-Type")).toBe("application/json");
    const text = await res.text();
    expect(res.headers.get("ETag")).toBe(`"${await sha512Hex(text)}"`);
    const urls = await index();
    // Every served group-version has its document, if only for its discovery path; one the published data lacks altogether (metrics.k8s.io) has none.
    const documented = served.filter((d) => resources.some((r) => r.group === d.group && r.version === d.version));
    const expected = new Set(["api", "apis", "version", ...documented.map(gvOf), ...documented.filter((d) => d.group).map((d) => `apis/${d.group}`)]);
    expect(Object.keys(urls).sort()).toEqual([...expected].sort());
    for (const [gv, url] of Object.entries(urls)) {
      const [path, hash] = url.split("?hash=");
      expect(path).toBe(`/openapi/v3/${gv}`);
      expect(hash).toMatch(/^[0-9A-F]{128}$/);
      expect(await sha512Hex(await (await get(path!)).text())).toBe(hash);
    }
  });

  it("lets hashed URLs be cached for good, redirects stale hashes, and honours If-None-Match", async () => {
    const url = (await index())["apis/apps/v1"]!;
    const hash = url.split("?hash=")[1]!;
    const hashed = await get(url);
    expect(hashed.status).toBe(200);
    expect(hashed.headers.get("Cache-Control")).toBe("public, immutable");
    expect(hashed.headers.get("ETag")).toBe(`"${hash}"`);
    expect(hashed.headers.get("Vary")).toBe("Accept");
    const expires = Date.parse(hashed.headers.get("Expires")!);
    expect(expires - Date.now()).toBeGreaterThan(364 * 24 * 3600 * 1000);

    const plain = await get("/openapi/v3/apis/apps/v1");
    expect(plain.headers.get("Cache-Control")).toBeNull();
    expect(plain.headers.get("ETag")).toBe(`"${hash}"`);

    const stale = await get("/openapi/v3/apis/apps/v1?hash=0123");
    expect(stale.status).toBe(301);
    expect(stale.headers.get("Location")).toBe(url);

    const unchanged = await get(url, { "If-None-Match": `"${hash}"` });
    expect(unchanged.status).toBe(304);
    expect(await unchanged.text()).toBe("");
  });

  it("answers unknown group-versions with 404 and non-JSON Accept with 406", async () => {
    const missing = await get("/openapi/v3/apis/example.com/v1");
    expect((await get("/openapi/v3/constructor")).status).toBe(404);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ kind: "Status", reason: "NotFound" });
    expect((await get("/openapi/v3/api/v1", { Accept: "application/com.github.proto-openapi.spec.v3.v1.0+protobuf" })).status).toBe(406);
    expect((await get("/openapi/v3/api/v1", { Accept: "application/json, */*" })).status).toBe(200);
  });

  it("serves every kind's schema and a PATCH without fieldValidation, so kubectl validates on its side", async () => {
    // Review kinds are create-only, and the published data lacks their newest versions.
    for (const def of resources.filter((d) => !d.review)) {
      const doc = await v3(gvOf(def));
      expect(doc.openapi).toBe("3.0.0");
      const schemas = Object.values(doc.components.schemas) as Json[];
      expect(schemas.some((s) => hasGVK(s["x-kubernetes-group-version-kind"], def)), `${def.kind} schema`).toBe(true);
      const patches = Object.values(doc.paths).map((item: Json) => item.patch).filter((op: Json) => op && hasGVK(op["x-kubernetes-group-version-kind"], def));
      // Read-only kinds (ComponentStatus) have no PATCH.
      if (def.verbs && !def.verbs.includes("patch")) expect(patches, `${def.kind} PATCH`).toEqual([]);
      else expect(patches.length, `${def.kind} PATCH`).toBeGreaterThan(0);
      for (const op of patches) expect(op.parameters.map((p: Json) => p.name)).not.toContain("fieldValidation");
      for (const ref of refs(doc)) expect(doc.components.schemas[ref.replace("#/components/schemas/", "")], `${gvOf(def)} ${ref}`).toBeDefined();
    }
  });

  it("serves only the paths we serve", async () => {
    const paths = Object.keys((await v3("api/v1")).paths);
    expect(paths).toContain("/api/v1/namespaces/{namespace}/pods/{name}/eviction");
    expect(paths).toContain("/api/v1/namespaces/{name}/finalize");
    expect(paths).toContain("/api/v1/persistentvolumes/{name}/status");
    expect(paths.filter((p) => /\/(log|exec|attach|portforward|proxy)$|\/watch\//.test(p))).toEqual([]);
  });

  it("keeps the patch and list extensions and the descriptions beside a $ref", async () => {
    const core = (await v3("api/v1")).components.schemas;
    expect(core["io.k8s.api.core.v1.PodSpec"].properties.containers).toMatchObject({
      type: "array", "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name",
      items: { $ref: "#/components/schemas/io.k8s.api.core.v1.Container" },
    });
    expect(core["io.k8s.api.core.v1.Container"].properties.ports).toMatchObject({
      "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["containerPort", "protocol"], "x-kubernetes-patch-merge-key": "containerPort",
    });
    expect(core["io.k8s.api.core.v1.Container"].properties.livenessProbe).toEqual({
      allOf: [{ $ref: "#/components/schemas/io.k8s.api.core.v1.Probe" }],
      description: expect.stringContaining("Periodic probe of container liveness."),
    });
    const policy = (await v3("apis/policy/v1")).components.schemas;
    expect(policy["io.k8s.api.policy.v1.PodDisruptionBudgetSpec"].properties.selector).toMatchObject({
      allOf: [{ $ref: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector" }], "x-kubernetes-patch-strategy": "replace",
    });
    expect(policy["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]["x-kubernetes-map-type"]).toBe("atomic");
  });
});

describe("/openapi/v2", () => {
  it("serves swagger 2.0 JSON with $ref beside descriptions, a body parameter and every reference defined", async () => {
    const res = await get("/openapi/v2");
    expect(res.headers.get("Content-Type")).toBe("application/json");
    const text = await res.text();
    expect(res.headers.get("ETag")).toBe(`"${await sha512Hex(text)}"`);
    const doc = JSON.parse(text);
    expect(doc.swagger).toBe("2.0");
    expect(doc.definitions["io.k8s.api.apps.v1.DeploymentSpec"].properties.selector).toMatchObject({
      $ref: "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", description: expect.any(String),
    });
    const create = doc.paths["/apis/apps/v1/namespaces/{namespace}/deployments"].post;
    expect(create.parameters[0]).toEqual({ name: "body", in: "body", required: true, schema: { $ref: "#/definitions/io.k8s.api.apps.v1.Deployment" } });
    expect(create.parameters.slice(1).map((p: Json) => p.name)).toEqual(["dryRun", "fieldManager"]);
    expect(create.parameters[1]).toMatchObject({ in: "query", type: "string", uniqueItems: true });
    expect(create.produces).toContain("application/json");
    expect(create.responses["201"].schema).toEqual({ $ref: "#/definitions/io.k8s.api.apps.v1.Deployment" });
    expect(text).not.toMatch(/"allOf":\[\{"\$ref"/);
    for (const ref of refs(doc)) expect(doc.definitions[ref.replace("#/definitions/", "")], ref).toBeDefined();
    for (const def of resources.filter((d) => !d.review)) {
      expect(Object.values(doc.definitions).some((s: Json) => hasGVK(s["x-kubernetes-group-version-kind"], def)), def.kind).toBe(true);
    }
  });

  it("answers kubectl's protobuf Accept with the protobuf document under the same ETag", async () => {
    const json = await get("/openapi/v2");
    const res = await get("/openapi/v2", { Accept: "application/com.github.proto-openapi.spec.v2@v1.0+protobuf" });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe(SWAGGER_PROTOBUF_TYPE);
    expect(res.headers.get("ETag")).toBe(json.headers.get("ETag"));
    expect(res.headers.get("Vary")).toBe("Accept");
    // Field 1 (swagger), length-delimited, "2.0".
    expect([...new Uint8Array(await res.arrayBuffer()).slice(0, 5)]).toEqual([0x0a, 3, 0x32, 0x2e, 0x30]);
    expect((await get("/openapi/v2", { Accept: "text/html" })).status).toBe(406);
    expect((await get("/openapi/v2", { "If-None-Match": json.headers.get("ETag")! })).status).toBe(304);
  });
});

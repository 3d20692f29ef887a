// The OpenAPI of custom resources: per served version, the CRD's schema as a definition named as
// kube-apiserver names it (reversed group, version, kind), its List, and the REST paths, built from
// the published paths of a built-in kind of the same scope with the names swapped in.
import { openAPIPaths, openAPISchemas, type CustomOpenAPI, type JsonObject } from "../openapi/documents.ts";
import type { ResourceDefinition } from "../registry/types.ts";
import type { CustomResources } from "./custom-resources.ts";

export type { CustomOpenAPI };

const SCHEMA_REF = "#/components/schemas/";
const OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

/** The built-in kind whose paths are the pattern for each scope. */
const TEMPLATES = {
  namespaced: { groupVersion: "api/v1", root: "/api/v1", plural: "configmaps", kind: "ConfigMap", schema: "io.k8s.api.core.v1.ConfigMap", gvk: `"group":"","kind":"ConfigMap","version":"v1"`, operation: "CoreV1", tag: "core_v1" },
  cluster: { groupVersion: "apis/rbac.authorization.k8s.io/v1", root: "/apis/rbac.authorization.k8s.io/v1", plural: "clusterroles", kind: "ClusterRole", schema: "io.k8s.api.rbac.v1.ClusterRole", gvk: `"group":"rbac.authorization.k8s.io","kind":"ClusterRole","version":"v1"`, operation: "RbacAuthorizationV1", tag: "rbacAuthorization_v1" },
};

/** "stable.example.com", "v1", "CronTab" → "com.example.stable.v1.CronTab", as kube names CRD definitions. */
export function definitionName(group: string, version: string, kind: string): string {
  return `${group.split(".").reverse().join(".")}.${version}.${kind}`;
}

function capitalized(words: string): string {
  return words.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

function resourceSchema(def: ResourceDefinition): JsonObject {
  const schema = structuredClone(def.custom!.schema) as JsonObject;
  const { metadata: _ignored, apiVersion: _a, kind: _k, ...properties } = (schema.properties ?? {}) as JsonObject;
  schema.type = "object";
  schema.properties = {
    apiVersion: { type: "string", description: "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources" },
    kind: { type: "string", description: "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds" },
    metadata: { allOf: [{ $ref: `${SCHEMA_REF}${OBJECT_META}` }], description: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata" },
    ...properties,
  };
  schema["x-kubernetes-group-version-kind"] = [{ group: def.group, kind: def.kind, version: def.version }];
  return schema;
}

function listSchema(def: ResourceDefinition, itemName: string): JsonObject {
  return {
    description: `${def.kind}List is a list of ${def.kind}`,
    type: "object", required: ["items"],
    properties: {
      apiVersion: { type: "string", description: "APIVersion defines the versioned schema of this representation of an object." },
      items: { type: "array", description: `List of ${def.resource}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md`, items: { $ref: `${SCHEMA_REF}${itemName}` } },
      kind: { type: "string", description: "Kind is a string value representing the REST resource this object represents." },
      metadata: { allOf: [{ $ref: `${SCHEMA_REF}${LIST_META}` }], description: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds" },
    },
    "x-kubernetes-group-version-kind": [{ group: def.group, kind: `${def.kind}List`, version: def.version }],
  };
}

function replaceAll(text: string, pairs: [string, string][]): string {
  return pairs.reduce((out, [from, to]) => out.split(from).join(to), text);
}

async function resourcePaths(def: ResourceDefinition, name: string): Promise<Record<string, JsonObject>> {
  const template = def.namespaced ? TEMPLATES.namespaced : TEMPLATES.cluster;
  const published = await openAPIPaths(template.groupVersion);
  const root = `/apis/${def.group}/${def.version}`;
  const operation = `${capitalized(def.group)}${capitalized(def.version)}`;
  const pairs: [string, string][] = [
    [`${template.schema}List`, `${name}List`], [template.schema, name],
    [template.gvk, `"group":${JSON.stringify(def.group)},"kind":${JSON.stringify(def.kind)},"version":${JSON.stringify(def.version)}`],
    [`${template.root}/`, `${root}/`], [`/${template.plural}`, `/${def.resource}`],
    [template.operation, operation], [`"${template.tag}"`, JSON.stringify(`${def.group}_${def.version}`)], [template.kind, def.kind],
  ];
  const paths: Record<string, JsonObject> = {};
  for (const [path, item] of Object.entries(published)) {
    if (!path.includes(`/${template.plural}`) || /\/(status|scale)$/.test(path)) continue;
    const served = JSON.parse(replaceAll(JSON.stringify(item), pairs)) as JsonObject;
    // Custom resources take no strategic merge patch (kube answers 415), and kubectl reads this to choose.
    const content = ((served.patch as JsonObject | undefined)?.requestBody as JsonObject | undefined)?.content as JsonObject | undefined;
    if (content) delete content["application/strategic-merge-patch+json"];
    paths[replaceAll(path, pairs)] = served;
  }
  return paths;
}

/** Every built-in schema a document's own schemas and paths reach through $ref. */
function referenced(start: unknown, builtin: Record<string, JsonObject>, into: Record<string, JsonObject>): void {
  const pending = [JSON.stringify(start)];
  while (pending.length) {
    for (const match of pending.pop()!.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      const name = match[1]!;
      if (into[name] || !builtin[name]) continue;
      into[name] = builtin[name];
      pending.push(JSON.stringify(builtin[name]));
    }
  }
}

let cached: { fingerprint: string; value: Promise<CustomOpenAPI> } | undefined;

export function customOpenAPI(set: CustomResources): Promise<CustomOpenAPI> {
  if (cached?.fingerprint !== set.fingerprint) cached = { fingerprint: set.fingerprint, value: buildCustomOpenAPI(set) };
  return cached.value;
}

async function buildCustomOpenAPI(set: CustomResources): Promise<CustomOpenAPI> {
  const builtin = await openAPISchemas();
  const groupVersions: CustomOpenAPI["groupVersions"] = {};
  for (const def of set.defs) {
    const entry = (groupVersions[`apis/${def.group}/${def.version}`] ??= { paths: {}, schemas: {} });
    const name = definitionName(def.group, def.version, def.kind);
    entry.schemas[name] = resourceSchema(def);
    entry.schemas[`${name}List`] = listSchema(def, name);
    Object.assign(entry.paths, await resourcePaths(def, name));
  }
  for (const entry of Object.values(groupVersions)) referenced([entry.schemas, entry.paths], builtin, entry.schemas);
  return { fingerprint: set.fingerprint, groupVersions };
}

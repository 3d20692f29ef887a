// Builds worker/openapi/spec.generated.json, the OpenAPI data /openapi/v2 and /openapi/v3 serve:
// per group-version (and the discovery documents) the published Kubernetes paths of what the
// registry serves, and once each, the schemas those paths reach. It reads the registry, whose
// TypeScript is more than erasable syntax: `npx node --experimental-transform-types scripts/gen-openapi.ts`.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PROJECT_ROOT } from "./dev-server.ts";
import { fetchSpec, KUBERNETES_1_22, KUBERNETES_MASTER_1_27 } from "./kubernetes-openapi-sources.ts";

type Json = null | boolean | number | string | Json[] | JsonObject;
type JsonObject = { [key: string]: Json };

/** What the generator reads of a registry declaration (worker/registry/types.ts). */
interface ServedResource {
  group: string;
  version: string;
  resource: string;
  namespaced: boolean;
  hasStatus?: boolean;
  scalable?: boolean;
  verbs?: string[];
  kind: string;
  /** Review kinds (create-only): the 1.27 data lacks some of their newer versions. */
  review?: unknown;
}

interface OpenAPIv3Document {
  paths: Record<string, JsonObject>;
  components: { schemas: Record<string, JsonObject>; requestBodies: Record<string, JsonObject>; securitySchemes: JsonObject };
  security: Json;
}

interface SwaggerDocument {
  definitions: Record<string, { properties?: Record<string, JsonObject> }>;
}

/** Where the data goes: the served file, or OPENAPI_OUTPUT (the test that checks the served file is what this builds). */
const OUTPUT = process.env.OPENAPI_OUTPUT ?? join(PROJECT_ROOT, "worker/openapi/spec.generated.json");
const SCHEMA_REF = "#/components/schemas/";
const REQUEST_BODY_REF = "#/components/requestBodies/";
const OPERATIONS = ["get", "put", "post", "delete", "options", "head", "patch"];
/** The verb each operation's x-kubernetes-action stands for, where a declaration lists its verbs. */
const ACTION_VERBS: Record<string, string> = { get: "get", list: "list", post: "create", put: "update", patch: "patch", delete: "delete", deletecollection: "deletecollection" };

async function servedResources(): Promise<ServedResource[]> {
  const registry = pathToFileURL(join(PROJECT_ROOT, "worker/registry/index.ts")).href;
  return ((await import(registry)) as { resources: ServedResource[] }).resources;
}

/** The document (index key) each served path belongs to, e.g. "/apis/apps/v1/deployments" → "apis/apps/v1". */
function servedPaths(resources: ServedResource[]): Map<string, { groupVersion: string; resource?: ServedResource; subresourceOf?: ServedResource }> {
  const paths = new Map<string, { groupVersion: string; resource?: ServedResource; subresourceOf?: ServedResource }>();
  paths.set("/api/", { groupVersion: "api" });
  paths.set("/apis/", { groupVersion: "apis" });
  paths.set("/version/", { groupVersion: "version" });
  for (const def of resources) {
    const groupVersion = def.group ? `apis/${def.group}/${def.version}` : `api/${def.version}`;
    const root = `/${groupVersion}`;
    paths.set(`${root}/`, { groupVersion });
    if (def.group) paths.set(`/apis/${def.group}/`, { groupVersion: `apis/${def.group}` });
    const collection = def.namespaced ? `${root}/namespaces/{namespace}/${def.resource}` : `${root}/${def.resource}`;
    paths.set(collection, { groupVersion, resource: def });
    paths.set(`${collection}/{name}`, { groupVersion, resource: def });
    if (def.namespaced) paths.set(`${root}/${def.resource}`, { groupVersion, resource: def });
    const subresources = [
      ...(def.hasStatus ? ["status"] : []),
      ...(def.scalable ? ["scale"] : []),
      ...(!def.group && def.resource === "pods" ? ["binding", "eviction"] : []),
      ...(!def.group && def.resource === "namespaces" ? ["finalize"] : []),
    ];
    for (const sub of subresources) paths.set(`${collection}/{name}/${sub}`, { groupVersion, subresourceOf: def });
  }
  return paths;
}

/** One published operation as we serve it. */
function servedOperation(operation: JsonObject, document: OpenAPIv3Document): JsonObject {
  // APIs.guru's conversion added a server to every operation; kube-apiserver names none.
  const { servers: _servers, requestBody, parameters, ...rest } = operation;
  const served: JsonObject = { ...rest };
  if (Array.isArray(parameters)) {
    // We ignore fieldValidation, so we must not advertise it: kubectl would then leave unknown
    // fields to the server instead of rejecting them itself.
    served.parameters = parameters.filter((p) => (p as JsonObject).name !== "fieldValidation");
  }
  if (requestBody) {
    // kube-apiserver writes request bodies in place; the conversion moved them to components.
    const ref = (requestBody as JsonObject).$ref as string | undefined;
    served.requestBody = ref ? document.components.requestBodies[ref.slice(REQUEST_BODY_REF.length)]! : requestBody;
  }
  return served;
}

function servedPathItem(item: JsonObject, resource: ServedResource | undefined, document: OpenAPIv3Document): JsonObject {
  const served: JsonObject = {};
  for (const [key, value] of Object.entries(item)) {
    if (!OPERATIONS.includes(key)) {
      if (key !== "servers") served[key] = value;
      continue;
    }
    const action = (value as JsonObject)["x-kubernetes-action"] as string;
    if (resource?.verbs && !resource.verbs.includes(ACTION_VERBS[action] ?? action)) continue;
    served[key] = servedOperation(value as JsonObject, document);
  }
  return served;
}

/**
 * A field that is a `$ref` lost its description and extensions in the conversion; the 1.22 field
 * of the same type has them. OpenAPI 3.0 ignores what stands beside a `$ref`, so kube-apiserver
 * wraps such a field as `allOf: [{$ref}]` with the rest beside, and so do we.
 */
/**
 * Fields kube 1.28–1.30 added to kinds the published document already has, which the controllers
 * here serve: without them kubectl's client-side validation refuses a manifest that uses them.
 * Types as kube 1.30's; descriptions our own.
 */
const NEWER_FIELDS: Record<string, Record<string, JsonObject>> = {
  "io.k8s.api.batch.v1.JobSpec": {
    backoffLimitPerIndex: { type: "integer", format: "int32", description: "Indexed Jobs only: how many times one index is retried before it is marked failed (beta in 1.30, on by default). Immutable." },
    maxFailedIndexes: { type: "integer", format: "int32", description: "With backoffLimitPerIndex: the Job fails once more indexes than this have failed. At most completions." },
    podReplacementPolicy: { type: "string", description: "When a replacement pod is made: TerminatingOrFailed (as soon as the old one terminates or fails) or Failed (once it has fully finished; the only value with podFailurePolicy)." },
  },
  "io.k8s.api.batch.v1.JobStatus": {
    failedIndexes: { type: "string", description: "With backoffLimitPerIndex: the failed indexes, in completedIndexes' interval format (\"1,3-5,7\")." },
    terminating: { type: "integer", format: "int32", description: "Pods of the Job that are terminating (a deletionTimestamp, not yet finished)." },
  },
};

function servedSchema(name: string, published: JsonObject, older: SwaggerDocument["definitions"]): JsonObject {
  const schema = NEWER_FIELDS[name] ? { ...published, properties: { ...(published.properties as JsonObject), ...NEWER_FIELDS[name] } } : published;
  const properties = schema.properties as Record<string, JsonObject> | undefined;
  if (!properties) return schema;
  const served: Record<string, JsonObject> = {};
  for (const [field, property] of Object.entries(properties)) {
    const ref = property.$ref as string | undefined;
    if (!ref) {
      served[field] = property;
      continue;
    }
    const olderField = older[name]?.properties?.[field];
    const sameType = olderField?.$ref === `#/definitions/${ref.slice(SCHEMA_REF.length)}`;
    const beside: JsonObject = {};
    if (sameType) {
      for (const [key, value] of Object.entries(olderField)) if (key === "description" || key.startsWith("x-kubernetes-")) beside[key] = value;
    }
    const { $ref: _ref, ...own } = property;
    Object.assign(beside, own);
    served[field] = Object.keys(beside).length ? { allOf: [{ $ref: ref }], ...beside } : property;
  }
  return { ...schema, properties: served };
}

function referencedSchemas(value: Json, into: Set<string>): void {
  if (Array.isArray(value)) for (const item of value) referencedSchemas(item, into);
  else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (key === "$ref" && typeof item === "string" && item.startsWith(SCHEMA_REF)) into.add(item.slice(SCHEMA_REF.length));
      else referencedSchemas(item, into);
    }
  }
}

/** The schemas reachable from a set of paths, sorted by name. */
function reachableSchemas(paths: Json, schemas: Record<string, JsonObject>): string[] {
  const found = new Set<string>();
  referencedSchemas(paths, found);
  for (const name of found) referencedSchemas(schemas[name]!, found);
  return [...found].sort();
}

/** Object keys sorted at every level: the output does not depend on the sources' key order. */
function canonical(value: Json): Json {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical(value[key]!)]));
  }
  return value;
}

const workDir = mkdtempSync(join(tmpdir(), "openapi-"));
try {
  const document = fetchSpec<OpenAPIv3Document>(KUBERNETES_MASTER_1_27, workDir);
  const older = fetchSpec<SwaggerDocument>(KUBERNETES_1_22, workDir).definitions;
  const resources = await servedResources();

  const groupVersions = new Map<string, JsonObject>();
  // Kinds newer than the published data (e.g. 1.30's ValidatingAdmissionPolicy v1, SelfSubjectReview v1) are served without OpenAPI.
  const unpublished = new Set<string>();
  for (const [path, { groupVersion, resource, subresourceOf }] of servedPaths(resources)) {
    const item = document.paths[path];
    const owner = resource ?? subresourceOf;
    if (!item && owner) {
      // Review kinds are create-only: kube publishes no /{name} path for them.
      if (owner.review && (path.endsWith("/{name}") || (owner.namespaced && !path.includes("{namespace}")))) continue;
      console.warn(`${KUBERNETES_MASTER_1_27.file} has no path ${path}: left out`);
      unpublished.add(`${owner.group}/${owner.version}/${owner.kind}`);
      continue;
    }
    // A group-version the published data lacks altogether (metrics.k8s.io, which kube serves through metrics-server): no document.
    if (!item && /^\/apis\/.+\/$/.test(path)) {
      console.warn(`${KUBERNETES_MASTER_1_27.file} has no path ${path}: left out`);
      continue;
    }
    if (!item) throw new Error(`${KUBERNETES_MASTER_1_27.file} has no path ${path}`);
    const paths = groupVersions.get(groupVersion) ?? {};
    paths[path] = servedPathItem(item, resource, document);
    groupVersions.set(groupVersion, paths);
  }
  const schemas = Object.fromEntries(Object.entries(document.components.schemas).map(([name, schema]) => [name, servedSchema(name, schema, older)]));
  const kept = new Set<string>();
  const entries: string[] = [];
  for (const groupVersion of [...groupVersions.keys()].sort()) {
    const paths = canonical(groupVersions.get(groupVersion)!) as JsonObject;
    const names = reachableSchemas(paths, schemas);
    names.forEach((name) => kept.add(name));
    const pathLines = Object.entries(paths).map(([path, item]) => `        ${JSON.stringify(path)}: ${JSON.stringify(item)}`).join(",\n");
    entries.push(`    ${JSON.stringify(groupVersion)}: {\n      "schemas": ${JSON.stringify(names)},\n      "paths": {\n${pathLines}\n      }\n    }`);
  }
  const schemaLines = [...kept].sort().map((name) => `    ${JSON.stringify(name)}: ${JSON.stringify(canonical(schemas[name]!))}`).join(",\n");
  const sources = [KUBERNETES_MASTER_1_27, KUBERNETES_1_22];
  // One path or schema per line keeps diffs readable when a source or the registry changes.
  writeFileSync(OUTPUT, [
    "{",
    `  "sources": ${JSON.stringify(sources)},`,
    `  "securitySchemes": ${JSON.stringify(canonical(document.components.securitySchemes))},`,
    `  "security": ${JSON.stringify(document.security)},`,
    `  "unpublished": ${JSON.stringify([...unpublished].sort())},`,
    `  "groupVersions": {\n${entries.join(",\n")}\n  },`,
    `  "schemas": {\n${schemaLines}\n  }`,
    "}",
    "",
  ].join("\n"));
  const pathCount = [...groupVersions.values()].reduce((n, paths) => n + Object.keys(paths).length, 0);
  console.log(`${OUTPUT}: ${groupVersions.size} documents, ${pathCount} paths, ${kept.size} schemas`);
} finally {
  rmSync(workDir, { recursive: true, force: true });
}

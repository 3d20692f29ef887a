// The OpenAPI documents of what we serve, assembled from spec.generated.json (scripts/gen-openapi.ts):
// one OpenAPI 3.0 document per group-version with its index, and the whole API as swagger 2.0.
// Each is built and hashed once per isolate; the data never changes while the Worker runs. Custom
// resources' documents (worker/crd/openapi.ts) join them, rebuilt whenever the CRDs change.
import { KUBERNETES_VERSION } from "../apiserver/discovery.ts";

type Json = null | boolean | number | string | Json[] | JsonObject;
export type JsonObject = { [key: string]: Json };

/** What custom resources add to the documents (built by worker/crd/openapi.ts). */
export interface CustomOpenAPI {
  fingerprint: string;
  /** Index key ("apis/<group>/<version>") → that document's paths and schemas. */
  groupVersions: Record<string, { paths: Record<string, JsonObject>; schemas: Record<string, JsonObject> }>;
}

interface SpecData {
  securitySchemes: JsonObject;
  security: Json[];
  groupVersions: Record<string, { schemas: string[]; paths: Record<string, JsonObject> }>;
  schemas: Record<string, JsonObject>;
}

/**
 * Imported on first use: the bundle keeps a dynamically imported module in a function, which an
 * isolate then only scans at startup instead of building 1.6 MB of objects for every request.
 */
let spec: Promise<SpecData> | undefined;
function loadSpec(): Promise<SpecData> {
  spec ??= import("./spec.generated.json", { with: { type: "json" } }).then((module) => module.default as unknown as SpecData);
  return spec;
}

/** Every schema we serve, by definition name; the apiserver's field validation walks these. */
export async function openAPISchemas(): Promise<Record<string, JsonObject>> {
  return (await loadSpec()).schemas as Record<string, JsonObject>;
}

/** A built-in group-version's published paths (the pattern custom resources' paths are made from). */
export async function openAPIPaths(groupVersion: string): Promise<Record<string, JsonObject>> {
  return (await loadSpec()).groupVersions[groupVersion]?.paths ?? {};
}

/** A document as served: its JSON text and kube-openapi's ETag for it (SHA-512, upper-case hex). */
export interface ServedDocument {
  json: string;
  etag: string;
}

const info = (): JsonObject => ({ title: "Kubernetes", version: KUBERNETES_VERSION.gitVersion });

async function served(document: JsonObject): Promise<ServedDocument> {
  const json = JSON.stringify(document);
  const digest = await crypto.subtle.digest("SHA-512", new TextEncoder().encode(json));
  const etag = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
  return { json, etag };
}

/** Index keys: "api", "api/v1", "apis", "apis/apps", "apis/apps/v1", "version". */
async function groupVersionNames(): Promise<string[]> {
  return Object.keys((await loadSpec()).groupVersions).sort();
}

async function openAPIv3Document(groupVersion: string): Promise<JsonObject> {
  const data = await loadSpec();
  const entry = data.groupVersions[groupVersion]!;
  return document3(entry.paths, Object.fromEntries(entry.schemas.map((name) => [name, data.schemas[name]!])), data);
}

function document3(paths: Record<string, JsonObject>, schemas: Record<string, JsonObject>, data: SpecData): JsonObject {
  return { openapi: "3.0.0", info: info(), paths, components: { schemas, securitySchemes: data.securitySchemes }, security: data.security };
}

const v3Documents = new Map<string, Promise<ServedDocument>>();
/** Custom resources' documents, for one set of CRDs (the fingerprint) at a time. */
let customDocuments: { fingerprint: string; documents: Map<string, Promise<ServedDocument>> } | undefined;

/** The group-version's document, or undefined when we serve no such group-version. */
export async function servedOpenAPIv3(groupVersion: string, custom?: CustomOpenAPI): Promise<ServedDocument | undefined> {
  const entry = custom && Object.hasOwn(custom.groupVersions, groupVersion) ? custom.groupVersions[groupVersion] : undefined;
  if (custom && entry && !Object.hasOwn((await loadSpec()).groupVersions, groupVersion)) {
    if (customDocuments?.fingerprint !== custom.fingerprint) customDocuments = { fingerprint: custom.fingerprint, documents: new Map() };
    let document = customDocuments.documents.get(groupVersion);
    if (!document) {
      const data = await loadSpec();
      document = served(document3(entry.paths, entry.schemas, data));
      customDocuments.documents.set(groupVersion, document);
    }
    return document;
  }
  // Only names we serve are cached: a request path must not grow the map.
  if (!Object.hasOwn((await loadSpec()).groupVersions, groupVersion)) return undefined;
  let document = v3Documents.get(groupVersion);
  if (!document) {
    document = openAPIv3Document(groupVersion).then(served);
    v3Documents.set(groupVersion, document);
  }
  return document;
}

/** /openapi/v3: each document's URL carries its hash, so clients may cache it for good. */
export function openAPIv3IndexURL(groupVersion: string, etag: string): string {
  return `/openapi/v3/${groupVersion}?hash=${etag}`;
}

let v3Index: { fingerprint: string; value: Promise<ServedDocument> } | undefined;

export function servedOpenAPIv3Index(custom?: CustomOpenAPI): Promise<ServedDocument> {
  const fingerprint = custom?.fingerprint ?? "";
  if (v3Index?.fingerprint !== fingerprint) {
    v3Index = { fingerprint, value: (async () => {
      const paths: JsonObject = {};
      const names = [...new Set([...(await groupVersionNames()), ...Object.keys(custom?.groupVersions ?? {})])].sort();
      for (const groupVersion of names) {
        const { etag } = (await servedOpenAPIv3(groupVersion, custom))!;
        paths[groupVersion] = { serverRelativeURL: openAPIv3IndexURL(groupVersion, etag) };
      }
      return served({ paths });
    })() };
  }
  return v3Index.value;
}

const V3_SCHEMA_REF = "#/components/schemas/";

/** A v3 schema in swagger 2.0 terms: `allOf: [{$ref}]` with siblings becomes `$ref` with siblings. */
function swaggerSchema(schema: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "allOf" && Array.isArray(value) && value.length === 1 && typeof (value[0] as JsonObject).$ref === "string") {
      out.$ref = swaggerRef((value[0] as JsonObject).$ref as string);
    } else if (key === "$ref" && typeof value === "string") {
      out.$ref = swaggerRef(value);
    } else if (key === "properties" && value && typeof value === "object" && !Array.isArray(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, property]) => [name, swaggerSchema(property as JsonObject)]));
    } else if ((key === "items" || key === "additionalProperties") && value && typeof value === "object" && !Array.isArray(value)) {
      out[key] = swaggerSchema(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function swaggerRef(ref: string): string {
  return ref.startsWith(V3_SCHEMA_REF) ? `#/definitions/${ref.slice(V3_SCHEMA_REF.length)}` : ref;
}

/** A v3 parameter in swagger 2.0 terms: its schema's type and constraints stand on the parameter. */
function swaggerParameter(parameter: JsonObject): JsonObject {
  const { schema, ...rest } = parameter;
  return { ...(schema as JsonObject | undefined), ...rest };
}

function mediaTypes(content: Json | undefined): string[] {
  return content && typeof content === "object" ? Object.keys(content) : [];
}

/** A v3 operation in swagger 2.0 terms: the request body is the "body" parameter, media types are lists. */
function swaggerOperation(operation: JsonObject): JsonObject {
  const { requestBody, parameters, responses, ...rest } = operation;
  const out: JsonObject = {};
  const body = requestBody as JsonObject | undefined;
  if (body) out.consumes = mediaTypes(body.content);
  const produces = new Set<string>();
  const swaggerResponses: JsonObject = {};
  for (const [code, response] of Object.entries((responses as JsonObject | undefined) ?? {})) {
    const { content, ...described } = response as JsonObject;
    const types = mediaTypes(content);
    types.forEach((type) => produces.add(type));
    const schema = types.length ? ((content as JsonObject)[types[0]!] as JsonObject).schema : undefined;
    swaggerResponses[code] = schema ? { ...described, schema: swaggerSchema(schema as JsonObject) } : described;
  }
  if (produces.size) out.produces = [...produces];
  out.schemes = ["https"];
  const swaggerParameters: JsonObject[] = [];
  if (body) {
    const [firstType] = mediaTypes(body.content);
    const schema = ((body.content as JsonObject)[firstType!] as JsonObject).schema as JsonObject;
    swaggerParameters.push({ name: "body", in: "body", required: body.required ?? false, schema: swaggerSchema(schema) });
  }
  if (Array.isArray(parameters)) swaggerParameters.push(...parameters.map((p) => swaggerParameter(p as JsonObject)));
  if (swaggerParameters.length) out.parameters = swaggerParameters;
  out.responses = swaggerResponses;
  return { ...out, ...rest };
}

const OPERATIONS = new Set(["get", "put", "post", "delete", "options", "head", "patch"]);

function swaggerPathItem(item: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(item)) {
    if (OPERATIONS.has(key)) out[key] = swaggerOperation(value as JsonObject);
    else if (key === "parameters" && Array.isArray(value)) out.parameters = value.map((p) => swaggerParameter(p as JsonObject));
    else out[key] = value;
  }
  return out;
}

/** The whole API as one swagger 2.0 document, as kube-apiserver serves /openapi/v2. */
async function swaggerDocument(custom?: CustomOpenAPI): Promise<JsonObject> {
  const data = await loadSpec();
  const paths: JsonObject = {};
  const schemas = { ...data.schemas };
  for (const groupVersion of await groupVersionNames()) {
    for (const [path, item] of Object.entries(data.groupVersions[groupVersion]!.paths)) paths[path] = swaggerPathItem(item);
  }
  for (const entry of Object.values(custom?.groupVersions ?? {})) {
    for (const [path, item] of Object.entries(entry.paths)) paths[path] = swaggerPathItem(item);
    Object.assign(schemas, entry.schemas);
  }
  const definitions = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, swaggerSchema(schema)]));
  return {
    swagger: "2.0",
    info: info(),
    paths: Object.fromEntries(Object.keys(paths).sort().map((path) => [path, paths[path]!])),
    definitions,
    securityDefinitions: data.securitySchemes,
    security: data.security,
  };
}

let swagger: { fingerprint: string; value: Promise<ServedDocument & { document: JsonObject }> } | undefined;

export function servedSwagger(custom?: CustomOpenAPI): Promise<ServedDocument & { document: JsonObject }> {
  const fingerprint = custom?.fingerprint ?? "";
  if (swagger?.fingerprint !== fingerprint) {
    swagger = { fingerprint, value: (async () => {
      const document = await swaggerDocument(custom);
      return { ...(await served(document)), document };
    })() };
  }
  return swagger.value;
}

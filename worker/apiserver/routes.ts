// The Kubernetes REST API: /api and /apis, discovery and every resource verb, routed to the
// generic registry store. Handlers, errors and watch exist once here for all resources.
import { Hono, type Context } from "hono";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { Admission } from "../admission/index.ts";
import { invalidateValidatingAdmissionPolicies } from "../admission/validating-admission-policy.ts";
import { invalidateWebhookConfigurations } from "../admission/webhooks.ts";
import { auditMiddleware } from "../audit/middleware.ts";
import { createDefaultServiceAccount } from "./bootstrap.ts";
import { requireAuthorizedUser } from "../authz/authorizer.ts";
import { nodeName, podsOnNode } from "../authz/node.ts";
import { requestAttributes } from "../authz/attributes.ts";
import { invalidatePolicy, loadPolicy } from "../authz/policy.ts";
import { checkBinding, checkRoleEscalation, SYSTEM_MASTERS } from "../authz/rbac.ts";
import type { AppEnv } from "../context.ts";
import { applyPatch, PATCH_TYPES } from "./patch.ts";
import { customResources, finalizeCustomResourceDefinition, invalidateCustomResources, resolveResource, servedResources } from "../crd/custom-resources.ts";
import { crdResource } from "../crd/definition.ts";
import { forgetCheckedTokens, issueNodeCredential, issueToken } from "../authn/service-account-tokens.ts";
import { deleteNamespace, finalizeNamespace } from "../registry/namespaces.ts";
import { serverSideApply } from "../apply/server-side-apply.ts";
import { typeNameForKind } from "../patch/strategic-merge-patch.ts";
import { managerFromUserAgent } from "../registry/managed-fields.ts";
import { bindPod, evictPod, scaleOf, updateScale } from "../registry/subresources.ts";
import { RegistryStore, type DeleteOptions, type ListQuery } from "../registry/store.ts";
import { groupVersion, type KubeObject, type ResourceDefinition } from "../registry/types.ts";
import { decodeDeleteOptions, decodeKubernetesProtobuf, PROTOBUF_MEDIA_TYPE, ProtobufError } from "../protobuf/decode.ts";
import { encodeKubernetesProtobuf, hasProtobufMessage } from "../protobuf/encode.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { parseFieldValidation, validateFields, warningHeaders } from "./field-validation.ts";
import { aggregatedDiscovery, aggregatedDiscoveryVersion, apiGroupDocument, apiGroupList, apiResourceList, apiVersions } from "./discovery.ts";
import { ApiError, apiErrors, statusResponse, type StatusCause } from "../../lib/k8s/status.ts";
import { tableFor } from "./tables.ts";
import { protobufFrames, watchResponse, type WatchFormat } from "./watch.ts";

const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** serviceaccounts/token answers a TokenRequest. */
const TOKEN_REQUEST: ResourceDefinition = { group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", resource: "token", singular: "", namespaced: true };

/** The Scale kind, for patching a /scale subresource. */
const SCALE: ResourceDefinition = { group: "autoscaling", version: "v1", kind: "Scale", resource: "scale", singular: "scale", namespaced: true };

export const kubernetesApi = new Hono<AppEnv>();

// Audit wraps authentication and authorization, so 401s, 403s and impersonation are recorded as kube records them.
for (const path of ["/api/*", "/apis/*"]) kubernetesApi.use(path, auditMiddleware);
for (const path of ["/api", "/api/*", "/apis", "/apis/*"]) kubernetesApi.use(path, requireAuthorizedUser);

kubernetesApi.onError((e, c) => {
  if (e instanceof ApiError) return errorResponse(c, e);
  // Error messages can quote what a request carried (a Secret's value): logs and answers name the error only.
  const name = (e as Error)?.name ?? "Error";
  console.error(JSON.stringify({ level: "error", msg: "unhandled error", error: name, stack: String((e as Error)?.stack ?? "").split("\n").slice(1, 6).join("\n") }));
  if (e instanceof TypeError || e instanceof RangeError) {
    // Code walking an object of the wrong shape (a string where kube's types have an object or list).
    return errorResponse(c, apiErrors.badRequest(`the object in the request does not have the shape its kind requires (${name})`));
  }
  return errorResponse(c, apiErrors.internal(`an internal error occurred (${name})`));
});

/** A Status error: JSON, or protobuf for a client that accepts nothing else. */
function errorResponse(c: Context, error: ApiError): Response {
  const accept = c.req.header("Accept");
  const protobufOnly = !!accept && accept.split(",").every((part) => part.split(";")[0]!.trim() === PROTOBUF_MEDIA_TYPE);
  if (!protobufOnly) return statusResponse(error);
  return new Response(encodeKubernetesProtobuf(error.toStatus()), { status: error.code, headers: { "Content-Type": PROTOBUF_MEDIA_TYPE } });
}

/** /api and /apis answer aggregated discovery when the client asks for it, else the legacy lists. */
async function discovery(c: Context<AppEnv>, scope: "api" | "apis", legacy: (defs: ResourceDefinition[]) => object): Promise<Response> {
  const version = aggregatedDiscoveryVersion(c.req.header("Accept"));
  const defs = await servedResources(c.env);
  c.header("Vary", "Accept");
  if (!version) return c.json(legacy(defs));
  return c.body(JSON.stringify(aggregatedDiscovery(defs, scope, version)), 200, {
    "Content-Type": `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`,
  });
}

kubernetesApi.get("/api", (c) => discovery(c, "api", () => apiVersions(new URL(c.req.url).host)));
kubernetesApi.get("/apis", (c) => discovery(c, "apis", apiGroupList));
kubernetesApi.get("/api/v1", async (c) => c.json(apiResourceList(await servedResources(c.env), "", "v1")!));
kubernetesApi.get("/apis/:group", async (c) => {
  const doc = apiGroupDocument(await servedResources(c.env), c.req.param("group"));
  if (!doc) throw apiErrors.notFound("", "groups", c.req.param("group"));
  return c.json(doc);
});
kubernetesApi.get("/apis/:group/:version", async (c) => {
  const list = apiResourceList(await servedResources(c.env), c.req.param("group"), c.req.param("version"));
  if (!list) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  return c.json(list);
});
kubernetesApi.all("/api/v1/*", (c) => serveResource(c, "", "v1", segmentsAfter(c, "/api/v1/")));
kubernetesApi.all("/apis/:group/:version/*", (c) =>
  serveResource(c, c.req.param("group"), c.req.param("version"), segmentsAfter(c, `/apis/${c.req.param("group")}/${c.req.param("version")}/`)));

/** The path's segments after `prefix`; an empty one inside the path (/namespaces//pods) is a 404, as in kube. */
function segmentsAfter(c: Context, prefix: string): string[] {
  const segments = new URL(c.req.url).pathname.slice(prefix.length).split("/");
  if (segments.at(-1) === "") segments.pop();
  if (segments.some((s) => s === "")) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  try {
    return segments.map(decodeURIComponent);
  } catch {
    throw apiErrors.badRequest("the request path is not valid percent-encoding");
  }
}

interface Target {
  def: ResourceDefinition;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Reads /namespaces/{ns}/{resource}/{name}/{sub} or /{resource}/{name}/{sub}. */
async function resolveTarget(env: Env, group: string, version: string, segments: string[]): Promise<Target> {
  const notFound = () => new ApiError(404, "NotFound", "the server could not find the requested resource");
  let namespace: string | undefined;
  let rest = segments;
  if (segments[0] === "namespaces" && segments.length >= 3 && !(group === "" && ["status", "finalize"].includes(segments[2]!) && segments.length === 3)) {
    namespace = segments[1];
    rest = segments.slice(2);
  }
  const [resource, name, subresource, ...extra] = rest;
  if (!resource || extra.length) throw notFound();
  const def = await resolveResource(env, group, version, resource);
  if (!def) throw notFound();
  if (namespace && !def.namespaced) throw notFound();
  return { def, namespace, name, subresource };
}

async function serveResource(c: Context<AppEnv>, group: string, version: string, segments: string[]): Promise<Response> {
  const target = await resolveTarget(c.env, group, version, segments);
  if (c.req.method === "GET") return serveTarget(c, target);
  try {
    return await serveTarget(c, target);
  } finally {
    forgetCachedConfiguration(c, target.def);
  }
}

/**
 * After a write to what this isolate keeps cached (RBAC policy, admission configuration, CRDs),
 * it decides and serves by the new state at once; a deleted CRD gets its finalizer's work.
 */
function forgetCachedConfiguration(c: Context<AppEnv>, def: ResourceDefinition): void {
  if (def.group === RBAC_GROUP) invalidatePolicy();
  if (def.group === "admissionregistration.k8s.io") {
    invalidateValidatingAdmissionPolicies();
    invalidateWebhookConfigurations();
  }
  if (def === crdResource) {
    invalidateCustomResources();
    if (c.req.method === "DELETE") c.executionCtx.waitUntil(finalizeDeletedCustomResourceDefinitions(c.env));
  }
}

async function finalizeDeletedCustomResourceDefinitions(env: Env): Promise<void> {
  const { crds } = await customResources(env, 0);
  for (const crd of crds.filter((c) => c.metadata?.deletionTimestamp)) await finalizeCustomResourceDefinition(env, crd.metadata!.name);
}

const RBAC_GROUP = "rbac.authorization.k8s.io";

/**
 * No one grants what they do not hold: a Role or ClusterRole written by someone without its rules
 * (or the escalate verb), or a binding to a role whose rules they lack (without the bind verb), is
 * refused with kube's 403, as kube's RBAC storages refuse it.
 */
async function checkRbacWrite(c: Context<AppEnv>, def: ResourceDefinition, object: KubeObject, old?: KubeObject): Promise<void> {
  if (def.group !== RBAC_GROUP) return;
  const user = c.get("user");
  if (user.groups.includes(SYSTEM_MASTERS)) return;
  const attrs = requestAttributes(c.req.method, new URL(c.req.url), user);
  const policy = await loadPolicy(c.env);
  const error = def.kind.endsWith("Binding") ? checkBinding(attrs, object as any, policy) : checkRoleEscalation(attrs, object as any, policy, old as any);
  if (error) throw error;
}

async function serveTarget(c: Context<AppEnv>, target: Target): Promise<Response> {
  const { def, namespace, name, subresource } = target;
  if (def.review) {
    if (c.req.method !== "POST" || name) throw apiErrors.methodNotAllowed("the server does not allow this method on the requested resource");
    return respond(c, def, await def.review(c.env, c.get("user"), await readObject(c)), 201);
  }
  if (def.group === "" && def.resource === "nodes" && name && subresource === "token") {
    if (c.req.method !== "POST") throw apiErrors.methodNotAllowed("the server does not allow this method on the requested resource");
    return respond(c, TOKEN_REQUEST, await issueNodeCredential(c.env, name, await readObject(c)), 201);
  }
  if (def.group === "" && def.resource === "serviceaccounts" && name && namespace && subresource === "token") {
    if (c.req.method !== "POST") throw apiErrors.methodNotAllowed("the server does not allow this method on the requested resource");
    const serviceAccount = await new RegistryStore(def, new ObjectStorage(c.env)).get(namespace, name);
    const request = await readObject(c);
    const node = nodeName(c.get("user"));
    if (node) {
      // NodeRestriction: a node asks only for tokens bound to a pod of its own that runs as this account.
      const ref = request?.spec?.boundObjectRef;
      const pod = ref?.kind === "Pod" ? (await podsOnNode(c.env, namespace, node)).find((p) => p.metadata?.name === ref.name) : undefined;
      if (!pod || (pod.spec?.serviceAccountName ?? "default") !== name) {
        throw apiErrors.forbidden(`serviceaccounts "${name}" is forbidden: node requested token not bound to a pod scheduled on the node`);
      }
    }
    return respond(c, TOKEN_REQUEST, await issueToken(c.env, serviceAccount, request), 201);
  }
  const store = new RegistryStore(def, new ObjectStorage(c.env));
  const method = c.req.method;
  const query = c.req.query();
  const dryRun = c.req.queries("dryRun")?.includes("All") ?? false;
  if (dryRun === false && c.req.queries("dryRun")?.length) throw apiErrors.badRequest(`Invalid dryRun value: ${c.req.queries("dryRun")!.join(",")}; supported: All`);
  const manager = query.fieldManager ?? managerFromUserAgent(c.req.header("User-Agent"));
  if (manager.length > 128) throw apiErrors.badRequest(`fieldManager: Too long: may not be more than 128 bytes`);
  const fieldValidation = ["POST", "PUT", "PATCH"].includes(method) ? parseFieldValidation(query.fieldValidation) : "Ignore";
  if (method !== "GET") {
    // Writes pass admission; what it charged is given back if the write fails, and its warnings go out.
    const admission = new Admission({ env: c.env, user: c.get("user"), def, namespace, subresource, dryRun });
    try {
      const response = await serveWrite(c, target, store, admission, { dryRun, manager, fieldValidation });
      for (const warning of admission.warnings) response.headers.append("Warning", `299 - ${JSON.stringify(warning)}`);
      return response;
    } catch (e) {
      await admission.rollback();
      throw e;
    }
  }
  return serveWrite(c, target, store, undefined, { dryRun, manager, fieldValidation });
}

/** The rest of a request once admission is set up (reads pass undefined). */
async function serveWrite(
  c: Context<AppEnv>, target: Target, store: RegistryStore, admission: Admission | undefined,
  { dryRun, manager, fieldValidation }: { dryRun: boolean; manager: string; fieldValidation: ReturnType<typeof parseFieldValidation> },
): Promise<Response> {
  const { def, namespace, name, subresource } = target;
  const method = c.req.method;
  const query = c.req.query();
  const isNamespace = def.group === "" && def.resource === "namespaces";
  if (isNamespace && name && subresource === "finalize" && method === "PUT") {
    const body = await readObject(c);
    if (body.metadata?.name !== name) throw apiErrors.badRequest(`the name of the object (${body.metadata?.name ?? ""}) does not match the name on the URL (${name})`);
    const finalizers = body.spec?.finalizers ?? [];
    if (!Array.isArray(finalizers) || finalizers.some((f: unknown) => typeof f !== "string")) throw apiErrors.badRequest("spec.finalizers must be a list of strings");
    return respond(c, def, await finalizeNamespace(c.env, name, finalizers));
  }
  if (isNamespace && name && !subresource && method === "DELETE") {
    return respond(c, def, await deleteNamespace(c.env, name, dryRun, (p) => c.executionCtx.waitUntil(p)));
  }
  if (name && subresource === "scale" && def.scalable) {
    if (method === "GET") return c.json(scaleOf(await store.get(namespace, name), def));
    if (method === "PUT") {
      const body = await readObject(c);
      return c.json(await updateScale(store, namespace, name, () => body, dryRun, manager));
    }
    if (method === "PATCH") {
      const contentType = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim();
      if (!PATCH_TYPES.includes(contentType)) throw apiErrors.unsupportedMediaType(PATCH_TYPES);
      const patch = parseBody(await readText(c), "application/json");
      return c.json(await updateScale(store, namespace, name, (scale) => applyPatch(contentType, scale, patch, SCALE), dryRun, manager));
    }
    throw apiErrors.methodNotAllowed("the server does not allow this method on the requested resource");
  }
  if (name && namespace && def.group === "" && def.resource === "pods" && (subresource === "binding" || subresource === "eviction") && method === "POST") {
    const body = await readObject(c);
    const result = subresource === "binding" ? await bindPod(store, namespace, name, body, dryRun, manager) : await evictPod(store, namespace, name, body, dryRun);
    return c.json(result, 201);
  }
  if (subresource && !(subresource === "status" && def.hasStatus)) {
    throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  }
  if (subresource === "status" && !["GET", "PUT", "PATCH"].includes(method)) {
    throw apiErrors.methodNotAllowed("the server does not allow this method on the requested resource");
  }
  const status = subresource === "status" ? ("status" as const) : undefined;

  if (!name) {
    const listQuery: ListQuery = {
      labelSelector: query.labelSelector, fieldSelector: query.fieldSelector, limit: parseLimit(query.limit),
      continue: query.continue, resourceVersion: query.resourceVersion, resourceVersionMatch: query.resourceVersionMatch,
    };
    if (method === "GET") {
      if (query.watch === "true" || query.watch === "1") {
        return watchResponse(store, namespace, {
          ...listQuery, allowWatchBookmarks: query.allowWatchBookmarks === "true", sendInitialEvents: query.sendInitialEvents === "true",
          timeoutSeconds: query.timeoutSeconds ? Number(query.timeoutSeconds) : undefined,
        }, watchFormat(c, def));
      }
      const list = await store.list(namespace, listQuery);
      return respond(c, def, list);
    }
    if (method === "POST") {
      const { object, text } = await readObjectAndText(c, def);
      warningHeaders(c, await validateFields(def, object, fieldValidation, text));
      await checkRbacWrite(c, def, object);
      const created = await store.create(namespace, object, { dryRun, manager, admission });
      if (isNamespace && !dryRun) await createDefaultServiceAccount(c.env, created.metadata!.name);
      return respond(c, def, created, 201);
    }
    if (method === "DELETE") {
      return respond(c, def, await store.deleteCollection(namespace, listQuery, { ...(await withBodyDryRun(c, dryRun)), admission }));
    }
    throw apiErrors.methodNotAllowed(`the server does not allow this method on the requested resource`);
  }

  switch (method) {
    case "GET":
      if (query.watch === "true" || query.watch === "1") {
        return watchResponse(store, namespace, { fieldSelector: `metadata.name=${name}`, resourceVersion: query.resourceVersion, timeoutSeconds: query.timeoutSeconds ? Number(query.timeoutSeconds) : undefined }, watchFormat(c, def));
      }
      return respond(c, def, await store.get(namespace, name));
    case "PUT": {
      const { object, text } = await readObjectAndText(c, def);
      warningHeaders(c, await validateFields(def, object, fieldValidation, text));
      if (def.group === RBAC_GROUP) await checkRbacWrite(c, def, object, await store.get(namespace, name).catch(() => undefined));
      return respond(c, def, await store.update(namespace, name, object, { dryRun, subresource: status, manager, admission }));
    }
    case "PATCH": {
      const contentType = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim();
      if (contentType === APPLY_PATCH_TYPE) return serverSideApplyRequest(c, store, namespace, name, { dryRun, status, force: query.force === "true", admission });
      if (!PATCH_TYPES.includes(contentType)) throw apiErrors.unsupportedMediaType([...PATCH_TYPES, APPLY_PATCH_TYPE]);
      const patch = parseBody(await readText(c), "application/json");
      let warnings: string[] = [];
      const patched = await store.guaranteedUpdate(namespace, name, { dryRun, subresource: status, manager, admission }, async (current) => {
        const next = applyPatch(contentType, current, patch, def);
        await checkRbacWrite(c, def, next, current);
        warnings = await validateFields(def, next, fieldValidation);
        return next;
      });
      warningHeaders(c, warnings);
      return respond(c, def, patched);
    }
    case "DELETE": {
      const deleted = await store.delete(namespace, name, { ...(await withBodyDryRun(c, dryRun)), admission });
      // Tokens bound to what is gone stop working at once here (elsewhere within the token cache's 10 s).
      if (def.group === "" && ["serviceaccounts", "pods", "secrets", "nodes"].includes(def.resource)) forgetCheckedTokens();
      return respond(c, def, deleted);
    }
    default:
      throw apiErrors.methodNotAllowed("the server does not allow this method on the requested resource");
  }
}

/**
 * What the client accepts, in kube-apiserver's terms: the object, a Table or partial metadata, as
 * JSON, YAML or protobuf. Protobuf only for built-in kinds (custom resources have no message, so
 * the next acceptable type is taken) and never for Tables.
 */
interface Rendering { as: "object" | "Table" | "PartialObjectMetadata"; encoding: "json" | "yaml" | "protobuf" }

function rendering(c: Context, def: ResourceDefinition): Rendering {
  const accept = c.req.header("Accept");
  if (!accept) return { as: "object", encoding: "json" };
  for (const raw of accept.split(",")) {
    const part = raw.trim();
    const type = part.split(";")[0]!.trim();
    const protobuf = type === PROTOBUF_MEDIA_TYPE;
    if (protobuf && !hasProtobufMessage(groupVersion(def), def.kind)) continue;
    if (part.includes("as=Table") && part.includes("g=meta.k8s.io") && !protobuf) return { as: "Table", encoding: "json" };
    if (/as=PartialObjectMetadata(List)?\b/.test(part) && part.includes("g=meta.k8s.io")) return { as: "PartialObjectMetadata", encoding: protobuf ? "protobuf" : "json" };
    if (part.includes("as=")) continue;
    if (protobuf) return { as: "object", encoding: "protobuf" };
    if (type === "application/yaml") return { as: "object", encoding: "yaml" };
    if (["application/json", "application/*", "*/*", "application/json-patch+json", "application/merge-patch+json"].includes(type)) return { as: "object", encoding: "json" };
  }
  throw apiErrors.notAcceptable(accept);
}

function partialMetadata(object: KubeObject): KubeObject {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata };
}

/** How watch events are written, by the same negotiation: JSON lines (for YAML too) or protobuf frames. */
function watchFormat(c: Context, def: ResourceDefinition): WatchFormat {
  const { as, encoding } = rendering(c, def);
  const framing = encoding === "protobuf" ? protobufFrames : undefined;
  if (as === "Table") return { render: (object) => tableFor(def, [object], c, { watch: true }), framing };
  if (as === "PartialObjectMetadata") return { render: partialMetadata, framing };
  return { framing };
}

const APPLY_PATCH_TYPE = "application/apply-patch+yaml";

/** PATCH application/apply-patch+yaml: server-side apply, creating the object if it is missing. */
async function serverSideApplyRequest(
  c: Context, store: RegistryStore, namespace: string | undefined, name: string,
  options: { dryRun: boolean; status?: "status"; force: boolean; admission?: Admission },
): Promise<Response> {
  const def = store.def;
  const manager = c.req.query("fieldManager");
  if (!manager) throw apiErrors.badRequest("PATCH, application/apply-patch+yaml requires fieldManager to be set");
  const applied = parseBody(await readText(c), "application/yaml");
  if (applied === null || typeof applied !== "object" || Array.isArray(applied)) throw apiErrors.badRequest("the applied configuration must be an object");
  if (applied.apiVersion !== store.apiVersion || applied.kind !== def.kind) {
    throw apiErrors.badRequest(`the applied configuration's apiVersion and kind (${applied.apiVersion}, ${applied.kind}) must be ${store.apiVersion}, ${def.kind}`);
  }
  if (applied.metadata?.name !== name) throw apiErrors.badRequest(`the name of the applied configuration (${applied.metadata?.name}) does not match the name on the URL (${name})`);
  const typeName = typeNameForKind(store.apiVersion, def.kind);
  const existing = await store.storage.get(store.key(namespace, name));
  if (!existing) {
    const object = serverSideApply(undefined, applied, manager, options.force, typeName, store.apiVersion);
    await checkRbacWrite(c as Context<AppEnv>, def, object);
    const created = await store.create(namespace, object, { dryRun: options.dryRun, manager, keepManagedFields: true, admission: options.admission });
    return respond(c, def, created, 201);
  }
  const updated = await store.guaranteedUpdate(namespace, name, { dryRun: options.dryRun, subresource: options.status, manager, keepManagedFields: true, admission: options.admission },
    async (current) => {
      const next = serverSideApply(current, applied, manager, options.force, typeName, store.apiVersion);
      await checkRbacWrite(c as Context<AppEnv>, def, next, current);
      return next;
    });
  return respond(c, def, updated);
}

function respond(c: Context, def: ResourceDefinition, body: KubeObject, status = 200): Response {
  const isList = body.kind?.endsWith("List") && Array.isArray(body.items);
  const { as, encoding } = rendering(c, def);
  let answer: Record<string, unknown> = body;
  if (as === "Table") {
    answer = tableFor(def, isList ? body.items : [body], c);
    if (body.metadata?.continue) (answer.metadata as Record<string, unknown>).continue = body.metadata.continue;
    if (body.metadata?.resourceVersion) (answer.metadata as Record<string, unknown>).resourceVersion = body.metadata.resourceVersion;
  } else if (as === "PartialObjectMetadata") {
    answer = isList
      ? { kind: "PartialObjectMetadataList", apiVersion: "meta.k8s.io/v1", metadata: body.metadata, items: body.items.map(partialMetadata) }
      : partialMetadata(body);
  }
  switch (encoding) {
    case "protobuf":
      return c.body(encodeKubernetesProtobuf(answer), status as 200, { "Content-Type": PROTOBUF_MEDIA_TYPE });
    case "yaml":
      return c.body(stringifyYaml(answer), status as 200, { "Content-Type": "application/yaml" });
    case "json":
      return c.json(answer, status as 200);
  }
}

async function readText(c: Context): Promise<string> {
  const bytes = await readBytes(c);
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw apiErrors.badRequest("the body of the request is not valid UTF-8");
  }
}

/** How deep a body may nest: far beyond any Kubernetes object, well within what recursion here can walk. */
const MAX_DEPTH = 500;

function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++; // backslash: skip the escaped character
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 123 || ch === 91) deepest = Math.max(deepest, ++depth);
    else if (ch === 125 || ch === 93) depth--;
  }
  return deepest;
}

function parseBody(text: string, contentType: string): any {
  if (nestingDepth(text) > MAX_DEPTH) throw apiErrors.badRequest(`the body of the request could not be decoded: nesting deeper than ${MAX_DEPTH} levels`);
  try {
    // YAML errors quote the offending source line, which may be a secret: answer with the error's code and place only.
    if (contentType.includes("yaml")) return parseYaml(text, { prettyErrors: false, logLevel: "silent" });
    return JSON.parse(text);
  } catch (e) {
    const err = e as { name?: string; code?: string; linePos?: { line: number; col: number }[]; message?: string };
    const where = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : "";
    const what = err.code ? `${err.code}${where}` : e instanceof SyntaxError ? "invalid JSON" : (err.name ?? "error");
    throw apiErrors.badRequest(`the body of the request could not be decoded: ${what}`);
  }
}

/** ?limit=: a non-negative integer (kube's int64); anything else is a 400. */
function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  if (!/^\d{1,18}$/.test(text)) throw apiErrors.badRequest(`limit: Invalid value: "${text}": must be a non-negative integer`);
  return Math.min(Number(text), 1_000_000_000);
}

async function readObject(c: Context): Promise<KubeObject> {
  return (await readObjectAndText(c)).object;
}

/** The request's body as bytes, within the size limit. */
async function readBytes(c: Context): Promise<Uint8Array> {
  const length = Number(c.req.header("Content-Length") ?? 0);
  if (length > MAX_BODY_BYTES) throw apiErrors.tooLarge();
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.length > MAX_BODY_BYTES) throw apiErrors.tooLarge();
  return bytes;
}

function decodeProtobuf<T>(decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof ProtobufError) throw apiErrors.badRequest(`the body of the request could not be decoded: ${e.message}`);
    throw e;
  }
}

/**
 * The request's object, and its JSON text (for the duplicate-field check) when it was JSON. A
 * protobuf body (kubectl 1.32+) must be of the URL's kind when `expected` is given.
 */
async function readObjectAndText(c: Context, expected?: ResourceDefinition): Promise<{ object: KubeObject; text?: string }> {
  const contentType = (c.req.header("Content-Type") ?? "application/json").split(";")[0]!.trim();
  if (contentType === PROTOBUF_MEDIA_TYPE) {
    const bytes = await readBytes(c);
    const { apiVersion, kind, object } = decodeProtobuf(() => decodeKubernetesProtobuf(bytes));
    if (expected && (apiVersion !== groupVersion(expected) || kind !== expected.kind)) {
      throw apiErrors.badRequest(`the body's ${kind} in ${apiVersion} does not match the URL's ${expected.kind} in ${groupVersion(expected)}`);
    }
    return { object };
  }
  if (!["application/json", "application/yaml", "*/*", ""].includes(contentType)) {
    throw apiErrors.unsupportedMediaType(["application/json", "application/yaml", PROTOBUF_MEDIA_TYPE]);
  }
  const text = await readText(c);
  const body = parseBody(text, contentType);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw apiErrors.badRequest("the body of the request must be a JSON object");
  }
  return { object: body, text: contentType.includes("yaml") ? undefined : text };
}

/** DeleteOptions from the body, dry run if either the query or the body asks for it. */
async function withBodyDryRun(c: Context, dryRun: boolean): Promise<DeleteOptions> {
  const options = await readDeleteOptions(c);
  return { ...options, dryRun: dryRun || !!options.dryRun };
}

async function readDeleteOptions(c: Context): Promise<DeleteOptions> {
  const contentType = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim();
  let body: any;
  if (contentType === PROTOBUF_MEDIA_TYPE) {
    const bytes = await readBytes(c);
    body = bytes.length ? decodeProtobuf(() => decodeDeleteOptions(bytes)) : {};
  } else {
    const text = await readText(c);
    body = text.trim() ? parseBody(text, "application/json") : {};
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw apiErrors.badRequest("the body of the request must be a DeleteOptions object");
  if (body.kind !== undefined && body.kind !== "DeleteOptions") throw apiErrors.badRequest(`expected a DeleteOptions, got ${JSON.stringify(body.kind)}`);
  const query = c.req.query();
  const causes: StatusCause[] = [];
  let grace: unknown = body.gracePeriodSeconds;
  if (grace === undefined && query.gracePeriodSeconds !== undefined) grace = /^-?\d{1,12}$/.test(query.gracePeriodSeconds) ? Number(query.gracePeriodSeconds) : query.gracePeriodSeconds;
  if (grace !== undefined && grace !== null && !(Number.isInteger(grace) && (grace as number) >= 0 && (grace as number) < 1e12)) {
    causes.push({ reason: "FieldValueInvalid", field: "gracePeriodSeconds", message: `Invalid value: ${JSON.stringify(grace)}: must be a non-negative integer` });
  }
  const policy = body.propagationPolicy ?? query.propagationPolicy;
  if (policy !== undefined && policy !== null && !["Orphan", "Background", "Foreground"].includes(policy)) {
    causes.push({ reason: "FieldValueNotSupported", field: "propagationPolicy", message: `Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan"` });
  }
  if (body.orphanDependents !== undefined && body.orphanDependents !== null && policy) {
    causes.push({ reason: "FieldValueInvalid", field: "propagationPolicy", message: `Invalid value: ${JSON.stringify(policy)}: orphanDependents and deletionPropagation cannot be both set` });
  }
  const dryRun = body.dryRun;
  if (dryRun !== undefined && dryRun !== null && !(Array.isArray(dryRun) && dryRun.every((d: unknown) => d === "All"))) {
    causes.push({ reason: "FieldValueNotSupported", field: "dryRun", message: `Unsupported value: ${JSON.stringify(dryRun)}: supported values: "All"` });
  }
  const pre = body.preconditions;
  if (pre !== undefined && pre !== null && (typeof pre !== "object" || Array.isArray(pre))) causes.push({ reason: "FieldValueInvalid", field: "preconditions", message: "Invalid value: must be an object" });
  if (causes.length) throw apiErrors.invalid("meta.k8s.io", "DeleteOptions", "", causes);
  return {
    gracePeriodSeconds: grace === null ? undefined : (grace as number | undefined),
    propagationPolicy: policy ?? (body.orphanDependents === true ? "Orphan" : undefined),
    preconditions: pre ?? undefined,
    ...(Array.isArray(dryRun) && dryRun.includes("All") ? { dryRun: true } : {}),
  };
}

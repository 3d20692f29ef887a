// The generic verbs of every resource, served by the one registry store: list, watch, create,
// deletecollection, get, update, patch (JSON, merge, strategic merge, server-side apply), delete,
// and the status subresource. Nothing here knows a particular resource: other subresources come
// from subresource-handlers.ts, review kinds answer through their declaration.
import type { Context } from "hono";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";
import { Admission } from "../admission/index.ts";
import { serverSideApply } from "../apply/server-side-apply.ts";
import type { AppEnv } from "../context.ts";
import { typeNameForKind } from "../patch/strategic-merge-patch.ts";
import { managerFromUserAgent } from "../registry/managed-fields.ts";
import { RegistryStore, type ListQuery } from "../registry/store.ts";
import { groupVersion, type KubeObject, type ResourceDefinition } from "../registry/types.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { afterWrite } from "./after-write.ts";
import { parseBody, parseLimit, readObject, readObjectAndText, readText, withBodyDryRun } from "./bodies.ts";
import { parseFieldValidation, validateFields, warningHeaders, type FieldValidation } from "./field-validation.ts";
import { respond, watchFormat } from "./negotiation.ts";
import { applyPatch, PATCH_TYPES } from "./patch.ts";
import { subresourceHandler } from "./subresource-handlers.ts";
import type { Target } from "./target.ts";
import { watchResponse } from "./watch.ts";

const APPLY_PATCH_TYPE = "application/apply-patch+yaml";

const methodNotAllowed = () => apiErrors.methodNotAllowed("the server does not allow this method on the requested resource");

interface RequestOptions {
  dryRun: boolean;
  manager: string;
  fieldValidation: FieldValidation;
}

export async function serveTarget(c: Context<AppEnv>, target: Target): Promise<Response> {
  const { def, name } = target;
  if (def.deprecated) c.header("Warning", `299 - ${JSON.stringify(def.deprecated)}`, { append: true });
  if (def.computed) return serveComputed(c, target, def.computed);
  if (def.review) {
    if (c.req.method !== "POST" || name) throw methodNotAllowed();
    return respond(c, def, await def.review(c.env, c.get("user"), await readObject(c)), 201);
  }
  const store = new RegistryStore(def, new ObjectStorage(c.env));
  const method = c.req.method;
  const query = c.req.query();
  const dryRun = c.req.queries("dryRun")?.includes("All") ?? false;
  if (dryRun === false && c.req.queries("dryRun")?.length) throw apiErrors.badRequest(`Invalid dryRun value: ${c.req.queries("dryRun")!.join(",")}; supported: All`);
  const manager = query.fieldManager ?? managerFromUserAgent(c.req.header("User-Agent"));
  if (manager.length > 128) throw apiErrors.badRequest(`fieldManager: Too long: may not be more than 128 bytes`);
  const options: RequestOptions = { dryRun, manager, fieldValidation: ["POST", "PUT", "PATCH"].includes(method) ? parseFieldValidation(query.fieldValidation) : "Ignore" };

  if (name && target.subresource && target.subresource !== "status") {
    const handler = subresourceHandler(def, target.subresource, method);
    if (!handler) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    if (handler === "method not allowed") throw methodNotAllowed();
    try {
      return await handler({ c, target: { ...target, name }, store, dryRun, manager });
    } finally {
      if (method !== "GET") afterWrite(c.env, { def, method, dryRun }, (p) => c.executionCtx.waitUntil(p));
    }
  }
  if (target.subresource && !def.hasStatus) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  if (target.subresource === "status" && !["GET", "PUT", "PATCH"].includes(method)) throw methodNotAllowed();
  if (method === "GET") return name ? getOne(c, target, store) : list(c, target, store);

  // Writes pass admission; what it charged is given back if the write fails, and its warnings go out.
  const admission = new Admission({ env: c.env, user: c.get("user"), def, namespace: target.namespace, subresource: target.subresource, dryRun });
  let result: KubeObject | undefined;
  try {
    const written = await write(c, target, store, admission, options);
    result = written.object;
    const response = respond(c, def, written.object, written.status);
    for (const warning of admission.warnings) response.headers.append("Warning", `299 - ${JSON.stringify(warning)}`);
    return response;
  } catch (e) {
    await admission.rollback();
    throw e;
  } finally {
    afterWrite(c.env, { def, method, result, dryRun }, (p) => c.executionCtx.waitUntil(p));
  }
}

/** A kind built on each read (ComponentStatus, metrics.k8s.io): get and list only. */
async function serveComputed(c: Context<AppEnv>, { def, namespace, name, subresource }: Target, compute: NonNullable<ResourceDefinition["computed"]>): Promise<Response> {
  if (c.req.method !== "GET" || subresource || isWatch(c)) throw methodNotAllowed();
  const { labelSelector, fieldSelector } = c.req.query();
  const items = await compute(c.env, { namespace, name, labelSelector, fieldSelector });
  if (!name) return respond(c, def, { kind: `${def.kind}List`, apiVersion: groupVersion(def), metadata: {}, items });
  const found = items.find((item) => item.metadata?.name === name);
  if (!found) throw apiErrors.notFound(def.group, def.resource, name);
  return respond(c, def, found);
}

function listQuery(c: Context): ListQuery {
  const query = c.req.query();
  return {
    labelSelector: query.labelSelector, fieldSelector: query.fieldSelector, limit: parseLimit(query.limit),
    continue: query.continue, resourceVersion: query.resourceVersion, resourceVersionMatch: query.resourceVersionMatch,
  };
}

const isWatch = (c: Context) => ["true", "1"].includes(c.req.query("watch") ?? "");
const timeoutSeconds = (c: Context) => (c.req.query("timeoutSeconds") ? Number(c.req.query("timeoutSeconds")) : undefined);

async function list(c: Context<AppEnv>, { def, namespace }: Target, store: RegistryStore): Promise<Response> {
  if (isWatch(c)) {
    return watchResponse(store, namespace, {
      ...listQuery(c), allowWatchBookmarks: c.req.query("allowWatchBookmarks") === "true", sendInitialEvents: c.req.query("sendInitialEvents") === "true",
      timeoutSeconds: timeoutSeconds(c),
    }, watchFormat(c, def));
  }
  return respond(c, def, await store.list(namespace, listQuery(c)));
}

async function getOne(c: Context<AppEnv>, { def, namespace, name }: Target, store: RegistryStore): Promise<Response> {
  if (isWatch(c)) {
    return watchResponse(store, namespace, { fieldSelector: `metadata.name=${name}`, resourceVersion: c.req.query("resourceVersion"), timeoutSeconds: timeoutSeconds(c) }, watchFormat(c, def));
  }
  return respond(c, def, await store.get(namespace, name!));
}

/** A write's outcome: the object to answer and the HTTP status. */
async function write(c: Context<AppEnv>, target: Target, store: RegistryStore, admission: Admission, { dryRun, manager, fieldValidation }: RequestOptions): Promise<{ object: KubeObject; status?: number }> {
  const { def, namespace, name } = target;
  const status = target.subresource === "status" ? ("status" as const) : undefined;
  const method = c.req.method;
  if (!name) {
    if (method === "POST") {
      const { object, text } = await readObjectAndText(c, def);
      warningHeaders(c, await validateFields(def, object, fieldValidation, text));
      return { object: await store.create(namespace, object, { dryRun, manager, admission }), status: 201 };
    }
    if (method === "DELETE") return { object: await store.deleteCollection(namespace, listQuery(c), { ...(await withBodyDryRun(c, dryRun)), admission }) };
    throw methodNotAllowed();
  }
  switch (method) {
    case "PUT": {
      const { object, text } = await readObjectAndText(c, def);
      warningHeaders(c, await validateFields(def, object, fieldValidation, text));
      return { object: await store.update(namespace, name, object, { dryRun, subresource: status, manager, admission }) };
    }
    case "PATCH": {
      const contentType = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim();
      if (contentType === APPLY_PATCH_TYPE) return serverSideApplyRequest(c, store, namespace, name, { dryRun, status, force: c.req.query("force") === "true", admission });
      if (!PATCH_TYPES.includes(contentType)) throw apiErrors.unsupportedMediaType([...PATCH_TYPES, APPLY_PATCH_TYPE]);
      const patch = parseBody(await readText(c), "application/json");
      let warnings: string[] = [];
      const patched = await store.guaranteedUpdate(namespace, name, { dryRun, subresource: status, manager, admission }, async (current) => {
        const next = applyPatch(contentType, current, patch, def);
        warnings = await validateFields(def, next, fieldValidation);
        return next;
      });
      warningHeaders(c, warnings);
      return { object: patched };
    }
    case "DELETE":
      return { object: await store.delete(namespace, name, { ...(await withBodyDryRun(c, dryRun)), admission }) };
    default:
      throw methodNotAllowed();
  }
}

/** PATCH application/apply-patch+yaml: server-side apply, creating the object if it is missing. */
async function serverSideApplyRequest(
  c: Context, store: RegistryStore, namespace: string | undefined, name: string,
  options: { dryRun: boolean; status?: "status"; force: boolean; admission: Admission },
): Promise<{ object: KubeObject; status?: number }> {
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
  const existing = await store.find(namespace, name);
  if (!existing) {
    const object = serverSideApply(undefined, applied, manager, options.force, typeName, store.apiVersion);
    return { object: await store.create(namespace, object, { dryRun: options.dryRun, manager, keepManagedFields: true, admission: options.admission }), status: 201 };
  }
  const updated = await store.guaranteedUpdate(namespace, name, { dryRun: options.dryRun, subresource: options.status, manager, keepManagedFields: true, admission: options.admission },
    (current) => serverSideApply(current, applied, manager, options.force, typeName, store.apiVersion));
  return { object: updated };
}

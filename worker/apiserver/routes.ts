// The Kubernetes REST API's routes: /api and /apis discovery, and every resource path handed to
// the generic handlers. Audit, authentication and authorization wrap them; errors become Status.
import { Hono, type Context } from "hono";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";
import { auditMiddleware } from "../audit/middleware.ts";
import { requireAuthorizedUser } from "../authz/authorizer.ts";
import type { AppEnv } from "../context.ts";
import { servedResources } from "../crd/custom-resources.ts";
import type { ResourceDefinition } from "../registry/types.ts";
import { aggregatedDiscovery, aggregatedDiscoveryVersion, apiGroupDocument, apiGroupList, apiResourceList, apiVersions } from "./discovery.ts";
import { serveTarget } from "./handlers.ts";
import { errorResponse } from "./negotiation.ts";
import { resolveTarget, segmentsAfter } from "./target.ts";
import { serveNodeProxy } from "../tunnel/node-proxy.ts";

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
// nodes/proxy carries a path of its own after the subresource, relayed through the node's tunnel.
kubernetesApi.all("/api/v1/nodes/:name/proxy", serveNodeProxy);
kubernetesApi.all("/api/v1/nodes/:name/proxy/*", serveNodeProxy);
kubernetesApi.all("/api/v1/*", async (c) => serveTarget(c, await resolveTarget(c.env, "", "v1", segmentsAfter(c, "/api/v1/"))));
kubernetesApi.all("/apis/:group/:version/*", async (c) => {
  const { group, version } = c.req.param();
  return serveTarget(c, await resolveTarget(c.env, group, version, segmentsAfter(c, `/apis/${group}/${version}/`)));
});

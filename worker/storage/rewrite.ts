// The cluster admin's storage rewrite: every object of one resource sealed anew with the current
// encryption key (or opened to plaintext where the resource is no longer encrypted), as kube's
// `kubectl get secrets -A -o json | kubectl replace -f -` does after a key rotation.
import { Hono } from "hono";
import { requireAdmin } from "../auth.ts";
import type { AppEnv } from "../context.ts";
import { ApiError, apiErrors, statusResponse } from "../../lib/k8s/status.ts";
import { ObjectStorage } from "./object-storage.ts";
import { prefixOfQualifiedResource } from "./keys.ts";

export const rewriteRoutes = new Hono<AppEnv>();

rewriteRoutes.use("*", requireAdmin((_c, status) => statusResponse(status === 401
  ? apiErrors.unauthorized()
  : apiErrors.forbidden("storage rewrites are for cluster admins only"))));

rewriteRoutes.onError((e) => {
  if (e instanceof ApiError) return statusResponse(e);
  // Values are only ever handled as bytes here, so an unexpected error carries none of them.
  console.error(JSON.stringify({ level: "error", msg: "storage rewrite failed", error: String(e) }));
  return statusResponse(apiErrors.internal("the storage rewrite failed"));
});

/**
 * POST /rewrite?resource=secrets: answers how many objects there were, how many were rewritten, and
 * the keys whose values could not be opened (left as they are).
 */
rewriteRoutes.post("/rewrite", async (c) => {
  const resource = c.req.query("resource");
  if (!resource) throw apiErrors.badRequest("a rewrite needs ?resource=, e.g. secrets, deployments.apps or widgets.example.com");
  const storage = new ObjectStorage(c.env);
  const prefix = prefixOfQualifiedResource(resource);
  if (!prefix) throw apiErrors.badRequest(`"${resource}" is no stored resource`);
  return c.json({ resource, prefix, ...(await storage.rewrite(prefix)) });
});

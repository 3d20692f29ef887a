// Authorization of every request after authentication: impersonation first (for those allowed to
// impersonate), then RBAC. system:masters is allowed everything without reading the policy.
import type { Context, MiddlewareHandler } from "hono";
import { ApiError, apiErrors, statusResponse } from "../../lib/k8s/status.ts";
import { requestUrl } from "../apiserver/request-url.ts";
import { authenticate } from "../auth.ts";
import type { AppEnv, UserInfo } from "../context.ts";
import { requestAttributes, type RequestAttributes } from "./attributes.ts";
import { authorizeNode } from "./node.ts";
import { loadPolicy } from "./policy.ts";
import { takeRequest } from "./rate-limit.ts";
import { authorize, forbidden, SYSTEM_MASTERS } from "./rbac.ts";

async function allowed(env: Env, attrs: RequestAttributes): Promise<boolean> {
  return attrs.user.groups.includes(SYSTEM_MASTERS) || authorize(attrs, await loadPolicy(env)).allowed;
}

/**
 * Every API surface's door: 401 without a valid token, then impersonation, then 403 unless RBAC
 * allows the request.
 */
export const requireAuthorizedUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const url = requestUrl(c.req.raw);
  // Bearer tokens only over TLS, except to a local control plane on loopback.
  if (url.protocol !== "https:" && !LOOPBACK.has(url.hostname) && c.req.header("Authorization")) {
    return statusResponse(new ApiError(401, "Unauthorized", "bearer tokens are accepted only over TLS"));
  }
  const authenticated = await authenticate(c) ?? (anonymousAllowed(c) ? ANONYMOUS : undefined);
  if (!authenticated) return statusResponse(apiErrors.unauthorized());
  try {
    const user = await impersonation(c, authenticated);
    takeRequest(c.env, user);
    await authorizeRequest(c.env, c.req.method, url, user);
    c.set("user", user);
  } catch (e) {
    if (e instanceof ApiError) {
      const response = statusResponse(e);
      if (e.details?.retryAfterSeconds) response.headers.set("Retry-After", String(e.details.retryAfterSeconds));
      return response;
    }
    throw e;
  }
  await next();
};

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
const ANONYMOUS: UserInfo = { name: "system:anonymous", uid: "", groups: ["system:unauthenticated"] };

/** With ANONYMOUS_AUTH=true a request with no token at all is system:anonymous (RBAC then allows the public subset). */
function anonymousAllowed(c: Context<AppEnv>): boolean {
  return c.env.ANONYMOUS_AUTH === "true" && !c.req.header("Authorization");
}

/** Throws kube's 403 unless `user` may make this request. */
export async function authorizeRequest(env: Env, method: string, url: URL, user: UserInfo): Promise<void> {
  if (user.groups.includes(SYSTEM_MASTERS)) return;
  const attrs = requestAttributes(method, url, user);
  // The Node authorizer first, then RBAC, as kube-apiserver chains them.
  const node = await authorizeNode(env, attrs);
  if (node?.allowed) return;
  const decision = authorize(attrs, await loadPolicy(env));
  if (!decision.allowed) throw forbidden(attrs, node?.reason ? `${node.reason}` : decision.reason);
}

const SERVICE_ACCOUNT = /^system:serviceaccount:([^:]+):([^:]+)$/;

/**
 * Impersonate-User / Impersonate-Group / Impersonate-Uid (kubectl --as, --as-group): the request
 * acts as that identity if the real user may "impersonate" each part of it, as kube checks.
 */
export async function impersonation(c: Context<AppEnv>, user: UserInfo): Promise<UserInfo> {
  const name = c.req.header("Impersonate-User");
  const groups = c.req.raw.headers.get("Impersonate-Group")?.split(",").map((g) => g.trim()).filter(Boolean) ?? [];
  const uid = c.req.header("Impersonate-Uid");
  if (!name) {
    if (groups.length || uid) throw apiErrors.badRequest("requested impersonation of groups or uid without impersonating a user");
    return user;
  }
  const check = async (resource: string, target: string, namespace?: string, apiGroup = "") => {
    const attrs: RequestAttributes = { user, verb: "impersonate", resourceRequest: true, apiGroup, resource, name: target, namespace, path: "" };
    if (!(await allowed(c.env, attrs))) {
      const what = namespace ? `serviceaccounts "${target.split(":").pop()}"` : `${resource} "${target}"`;
      throw apiErrors.forbidden(`${what} is forbidden: User "${user.name}" cannot impersonate resource "${resource}" in API group "${apiGroup}"${namespace ? ` in the namespace "${namespace}"` : " at the cluster scope"}`);
    }
  };
  const account = SERVICE_ACCOUNT.exec(name);
  if (account) await check("serviceaccounts", account[2]!, account[1]);
  else await check("users", name);
  for (const group of groups) await check("groups", group);
  if (uid) await check("uids", uid, undefined, "authentication.k8s.io");
  const impersonated = new Set(groups);
  if (account) for (const g of ["system:serviceaccounts", `system:serviceaccounts:${account[1]}`]) impersonated.add(g);
  if (name !== "system:anonymous") impersonated.add("system:authenticated");
  return { name, uid: uid ?? "", groups: [...impersonated] };
}

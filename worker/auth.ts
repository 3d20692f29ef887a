// Authentication: a request proves who it is with a bearer token: the cluster admin's (which the
// Worker knows only as a SHA-256 hash, ADMIN_TOKEN_SHA256) or a service account token (a JWT); a
// control-plane component inside the deployment is known by the entrypoint it came through.
import type { Context, MiddlewareHandler } from "hono";
import { authenticateBootstrapToken, BOOTSTRAP_TOKEN } from "./authn/bootstrap-tokens.ts";
import { authenticateOIDC } from "./authn/oidc.ts";
import { authenticateServiceAccountToken, checkedToken } from "./authn/service-account-tokens.ts";
import { systemIdentity } from "./authn/system-identities.ts";
import type { AppEnv, UserInfo } from "./context.ts";

export const ADMIN_USER: UserInfo = { name: "kubernetes-admin", uid: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] };

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function bearerToken(c: Context): string | undefined {
  const header = c.req.header("Authorization");
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/** Comparison in time independent of where two strings differ. */
function digestsEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The last token that proved to be the admin's, per isolate, so each request need not hash it. */
let verified: { digest: string; token: string } | undefined;

export async function authenticate(c: Context<AppEnv>): Promise<UserInfo | undefined> {
  const component = systemIdentity(c.env);
  if (component) return component;
  const token = bearerToken(c);
  return token ? authenticateToken(c.env, token) : undefined;
}

/** Who a bearer token proves to be, if anyone (also for TokenReview). */
export async function authenticateToken(env: Env, token: string): Promise<UserInfo | undefined> {
  // A token this isolate checked as a service account's or a node's is not the admin's (that was
  // asked first): a node's heartbeats need neither the admin hash nor the signature again.
  const checked = checkedToken(token);
  if (checked?.user) return checked.user;
  const expected = env.ADMIN_TOKEN_SHA256?.trim().toLowerCase();
  if (expected) {
    if (verified?.digest === expected && digestsEqual(verified.token, token)) return ADMIN_USER;
    if (digestsEqual(await sha256Hex(token), expected)) {
      verified = { digest: expected, token };
      return ADMIN_USER;
    }
  }
  if (BOOTSTRAP_TOKEN.test(token)) return authenticateBootstrapToken(env, token);
  return (await authenticateServiceAccountToken(env, token)) ?? authenticateOIDC(env, token);
}

/** Refuses anyone but the cluster admin, answering with `refuse` (each surface words it its own way). */
export function requireAdmin(refuse: (c: Context<AppEnv>, status: 401 | 403) => Response): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const user = await authenticate(c);
    if (!user) return refuse(c, 401);
    if (!user.groups.includes("system:masters")) return refuse(c, 403);
    c.set("user", user);
    await next();
  };
}

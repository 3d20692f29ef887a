// OpenID Connect for people (off unless OIDC_ISSUER_URL and OIDC_CLIENT_ID are set), as
// kube-apiserver's --oidc-* flags: an ID token from the issuer, for the client id, names the user
// (OIDC_USERNAME_CLAIM, default "sub", prefixed with "<issuer>#" unless the claim is "email" or
// OIDC_USERNAME_PREFIX says otherwise) and their groups (OIDC_GROUPS_CLAIM, OIDC_GROUPS_PREFIX).
// The issuer's keys are found through its discovery document and cached (jose's remote JWKS).
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from "jose";
import type { UserInfo } from "../context.ts";

let keys: { issuer: string; jwks: Promise<ReturnType<typeof createRemoteJWKSet>> } | undefined;

/** https issuers only, except a local one on loopback for development. */
function allowedIssuer(issuer: string): boolean {
  try {
    const url = new URL(issuer);
    return url.protocol === "https:" || (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname));
  } catch {
    return false;
  }
}

function jwksFor(issuer: string): Promise<ReturnType<typeof createRemoteJWKSet>> {
  if (keys?.issuer !== issuer) {
    const jwks = (async () => {
      const res = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`, { headers: { Accept: "application/json" } });
      if (!res.ok) throw new Error(`OIDC discovery answered ${res.status}`);
      const config = (await res.json()) as { issuer?: string; jwks_uri?: string };
      if (config.issuer !== issuer || !config.jwks_uri) throw new Error("OIDC discovery document does not match the issuer");
      return createRemoteJWKSet(new URL(config.jwks_uri), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    })();
    keys = { issuer, jwks };
    jwks.catch(() => {
      if (keys?.jwks === jwks) keys = undefined;
    });
  }
  return keys.jwks;
}

export async function authenticateOIDC(env: Env, token: string): Promise<UserInfo | undefined> {
  const issuer = env.OIDC_ISSUER_URL;
  const clientId = env.OIDC_CLIENT_ID;
  if (!issuer || !clientId || !allowedIssuer(issuer)) return undefined;
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(token);
  } catch {
    return undefined;
  }
  if (unverified.iss !== issuer) return undefined;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, await jwksFor(issuer), { issuer, audience: clientId, algorithms: ["RS256", "ES256", "RS384", "ES384", "RS512", "PS256"] }));
  } catch {
    return undefined;
  }
  const claim = env.OIDC_USERNAME_CLAIM || "sub";
  const value = payload[claim];
  if (typeof value !== "string" || !value) return undefined;
  if (claim === "email" && payload.email_verified !== undefined && payload.email_verified !== true) return undefined;
  const prefix = env.OIDC_USERNAME_PREFIX === "-" ? "" : env.OIDC_USERNAME_PREFIX ?? (claim === "email" ? "" : `${issuer}#`);
  const groupsClaim = env.OIDC_GROUPS_CLAIM;
  const raw = groupsClaim ? payload[groupsClaim] : undefined;
  const groups = (Array.isArray(raw) ? raw : typeof raw === "string" ? [raw] : []).filter((g): g is string => typeof g === "string").map((g) => `${env.OIDC_GROUPS_PREFIX ?? ""}${g}`);
  return { name: `${prefix}${value}`, uid: "", groups: [...groups, "system:authenticated"] };
}

// OpenID Connect for people (off unless OIDC_ISSUER_URL and OIDC_CLIENT_ID are set), as
// kube-apiserver's --oidc-* flags: an ID token from the issuer, for the client id, names the user
// (OIDC_USERNAME_CLAIM, default "sub", prefixed with "<issuer>#" unless the claim is "email" or
// OIDC_USERNAME_PREFIX says otherwise) and their groups (OIDC_GROUPS_CLAIM, OIDC_GROUPS_PREFIX).
// The issuer's keys are found through its discovery document and cached per isolate as plain JSON:
// each request fetches them itself when the copy is missing or old, never awaiting another
// request's fetch (workerd ties a fetch to the request that made it).
import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import type { UserInfo } from "../context.ts";

/** How long the issuer's keys are used before they are fetched again; after a key miss, at most this often. */
const KEYS_MAX_AGE_MS = 600_000;
const KEYS_COOLDOWN_MS = 30_000;

let keys: { issuer: string; jwks: ReturnType<typeof createLocalJWKSet>; at: number } | undefined;

/** https issuers only, except a local one on loopback for development. */
function allowedIssuer(issuer: string): boolean {
  try {
    const url = new URL(issuer);
    return url.protocol === "https:" || (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname));
  } catch {
    return false;
  }
}

async function fetchKeys(issuer: string): Promise<ReturnType<typeof createLocalJWKSet>> {
  const res = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`OIDC discovery answered ${res.status}`);
  const config = (await res.json()) as { issuer?: string; jwks_uri?: string };
  if (config.issuer !== issuer || !config.jwks_uri) throw new Error("OIDC discovery document does not match the issuer");
  const jwks = await fetch(config.jwks_uri, { headers: { Accept: "application/json" } });
  if (!jwks.ok) throw new Error(`OIDC JWKS answered ${jwks.status}`);
  const set = createLocalJWKSet((await jwks.json()) as JSONWebKeySet);
  keys = { issuer, jwks: set, at: Date.now() };
  return set;
}

/** The issuer's keys: this isolate's copy while it is fresh (or, after a key miss, while one was fetched lately). */
function keysFor(issuer: string, missed: boolean): Promise<ReturnType<typeof createLocalJWKSet>> {
  const age = keys?.issuer === issuer ? Date.now() - keys.at : Infinity;
  if (age < (missed ? KEYS_COOLDOWN_MS : KEYS_MAX_AGE_MS)) return Promise.resolve(keys!.jwks);
  return fetchKeys(issuer);
}

/** The token's verified claims; a token signed by a key we do not know yet makes us fetch the keys once more. */
async function verify(token: string, issuer: string, clientId: string): Promise<JWTPayload> {
  const options = { issuer, audience: clientId, algorithms: ["RS256", "ES256", "RS384", "ES384", "RS512", "PS256"] };
  try {
    return (await jwtVerify(token, await keysFor(issuer, false), options)).payload;
  } catch (e) {
    if (!(e instanceof errors.JWKSNoMatchingKey)) throw e;
    return (await jwtVerify(token, await keysFor(issuer, true), options)).payload;
  }
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
    payload = await verify(token, issuer, clientId);
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

// ServiceAccount tokens: JWTs signed with the cluster's key (ES256, a JWK held as the worker secret
// SERVICE_ACCOUNT_KEY), issued by the TokenRequest API (serviceaccounts/token, `kubectl create
// token`) and checked on every request as kube-apiserver checks them: signature, issuer, audience,
// expiry, and that the service account (and the pod the token is bound to) still exist.
import { calculateJwkThumbprint, exportJWK, importJWK, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import { kubeTime } from "../../lib/k8s/time.ts";
import { apiErrors, type StatusCause } from "../../lib/k8s/status.ts";
import type { UserInfo } from "../context.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { builtinStore } from "../registry/builtins.ts";

export const DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local";
/** kube-apiserver's bounds for a requested token lifetime. */
const MIN_EXPIRATION_SECONDS = 600;
const MAX_EXPIRATION_SECONDS = 2 ** 32;
const DEFAULT_EXPIRATION_SECONDS = 3600;
/** How long a checked token's identity is remembered (kube's token authenticator cache: 10 s). */
const CACHE_MS = 10_000;

export function issuer(env: Env): string {
  return env.SERVICE_ACCOUNT_ISSUER || DEFAULT_ISSUER;
}

/** Tokens name the audiences they are for; the API server accepts its own (the issuer by default). */
export function apiAudiences(env: Env): string[] {
  return env.SERVICE_ACCOUNT_AUDIENCES ? env.SERVICE_ACCOUNT_AUDIENCES.split(",").map((a) => a.trim()).filter(Boolean) : [issuer(env)];
}

interface SigningKeys {
  source: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK & { kid: string };
}

let keys: Promise<SigningKeys> | undefined;

/** The signing key from SERVICE_ACCOUNT_KEY, imported once per isolate; undefined when none is set. */
export function signingKeys(env: Env): Promise<SigningKeys> | undefined {
  const source = env.SERVICE_ACCOUNT_KEY;
  if (!source) return undefined;
  if (!keys) {
    keys = (async () => {
      const jwk = JSON.parse(source) as JWK;
      const privateKey = (await importJWK({ ...jwk, alg: "ES256" }, "ES256", { extractable: true })) as CryptoKey;
      const { d: _private, ...pub } = await exportJWK(privateKey);
      const kid = await calculateJwkThumbprint(pub);
      const publicKey = (await importJWK({ ...pub, alg: "ES256" }, "ES256")) as CryptoKey;
      return { source, privateKey, publicKey, publicJwk: { ...pub, kid, alg: "ES256", use: "sig" } };
    })();
    keys.catch(() => (keys = undefined));
  }
  return keys;
}

/** The JWKS workloads and other parties verify our tokens with (/openid/v1/jwks). */
export async function jwks(env: Env): Promise<{ keys: JWK[] }> {
  const k = await signingKeys(env);
  return { keys: k ? [(await k).publicJwk] : [] };
}

export function openIDConfiguration(env: Env, origin: string) {
  return {
    issuer: issuer(env),
    jwks_uri: `${env.SERVICE_ACCOUNT_JWKS_URI || origin}/openid/v1/jwks`,
    response_types_supported: ["id_token"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["ES256"],
  };
}

export interface BoundObject {
  kind: "Pod" | "Secret" | "Node";
  name: string;
  uid: string;
}

interface KubernetesClaims {
  namespace?: string;
  serviceaccount?: { name: string; uid: string };
  pod?: { name: string; uid: string };
  secret?: { name: string; uid: string };
  node?: { name: string; uid: string };
}

/**
 * Answers a TokenRequest for a service account: validates it as kube-apiserver does, signs the
 * token and returns the TokenRequest with its status.
 */
export async function issueToken(env: Env, serviceAccount: Record<string, any>, request: Record<string, any>, knownPod?: Record<string, any>): Promise<Record<string, any>> {
  const k = signingKeys(env);
  if (!k) throw apiErrors.serviceUnavailable("service account token issuance is not configured (SERVICE_ACCOUNT_KEY is not set)");
  const { privateKey, publicJwk } = await k;
  const spec = request?.spec ?? {};
  const name = serviceAccount.metadata.name as string;
  const namespace = serviceAccount.metadata.namespace as string;
  const causes: StatusCause[] = [];
  const expirationSeconds = spec.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
  if (!Number.isInteger(expirationSeconds) || expirationSeconds < MIN_EXPIRATION_SECONDS) {
    causes.push({ reason: "FieldValueInvalid", field: "spec.expirationSeconds", message: `Invalid value: ${JSON.stringify(expirationSeconds)}: may not specify a duration less than 10 minutes` });
  } else if (expirationSeconds > MAX_EXPIRATION_SECONDS) {
    causes.push({ reason: "FieldValueTooLong", field: "spec.expirationSeconds", message: `Invalid value: ${expirationSeconds}: may not specify a duration larger than 2^32 seconds` });
  }
  const audiences: string[] = Array.isArray(spec.audiences) && spec.audiences.length ? spec.audiences : apiAudiences(env);
  if (audiences.some((a) => typeof a !== "string" || !a)) causes.push({ reason: "FieldValueInvalid", field: "spec.audiences", message: "Invalid value: audiences must be non-empty strings" });
  const bound: BoundObject | undefined = spec.boundObjectRef ? await boundObject(env, namespace, spec.boundObjectRef, causes, knownPod) : undefined;
  if (causes.length) throw apiErrors.invalid("authentication.k8s.io", "TokenRequest", name, causes);

  const now = Math.floor(Date.now() / 1000);
  const claims: KubernetesClaims = { namespace, serviceaccount: { name, uid: serviceAccount.metadata.uid } };
  if (bound) claims[bound.kind.toLowerCase() as "pod" | "secret" | "node"] = { name: bound.name, uid: bound.uid };
  const exp = now + expirationSeconds;
  const token = await new SignJWT({ "kubernetes.io": claims } as JWTPayload)
    .setProtectedHeader({ alg: "ES256", kid: publicJwk.kid })
    .setIssuer(issuer(env)).setSubject(`system:serviceaccount:${namespace}:${name}`).setAudience(audiences)
    .setIssuedAt(now).setNotBefore(now).setExpirationTime(exp).setJti(crypto.randomUUID())
    .sign(privateKey);
  return {
    kind: "TokenRequest", apiVersion: "authentication.k8s.io/v1",
    metadata: { name, namespace, creationTimestamp: null },
    spec: { audiences, expirationSeconds, boundObjectRef: spec.boundObjectRef ?? null },
    status: { token, expirationTimestamp: kubeTime(exp * 1000) },
  };
}

/** The object a token is bound to, read from the store unless the caller just read it (`knownPod`, the pod a node's request named). */
async function boundObject(env: Env, namespace: string, ref: Record<string, any>, causes: StatusCause[], knownPod?: Record<string, any>): Promise<BoundObject | undefined> {
  const kinds: Record<string, string> = { Pod: "pods", Secret: "secrets", Node: "nodes" };
  const resource = kinds[ref.kind];
  if (!resource || (ref.apiVersion && ref.apiVersion !== "v1")) {
    causes.push({ reason: "FieldValueNotSupported", field: "spec.boundObjectRef.kind", message: `Unsupported value: ${JSON.stringify(ref.kind)}: supported values: "Pod", "Secret", "Node"` });
    return undefined;
  }
  const known = resource === "pods" && knownPod?.metadata?.name === ref.name && knownPod?.metadata?.namespace === namespace ? knownPod : undefined;
  const object = known ?? await builtinStore(new ObjectStorage(env), "v1", resource).find(resource === "nodes" ? undefined : namespace, ref.name);
  if (!object) throw apiErrors.notFound("", resource, ref.name);
  if (ref.uid && ref.uid !== object.metadata?.uid) {
    throw apiErrors.conflict("", `${ref.kind.toLowerCase()}s`, ref.name, `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
  }
  return { kind: ref.kind, name: ref.name, uid: object.metadata!.uid };
}

/** A node's credential lasts a year by default (kubelet client certificates do too). */
const NODE_CREDENTIAL_SECONDS = 365 * 24 * 3600;

/**
 * nodes/{name}/token: a joining node's own long-lived credential, user system:node:<name> in
 * system:nodes, answered as a TokenRequest. RBAC lets bootstrap tokens ask for it and nothing more.
 */
export async function issueNodeCredential(env: Env, node: string, request: Record<string, any>): Promise<Record<string, any>> {
  const k = signingKeys(env);
  if (!k) throw apiErrors.serviceUnavailable("node credential issuance is not configured (SERVICE_ACCOUNT_KEY is not set)");
  const { privateKey, publicJwk } = await k;
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(node) || node.length > 253) {
    throw apiErrors.invalid("", "Node", node, [{ reason: "FieldValueInvalid", field: "metadata.name", message: `Invalid value: ${JSON.stringify(node)}: a lowercase RFC 1123 subdomain` }]);
  }
  const expirationSeconds = Number.isInteger(request?.spec?.expirationSeconds) && request.spec.expirationSeconds >= MIN_EXPIRATION_SECONDS
    ? Math.min(request.spec.expirationSeconds, NODE_CREDENTIAL_SECONDS) : NODE_CREDENTIAL_SECONDS;
  const now = Math.floor(Date.now() / 1000);
  const claims: KubernetesClaims = { node: { name: node, uid: "" } };
  const token = await new SignJWT({ "kubernetes.io": claims } as JWTPayload)
    .setProtectedHeader({ alg: "ES256", kid: publicJwk.kid })
    .setIssuer(issuer(env)).setSubject(`system:node:${node}`).setAudience(apiAudiences(env))
    .setIssuedAt(now).setNotBefore(now).setExpirationTime(now + expirationSeconds).setJti(crypto.randomUUID())
    .sign(privateKey);
  return {
    kind: "TokenRequest", apiVersion: "authentication.k8s.io/v1", metadata: { name: node, creationTimestamp: null },
    spec: { audiences: apiAudiences(env), expirationSeconds, boundObjectRef: null },
    status: { token, expirationTimestamp: kubeTime((now + expirationSeconds) * 1000) },
  };
}

type Checked = { user: UserInfo | undefined; until: number; exp: number };

/**
 * Tokens checked in this isolate, oldest first (the oldest go when a map is full): service account
 * tokens' identities for 10 s (the account and pod are read again after that), and node
 * credentials until they expire — a credential is a signature and a name, nothing in the store
 * vouches for it, as for the client certificate a kubelet presents.
 */
const checked = new Map<string, Checked>();
const nodeCredentials = new Map<string, Checked>();
const MAX_CHECKED = 10_000;

/**
 * Forgets checked tokens after this isolate deleted a service account, pod or secret (service
 * account tokens may be bound to them) or a node (everything).
 */
export function forgetCheckedTokens(deleted: "serviceaccounts" | "pods" | "secrets" | "nodes"): void {
  checked.clear();
  if (deleted === "nodes") nodeCredentials.clear();
}

/** The identity of a token this isolate checked and may still trust without checking again. */
export function checkedToken(token: string, now = Date.now()): { user: UserInfo | undefined } | undefined {
  const hit = nodeCredentials.get(token) ?? checked.get(token);
  return hit && hit.until > now && hit.exp > now ? hit : undefined;
}

function remember(map: Map<string, Checked>, token: string, entry: Checked): void {
  map.delete(token);
  for (const oldest of map.keys()) {
    if (map.size < MAX_CHECKED) break;
    map.delete(oldest);
  }
  map.set(token, entry);
}

/**
 * The identity a token proves, or undefined when it is not a valid service account token of this
 * cluster. Service accounts and bound pods are read from the store, so a token stops working
 * once either is deleted (within the cache's 10 s).
 */
export async function authenticateServiceAccountToken(env: Env, token: string, now = Date.now()): Promise<UserInfo | undefined> {
  if (!token.startsWith("eyJ") || token.split(".").length !== 3) return undefined;
  const k = signingKeys(env);
  if (!k) return undefined;
  const hit = checkedToken(token, now);
  if (hit) return hit.user;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, (await k).publicKey, { issuer: issuer(env), audience: apiAudiences(env), algorithms: ["ES256"], currentDate: new Date(now) }));
  } catch {
    return undefined;
  }
  const claims = payload["kubernetes.io"] as KubernetesClaims | undefined;
  let user: UserInfo | undefined;
  let until = now + CACHE_MS;
  const nodeName = claims?.node?.name;
  if (!claims?.namespace && nodeName && payload.sub === `system:node:${nodeName}`) {
    // A node credential (issued to a node that joined with a bootstrap token).
    user = { name: `system:node:${nodeName}`, uid: "", groups: ["system:nodes", "system:authenticated"] };
    until = Infinity;
  } else if (claims?.namespace && claims.serviceaccount?.name) {
    const storage = new ObjectStorage(env);
    const sa = await builtinStore(storage, "v1", "serviceaccounts").find(claims.namespace, claims.serviceaccount.name);
    const pod = claims.pod ? await builtinStore(storage, "v1", "pods").find(claims.namespace, claims.pod.name) : undefined;
    const alive = sa?.metadata?.uid === claims.serviceaccount.uid && !sa.metadata?.deletionTimestamp
      && (!claims.pod || (pod?.metadata?.uid === claims.pod.uid && !pod.metadata?.deletionTimestamp));
    if (alive) {
      user = {
        name: `system:serviceaccount:${claims.namespace}:${claims.serviceaccount.name}`, uid: claims.serviceaccount.uid,
        groups: ["system:serviceaccounts", `system:serviceaccounts:${claims.namespace}`, "system:authenticated"],
        ...(claims.pod ? { extra: { "authentication.kubernetes.io/pod-name": [claims.pod.name], "authentication.kubernetes.io/pod-uid": [claims.pod.uid] } } : {}),
      };
    }
  }
  remember(until === Infinity ? nodeCredentials : checked, token, { user, until, exp: (payload.exp ?? 0) * 1000 });
  return user;
}

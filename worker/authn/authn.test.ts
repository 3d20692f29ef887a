// Authentication in workerd: service account tokens from the TokenRequest API, their discovery
// documents, SelfSubjectReview and TokenReview, and tokens that must not work.
import { env, exports } from "cloudflare:workers";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { authenticateServiceAccountToken, checkedToken } from "./service-account-tokens.ts";
import { nodeCredential, rawApi } from "../../lib/client/testing.ts";

const ADMIN = "test-admin-token";

const api = (method: string, path: string, body?: unknown, token = ADMIN) => rawApi(method, path, body, { token });

let counter = 0;
async function serviceAccount(): Promise<{ ns: string; name: string; uid: string }> {
  const ns = `authn-${++counter}-${crypto.randomUUID().slice(0, 6)}`;
  expect((await api("POST", "/api/v1/namespaces", { metadata: { name: ns } })).status).toBe(201);
  const sa = await api("POST", `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "robot" } });
  expect(sa.status).toBe(201);
  return { ns, name: "robot", uid: sa.body.metadata.uid };
}

async function tokenFor(ns: string, name: string, spec: Record<string, unknown> = {}) {
  return api("POST", `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec });
}

async function whoami(token: string) {
  return api("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }, token);
}

describe("service account tokens", () => {
  it("are issued by TokenRequest as signed JWTs with kube's claims and identify the account", async () => {
    const { ns, name, uid } = await serviceAccount();
    const issued = await tokenFor(ns, name, { expirationSeconds: 1200 });
    expect(issued.status).toBe(201);
    expect(issued.body).toMatchObject({ kind: "TokenRequest", apiVersion: "authentication.k8s.io/v1", spec: { expirationSeconds: 1200, audiences: ["https://kubernetes.default.svc.cluster.local"] } });
    const token: string = issued.body.status.token;
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: "https://kubernetes.default.svc.cluster.local", sub: `system:serviceaccount:${ns}:${name}`, "kubernetes.io": { namespace: ns, serviceaccount: { name, uid } } });
    expect(claims.exp! - claims.iat!).toBe(1200);
    expect(Date.parse(issued.body.status.expirationTimestamp) / 1000).toBe(claims.exp);

    const me = await whoami(token);
    expect(me.status).toBe(201);
    expect(me.body.status.userInfo).toEqual({ username: `system:serviceaccount:${ns}:${name}`, uid, groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"] });
    expect((await whoami(ADMIN)).body.status.userInfo).toMatchObject({ username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] });
  });

  it("are published for verification: openid-configuration and a JWKS holding the signing key", async () => {
    const { ns, name } = await serviceAccount();
    const token = (await tokenFor(ns, name)).body.status.token;
    const config = (await api("GET", "/.well-known/openid-configuration")).body;
    expect(config).toMatchObject({ issuer: "https://kubernetes.default.svc.cluster.local", jwks_uri: "https://edgeplane.test/openid/v1/jwks", id_token_signing_alg_values_supported: ["ES256"] });
    const jwks = (await api("GET", "/openid/v1/jwks", undefined, token)).body;
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig", kid: decodeProtectedHeader(token).kid });
    expect(jwks.keys[0].d).toBeUndefined();
    expect((await exports.default.fetch("https://edgeplane.test/openid/v1/jwks")).status).toBe(401);
  });

  it("refuses requests that bring no valid token: tampered, wrong audience, unknown, for a deleted account", async () => {
    const { ns, name } = await serviceAccount();
    const token: string = (await tokenFor(ns, name)).body.status.token;
    const [header, payload, signature] = token.split(".");
    const forged = btoa(JSON.stringify({ ...decodeJwt(token), sub: "system:serviceaccount:kube-system:admin" })).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    for (const bad of [`${header}.${forged}.${signature}`, `${header}.${payload}.${signature![0] === "A" ? "B" : "A"}${signature!.slice(1)}`, "not-a-token", `${token}x`]) {
      const res = await whoami(bad);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
    }
    const other = (await tokenFor(ns, name, { audiences: ["https://vault.example.com"] })).body.status.token;
    expect((await whoami(other)).status).toBe(401);
    expect((await whoami(token)).status).toBe(201);
    expect((await api("DELETE", `/api/v1/namespaces/${ns}/serviceaccounts/${name}`)).status).toBe(200);
    expect((await whoami(token)).status).toBe(401);
  });

  it("bound to a pod, stops working when the pod is gone", async () => {
    const { ns, name } = await serviceAccount();
    const pod = (await api("POST", `/api/v1/namespaces/${ns}/pods`, { metadata: { name: "p" }, spec: { serviceAccountName: name, containers: [{ name: "c", image: "busybox" }] } })).body;
    const issued = await tokenFor(ns, name, { boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "p", uid: pod.metadata.uid } });
    expect(issued.status).toBe(201);
    const token = issued.body.status.token;
    expect(decodeJwt(token)["kubernetes.io"]).toMatchObject({ pod: { name: "p", uid: pod.metadata.uid } });
    expect((await whoami(token)).body.status.userInfo.extra).toEqual({ "authentication.kubernetes.io/pod-name": ["p"], "authentication.kubernetes.io/pod-uid": [pod.metadata.uid] });
    expect((await api("DELETE", `/api/v1/namespaces/${ns}/pods/p`)).status).toBe(200);
    expect((await whoami(token)).status).toBe(401);
  });

  it("stop working once they expire", async () => {
    const { ns, name } = await serviceAccount();
    const token: string = (await tokenFor(ns, name, { expirationSeconds: 600 })).body.status.token;
    const exp = decodeJwt(token).exp! * 1000;
    expect(await authenticateServiceAccountToken(env, token, exp - 1000)).toMatchObject({ name: `system:serviceaccount:${ns}:${name}` });
    expect(await authenticateServiceAccountToken(env, token, exp + 1000)).toBeUndefined();
  });

  it("checked once, a node's credential is trusted until it expires; a service account's is checked again after 10 s", async () => {
    const node = `authn-node-${crypto.randomUUID().slice(0, 6)}`;
    const credential = await nodeCredential(node);
    const now = Date.now();
    const nodeUser = { name: `system:node:${node}`, groups: ["system:nodes", "system:authenticated"] };
    expect(await authenticateServiceAccountToken(env, credential, now)).toMatchObject(nodeUser);
    expect(checkedToken(credential, now + 3_600_000)?.user).toMatchObject(nodeUser);
    expect(checkedToken(credential, decodeJwt(credential).exp! * 1000 + 1000)).toBeUndefined();

    const { ns, name } = await serviceAccount();
    const token: string = (await tokenFor(ns, name)).body.status.token;
    expect(await authenticateServiceAccountToken(env, token, now)).toMatchObject({ name: `system:serviceaccount:${ns}:${name}` });
    expect(checkedToken(token, now + 5_000)?.user).toMatchObject({ name: `system:serviceaccount:${ns}:${name}` });
    expect(checkedToken(token, now + 11_000)).toBeUndefined();

    // A pod deleted here forgets the service account tokens (one may have been bound to it), not the nodes' credentials.
    expect((await api("POST", `/api/v1/namespaces/${ns}/pods`, { metadata: { name: "p" }, spec: { serviceAccountName: name, containers: [{ name: "c", image: "busybox" }] } })).status).toBe(201);
    expect(await authenticateServiceAccountToken(env, token)).toMatchObject({ name: `system:serviceaccount:${ns}:${name}` });
    expect(checkedToken(token)).toBeDefined();
    expect((await api("DELETE", `/api/v1/namespaces/${ns}/pods/p`)).status).toBe(200);
    expect(checkedToken(token)).toBeUndefined();
    expect(checkedToken(credential)?.user).toMatchObject(nodeUser);
    // A node deleted here forgets them all.
    expect((await api("POST", "/api/v1/nodes", { metadata: { name: `${node}-gone` } })).status).toBe(201);
    expect((await api("DELETE", `/api/v1/nodes/${node}-gone`)).status).toBe(200);
    expect(checkedToken(credential)).toBeUndefined();
  });

  it("refuses bad TokenRequests with kube's causes", async () => {
    const { ns, name } = await serviceAccount();
    const short = await tokenFor(ns, name, { expirationSeconds: 60 });
    expect(short.status).toBe(422);
    expect(short.body.details.causes[0]).toMatchObject({ field: "spec.expirationSeconds", message: "Invalid value: 60: may not specify a duration less than 10 minutes" });
    expect((await tokenFor(ns, "nobody")).status).toBe(404);
    expect((await tokenFor(ns, name, { boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "missing" } })).status).toBe(404);
  });

  it("TokenReview says who a token is without echoing it", async () => {
    const { ns, name } = await serviceAccount();
    const token = (await tokenFor(ns, name)).body.status.token;
    const review = await api("POST", "/apis/authentication.k8s.io/v1/tokenreviews", { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } });
    expect(review.status).toBe(201);
    expect(review.body.status).toMatchObject({ authenticated: true, user: { username: `system:serviceaccount:${ns}:${name}` } });
    expect(JSON.stringify(review.body)).not.toContain(token);
    const bad = await api("POST", "/apis/authentication.k8s.io/v1/tokenreviews", { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token: "nope" } });
    expect(bad.body.status.authenticated).toBe(false);
  });
});

// OpenID Connect for people with the real kubectl: a local issuer (discovery document and JWKS
// over loopback) signs ID tokens; the control plane, pointed at it, takes them as users and their
// groups, and RBAC decides what they may do.
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import { kubeconfig, startControlPlane, type ControlPlane } from "../../scripts/dev-server.ts";

const run = promisify(execFile);
const KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";

let issuerServer: Server;
let issuer: string;
let signingKey: CryptoKey;
let plane: ControlPlane;
let dir: string;
let kubeconfigPath: string;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  signingKey = privateKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: "test-key", alg: "RS256", use: "sig" };
  issuerServer = createServer((req, res) => {
    const body = req.url === "/.well-known/openid-configuration"
      ? { issuer, jwks_uri: `${issuer}/keys`, id_token_signing_alg_values_supported: ["RS256"] }
      : req.url === "/keys" ? { keys: [jwk] } : undefined;
    res.writeHead(body ? 200 : 404, { "Content-Type": "application/json" }).end(JSON.stringify(body ?? {}));
  });
  await new Promise<void>((resolve) => issuerServer.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), "edgeplane-oidc-"));
  plane = await startControlPlane({
    stateDir: join(dir, "state"), tlsDir: join(dir, "tls"),
    vars: { OIDC_ISSUER_URL: issuer, OIDC_CLIENT_ID: "edgeplane", OIDC_GROUPS_CLAIM: "groups", OIDC_GROUPS_PREFIX: "oidc:", ANONYMOUS_AUTH: "true" },
  });
  kubeconfigPath = join(dir, "kubeconfig");
  writeFileSync(kubeconfigPath, kubeconfig(plane.url, plane.token, plane.caPem));
});

afterAll(async () => {
  await plane?.stop();
  await new Promise((resolve) => issuerServer?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function kubectl(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(KUBECTL, args, { env: { ...process.env, KUBECONFIG: kubeconfigPath, HOME: dir }, timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: err.stdout ?? "", stderr: err.stderr ?? "", code: err.code ?? 1 };
  }
}

function idToken(claims: Record<string, unknown>, audience = "edgeplane", key = signingKey): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "test-key" }).setIssuer(issuer).setAudience(audience)
    .setIssuedAt().setExpirationTime("10m").sign(key);
}

it("takes an ID token as the user and groups it names, and RBAC decides", async () => {
  const token = await idToken({ sub: "alice", groups: ["devs"] });
  const me = await kubectl(`--token=${token}`, "auth", "whoami", "-o", "json");
  expect(me.code, me.stderr).toBe(0);
  expect(JSON.parse(me.stdout).status.userInfo).toMatchObject({ username: `${issuer}#alice`, groups: ["oidc:devs", "system:authenticated"] });
  const before = await kubectl(`--token=${token}`, "get", "namespaces");
  expect(before.stderr).toContain(`namespaces is forbidden: User "${issuer}#alice" cannot list resource "namespaces" in API group "" at the cluster scope`);
  expect((await kubectl("create", "clusterrolebinding", "devs-view", "--clusterrole=view", "--group=oidc:devs")).code).toBe(0);
  const after = await kubectl(`--token=${token}`, "get", "namespaces", "-o", "name");
  expect(after.stdout).toContain("namespace/default");
});

it("with ANONYMOUS_AUTH, lets a request without a token in as system:anonymous, whom RBAC allows only kube's public subset", async () => {
  const get = (path: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    import("node:https").then(({ request }) => {
      const req = request(`${plane.url}${path}`, { ca: plane.caPem }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    }, reject);
  });
  const api = await get("/api");
  expect(api.status).toBe(403);
  expect(JSON.parse(api.body).message).toBe(`forbidden: User "system:anonymous" cannot get path "/api"`);
  const pods = await get("/api/v1/namespaces/default/pods");
  expect(JSON.parse(pods.body).message).toBe(`pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default"`);
  expect((await get("/version")).status).toBe(200);
  // A token that proves nothing is still a 401, anonymous access or not.
  expect((await kubectl("--token=not-a-token", "get", "namespaces")).stderr).toContain("Unauthorized");
});

it("refuses ID tokens for another client, from another key, or expired", async () => {
  const { privateKey: stranger } = await generateKeyPair("RS256");
  const expired = await new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "RS256", kid: "test-key" }).setIssuer(issuer).setAudience("edgeplane")
    .setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(signingKey);
  for (const token of [await idToken({ sub: "alice" }, "someone-else"), await idToken({ sub: "alice" }, "edgeplane", stranger), expired]) {
    const res = await kubectl(`--token=${token}`, "get", "namespaces");
    expect(res.stderr).toContain("Unauthorized");
  }
});

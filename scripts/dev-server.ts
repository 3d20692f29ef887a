// Starts the control plane locally on loopback and waits until it answers: straight from workerd
// through Miniflare's API (scripts/serve-workerd.ts), or under `wrangler dev` for its live reload
// (EDGEPLANE_DEV=wrangler), whose own proxy in front of the Worker costs ~2.5x in throughput.
// `npm start` uses it with the persistent state under .wrangler/state; tests and benchmarks use it
// with a throwaway state folder and their own admin token.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ServeSettings } from "./serve-workerd.ts";

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface ControlPlane {
  url: string;
  /** The serving certificate (PEM) when the control plane serves HTTPS. */
  caPem?: string;
  /** The admin bearer token; the Worker itself only knows its SHA-256. */
  token: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  port?: number;
  token?: string;
  /** Where workerd keeps Durable Object state. */
  stateDir?: string;
  /** Extra `[vars]` overrides, e.g. compaction settings. */
  vars?: Record<string, string>;
  /** Echo workerd's (or wrangler's) own output (npm start does; tests keep it for failures). */
  inheritOutput?: boolean;
  /**
   * Serve HTTPS with a certificate made for 127.0.0.1 in this folder: kubectl sends bearer
   * tokens only over TLS. Without it the control plane serves plain HTTP.
   */
  tlsDir?: string;
  /** The private JWK that signs service account tokens; a new one each start unless given. */
  serviceAccountKey?: string;
  /** ENCRYPTION_KEYS (name:base64key,...) sealing Secrets at rest; a new key each start unless given. */
  encryptionKeys?: string;
  /**
   * What serves the Worker: workerd through Miniflare's API (the default), or `wrangler dev`, which
   * rebuilds on source changes. EDGEPLANE_DEV=wrangler picks wrangler when this is not given.
   */
  engine?: ServingEngine;
  /** workerd's DevTools inspector port, for CPU profiles of the Worker and its Durable Objects. */
  inspectorPort?: number;
  /**
   * What is polled until it answers 200: /readyz (the default) runs the post-start hooks, so the
   * cluster is seeded once this returns; /livez leaves the store untouched (the etcd suites, which
   * expect it empty at revision 1).
   */
  readinessPath?: "/readyz" | "/livez";
}

export type ServingEngine = "workerd" | "wrangler";

export function defaultEngine(): ServingEngine {
  return process.env.EDGEPLANE_DEV === "wrangler" ? "wrangler" : "workerd";
}

export interface ServingCertificate {
  keyPath: string;
  certPath: string;
  /** The certificate, PEM: self-signed, so it is its own CA for kubeconfig. */
  pem: string;
}

/** A self-signed certificate for 127.0.0.1 and localhost, made once per folder with openssl. */
export function servingCertificate(dir: string): ServingCertificate {
  const keyPath = join(dir, "serving.key");
  const certPath = join(dir, "serving.crt");
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", keyPath, "-out", certPath, "-days", "3650", "-subj", "/CN=edgeplane-local",
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-addext", "basicConstraints=critical,CA:TRUE",
    ], { stdio: "ignore" });
  }
  return { keyPath, certPath, pem: readFileSync(certPath, "utf8") };
}

/** A kubeconfig for the admin: what kubectl and client libraries read. */
export function kubeconfig(url: string, token: string, caPem?: string, cluster = "edgeplane"): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${cluster}`,
    "  cluster:",
    `    server: ${url}`,
    ...(caPem ? [`    certificate-authority-data: ${Buffer.from(caPem).toString("base64")}`] : []),
    "users:",
    `- name: ${cluster}-admin`,
    "  user:",
    `    token: ${token}`,
    "contexts:",
    `- name: ${cluster}`,
    "  context:",
    `    cluster: ${cluster}`,
    `    user: ${cluster}-admin`,
    "    namespace: default",
    `current-context: ${cluster}`,
    "",
  ].join("\n");
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

export function newAdminToken(): string {
  return randomBytes(32).toString("base64url");
}

/** ENCRYPTION_KEYS with one new AES-256 key: what seals Secrets at rest. */
export function newEncryptionKeys(): string {
  return `key1:${randomBytes(32).toString("base64")}`;
}

/** A new P-256 private key as a JWK: what signs a cluster's service account tokens. */
export function newServiceAccountKey(): string {
  return JSON.stringify(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }));
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const port = options.port ?? (await freePort());
  const token = options.token ?? newAdminToken();
  const tls = options.tlsDir ? servingCertificate(options.tlsDir) : undefined;
  const vars = {
    ENCRYPTION_KEYS: options.encryptionKeys ?? newEncryptionKeys(),
    // The CA pods trust for the apiserver (the root CA publisher's kube-root-ca.crt): this self-signed certificate.
    ...(tls ? { CLUSTER_CA_PEM: tls.pem } : {}),
    ...options.vars,
    ADMIN_TOKEN_SHA256: sha256Hex(token), SERVICE_ACCOUNT_KEY: options.serviceAccountKey ?? newServiceAccountKey(),
  };
  const stateDir = options.stateDir ?? join(PROJECT_ROOT, ".wrangler/state");
  const engine = options.engine ?? defaultEngine();
  const stdio = ["ignore", options.inheritOutput ? "inherit" : "pipe", options.inheritOutput ? "inherit" : "pipe"] as const;
  let child: ChildProcess;
  if (engine === "workerd") {
    const settings: ServeSettings = {
      projectRoot: PROJECT_ROOT, port, stateDir, bindings: vars, inspectorPort: options.inspectorPort,
      tls: tls && { key: readFileSync(tls.keyPath, "utf8"), cert: tls.pem },
    };
    child = spawn(process.execPath, [join(PROJECT_ROOT, "scripts/serve-workerd.ts")], {
      cwd: PROJECT_ROOT, stdio: [...stdio],
      // The settings hold secrets: the environment, unlike the command line, is readable only by this user.
      env: { ...process.env, EDGEPLANE_SERVE: JSON.stringify(settings) },
      detached: true,
    });
  } else {
    const inspectorPort = options.inspectorPort ?? (await freePort());
    const args = [
      join(PROJECT_ROOT, "node_modules/wrangler/bin/wrangler.js"), "dev",
      "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
      "--persist-to", stateDir,
      "--show-interactive-dev-session=false", "--log-level", "warn",
      ...(tls ? ["--local-protocol", "https", "--https-key-path", tls.keyPath, "--https-cert-path", tls.certPath] : []),
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ];
    child = spawn(process.execPath, args, {
      cwd: PROJECT_ROOT, stdio: [...stdio],
      // Local request tracing (on by default since wrangler 4.15x) doubles the Worker's CPU per request;
      // the Request.cf lookup needs the internet, which local clusters may not have.
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", X_LOCAL_OBSERVABILITY: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: process.env.CI ?? "1" },
      detached: true,
    });
  }
  const name = engine === "workerd" ? "workerd (scripts/serve-workerd.ts)" : "wrangler dev";
  let output = "";
  child.stdout?.on("data", (d) => (output = (output + d).slice(-20_000)));
  child.stderr?.on("data", (d) => (output = (output + d).slice(-20_000)));
  const url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}`);
    try {
      if (await isReady(`${url}${options.readinessPath ?? "/readyz"}`, tls?.pem)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not become ready on ${url} within 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, caPem: tls?.pem, token, process: child, stop };
}

/** Whether GET `url` answers 200, trusting `ca` when the control plane serves HTTPS. */
async function isReady(url: string, ca: string | undefined): Promise<boolean> {
  const { request } = ca ? await import("node:https") : await import("node:http");
  return new Promise((resolve) => {
    const req = request(url, ca ? { ca } : {}, (res: import("node:http").IncomingMessage) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.end();
  });
}

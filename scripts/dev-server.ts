// Starts the control plane locally under `wrangler dev` (workerd) on loopback and waits until it
// answers. `npm start` uses it with the persistent state under .wrangler/state; tests and
// benchmarks use it with a throwaway state folder and their own admin token.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface ControlPlane {
  url: string;
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
  /** Echo wrangler's own output (npm start does; tests keep it for failures). */
  inheritOutput?: boolean;
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

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const port = options.port ?? (await freePort());
  const inspectorPort = await freePort();
  const token = options.token ?? newAdminToken();
  const vars = { ...options.vars, ADMIN_TOKEN_SHA256: sha256Hex(token) };
  const args = [
    join(PROJECT_ROOT, "node_modules/wrangler/bin/wrangler.js"), "dev",
    "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
    "--persist-to", options.stateDir ?? join(PROJECT_ROOT, ".wrangler/state"),
    "--show-interactive-dev-session=false", "--log-level", "warn",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const child = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", options.inheritOutput ? "inherit" : "pipe", options.inheritOutput ? "inherit" : "pipe"],
    // Local request tracing (on by default since wrangler 4.15x) doubles the Worker's CPU per request.
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", X_LOCAL_OBSERVABILITY: "false", CI: process.env.CI ?? "1" },
    detached: true,
  });
  let output = "";
  child.stdout?.on("data", (d) => (output = (output + d).slice(-20_000)));
  child.stderr?.on("data", (d) => (output = (output + d).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
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
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not become ready on ${url} within 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, token, process: child, stop };
}

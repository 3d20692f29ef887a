// npm start's node: once the control plane is up, a bootstrap token is made and the node agent
// joins with it as a child process (or, when it joined this cluster before, runs from its saved
// state in .edgeplane/agent), on the runtime chooseRuntime() picks and says why.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, openSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { hostname } from "node:os";
import { join } from "node:path";
import type { ControlPlane } from "./dev-server.ts";
import { PROJECT_ROOT, sha256Hex } from "./dev-server.ts";

export interface RuntimeChoice {
  runtime: "cri" | "simulated";
  why: string;
}

const CNI_PLUGINS = ["/usr/lib/cni/bridge", "/opt/cni/bin/bridge"];

/**
 * The runtime for this host's node: real containers need root, containerd, runc and the CNI
 * plugins, and the cri runtime wired into the agent (node-agent/agent.ts createRuntime); the
 * simulated runtime otherwise.
 */
export function chooseRuntime(): RuntimeChoice {
  const missing = [
    ...(process.getuid?.() === 0 ? [] : ["root"]),
    ...(["/usr/bin/containerd", "/usr/local/bin/containerd"].some(existsSync) ? [] : ["containerd"]),
    ...(["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"].some(existsSync) ? [] : ["runc"]),
    ...(CNI_PLUGINS.some(existsSync) ? [] : ["the CNI plugins"]),
  ];
  if (missing.length) return { runtime: "simulated", why: `real containers need ${missing.join(", ")}, which this host lacks` };
  return { runtime: "simulated", why: "this host could run real containers, but the cri runtime is not wired into the agent yet" };
}

/** An admin request to the local control plane; answers the status code and body. */
function adminRequest(plane: ControlPlane, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${plane.url}${path}`, { method, ca: plane.caPem, headers: { Authorization: `Bearer ${plane.token}`, "Content-Type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A one-hour bootstrap token, as `npm run admin -- bootstrap-token` makes one. */
async function bootstrapToken(plane: ControlPlane): Promise<string> {
  const word = (n: number) => [...randomBytes(n)].map((b) => "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36]).join("");
  const [id, secret] = [word(6), word(16)];
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const { status, body } = await adminRequest(plane, "POST", "/api/v1/namespaces/kube-system/secrets", {
    apiVersion: "v1", kind: "Secret", type: "bootstrap.kubernetes.io/token",
    metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" },
    data: {
      "token-id": b64(id), "token-secret": b64(secret), "usage-bootstrap-authentication": b64("true"),
      expiration: b64(new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z")),
    },
  });
  if (status !== 201) throw new Error(`creating a bootstrap token answered ${status}: ${body}`);
  return `${id}.${secret}`;
}

/** This host's name as a Node name (a lowercase RFC 1123 subdomain). */
export function localNodeName(): string {
  return hostname().toLowerCase().replace(/[^a-z0-9.-]/g, "-").replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "") || "edgeplane-node";
}

export interface LocalNode {
  name: string;
  choice: RuntimeChoice;
  agent: ChildProcess;
  logFile: string;
}

/** Joins (or re-runs) this host's node and waits until it is Ready; the agent stops when this process exits. */
export async function startLocalNode(plane: ControlPlane, stateDir = join(PROJECT_ROOT, ".edgeplane/agent")): Promise<LocalNode> {
  const choice = chooseRuntime();
  const stateFile = join(stateDir, "agent.json");
  const saved = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as { server: string; nodes: { name: string }[] }) : undefined;
  const joined = saved?.server === plane.url;
  const name = joined ? saved!.nodes[0]!.name : localNodeName();
  const args = joined
    ? ["run", "--state-dir", stateDir]
    : ["join", "--server", plane.url, "--token", await bootstrapToken(plane), "--ca-cert-sha256", sha256Hex(plane.caPem!),
      "--runtime", choice.runtime, "--node-name", name, "--state-dir", stateDir];
  const logFile = join(PROJECT_ROOT, ".edgeplane/agent.log");
  const log = openSync(logFile, "a");
  const agent = spawn(process.execPath, [join(PROJECT_ROOT, "node-agent/main.ts"), ...args], { cwd: PROJECT_ROOT, stdio: ["ignore", log, log] });
  process.on("exit", () => agent.kill());
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (agent.exitCode !== null) throw new Error(`the node agent exited with ${agent.exitCode}; see ${logFile}`);
    const { status, body } = await adminRequest(plane, "GET", `/api/v1/nodes/${name}`);
    if (status === 200 && JSON.parse(body).status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True")) break;
    if (Date.now() > deadline) throw new Error(`node ${name} did not become Ready within 60 s; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { name, choice, agent, logFile };
}

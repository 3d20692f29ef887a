// npm start's node: once the control plane is up, a bootstrap token is made and the node agent
// joins with it as a child process (or, when it joined this cluster before, runs from its saved
// state in .edgeplane/agent), on the runtime chooseRuntime() picks and says why. It is a throwaway
// node: when npm start stops, the agent kills its pods' containers and stops its containerd.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { existsSync, openSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { hostname } from "node:os";
import { join } from "node:path";
import { checkHost } from "../node-agent/cri-node.ts";
import type { ControlPlane } from "./dev-server.ts";
import { PROJECT_ROOT, sha256Hex } from "./dev-server.ts";

export interface RuntimeChoice {
  runtime: "cri" | "simulated";
  why: string;
}

/**
 * The runtime for this host's node: real containers when the agent's own checks pass (root,
 * containerd, runc, the CNI plugins, iptables, busybox-static), the simulated runtime otherwise.
 */
export async function chooseRuntime(): Promise<RuntimeChoice> {
  try {
    await checkHost();
    return { runtime: "cri", why: "this host runs as root with containerd, runc and the CNI plugins: real containers, through the agent's own containerd" };
  } catch (e) {
    return { runtime: "simulated", why: `no real containers: ${(e as Error).message}` };
  }
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
export async function bootstrapToken(plane: ControlPlane): Promise<string> {
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
  /** Stops the agent (SIGTERM): it kills the pods' containers and stops its containerd, then exits. */
  stop(): Promise<void>;
}

/** How long the agent gets to kill its pods and stop containerd before it is killed itself. */
const STOP_TIMEOUT_MS = 30_000;

/**
 * Joins (or re-runs) this host's node and waits until it is Ready. The agent runs in its own
 * process group, so a Ctrl-C at the terminal reaches only npm start, which then stops it in order
 * (`stop`); it is told to go when this process exits in any case.
 */
export async function startLocalNode(plane: ControlPlane, stateDir = join(PROJECT_ROOT, ".edgeplane/agent")): Promise<LocalNode> {
  const stateFile = join(stateDir, "agent.json");
  const saved = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as { server: string; runtime: RuntimeChoice["runtime"]; nodes: { name: string }[] }) : undefined;
  const joined = saved?.server === plane.url;
  const choice: RuntimeChoice = joined ? { runtime: saved!.runtime, why: `it joined this cluster on it before (state in ${stateDir})` } : await chooseRuntime();
  const name = joined ? saved!.nodes[0]!.name : localNodeName();
  const args = joined
    ? ["run", "--state-dir", stateDir, "--kill-pods-on-exit"]
    : ["join", "--server", plane.url, "--token", await bootstrapToken(plane), "--ca-cert-sha256", sha256Hex(plane.caPem!),
      "--runtime", choice.runtime, "--node-name", name, "--state-dir", stateDir, "--pod-logs-dir", join(stateDir, "pod-logs"), "--kill-pods-on-exit"];
  const logFile = join(PROJECT_ROOT, ".edgeplane/agent.log");
  const log = openSync(logFile, "a");
  const agent = spawn(process.execPath, [join(PROJECT_ROOT, "node-agent/main.ts"), ...args], { cwd: PROJECT_ROOT, stdio: ["ignore", log, log], detached: true });
  process.on("exit", () => agent.kill());
  const stop = async () => {
    if (agent.exitCode !== null || agent.signalCode !== null) return;
    const exited = once(agent, "exit");
    agent.kill("SIGTERM");
    const timer = setTimeout(() => agent.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (agent.exitCode !== null) throw new Error(`the node agent exited with ${agent.exitCode}; see ${logFile}`);
    const { status, body } = await adminRequest(plane, "GET", `/api/v1/nodes/${name}`);
    if (status === 200 && JSON.parse(body).status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True")) break;
    if (Date.now() > deadline) throw new Error(`node ${name} did not become Ready within 60 s; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { name, choice, agent, logFile, stop };
}

// Hollow nodes for the benchmarks: the node agent on its simulated runtime, joined with a fresh
// bootstrap token as users join it (`node node-agent/main.ts join --runtime simulated --nodes N`),
// in a child process; `kubectl create deployment`'s Deployment, which the benchmarks scale; and the
// CPU the control plane's processes use meanwhile.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Deployment } from "kubernetes-types/apps/v1";
import { PROJECT_ROOT, type ControlPlane } from "../scripts/dev-server.ts";
import type { HttpTarget } from "./load.ts";

export async function expectCreated(api: HttpTarget, method: string, path: string, body: unknown, contentType?: string): Promise<void> {
  const answer = await api.send(method, path, Buffer.from(JSON.stringify(body)), contentType);
  if (answer.status !== 201 && answer.status !== 200) throw new Error(`${method} ${path}: HTTP ${answer.status}: ${answer.body.toString("utf8").slice(0, 300)}`);
}

/** A bootstrap token as `npm run admin -- bootstrap-token` makes it; answers "id.secret". */
export async function bootstrapToken(api: HttpTarget): Promise<string> {
  const word = (n: number) => [...randomBytes(n)].map((b) => "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36]).join("");
  const [id, secret] = [word(6), word(16)];
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  await expectCreated(api, "POST", "/api/v1/namespaces/kube-system/secrets", {
    apiVersion: "v1", kind: "Secret", type: "bootstrap.kubernetes.io/token",
    metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" },
    data: { "token-id": b64(id), "token-secret": b64(secret), "usage-bootstrap-authentication": b64("true") },
  });
  return `${id}.${secret}`;
}

/** The node agent on the simulated runtime with `nodes` hollow nodes; resolves once every node is Ready. */
export async function startHollowNodes(plane: ControlPlane, api: HttpTarget, nodes: number, stateDir: string, deadline: number): Promise<{ agent: ChildProcess; output: () => string }> {
  const caHash = createHash("sha256").update(plane.caPem!).digest("hex");
  const agent = spawn(process.execPath, [join(PROJECT_ROOT, "node-agent/main.ts"), "join", "--server", plane.url, "--token", await bootstrapToken(api),
    "--ca-cert-sha256", caHash, "--runtime", "simulated", "--nodes", String(nodes), "--node-name-prefix", "hollow-", "--state-dir", stateDir], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  agent.stdout!.on("data", (d) => (output += d));
  agent.stderr!.on("data", (d) => (output += d));
  for (;;) {
    const answer = await api.send("GET", "/api/v1/nodes");
    const items = (JSON.parse(answer.body.toString("utf8")) as { items?: { status?: { conditions?: { type: string; status: string }[] } }[] }).items ?? [];
    if (items.filter((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length >= nodes) break;
    if (agent.exitCode !== null || performance.now() > deadline) throw new Error(`the hollow nodes did not all become Ready:\n${output.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { agent, output: () => output };
}

/** Waits until the namespace's `default` ServiceAccount exists (the serviceaccount controller makes it; pods need it). */
export async function defaultServiceAccount(api: HttpTarget, namespace: string, deadline: number): Promise<void> {
  while ((await api.send("GET", `/api/v1/namespaces/${namespace}/serviceaccounts/default`)).status !== 200) {
    if (performance.now() > deadline) throw new Error(`no default ServiceAccount in namespace ${namespace}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `kubectl create deployment NAME --image=busybox --replicas=N`, as kubectl sends it. */
export function deployment(namespace: string, name: string, replicas: number): Deployment {
  return {
    apiVersion: "apps/v1", kind: "Deployment",
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas, selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "busybox", image: "busybox", resources: { requests: { cpu: "10m", memory: "16Mi" } } }] } },
    },
  };
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU seconds used so far by the processes whose process group or pid is given. */
export function cpuSeconds(match: (pid: number, pgid: number) => boolean): number {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after the command's closing parenthesis: state ppid pgrp … utime(14) stime(15).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (!match(Number(entry), Number(fields[2]))) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}

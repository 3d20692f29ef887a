// The node agent benchmark: pod startup latency on simulated nodes and the heartbeat load of many
// hollow nodes, each against a fresh control plane, with the agent as users run it (`node
// node-agent/main.ts join --runtime simulated --nodes N`) in its own process.
//   startup:   N hollow nodes in one agent; pods created as fast as the API takes them (the scheduler
//              places them); latency is create sent → phase Running seen on a watch of the pods;
//              the agent's CPU and RSS growth per pod over the phase.
//   real:      the same on one real node (the cri runtime: the agent's own containerd, busybox
//              imported, so the image is present), as root on a host with containerd, runc and the
//              CNI plugins; the agent is stopped with its pods and cleaned up afterwards.
//   heartbeat: N hollow nodes renewing their Leases every 10 s (one pod watch each), measured over a
//              window: Lease renewals/s and Node status writes/s seen on watches, the CPU of the
//              workerd process (apiserver + store + scheduler + controllers) and of the agent, the
//              agent's RSS, and the latency of a ConfigMap patch sent 10 times a second meanwhile.
//
//   npm run bench:pods [-- --json]
//
// Environment: BENCH_CASES (startup,heartbeat,real), BENCH_REAL_PODS (30), BENCH_NODES (startup nodes, 100), BENCH_PODS (3000),
// BENCH_CREATE_CONCURRENCY (16), BENCH_HEARTBEAT_NODES (comma list, "1000"; "1000,5000" for both),
// BENCH_HEARTBEAT_SECONDS (window, 60), BENCH_TIMEOUT_SECONDS (per phase, 900), BENCH_VARS, BENCH_AGENT_LOG (a file the agent's log
// is appended to, for diagnosis).
// Load average is printed with every figure: the machine may be shared.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Pod } from "kubernetes-types/core/v1";
import { defaultEngine, startControlPlane, type ControlPlane } from "../scripts/dev-server.ts";
import { HttpTarget, LatencyRecorder, benchVars, envNumber, fixed, formatTable, lineSplitter, runBatch } from "./load.ts";

const NAMESPACE = "bench";
const AGENT = fileURLToPath(new URL("../node-agent/main.ts", import.meta.url));
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;
const PROBE_WRITES_PER_SECOND = 10;

const load = () => loadavg().map((n) => n.toFixed(2)).join(" ");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fields of /proc/<pid>/stat after the command, and the command, or undefined when the process is gone. */
function procStat(pid: number): { command: string; fields: string[] } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return { command: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), fields: stat.slice(stat.lastIndexOf(")") + 2).split(" ") };
  } catch {
    return undefined;
  }
}

/** CPU seconds a process has used (user + system). */
function cpuSeconds(pid: number): number {
  const stat = procStat(pid);
  return stat ? (Number(stat.fields[11]) + Number(stat.fields[12])) / CLOCK_TICKS : 0;
}

function rssMb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The processes of a process group whose command starts with `command` (the control plane's workerd). */
function groupProcesses(pgid: number, command: string): number[] {
  return readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => {
    const stat = procStat(pid);
    return stat && Number(stat.fields[2]) === pgid && stat.command.startsWith(command);
  });
}

const sum = (pids: number[], of: (pid: number) => number) => pids.reduce((total, pid) => total + of(pid), 0);

/** CPU seconds a process and the children it has waited for have used: a shim's include the runc runs, containerd's the CNI plugins'. */
function cpuSecondsWithChildren(pid: number): number {
  const stat = procStat(pid);
  return stat ? (Number(stat.fields[11]) + Number(stat.fields[12]) + Number(stat.fields[13]) + Number(stat.fields[14])) / CLOCK_TICKS : 0;
}

/** The processes whose command line names `argument`: a containerd by its config, its shims by its socket. */
function processesNaming(argument: string): number[] {
  return readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(argument);
    } catch {
      return false;
    }
  });
}

/** The real node's container runtime: its containerd and shims, with the runc and CNI plugin runs they waited for (0 on hollow nodes). */
function runtimeCpuSeconds(cluster: Cluster): number {
  const dir = join(cluster.root, "agent", "cri", "containerd");
  return sum([...processesNaming(join(dir, "config.toml")), ...processesNaming(join(dir, "containerd.sock"))], cpuSecondsWithChildren);
}

async function ok(api: HttpTarget, method: string, path: string, body: unknown, contentType?: string): Promise<any> {
  const answer = await api.send(method, path, body === undefined ? undefined : Buffer.from(JSON.stringify(body)), contentType);
  if (answer.status >= 300) throw new Error(`${method} ${path}: HTTP ${answer.status}: ${answer.body.toString("utf8").slice(0, 300)}`);
  return JSON.parse(answer.body.toString("utf8"));
}

/** A bootstrap token Secret, as `npm run admin -- bootstrap-token` makes one; answers "id.secret". */
async function bootstrapToken(api: HttpTarget): Promise<string> {
  const word = (n: number) => [...randomBytes(n)].map((b) => "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36]).join("");
  const [id, secret] = [word(6), word(16)];
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  await ok(api, "POST", "/api/v1/namespaces/kube-system/secrets", {
    apiVersion: "v1", kind: "Secret", type: "bootstrap.kubernetes.io/token", metadata: { name: `bootstrap-token-${id}` },
    data: { "token-id": b64(id), "token-secret": b64(secret), "usage-bootstrap-authentication": b64("true") },
  });
  return `${id}.${secret}`;
}

interface Cluster {
  root: string;
  plane: ControlPlane;
  api: HttpTarget;
  agent?: ChildProcess;
  agentLog: string[];
  /** Nodes whose tunnel connected: each does so once registered. */
  tunnelsConnected: Set<string>;
  stop(): Promise<void>;
}

async function startCluster(prefix: string): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), `edgeplane-bench-pods-${prefix}-`));
  const plane = await startControlPlane({ engine: defaultEngine(), stateDir: join(root, "state"), tlsDir: join(root, "tls"), vars: { RATE_LIMIT_QPS: "1000000", ...benchVars() } });
  const api = new HttpTarget(plane.url, { Authorization: `Bearer ${plane.token}` }, 64, plane.caPem);
  const cluster: Cluster = {
    root, plane, api, agentLog: [], tunnelsConnected: new Set(),
    async stop() {
      const agent = cluster.agent;
      if (agent && agent.exitCode === null && agent.signalCode === null) {
        // SIGTERM: a real node's agent stops its pods (--kill-pods-on-exit) and its containerd.
        const exited = once(agent, "exit");
        agent.kill("SIGTERM");
        await Promise.race([exited, sleep(30_000)]);
        agent.kill("SIGKILL");
      }
      try {
        execFileSync(process.execPath, [AGENT, "cleanup", "--state-dir", join(root, "agent")], { stdio: "pipe", timeout: 60_000 });
      } catch (e) {
        console.log(`cleanup of the agent in ${root} failed: ${message(e)}`);
      }
      api.close();
      await plane.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** How the agent joins: `nodes` hollow nodes, or one real node on the cri runtime. */
function joinArgs(cluster: Cluster, nodes: number | "real"): string[] {
  if (nodes !== "real") return ["--runtime", "simulated", "--nodes", String(nodes), "--node-name-prefix", "hollow-"];
  return ["--runtime", "cri", "--node-name", "bench-real", "--bridge", "epbench0", "--pod-logs-dir", join(cluster.root, "logs"),
    "--pod-manifest-path", join(cluster.root, "manifests"), "--kill-pods-on-exit"];
}

/** The agent as users run it; resolves once it says it is running. */
async function startAgent(cluster: Cluster, nodes: number | "real", timeoutMs: number): Promise<ChildProcess> {
  const token = await bootstrapToken(cluster.api);
  const caHash = createHash("sha256").update(cluster.plane.caPem!).digest("hex");
  const child = spawn(process.execPath, [AGENT, "join", "--server", cluster.plane.url, "--token", token, "--ca-cert-sha256", caHash,
    "--state-dir", join(cluster.root, "agent"), ...joinArgs(cluster, nodes)], { stdio: ["ignore", "ignore", "pipe"] });
  cluster.agent = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the agent did not start ${nodes} nodes in ${timeoutMs / 1000} s; it said: ${cluster.agentLog.slice(-5).join(" | ")}`)), timeoutMs);
    const logFile = process.env.BENCH_AGENT_LOG;
    child.stderr!.on("data", lineSplitter((line) => {
      if (logFile) appendFileSync(logFile, line + "\n");
      if (cluster.agentLog.length < 10_000) cluster.agentLog.push(line);
      if (line.includes('"msg":"tunnel connected"')) cluster.tunnelsConnected.add(/"node":"([^"]*)"/.exec(line)?.[1] ?? "");
      if (line.includes("running on the ")) {
        clearTimeout(timer);
        resolve(child);
      }
    }));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the agent exited (${code}): ${cluster.agentLog.slice(-5).join(" | ")}`));
    });
  });
}

/** Counts a watch's events by type, and calls `onEvent` for each. */
async function watchEvents(api: HttpTarget, path: string, onEvent: (type: string, object: any) => void): Promise<IncomingMessage> {
  const list = await ok(api, "GET", path, undefined);
  const response = await api.stream(`${path}${path.includes("?") ? "&" : "?"}watch=true&resourceVersion=${list.metadata.resourceVersion}`);
  response.on("data", lineSplitter((line) => {
    const event = JSON.parse(line) as { type: string; object: unknown };
    onEvent(event.type, event.object);
  }));
  return response;
}

async function until(done: () => boolean, deadline: number): Promise<boolean> {
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Every node Ready (a real node once its pod network is written). */
async function waitForReadyNodes(api: HttpTarget, nodes: number, deadline: number): Promise<void> {
  for (;;) {
    const list = await ok(api, "GET", "/api/v1/nodes", undefined);
    const ready = list.items.filter((n: any) => n.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True")).length;
    if (ready >= nodes) return;
    if (Date.now() > deadline) throw new Error(`only ${ready} of ${nodes} nodes Ready in time`);
    await sleep(500);
  }
}

/** The default service account, which pods need: the controller manager makes it. */
async function waitForServiceAccount(api: HttpTarget, deadline: number): Promise<void> {
  while ((await api.send("GET", `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/default`)).status !== 200) {
    if (Date.now() > deadline) throw new Error("no default service account in the bench namespace");
    await sleep(200);
  }
}

interface StartupFigures {
  runtime: "simulated" | "cri";
  nodes: number;
  pods: number;
  /** Creates the apiserver refused or failed: the pods measured are the others. */
  createErrors: number;
  firstCreateError?: string;
  running: number;
  seconds: number;
  latency: LatencyRecorder;
  /** Create sent → spec.nodeName seen: the scheduler's share. */
  bound: LatencyRecorder;
  /** spec.nodeName seen → phase Running seen: the node's share. */
  boundToRunning: LatencyRecorder;
  /** The node's writes per Running pod seen on watches: kubelet Events, and pod updates after the binding (status writes). */
  eventsPerPod: number;
  statusWritesPerPod: number;
  agentCpuMsPerPod: number;
  /** containerd, its shims and what they ran (runc, the CNI plugins), over the phase, per Running pod. */
  runtimeCpuMsPerPod: number;
  agentRssKbPerPod: number;
  agentRssMb: number;
  loadAverage: string;
}

/** A pod that runs until deleted: on a real node, busybox (imported with the agent, so present) sleeping. */
function benchPod(i: number): Pod {
  return {
    apiVersion: "v1", kind: "Pod", metadata: { name: `startup-${i}`, namespace: NAMESPACE, labels: { app: "bench" } },
    spec: {
      containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"], resources: { requests: { cpu: "10m", memory: "16Mi" } } }],
      terminationGracePeriodSeconds: 0,
    },
  };
}

async function runStartup(runtime: "simulated" | "cri", nodes: number, pods: number, concurrency: number, timeoutSeconds: number): Promise<StartupFigures> {
  const cluster = await startCluster(runtime === "cri" ? "real" : "startup");
  try {
    const { api } = cluster;
    const deadline = Date.now() + timeoutSeconds * 1000;
    await ok(api, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
    const agent = await startAgent(cluster, runtime === "cri" ? "real" : nodes, timeoutSeconds * 1000);
    await waitForReadyNodes(api, nodes, deadline);
    await waitForServiceAccount(api, deadline);
    const runningAt = new Map<string, number>();
    const boundAt = new Map<string, number>();
    let statusWrites = 0;
    const watch = await watchEvents(api, `/api/v1/namespaces/${NAMESPACE}/pods`, (type, pod: Pod) => {
      const name = pod.metadata?.name ?? "";
      if (type === "MODIFIED" && boundAt.has(name)) statusWrites++;
      if (pod.spec?.nodeName && !boundAt.has(name)) boundAt.set(name, performance.now());
      if (pod.status?.phase === "Running" && !runningAt.has(name)) runningAt.set(name, performance.now());
    });
    let kubeletEvents = 0;
    const eventWatch = await watchEvents(api, `/api/v1/namespaces/${NAMESPACE}/events`, (type, event: { source?: { component?: string } }) => {
      if (type === "ADDED" && event.source?.component === "kubelet") kubeletEvents++;
    });
    const sentAt = new Map<string, number>();
    const cpuBefore = cpuSeconds(agent.pid!);
    const runtimeCpuBefore = runtimeCpuSeconds(cluster);
    const rssBefore = rssMb(agent.pid!);
    const start = performance.now();
    const created = await runBatch({
      concurrency, count: pods,
      op: async (i) => {
        const pod = benchPod(i);
        sentAt.set(pod.metadata!.name!, performance.now());
        await ok(api, "POST", `/api/v1/namespaces/${NAMESPACE}/pods`, pod);
      },
    });
    await until(() => runningAt.size >= pods - created.errors, deadline);
    const seconds = (performance.now() - start) / 1000;
    const agentCpu = cpuSeconds(agent.pid!) - cpuBefore;
    const runtimeCpu = runtimeCpuSeconds(cluster) - runtimeCpuBefore;
    const agentRss = rssMb(agent.pid!);
    // Writes of the last pods to start may still be on their way: a moment for them to be seen.
    await sleep(2000);
    watch.destroy();
    eventWatch.destroy();
    const latency = new LatencyRecorder();
    for (const [name, at] of runningAt) latency.record(at - sentAt.get(name)!);
    const bound = new LatencyRecorder();
    for (const [name, at] of boundAt) bound.record(at - sentAt.get(name)!);
    const boundToRunning = new LatencyRecorder();
    for (const [name, at] of runningAt) if (boundAt.has(name)) boundToRunning.record(at - boundAt.get(name)!);
    return {
      runtime, nodes, pods: pods - created.errors, createErrors: created.errors, firstCreateError: created.errors ? message(created.firstError) : undefined, running: runningAt.size, seconds, latency, bound, boundToRunning,
      eventsPerPod: kubeletEvents / Math.max(1, runningAt.size), statusWritesPerPod: statusWrites / Math.max(1, runningAt.size), agentCpuMsPerPod: (agentCpu * 1000) / Math.max(1, runningAt.size),
      runtimeCpuMsPerPod: (runtimeCpu * 1000) / Math.max(1, runningAt.size),
      agentRssKbPerPod: ((agentRss - rssBefore) * 1024) / Math.max(1, runningAt.size), agentRssMb: agentRss, loadAverage: load(),
    };
  } finally {
    await cluster.stop();
  }
}

interface HeartbeatFigures {
  nodes: number;
  registerSeconds: number;
  /** workerd's CPU while the nodes registered, per node. */
  registerWorkerdCpuMsPerNode: number;
  windowSeconds: number;
  leaseRenewalsPerSecond: number;
  nodeWritesPerSecond: number;
  workerdCpuPercent: number;
  agentCpuPercent: number;
  agentRssMb: number;
  workerdRssMb: number;
  write: LatencyRecorder;
  writeErrors: number;
  loadAverage: string;
}

async function runHeartbeat(nodes: number, windowSeconds: number, timeoutSeconds: number): Promise<HeartbeatFigures> {
  const cluster = await startCluster("heartbeat");
  try {
    const { api, plane } = cluster;
    const registering = performance.now();
    const workerdAtStart = groupProcesses(plane.process.pid!, "workerd");
    const workerdCpuAtStart = sum(workerdAtStart, cpuSeconds);
    let agent: ChildProcess;
    try {
      agent = await startAgent(cluster, nodes, timeoutSeconds * 1000);
    } catch (e) {
      // What registration got to, for the record: how many nodes, and what the processes spent.
      const wall = (performance.now() - registering) / 1000;
      const workerdCpu = ((sum(workerdAtStart, cpuSeconds) - workerdCpuAtStart) * 100) / wall;
      const pid = cluster.agent?.pid;
      throw new Error(`${message(e)}\n  after ${wall.toFixed(0)} s: ${cluster.tunnelsConnected.size} of ${nodes} nodes registered (tunnel connected); workerd cpu ${workerdCpu.toFixed(0)}% of a core, ` +
        `RSS ${sum(workerdAtStart, rssMb).toFixed(0)} MB; agent cpu ${pid ? ((cpuSeconds(pid) * 100) / wall).toFixed(0) : "?"}%, RSS ${pid ? rssMb(pid).toFixed(0) : "?"} MB; load average ${load()}`);
    }
    const registerSeconds = (performance.now() - registering) / 1000;
    const registerWorkerdCpuMsPerNode = ((sum(workerdAtStart, cpuSeconds) - workerdCpuAtStart) * 1000) / nodes;
    await ok(api, "POST", "/api/v1/namespaces/default/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "probe" }, data: { n: "0" } });
    // A minute of settling: the nodes' first status writes and the controllers' catch-up are not the steady state.
    await sleep(Math.min(60_000, windowSeconds * 1000));
    let renewals = 0;
    let nodeWrites = 0;
    const leases = await watchEvents(api, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", (type) => type === "MODIFIED" && renewals++);
    const nodeWatch = await watchEvents(api, "/api/v1/nodes", (type) => type === "MODIFIED" && nodeWrites++);
    const workerd = groupProcesses(plane.process.pid!, "workerd");
    const workerdBefore = sum(workerd, cpuSeconds);
    const agentBefore = cpuSeconds(agent.pid!);
    const write = new LatencyRecorder();
    let writeErrors = 0;
    const began = performance.now();
    const end = began + windowSeconds * 1000;
    for (let i = 1; performance.now() < end; i++) {
      const sent = performance.now();
      try {
        await ok(api, "PATCH", "/api/v1/namespaces/default/configmaps/probe", { data: { n: String(i) } }, "application/merge-patch+json");
        write.record(performance.now() - sent);
      } catch {
        writeErrors++;
      }
      await sleep(Math.max(0, 1000 / PROBE_WRITES_PER_SECOND - (performance.now() - sent)));
    }
    const wall = (performance.now() - began) / 1000;
    const figures: HeartbeatFigures = {
      nodes, registerSeconds, registerWorkerdCpuMsPerNode, windowSeconds: wall, leaseRenewalsPerSecond: renewals / wall, nodeWritesPerSecond: nodeWrites / wall,
      workerdCpuPercent: ((sum(workerd, cpuSeconds) - workerdBefore) * 100) / wall, agentCpuPercent: ((cpuSeconds(agent.pid!) - agentBefore) * 100) / wall,
      agentRssMb: rssMb(agent.pid!), workerdRssMb: sum(workerd, rssMb), write, writeErrors, loadAverage: load(),
    };
    leases.destroy();
    nodeWatch.destroy();
    return figures;
  } finally {
    await cluster.stop();
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const count = (name: string, fallback: number) => Math.floor(envNumber(name, fallback));
  const cases = (process.env.BENCH_CASES ?? "startup,heartbeat").split(",").map((s) => s.trim());
  const nodes = Math.max(1, count("BENCH_NODES", 100));
  const pods = Math.max(1, count("BENCH_PODS", 3000));
  const concurrency = Math.max(1, count("BENCH_CREATE_CONCURRENCY", 16));
  const heartbeatNodes = (process.env.BENCH_HEARTBEAT_NODES ?? "1000").split(",").map((s) => Number(s.trim())).filter((n) => n > 0);
  const windowSeconds = count("BENCH_HEARTBEAT_SECONDS", 60);
  const timeoutSeconds = count("BENCH_TIMEOUT_SECONDS", 900);
  console.log(`node agent benchmark (${defaultEngine()}); load average ${load()}`);

  const problems: string[] = [];
  const startups: StartupFigures[] = [];
  const runs: [string, "simulated" | "cri", number, number][] = [["startup", "simulated", nodes, pods], ["real", "cri", 1, Math.max(1, count("BENCH_REAL_PODS", 30))]];
  for (const [name, runtime, n, p] of runs.filter(([name]) => cases.includes(name))) {
    try {
      const figures = await runStartup(runtime, n, p, concurrency, timeoutSeconds);
      startups.push(figures);
      if (figures.running < figures.pods) problems.push(`${name}: only ${figures.running} of ${figures.pods} pods Running in time`);
      if (figures.createErrors) problems.push(`${name}: ${figures.createErrors} pod creates failed (not measured); first: ${figures.firstCreateError}`);
    } catch (e) {
      problems.push(`${name}: ${message(e)}`);
    }
  }
  const heartbeats: HeartbeatFigures[] = [];
  for (const n of cases.includes("heartbeat") ? heartbeatNodes : []) {
    try {
      const figures = await runHeartbeat(n, windowSeconds, timeoutSeconds);
      heartbeats.push(figures);
      if (figures.writeErrors) problems.push(`heartbeat ${n}: ${figures.writeErrors} probe writes failed`);
    } catch (e) {
      problems.push(`heartbeat ${n}: ${message(e)}`);
    }
  }

  if (json) {
    console.log(JSON.stringify({
      startup: startups.map((startup) => ({
        runtime: startup.runtime, nodes: startup.nodes, pods: startup.pods, running: startup.running, seconds: startup.seconds,
        p50Ms: startup.latency.percentile(50), p99Ms: startup.latency.percentile(99), boundP50Ms: startup.bound.percentile(50), boundP99Ms: startup.bound.percentile(99),
        boundToRunningP50Ms: startup.boundToRunning.percentile(50), boundToRunningP99Ms: startup.boundToRunning.percentile(99),
        eventsPerPod: startup.eventsPerPod, statusWritesPerPod: startup.statusWritesPerPod,
        agentCpuMsPerPod: startup.agentCpuMsPerPod, runtimeCpuMsPerPod: startup.runtimeCpuMsPerPod, agentRssKbPerPod: startup.agentRssKbPerPod, agentRssMb: startup.agentRssMb, loadAverage: startup.loadAverage,
      })),
      heartbeat: heartbeats.map((h) => ({ ...h, write: undefined, writeP50Ms: h.write.percentile(50), writeP99Ms: h.write.percentile(99) })),
      problems,
    }, null, 2));
  } else {
    if (startups.length) {
      console.log(`\npod startup: create sent → phase Running seen on a watch (the scheduler places each pod; the simulated runtime starts it at once, the cri one
runs busybox through containerd); bound: create sent → spec.nodeName seen (the scheduler's share); bound→Running: the node's share; the node's
writes per pod seen on watches (kubelet Events, pod updates after the binding); agent CPU and RSS growth over the phase, per Running pod;
containerd cpu: the real node's containerd and shims with the runc and CNI plugin runs they waited for, per Running pod.
Kubernetes' SLO: p99 ≤ 5 s; the goal here: p99 ≤ 1 s simulated, ≤ 2 s on real containerd`);
      console.log(formatTable(
        ["runtime", "nodes", "pods", "seconds", "p50 ms", "p99 ms", "bound p50 ms", "bound p99 ms", "bound→Running p50 ms", "p99 ms", "events/pod", "status writes/pod",
          "agent cpu ms/pod", "containerd cpu ms/pod", "agent RSS KB/pod", "agent RSS MB", "load average"],
        startups.map((startup) => [startup.runtime, startup.nodes, startup.running === startup.pods ? startup.pods : `${startup.running}/${startup.pods}`, fixed(startup.seconds, 1),
          fixed(startup.latency.percentile(50), 0), fixed(startup.latency.percentile(99), 0),
          fixed(startup.bound.percentile(50), 0), fixed(startup.bound.percentile(99), 0),
          fixed(startup.boundToRunning.percentile(50), 0), fixed(startup.boundToRunning.percentile(99), 0), fixed(startup.eventsPerPod, 2), fixed(startup.statusWritesPerPod, 2),
          fixed(startup.agentCpuMsPerPod, 2), startup.runtime === "cri" ? fixed(startup.runtimeCpuMsPerPod, 1) : "-",
          fixed(startup.agentRssKbPerPod, 1), fixed(startup.agentRssMb, 0), startup.loadAverage]),
      ));
    }
    if (heartbeats.length) {
      console.log(`\nheartbeats: hollow nodes of one agent process renewing Leases every 10 s, each with its own pod watch, over a ${windowSeconds} s window after a minute of settling;
CPU as % of one core; write: a ConfigMap merge patch ${PROBE_WRITES_PER_SECOND} times a second meanwhile`);
      console.log(formatTable(
        ["nodes", "joined s", "workerd cpu ms/node joined", "lease renewals/s", "node writes/s", "workerd cpu %", "workerd RSS MB", "agent cpu %", "agent RSS MB", "write p50 ms", "write p99 ms", "load average"],
        heartbeats.map((h) => [h.nodes, fixed(h.registerSeconds, 0), fixed(h.registerWorkerdCpuMsPerNode, 1), fixed(h.leaseRenewalsPerSecond, 1), fixed(h.nodeWritesPerSecond, 2), fixed(h.workerdCpuPercent, 1),
          fixed(h.workerdRssMb, 0), fixed(h.agentCpuPercent, 1), fixed(h.agentRssMb, 0), fixed(h.write.percentile(50), 1), fixed(h.write.percentile(99), 1), h.loadAverage]),
      ));
    }
    console.log(`\nload average after: ${load()}`);
  }
  if (problems.length) {
    console.log(`\nproblems (${problems.length}):`);
    for (const p of problems) console.log(`- ${p}`);
    process.exitCode = 1;
  }
}

await main();

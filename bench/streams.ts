// What the node tunnel costs a user, on one real node (the cri runtime: the agent's own
// containerd, as root), each figure beside the peer that skips the tunnel:
//   exec:         the round trip of `echo hi` through a bare v5.channel.k8s.io WebSocket client and
//                 through `kubectl exec`, against `ctr task exec` of the same command on the host.
//   logs:         a followed log (GET pods/log?follow=true) of a container that has written
//                 BENCH_LOG_MB MiB, read to its end: MB/s, against the agent's own CRI log parser
//                 reading the same file on the host (no tunnel, no apiserver).
//   port-forward: `kubectl port-forward` (1.31+) to a busybox httpd: the latency of a new
//                 connection's GET of a small file, and the throughput of a BENCH_PF_MB MiB file,
//                 against connecting to the pod's IP directly from the host.
// CPU seconds of the agent and of workerd (the control plane's one local thread) are read from
// /proc around each throughput run. The load average is printed with every figure.
//
//   sudo npm run bench:streams       (root: containerd, CNI; the machine's host lock is taken by the caller)
//
// Environment: BENCH_RUNS (exec and latency samples, 50), BENCH_LOG_MB (50), BENCH_PF_MB (100),
// BENCH_KUBECTL (a kubectl 1.31+, default the newest installed).
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { connect } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import WebSocket from "ws";
import { streamLog } from "../node-agent/logs/cri-log.ts";
import { buildAgent } from "../scripts/build-agent.ts";
import { kubeconfig, startControlPlane, type ControlPlane } from "../scripts/dev-server.ts";
import { bootstrapToken } from "../scripts/local-node.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const LOG_MB = Number(process.env.BENCH_LOG_MB ?? 50);
const PF_MB = Number(process.env.BENCH_PF_MB ?? 100);
const NODE = "bench-streams";
const BRIDGE = "ep-stream0";
/** Clear of npm start's pod range and the e2e suites' (10.244, 10.246–10.250). */
const CLUSTER_CIDR = "10.251.0.0/16";
const MiB = 1024 * 1024;
const KUBECTL = process.env.BENCH_KUBECTL ?? [33, 32, 31].map((m) => `/usr/lib/google-cloud-sdk/bin/kubectl.1.${m}`).find((p) => existsSync(p))!;
const run = promisify(execFile);

const load = () => loadavg().map((n) => n.toFixed(2)).join(" ");
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const fixed = (n: number, digits = 1) => n.toFixed(digits);

interface Latency {
  p50: number;
  p99: number;
}

async function timed(runs: number, once: () => Promise<unknown>): Promise<Latency> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await once();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** workerd's pid: the control plane's process runs it as a child. */
function workerdPid(plane: ControlPlane): number | undefined {
  const out = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(plane.process.pid)], { encoding: "utf8" });
  const direct = out.split("\n").map((l) => l.trim().split(/\s+/)).find(([, comm]) => comm === "workerd");
  if (direct) return Number(direct[0]);
  const all = execFileSync("ps", ["-eo", "pid=,ppid=,comm="], { encoding: "utf8" }).split("\n").map((l) => l.trim().split(/\s+/));
  const children = (pid: string): string[] => all.filter(([, ppid]) => ppid === pid).flatMap(([p]) => [p!, ...children(p!)]);
  const found = all.find(([p, , comm]) => comm === "workerd" && children(String(plane.process.pid)).includes(p!));
  return found ? Number(found[0]) : undefined;
}

/** One HTTP/1.0 GET over a new TCP connection: the bytes of the whole answer. */
function httpGet(host: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let bytes = 0;
    socket.setNoDelay(true);
    socket.on("connect", () => socket.write(`GET ${path} HTTP/1.0\r\nHost: bench\r\n\r\n`));
    socket.on("data", (chunk: Buffer) => (bytes += chunk.byteLength));
    socket.on("close", () => resolve(bytes));
    socket.on("error", reject);
  });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench:streams needs root (the agent runs containerd and CNI)");
  const root = mkdtempSync(join(tmpdir(), "bench-streams-"));
  const bundle = join(root, "edgeplane-agent.mjs");
  const stateDir = join(root, "agent");
  const logsDir = join(root, "logs");
  let plane: ControlPlane | undefined;
  let agent: ChildProcess | undefined;
  let forward: ChildProcess | undefined;
  try {
    await buildAgent(bundle);
    plane = await startControlPlane({ stateDir: join(root, "state"), tlsDir: join(root, "tls"), vars: { CLUSTER_CIDR } });
    const kubeconfigPath = join(root, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeconfig(plane.url, plane.token, plane.caPem));
    const env = { ...process.env, KUBECONFIG: kubeconfigPath, HOME: root };
    const kubectl = async (...args: string[]) => (await run(KUBECTL, args, { env, maxBuffer: 64 * MiB })).stdout;
    const caHash = createHash("sha256").update(plane.caPem!).digest("hex");
    let agentOutput = "";
    agent = spawn(process.execPath, [bundle, "join", "--server", plane.url, "--token", await bootstrapToken(plane), "--ca-cert-sha256", caHash,
      "--node-name", NODE, "--state-dir", stateDir, "--bridge", BRIDGE, "--pod-logs-dir", logsDir, "--kill-pods-on-exit"], { stdio: ["ignore", "pipe", "pipe"] });
    agent.stdout!.on("data", (d) => (agentOutput += d));
    agent.stderr!.on("data", (d) => (agentOutput += d));
    const deadline = Date.now() + 180_000;
    while (!agentOutput.includes("tunnel connected")) {
      if (Date.now() > deadline || agent.exitCode !== null) throw new Error(`the agent did not connect its tunnel: ${agentOutput.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await kubectl("wait", `node/${NODE}`, "--for=condition=Ready", "--timeout=180s");
    const pods = [
      { name: "shell", command: "exec sleep 3600" },
      { name: "web", command: `mkdir -p /www && echo small > /www/small && dd if=/dev/urandom of=/www/big bs=${MiB} count=${PF_MB} 2>/dev/null && exec httpd -f -p 80 -h /www` },
      { name: "talker", command: `yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456 | head -c ${LOG_MB * MiB}; echo; echo done; exec sleep 3600` },
    ];
    for (const { name, command } of pods) {
      const file = join(root, `${name}.json`);
      writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sh", "-c", command] }] } }));
      await kubectl("apply", "-f", file);
    }
    await kubectl("wait", "pod/shell", "pod/web", "pod/talker", "--for=condition=Ready", "--timeout=180s");
    const agentPid = agent.pid;
    const workerd = workerdPid(plane);
    console.log(`bench:streams on one cri node (${KUBECTL.split("/").at(-1)}); load average ${load()}\n`);

    // exec: a bare v5 client, kubectl, and ctr on the host.
    const rawExec = () => new Promise<string>((resolve, reject) => {
      const url = `${plane!.url.replace(/^https/, "wss")}/api/v1/namespaces/default/pods/shell/exec?command=echo&command=hi&stdout=true`;
      const socket = new WebSocket(url, ["v5.channel.k8s.io"], { headers: { Authorization: `Bearer ${plane!.token}` }, ca: plane!.caPem });
      let out = "";
      socket.on("message", (data: Buffer) => {
        if (data[0] === 1) out += data.subarray(1).toString();
      });
      socket.on("close", () => resolve(out));
      socket.on("error", reject);
    });
    const containerId = (await kubectl("get", "pod", "shell", "-o", "jsonpath={.status.containerStatuses[0].containerID}")).replace("containerd://", "");
    const socketPath = join(stateDir, "cri", "containerd", "containerd.sock");
    const ctrExec = () => run("ctr", ["--address", socketPath, "--namespace", "k8s.io", "task", "exec", "--exec-id", `b-${randomBytes(4).toString("hex")}`, containerId, "echo", "hi"]);
    await rawExec();
    const raw = await timed(RUNS, async () => {
      if ((await rawExec()) !== "hi\n") throw new Error("exec did not answer hi");
    });
    const viaKubectl = await timed(Math.min(RUNS, 20), () => kubectl("exec", "shell", "--", "echo", "hi"));
    const ctr = await timed(RUNS, ctrExec);
    console.log(`exec round trip of "echo hi" (${RUNS} runs; load ${load()}):
  bare v5 WebSocket  p50 ${fixed(raw.p50)} ms  p99 ${fixed(raw.p99)} ms
  kubectl exec       p50 ${fixed(viaKubectl.p50)} ms  p99 ${fixed(viaKubectl.p99)} ms
  ctr task exec      p50 ${fixed(ctr.p50)} ms  p99 ${fixed(ctr.p99)} ms   (host, no tunnel)
  ratio v5/ctr       p50 ${fixed(raw.p50 / ctr.p50, 2)}×  p99 ${fixed(raw.p99 / ctr.p99, 2)}×\n`);

    // logs: wait until the talker has written everything, then follow its log to the end marker.
    const logPath = "/api/v1/namespaces/default/pods/talker/log";
    const api = (path: string) => new Promise<{ status: number; body: NodeJS.ReadableStream & { destroy(): void } }>((resolve, reject) => {
      const req = request(`${plane!.url}${path}`, { headers: { Authorization: `Bearer ${plane!.token}` }, ca: plane!.caPem }, (res) => resolve({ status: res.statusCode ?? 0, body: res }));
      req.on("error", reject);
      req.end();
    });
    for (;;) {
      const { body } = await api(`${logPath}?tailLines=1`);
      let last = "";
      for await (const chunk of body) last += chunk;
      if (last === "done\n") break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const expectedBytes = LOG_MB * MiB + "\ndone\n".length;
    const followCpu = [cpuSeconds(agentPid), cpuSeconds(workerd)];
    const followStart = performance.now();
    const { body: followed } = await api(`${logPath}?follow=true`);
    let received = 0;
    let tail = "";
    for await (const chunk of followed as AsyncIterable<Buffer>) {
      received += chunk.byteLength;
      tail = (tail + chunk.toString("latin1")).slice(-6);
      if (tail === "\ndone\n") break;
    }
    followed.destroy();
    const followSeconds = (performance.now() - followStart) / 1000;
    const followCpuUsed = [cpuSeconds(agentPid) - followCpu[0]!, cpuSeconds(workerd) - followCpu[1]!];
    const podDir = readdirSync(logsDir).find((d) => d.startsWith("default_talker_"))!;
    const logFile = join(logsDir, podDir, "main", "0.log");
    const parseStart = performance.now();
    let parsed = 0;
    await streamLog({ source: { path: logFile }, running: async () => false }, { follow: false }, async (bytes) => void (parsed += bytes.byteLength), new AbortController().signal);
    const parseSeconds = (performance.now() - parseStart) / 1000;
    if (received !== expectedBytes || parsed !== expectedBytes) throw new Error(`log bytes: followed ${received}, parsed ${parsed}, expected ${expectedBytes}`);
    const followRate = received / MiB / followSeconds;
    const parseRate = parsed / MiB / parseSeconds;
    console.log(`log follow of ${LOG_MB} MiB (load ${load()}):
  pods/log?follow=true through the tunnel  ${fixed(followRate)} MB/s  (${fixed(followSeconds, 2)} s; agent CPU ${fixed(followCpuUsed[0]!, 2)} s, workerd CPU ${fixed(followCpuUsed[1]!, 2)} s)
  the agent's CRI log parser on the host    ${fixed(parseRate)} MB/s  (no tunnel, no apiserver)
  ratio tunnel/parser                       ${fixed(followRate / parseRate, 2)}×\n`);

    // port-forward against the pod's IP.
    const podIP = (await kubectl("get", "pod", "web", "-o", "jsonpath={.status.podIP}")).trim();
    forward = spawn(KUBECTL, ["port-forward", "pod/web", ":80"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let forwardOutput = "";
    forward.stdout!.on("data", (d) => (forwardOutput += d));
    forward.stderr!.on("data", (d) => (forwardOutput += d));
    while (!/Forwarding from 127\.0\.0\.1:(\d+) -> 80\n/.test(forwardOutput)) {
      if (forward.exitCode !== null) throw new Error(`port-forward exited: ${forwardOutput}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const local = Number(/Forwarding from 127\.0\.0\.1:(\d+) -> 80\n/.exec(forwardOutput)![1]);
    const small = await httpGet("127.0.0.1", local, "/small");
    const viaForward = await timed(RUNS, async () => {
      if ((await httpGet("127.0.0.1", local, "/small")) !== small) throw new Error("port-forward answered short");
    });
    const direct = await timed(RUNS, () => httpGet(podIP, 80, "/small"));
    const throughput = async (host: string, port: number) => {
      const rates: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < 3; i++) {
        const before = [cpuSeconds(agentPid), cpuSeconds(workerd)];
        const start = performance.now();
        const bytes = await httpGet(host, port, "/big");
        const seconds = (performance.now() - start) / 1000;
        if (bytes < PF_MB * MiB) throw new Error(`${host}:${port} answered ${bytes} bytes of ${PF_MB} MiB`);
        rates.push(bytes / MiB / seconds);
        cpu.push(cpuSeconds(agentPid) - before[0]!, cpuSeconds(workerd) - before[1]!);
      }
      rates.sort((a, b) => a - b);
      return { rate: rates[1]!, agentCpu: (cpu[0]! + cpu[2]! + cpu[4]!) / 3, workerdCpu: (cpu[1]! + cpu[3]! + cpu[5]!) / 3 };
    };
    const forwardRate = await throughput("127.0.0.1", local);
    const directRate = await throughput(podIP, 80);
    console.log(`port-forward to a busybox httpd (load ${load()}):
  GET of a small file, new connection each (${RUNS} runs)
    kubectl port-forward  p50 ${fixed(viaForward.p50)} ms  p99 ${fixed(viaForward.p99)} ms
    pod IP directly       p50 ${fixed(direct.p50, 2)} ms  p99 ${fixed(direct.p99, 2)} ms
    ratio                 p50 ${fixed(viaForward.p50 / direct.p50)}×
  GET of ${PF_MB} MiB (median of 3)
    kubectl port-forward  ${fixed(forwardRate.rate)} MB/s  (agent CPU ${fixed(forwardRate.agentCpu, 2)} s, workerd CPU ${fixed(forwardRate.workerdCpu, 2)} s per run)
    pod IP directly       ${fixed(directRate.rate)} MB/s
    ratio                 ${fixed(forwardRate.rate / directRate.rate, 3)}×
\nload average after: ${load()}`);
  } finally {
    forward?.kill();
    if (agent && agent.exitCode === null) {
      const exited = once(agent, "exit");
      agent.kill("SIGTERM");
      const timer = setTimeout(() => agent!.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
    if (existsSync(join(stateDir, "agent.json"))) {
      try {
        execFileSync(process.execPath, [bundle, "cleanup", "--state-dir", stateDir], { stdio: "ignore", timeout: 60_000 });
      } catch {
        // Nothing left to clean.
      }
    }
    await plane?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();

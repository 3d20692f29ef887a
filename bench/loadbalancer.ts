// What a LoadBalancer Service at the edge costs a user, on one real node (the cri runtime, the
// agent in a network namespace of its own, as root): HTTPS requests with no credential to the
// control plane's /lb/<ns>/<svc>/ (Worker → the node's tunnel → agent → pod), beside the same
// requests made straight to the pod's IP from the node (no edge, no tunnel; plain HTTP).
//   small:  GET of a 1 KiB page: requests/s and p50/p99 latency at concurrency 1 and 16.
//   large:  GET of a BENCH_LB_MB MiB file: MB/s.
// CPU seconds of the agent and of workerd (the control plane's one local thread) are read from
// /proc around the concurrency-16 run, per request. The load average is printed with every figure.
//
//   sudo npm run bench:loadbalancer      (root: containerd, CNI; take the machine's host lock)
//   npm run bench:loadbalancer simulated (no root, no containerd: one hollow node whose pod echoes
//     the request; BENCH_LB_REQUESTS sequential GETs through the edge on one kept-alive connection
//     and each on a new one, beside the apiserver's own /healthz on a kept-alive connection: what
//     the relay and the tunnel add to one request, with nothing of a real pod in the figure)
//
// Environment: BENCH_LB_REQUESTS (small requests per run, 400), BENCH_LB_MB (20).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent as HttpsAgent, get as httpsGet } from "node:https";
import { tmpdir } from "node:os";
import { buildAgent } from "../scripts/build-agent.ts";
import { bootstrapToken } from "../scripts/local-node.ts";
import { startKubectlHarness } from "../test/support/kubectl.ts";
import { until } from "../test/support/until.ts";
import { kubectl, ServicesNode } from "../test/support/services.ts";

const REQUESTS = Number(process.env.BENCH_LB_REQUESTS ?? 400);
const LARGE_MB = Number(process.env.BENCH_LB_MB ?? 20);
const HOST_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;
const load = () => loadavg().map((n) => n.toFixed(2)).join(" ");
const fixed = (n: number, digits = 1) => n.toFixed(digits);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const node = new ServicesNode({ prefix: "bench-lb-", node: "bench-lb", netns: "ep-bench-lb", hostIP: "10.99.83.1", nodeIP: "10.99.83.2", veth: "ep-bench-lbveth", bridge: "ep-blb0", clusterCIDR: "10.253.0.0/16" });

/**
 * A load generator in a process of its own (in the node's namespace when `netns`): `requests` GETs
 * of `url` with `concurrency` in flight, each on a new connection as a browser's first request
 * would be; prints the latencies (ms) and the wall time as JSON.
 */
function generator(url: string, requests: number, concurrency: number, ca?: string, netns?: string): Promise<{ latencies: number[]; elapsedMs: number; bytes: number }> {
  const script = `
    const mod = require(${JSON.stringify(url.startsWith("https") ? "node:https" : "node:http")});
    const ca = ${JSON.stringify(ca ?? null)};
    const latencies = []; let bytes = 0; let next = 0;
    const one = () => new Promise((resolve, reject) => {
      const start = performance.now();
      mod.get(${JSON.stringify(url)}, { ca: ca ?? undefined, agent: false }, (res) => {
        if (res.statusCode !== 200) return reject(new Error("status " + res.statusCode));
        res.on("data", (d) => (bytes += d.length));
        res.on("end", () => { latencies.push(performance.now() - start); resolve(); });
      }).on("error", reject);
    });
    const worker = async () => { while (next++ < ${requests}) await one(); };
    const t0 = performance.now();
    Promise.all(Array.from({ length: ${concurrency} }, worker)).then(() => {
      process.stdout.write(JSON.stringify({ latencies, elapsedMs: performance.now() - t0, bytes }));
    }, (e) => { console.error(e.message); process.exit(1); });`;
  const [command, ...args] = netns ? ["nsenter", `--net=/run/netns/${netns}`, HOST_NODE, "-e", script] : [HOST_NODE, "-e", script];
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited with ${code}`))));
  });
}

/** CPU seconds (user + system) of a process and its descendants. */
function cpuSeconds(root: number): number {
  const parents = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ");
      parents.set(Number(entry), Number(fields[1]));
      ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch {
      // Gone meanwhile.
    }
  }
  const inTree = (pid: number): boolean => pid === root || (pid > 1 && parents.has(pid) && inTree(parents.get(pid)!));
  let total = 0;
  for (const [pid, t] of ticks) if (inTree(pid)) total += t;
  return total / 100;
}

function summary(result: { latencies: number[]; elapsedMs: number }): { rps: number; p50: number; p99: number } {
  const sorted = [...result.latencies].sort((a, b) => a - b);
  return { rps: (result.latencies.length / result.elapsedMs) * 1000, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function main(): Promise<void> {
  await node.start();
  await node.join();
  const caFile = join(node.dir, "ca.pem");
  writeFileSync(caFile, node.harness.plane.caPem!);
  await node.harness.ok(kubectl, "create", "deployment", "web", "--image=busybox", "--", "sh", "-c",
    `mkdir -p /www && head -c 1024 /dev/zero | tr '\\0' a > /www/index.html && head -c ${LARGE_MB * 1024 * 1024} /dev/zero > /www/large && exec httpd -f -p 8080 -h /www`);
  await node.harness.ok(kubectl, "expose", "deployment", "web", "--type=LoadBalancer", "--port=80", "--target-port=8080");
  await node.harness.ok(kubectl, "annotate", "service", "web", "edgeplane.dev/expose=true");
  const [podIP] = await node.until("a ready endpoint", async () => {
    const ready = await node.readyEndpoints("web");
    return ready.length === 1 ? ready : undefined;
  }, 120_000);
  const edgeUrl = `${node.harness.plane.url}/lb/default/web/`;
  await node.until("the edge to answer", async () => ((await generator(edgeUrl, 1, 1, node.harness.plane.caPem)).latencies.length === 1 ? true : undefined));
  const directUrl = `http://${podIP}:8080/`;
  const netns = node.options.netns;
  const plane = node.harness.plane.process.pid!;
  const agent = node.agent!.pid!;

  console.log(`bench:loadbalancer — one real node, one busybox httpd pod; ${REQUESTS} requests per run, each on a new connection`);
  for (const concurrency of [1, 16]) {
    await generator(edgeUrl, 20, concurrency, node.harness.plane.caPem);
    const cpuBefore = { plane: cpuSeconds(plane), agent: cpuSeconds(agent) };
    const edge = summary(await generator(edgeUrl, REQUESTS, concurrency, node.harness.plane.caPem));
    const cpu = { plane: cpuSeconds(plane) - cpuBefore.plane, agent: cpuSeconds(agent) - cpuBefore.agent };
    const direct = summary(await generator(directUrl, REQUESTS, concurrency, undefined, netns));
    console.log(`
small GET (1 KiB), concurrency ${concurrency}   [load ${load()}]
  through the edge (HTTPS)  ${fixed(edge.rps)} req/s  p50 ${fixed(edge.p50)} ms  p99 ${fixed(edge.p99)} ms
  pod IP directly (HTTP)    ${fixed(direct.rps)} req/s  p50 ${fixed(direct.p50, 2)} ms  p99 ${fixed(direct.p99, 2)} ms
  ratio edge/direct         throughput ${fixed(edge.rps / direct.rps, 3)}×  p50 ${fixed(edge.p50 / direct.p50)}×  p99 ${fixed(edge.p99 / direct.p99)}×
  CPU per request           workerd ${fixed((cpu.plane / REQUESTS) * 1000, 2)} ms  agent ${fixed((cpu.agent / REQUESTS) * 1000, 2)} ms`);
  }
  const large = async (url: string, ca?: string, ns?: string) => {
    const result = await generator(url, 3, 1, ca, ns);
    return result.bytes / (1024 * 1024) / (result.elapsedMs / 1000);
  };
  const cpuBefore = { plane: cpuSeconds(plane), agent: cpuSeconds(agent) };
  const edgeMBs = await large(`${edgeUrl}large`, node.harness.plane.caPem);
  const cpu = { plane: cpuSeconds(plane) - cpuBefore.plane, agent: cpuSeconds(agent) - cpuBefore.agent };
  const directMBs = await large(`${directUrl}large`, undefined, netns);
  console.log(`
large GET (${LARGE_MB} MiB, 3 in a row)   [load ${load()}]
  through the edge (HTTPS)  ${fixed(edgeMBs)} MB/s   CPU per MiB: workerd ${fixed((cpu.plane / (3 * LARGE_MB)) * 1000)} ms, agent ${fixed((cpu.agent / (3 * LARGE_MB)) * 1000)} ms
  pod IP directly (HTTP)    ${fixed(directMBs)} MB/s
  ratio edge/direct         ${fixed(edgeMBs / directMBs, 3)}×`);
}

/** `requests` sequential GETs of `url` in this process (on `agent`'s connections); their latencies (ms). */
async function sequential(url: string, requests: number, ca: string, agent: HttpsAgent | false): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) {
    const start = performance.now();
    await new Promise<void>((resolve, reject) => {
      httpsGet(url, { ca, agent, servername: "localhost" }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`${url}: status ${res.statusCode}`))));
      }).on("error", reject);
    });
    latencies.push(performance.now() - start);
  }
  return { latencies, elapsedMs: performance.now() - t0 };
}

/** The simulated case: one hollow node (no containers), its pod's answer made by the agent itself. */
async function simulated(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-lb-sim-"));
  const bundle = join(dir, "edgeplane-agent.mjs");
  await buildAgent(bundle);
  const harness = await startKubectlHarness("bench-lb-sim-");
  const ca = harness.plane.caPem!;
  const agentProcess = spawn(HOST_NODE, [bundle, "join", "--server", harness.plane.url, "--token", await bootstrapToken(harness.plane),
    "--ca-cert-sha256", createHash("sha256").update(ca).digest("hex"), "--runtime", "simulated", "--nodes", "1", "--node-name-prefix", "benchsim-",
    "--state-dir", join(dir, "agent")], { stdio: ["ignore", "ignore", "inherit"] });
  try {
    await harness.ok(kubectl, "create", "deployment", "web", "--image=busybox");
    await harness.ok(kubectl, "expose", "deployment", "web", "--type=LoadBalancer", "--port=80", "--target-port=8080");
    await harness.ok(kubectl, "annotate", "service", "web", "edgeplane.dev/expose=true");
    const edgeUrl = `${harness.plane.url}/lb/default/web/`;
    await until("the edge to answer", async () => ((await sequential(edgeUrl, 1, ca, false).catch(() => undefined)) ? true : undefined), { timeoutMs: 120_000 });
    const keepAlive = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
    await sequential(edgeUrl, 20, ca, keepAlive);
    console.log(`bench:loadbalancer simulated — one hollow node, its pod's echo made by the agent; ${REQUESTS} sequential GETs per row`);
    const plane = harness.plane.process.pid!;
    const measured = async (url: string, agent: HttpsAgent | false) => {
      const before = { plane: cpuSeconds(plane), agent: cpuSeconds(agentProcess.pid!) };
      const result = await sequential(url, REQUESTS, ca, agent);
      return { result, plane: cpuSeconds(plane) - before.plane, agent: cpuSeconds(agentProcess.pid!) - before.agent };
    };
    const rows: [string, Awaited<ReturnType<typeof measured>>][] = [
      ["apiserver /healthz (kept-alive)", await measured(`${harness.plane.url}/healthz`, keepAlive)],
      ["through the edge (kept-alive)", await measured(edgeUrl, keepAlive)],
      ["through the edge (new connection each)", await measured(edgeUrl, false)],
    ];
    const base = summary(rows[0]![1].result);
    for (const [label, { result, plane: planeCpu, agent: agentCpu }] of rows) {
      const s = summary(result);
      console.log(`  ${label.padEnd(40)} ${fixed(s.rps).padStart(7)} req/s  p50 ${fixed(s.p50, 2)} ms  p99 ${fixed(s.p99, 2)} ms   (p50 ${fixed(s.p50 / base.p50)}× /healthz)` +
        `   CPU per request: workerd ${fixed((planeCpu / REQUESTS) * 1000, 2)} ms, agent ${fixed((agentCpu / REQUESTS) * 1000, 2)} ms   [load ${load()}]`);
    }
    keepAlive.destroy();
  } finally {
    agentProcess.kill("SIGKILL");
    await harness.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The pod gone through the API first, so the node's cleanup has no sandbox left to take down. */
async function stop(): Promise<void> {
  if (!node.harness) return node.stop();
  await node.harness.ok(kubectl, "delete", "deployment", "web", "--wait=false").catch(() => undefined);
  await node.until("the pod to be gone", async () => ((await node.get("pods", "-o", "name")).trim() === "" ? true : undefined), 60_000).catch(() => undefined);
  await node.stop();
}

if (process.argv[2] === "simulated") {
  simulated().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
} else main().then(stop, async (e) => {
  console.error(e);
  await stop();
  process.exitCode = 1;
});

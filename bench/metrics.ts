// What `kubectl top` costs: the metrics API over BENCH_NODES hollow nodes (the agent's simulated
// runtime, one child process) running BENCH_PODS pods, beside the core list each answer is built
// on (no metrics-server runs here):
//   nodes cold / pods cold: a NodeMetrics or all-namespace PodMetrics list once every node's
//                           summary has expired (15 s), so each node is asked through its tunnel;
//   nodes warm / pods warm: the same list while the summaries are kept;
//   core nodes / core pods: GET /api/v1/nodes and /api/v1/pods, the lists they start from.
// workerd's CPU seconds per list are read from /proc. The load average is printed with every figure.
//
//   npm run bench:metrics
//
// Environment: BENCH_NODES (100), BENCH_PODS (1000), BENCH_COLD_RUNS (5), BENCH_RUNS (30).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { defaultEngine, startControlPlane, type ControlPlane } from "../scripts/dev-server.ts";
import { defaultServiceAccount, deployment, expectCreated, startHollowNodes } from "./hollow-nodes.ts";
import { HttpTarget, benchVars, envNumber, fixed, formatTable } from "./load.ts";

const NODES = envNumber("BENCH_NODES", 100);
const PODS = envNumber("BENCH_PODS", 1000);
const COLD_RUNS = envNumber("BENCH_COLD_RUNS", 5);
const RUNS = envNumber("BENCH_RUNS", 30);
const NAMESPACE = "bench-metrics";
/** The metrics API keeps each node's summary this long (worker/metrics/summaries.ts). */
const RESOLUTION_MS = 15_000;

const load = () => loadavg().map((n) => n.toFixed(2)).join(" ");
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** workerd's pid, below the control plane's process. */
function workerdPid(plane: ControlPlane): number | undefined {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,comm="], { encoding: "utf8" }).split("\n").map((l) => l.trim().split(/\s+/));
  const below = new Set([String(plane.process.pid)]);
  for (let changed = true; changed;) {
    changed = false;
    for (const [pid, ppid, comm] of rows) {
      if (pid && ppid && below.has(ppid) && !below.has(pid)) {
        below.add(pid);
        changed = true;
        if (comm === "workerd") return Number(pid);
      }
    }
  }
  return undefined;
}

interface Figure { name: string; runs: number; p50: number; p99: number; items: number; cpuMs: number; load: string }

async function measure(api: HttpTarget, name: string, path: string, runs: number, workerd: number | undefined, pause: () => Promise<void>): Promise<Figure> {
  const times: number[] = [];
  let items = 0;
  let cpu = 0;
  for (let i = 0; i < runs; i++) {
    await pause();
    const before = cpuSeconds(workerd);
    const start = performance.now();
    const answer = await api.send("GET", path);
    times.push(performance.now() - start);
    cpu += cpuSeconds(workerd) - before;
    if (answer.status !== 200) throw new Error(`${path}: HTTP ${answer.status}: ${answer.body.toString("utf8").slice(0, 300)}`);
    items = (JSON.parse(answer.body.toString("utf8")) as { items: unknown[] }).items.length;
  }
  times.sort((a, b) => a - b);
  return { name, runs, p50: percentile(times, 50), p99: percentile(times, 99), items, cpuMs: (cpu * 1000) / runs, load: load() };
}

const root = mkdtempSync(join(tmpdir(), "bench-metrics-"));
let plane: ControlPlane | undefined;
let agent: { kill(signal?: NodeJS.Signals): boolean } | undefined;
try {
  plane = await startControlPlane({ engine: defaultEngine(), stateDir: join(root, "state"), tlsDir: join(root, "tls"), vars: benchVars() });
  const api = new HttpTarget(plane.url, { Authorization: `Bearer ${plane.token}` }, 8, plane.caPem);
  const deadline = performance.now() + 900_000;
  console.log(`starting ${NODES} hollow nodes [load ${load()}]`);
  const hollow = await startHollowNodes(plane, api, NODES, join(root, "agent"), deadline);
  agent = hollow.agent;
  await expectCreated(api, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
  await defaultServiceAccount(api, NAMESPACE, deadline);
  await expectCreated(api, "POST", `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`, deployment(NAMESPACE, "top", PODS));
  console.log(`waiting for ${PODS} pods to run [load ${load()}]`);
  for (;;) {
    const answer = await api.send("GET", `/api/v1/namespaces/${NAMESPACE}/pods?fieldSelector=status.phase%3DRunning`);
    const running = (JSON.parse(answer.body.toString("utf8")) as { items: unknown[] }).items.length;
    if (running >= PODS) break;
    if (performance.now() > deadline) throw new Error(`only ${running} of ${PODS} pods ran in time`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  const workerd = workerdPid(plane);
  const expire = () => new Promise<void>((r) => setTimeout(r, RESOLUTION_MS + 1000));
  const none = async () => {};
  const figures = [
    await measure(api, "nodes cold", "/apis/metrics.k8s.io/v1beta1/nodes", COLD_RUNS, workerd, expire),
    await measure(api, "nodes warm", "/apis/metrics.k8s.io/v1beta1/nodes", RUNS, workerd, none),
    await measure(api, "core nodes", "/api/v1/nodes", RUNS, workerd, none),
    await measure(api, "pods cold", "/apis/metrics.k8s.io/v1beta1/pods", COLD_RUNS, workerd, expire),
    await measure(api, "pods warm", "/apis/metrics.k8s.io/v1beta1/pods", RUNS, workerd, none),
    await measure(api, "core pods", "/api/v1/pods", RUNS, workerd, none),
  ];
  const core = (name: string) => figures.find((f) => f.name === `core ${name.split(" ")[0]}`)!;
  console.log(`\nmetrics.k8s.io over ${NODES} hollow nodes and ${PODS} pods (ms per list; ratio: p50 against the core list it is built on)`);
  console.log(formatTable(["list", "runs", "items", "p50 ms", "p99 ms", "p50 ratio", "workerd CPU ms", "load"], figures.map((f) => [
    f.name, f.runs, f.items, fixed(f.p50, 1), fixed(f.p99, 1), f.name.startsWith("core") ? "1.00x" : `${fixed(f.p50 / core(f.name).p50, 2)}x`, fixed(f.cpuMs, 1), f.load,
  ])));
  api.close();
} finally {
  agent?.kill("SIGKILL");
  await plane?.stop();
  rmSync(root, { recursive: true, force: true });
}

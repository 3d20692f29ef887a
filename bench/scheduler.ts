// The scheduler benchmark: scheduler_perf's workloads through our own API. Hollow nodes are
// registered as a kubelet would (POST the Node, PATCH its status), pods are created as fast as the
// API takes them, and a watch on the pods sees each one's spec.nodeName appear; beside them, the
// same creates and bindings written by the benchmark itself with the scheduler off, which is the
// write path alone, and the core's memory for a large cluster measured in this process.
//
//   npm run bench:scheduler [-- --json]
//
// Environment: BENCH_NODES (hollow nodes, default 500), BENCH_PODS (measured pods, 2000),
// BENCH_WORKLOADS (comma list of basic, creates, write-path, anti-affinity, topology-spread, preemption,
// nodes-return (every node unreachable while the pods are created, then back: taint removed → bound);
// default all), BENCH_CREATE_CONCURRENCY (32), BENCH_TIMEOUT_SECONDS (per workload, 300),
// BENCH_PREEMPTION_PODS_PER_NODE (low-priority pods filling each node before preemption's measured
// pods, 4 as scheduler_perf; fewer keeps a 5,000-node run short), BENCH_MEMORY_NODES / BENCH_MEMORY_PODS (the core's projection at 5000 / 150000; 0 skips),
// BENCH_VARS (Worker vars, "NAME=value,…").
// kube-scheduler's CI floors at 5,000 nodes (scheduler_perf, in-process apiserver) are printed beside
// the figures.
import { execFile } from "node:child_process";
import type { IncomingMessage } from "node:http";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runInNewContext } from "node:vm";
import type { Node, Pod } from "kubernetes-types/core/v1";
import { defaultEngine, startControlPlane, type ControlPlane } from "../scripts/dev-server.ts";
import { HttpTarget, LatencyRecorder, benchVars, envNumber, fixed, formatTable, lineSplitter, runBatch } from "./load.ts";

const NAMESPACE = "bench";
const NODE_CONCURRENCY = 32;
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

type WorkloadName = "basic" | "creates" | "write-path" | "anti-affinity" | "topology-spread" | "preemption" | "nodes-return";
const WORKLOADS: WorkloadName[] = ["basic", "creates", "write-path", "anti-affinity", "topology-spread", "preemption", "nodes-return"];

interface Workload {
  name: WorkloadName;
  title: string;
  /** kube-scheduler's CI floor at 5,000 nodes, pods/s. */
  floor?: string;
  /** Pods scheduled before the measurement (preemption's victims). */
  initPods: number;
  initPod?: (i: number) => Pod;
  measuredPods: number;
  measuredPod: (i: number) => Pod;
  /** The scheduler is off and the benchmark posts each pod's binding itself. */
  bindsItself?: boolean;
  /** The scheduler is off and nothing binds: the creates alone (their figures stand for "bound"). */
  createsOnly?: boolean;
  /**
   * Every node carries node.kubernetes.io/unreachable:NoSchedule (as the node lifecycle controller
   * puts it on a node whose heartbeats stop) while the pods are created, and loses it once they all
   * failed once: what an overloaded cluster whose nodes flap NotReady goes through.
   */
  nodesReturn?: boolean;
}

/** scheduler_perf's pod-default: one container asking for 100m CPU and 500Mi. */
function plainPod(name: string, cpu = "100m", extra: Partial<NonNullable<Pod["spec"]>> = {}, labels: Record<string, string> = {}): Pod {
  return {
    apiVersion: "v1", kind: "Pod",
    metadata: { name, namespace: NAMESPACE, labels: { app: "bench", ...labels } },
    spec: { containers: [{ name: "pause", image: "registry.k8s.io/pause:3.9", resources: { requests: { cpu, memory: "500Mi" } } }], ...extra },
  };
}

function workloads(nodes: number, pods: number, victimsPerNode: number): Workload[] {
  const perNode = Math.min(pods, nodes);
  // The low-priority pods fill 3.6 of each node's 4 CPU, however many there are per node.
  const victimCpu = `${Math.floor(3600 / victimsPerNode)}m`;
  return [
    { name: "basic", title: "SchedulingBasic", floor: "680–810", initPods: 0, measuredPods: pods, measuredPod: (i) => plainPod(`basic-${i}`) },
    { name: "creates", title: "creates alone, no scheduler", initPods: 0, measuredPods: pods, measuredPod: (i) => plainPod(`basic-${i}`), createsOnly: true },
    { name: "write-path", title: "creates + bindings, no scheduler", initPods: 0, measuredPods: pods, measuredPod: (i) => plainPod(`basic-${i}`), bindsItself: true },
    {
      // scheduler_perf's SchedulingPodAntiAffinity: one pod per hostname.
      name: "anti-affinity", title: "required pod anti-affinity", floor: "60", initPods: 0, measuredPods: perNode,
      measuredPod: (i) => plainPod(`anti-${i}`, "100m", {
        affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { color: "green" } }, topologyKey: "kubernetes.io/hostname" }] } },
      }, { color: "green" }),
    },
    {
      name: "topology-spread", title: "required topology spreading", floor: "460", initPods: 0, measuredPods: pods,
      measuredPod: (i) => plainPod(`spread-${i}`, "100m", {
        topologySpreadConstraints: [{ maxSkew: 5, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { color: "blue" } } }],
      }, { color: "blue" }),
    },
    {
      // scheduler_perf's PreemptionBasic: nodes filled by low-priority pods, then high-priority
      // pods that each need most of a node. Victims ask for no grace: there is no kubelet to stop them.
      name: "preemption", title: "preemption", floor: "570", initPods: nodes * victimsPerNode,
      initPod: (i) => plainPod(`low-${i}`, victimCpu, { terminationGracePeriodSeconds: 0 }),
      measuredPods: perNode, measuredPod: (i) => plainPod(`high-${i}`, "3", { priorityClassName: "bench-high" }),
    },
    {
      // Pods rejected while every node is unreachable must be retried on the taint's removal
      // (NodeTaintChange), not after the unschedulable pool's 5 minutes.
      name: "nodes-return", title: "nodes unreachable during the creates, then back", initPods: 0, measuredPods: pods,
      measuredPod: (i) => plainPod(`return-${i}`), nodesReturn: true,
    },
  ];
}

/** A hollow node as scheduler_perf's node-default: 4 CPU, 32Gi, 110 pods, in one of three zones. */
function nodeObject(i: number): { node: Node; status: Node["status"] } {
  const name = `hollow-${i}`;
  const capacity = { cpu: "4", memory: "32Gi", pods: "110" };
  const now = new Date().toISOString();
  return {
    node: { apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": `zone-${i % 3}` } } },
    status: { capacity, allocatable: capacity, conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "hollow node", lastHeartbeatTime: now, lastTransitionTime: now }] },
  };
}

/** CPU seconds used so far by every process in the control plane's process group (Miniflare's Node and workerd). */
function groupCpuSeconds(pgid: number): number {
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
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}

function groupRssMb(pgid: number, command: string): number {
  let kb = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid || !stat.includes(`(${command}`)) continue;
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      continue;
    }
  }
  return kb / 1024;
}

/** Where every pod of the namespace is bound, from one watch: first sight of spec.nodeName, and pods bound twice. */
class BindingWatch {
  readonly boundAt = new Map<string, number>();
  readonly nodeOf = new Map<string, string>();
  readonly deleted = new Set<string>();
  readonly problems: string[] = [];
  private response: IncomingMessage | undefined;
  private closing = false;

  async open(client: HttpTarget, resourceVersion: string): Promise<void> {
    this.response = await client.stream(`/api/v1/namespaces/${NAMESPACE}/pods?watch=true&resourceVersion=${resourceVersion}`);
    let arrived = 0;
    const split = lineSplitter((line) => {
      const event = JSON.parse(line) as { type: string; object: Pod & { message?: string } };
      if (event.type === "ERROR") return void this.problems.push(`watch ERROR: ${event.object.message}`);
      const name = event.object.metadata?.name ?? "";
      if (event.type === "DELETED") return void this.deleted.add(name);
      const node = event.object.spec?.nodeName;
      if (!node) return;
      const before = this.nodeOf.get(name);
      if (before === undefined) {
        this.nodeOf.set(name, node);
        this.boundAt.set(name, arrived);
      } else if (before !== node) this.problems.push(`${name} bound to ${before} and then ${node}`);
    });
    this.response.on("data", (chunk: Buffer) => {
      arrived = performance.now();
      split(chunk);
    });
    this.response.on("end", () => this.closing || this.problems.push("the pod watch ended"));
  }

  close(): void {
    this.closing = true;
    this.response?.destroy();
  }
}

async function until(done: () => boolean, deadline: number): Promise<boolean> {
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

async function expect201(client: HttpTarget, method: string, path: string, body: unknown, contentType?: string): Promise<void> {
  const answer = await client.send(method, path, Buffer.from(JSON.stringify(body)), contentType);
  if (answer.status !== 201 && answer.status !== 200) throw new Error(`${method} ${path}: HTTP ${answer.status}: ${answer.body.toString("utf8").slice(0, 300)}`);
}

interface Figures {
  workload: Workload;
  nodes: number;
  registerSeconds: number;
  initSeconds: number;
  pods: number;
  bound: number;
  seconds: number;
  podsPerSecond: number;
  createsPerSecond: number;
  latency: LatencyRecorder;
  createLatency: LatencyRecorder;
  /** nodes-return: the first taint removal sent → each pod bound. */
  afterReturn?: LatencyRecorder;
  cpuSeconds: number;
  rssMb: number;
  problems: string[];
}

async function runWorkload(workload: Workload, nodes: number, concurrency: number, timeoutSeconds: number): Promise<Figures> {
  const root = mkdtempSync(join(tmpdir(), "edgeplane-bench-scheduler-"));
  // The hollow nodes send no Lease heartbeats, so the controller manager's node controller would mark
  // them NotReady (and taint them) 40 s in: this bench measures the scheduler without it.
  const vars: Record<string, string> = { RATE_LIMIT_QPS: "1000000", KUBE_CONTROLLER_MANAGER_ENABLED: "false", ...benchVars() };
  if (workload.bindsItself || workload.createsOnly) vars.KUBE_SCHEDULER_ENABLED = "false";
  let plane: ControlPlane | undefined;
  let client: HttpTarget | undefined;
  const watch = new BindingWatch();
  try {
    plane = await startControlPlane({ engine: defaultEngine(), stateDir: join(root, "state"), tlsDir: join(root, "tls"), vars });
    client = new HttpTarget(plane.url, { Authorization: `Bearer ${plane.token}` }, concurrency + NODE_CONCURRENCY + 2, plane.caPem);
    const api = client;
    const problems = watch.problems;
    await expect201(api, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
    // The ServiceAccount controller (in the controller manager, off here) would make it; pod admission waits for it.
    await expect201(api, "POST", `/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default" } });
    await expect201(api, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses", { apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass", metadata: { name: "bench-high" }, value: 1000 });

    const registering = performance.now();
    const unreachable = { key: "node.kubernetes.io/unreachable", effect: "NoSchedule" };
    const registered = await runBatch({
      concurrency: NODE_CONCURRENCY, count: nodes,
      op: async (i) => {
        const { node, status } = nodeObject(i);
        if (workload.nodesReturn) node.spec = { taints: [unreachable] };
        await expect201(api, "POST", "/api/v1/nodes", node);
        await expect201(api, "PATCH", `/api/v1/nodes/${node.metadata!.name}/status`, { status }, "application/merge-patch+json");
      },
    });
    if (registered.errors) throw new Error(`registering nodes: ${registered.errors} errors; first: ${String(registered.firstError)}`);
    const registerSeconds = (performance.now() - registering) / 1000;

    const list = await api.send("GET", `/api/v1/namespaces/${NAMESPACE}/pods`);
    await watch.open(api, (JSON.parse(list.body.toString("utf8")) as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
    const deadline = performance.now() + timeoutSeconds * 1000;

    const initStart = performance.now();
    if (workload.initPods && workload.initPod) {
      const init = workload.initPod;
      const created = await runBatch({ concurrency, count: workload.initPods, op: (i) => expect201(api, "POST", `/api/v1/namespaces/${NAMESPACE}/pods`, init(i)) });
      if (created.errors) throw new Error(`init pods: ${created.errors} errors; first: ${String(created.firstError)}`);
      if (!(await until(() => watch.boundAt.size >= workload.initPods, deadline))) throw new Error(`only ${watch.boundAt.size} of ${workload.initPods} init pods bound in time`);
    }
    const initSeconds = (performance.now() - initStart) / 1000;

    const pgid = plane.process.pid!;
    const cpuBefore = groupCpuSeconds(pgid);
    const sentAt = new Map<string, number>();
    const createLatency = new LatencyRecorder();
    const bindNode = (i: number) => `hollow-${i % nodes}`;
    // Creates alone: a pod counts as done when its create is answered.
    const answeredAt = new Map<string, number>();
    const doneAt = workload.createsOnly ? answeredAt : watch.boundAt;
    const start = performance.now();
    const created = await runBatch({
      concurrency, count: workload.measuredPods,
      op: async (i) => {
        const pod = workload.measuredPod(i);
        const name = pod.metadata!.name!;
        const began = performance.now();
        sentAt.set(name, began);
        // A pod whose create failed is counted as a problem, not waited for.
        await expect201(api, "POST", `/api/v1/namespaces/${NAMESPACE}/pods`, pod).catch((e: unknown) => {
          sentAt.delete(name);
          throw e;
        });
        createLatency.record(performance.now() - began);
        if (workload.createsOnly) answeredAt.set(name, performance.now());
        if (workload.bindsItself) {
          await expect201(api, "POST", `/api/v1/namespaces/${NAMESPACE}/pods/${name}/binding`, {
            apiVersion: "v1", kind: "Binding", metadata: { name, namespace: NAMESPACE }, target: { kind: "Node", name: bindNode(i) },
          });
        }
      },
    });
    const createdAt = performance.now();
    if (created.errors) problems.push(`${created.errors} pod creates failed; first: ${String(created.firstError)}`);
    let returnedAt: number | undefined;
    if (workload.nodesReturn) {
      // Once every pod has been tried (and said FailedScheduling), the nodes come back.
      const tried = await untilFailedScheduling(api, sentAt.size, deadline);
      if (!tried.ok) problems.push(`only ${tried.count} of ${sentAt.size} pods said FailedScheduling before the nodes came back`);
      returnedAt = performance.now();
      const untainted = await runBatch({
        concurrency: NODE_CONCURRENCY, count: nodes,
        op: (i) => expect201(api, "PATCH", `/api/v1/nodes/hollow-${i}`, { spec: { taints: null } }, "application/merge-patch+json"),
      });
      if (untainted.errors) problems.push(`removing the taints: ${untainted.errors} errors; first: ${String(untainted.firstError)}`);
    }
    const measured = () => [...sentAt.keys()].filter((name) => doneAt.has(name)).length;
    if (!(await until(() => measured() >= sentAt.size, deadline))) problems.push(`only ${measured()} of ${sentAt.size} pods bound within ${timeoutSeconds} s`);
    const cpuSeconds = groupCpuSeconds(pgid) - cpuBefore;
    const latency = new LatencyRecorder();
    let last = start;
    for (const [name, sent] of sentAt) {
      const bound = doneAt.get(name);
      if (bound === undefined) continue;
      latency.record(bound - sent);
      last = Math.max(last, bound);
    }
    const seconds = (last - start) / 1000;
    let afterReturn: LatencyRecorder | undefined;
    if (returnedAt !== undefined) {
      afterReturn = new LatencyRecorder();
      for (const name of sentAt.keys()) {
        const bound = doneAt.get(name);
        if (bound !== undefined) afterReturn.record(Math.max(0, bound - returnedAt));
      }
    }
    if (workload.name === "preemption") {
      const victims = watch.deleted.size;
      if (victims < latency.count) problems.push(`${latency.count} high-priority pods bound after only ${victims} victims were deleted`);
    }
    return {
      workload, nodes, registerSeconds, initSeconds, pods: sentAt.size, bound: latency.count, seconds,
      podsPerSecond: latency.count / seconds, createsPerSecond: created.ops / ((createdAt - start) / 1000),
      latency, createLatency, afterReturn, cpuSeconds, rssMb: groupRssMb(pgid, "workerd"), problems,
    };
  } finally {
    watch.close();
    client?.close();
    await plane?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Waits until `count` pods of the namespace have a FailedScheduling Event (each pod tried once). */
async function untilFailedScheduling(api: HttpTarget, count: number, deadline: number): Promise<{ ok: boolean; count: number }> {
  let seen = 0;
  for (;;) {
    const answer = await api.send("GET", `/apis/events.k8s.io/v1/namespaces/${NAMESPACE}/events?fieldSelector=reason%3DFailedScheduling`);
    const list = JSON.parse(answer.body.toString("utf8")) as { items?: { regarding?: { name?: string } }[] };
    seen = new Set((list.items ?? []).map((e) => e.regarding?.name)).size;
    if (seen >= count) return { ok: true, count: seen };
    if (performance.now() > deadline) return { ok: false, count: seen };
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface MemoryFigures {
  nodes: number;
  pods: number;
  mb: number;
  ms: number;
}

/**
 * The core's caches for a large cluster (V8, as in workerd): nodes and bound pods through the
 * informer handlers, in a child Node that can load the core's TypeScript (parameter properties).
 */
async function measureMemory(nodes: number, pods: number): Promise<MemoryFigures> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--experimental-transform-types", "--no-warnings", fileURLToPath(import.meta.url), "--memory", String(nodes), String(pods)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as MemoryFigures;
}

async function memoryChild(nodes: number, pods: number): Promise<MemoryFigures> {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const { Scheduler } = await import("../durable-objects/scheduler/scheduler.ts");
  gc();
  const before = process.memoryUsage().heapUsed;
  const began = performance.now();
  const scheduler = new Scheduler();
  for (let i = 0; i < nodes; i++) {
    const { node, status } = nodeObject(i);
    scheduler.nodes.onAdd?.({ ...node, status });
  }
  for (let i = 0; i < pods; i++) {
    const pod = plainPod(`pod-${i}`, "100m", { nodeName: `hollow-${i % nodes}` }, { "pod-template-hash": `h${i % 500}` });
    scheduler.pods.onAdd?.({ ...pod, metadata: { ...pod.metadata, uid: `uid-${i}`, namespace: `ns-${i % 100}` } });
  }
  const ms = performance.now() - began;
  gc();
  const mb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  // Keeps the scheduler alive until after the measurement.
  if (scheduler.nextWakeAt() === -1) throw new Error("unreachable");
  return { nodes, pods, mb, ms };
}

interface CycleFigures {
  workload: WorkloadName;
  nodes: number;
  pods: number;
  msPerPod: number;
}

/** Workloads whose cycles alone can be measured in Node: their measured pods need no pods placed first. */
const CYCLE_WORKLOADS: WorkloadName[] = ["basic", "anti-affinity", "topology-spread"];

async function measureCycles(workload: WorkloadName, nodes: number, pods: number): Promise<CycleFigures> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--experimental-transform-types", "--no-warnings", fileURLToPath(import.meta.url), "--cycles", String(nodes), String(pods), workload], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as CycleFigures;
}

/** A workload's scheduling cycles alone (no I/O): its measured pods placed one by one on the hollow nodes. */
async function cyclesChild(nodes: number, count: number, name: WorkloadName): Promise<CycleFigures> {
  const workload = workloads(nodes, count, 4).find((w) => w.name === name)!;
  const pods = workload.measuredPods;
  const { Scheduler } = await import("../durable-objects/scheduler/scheduler.ts");
  const scheduler = new Scheduler();
  for (let i = 0; i < nodes; i++) {
    const { node, status } = nodeObject(i);
    scheduler.nodes.onAdd?.({ ...node, status });
  }
  for (let i = 0; i < pods; i++) {
    const pod = workload.measuredPod(i);
    scheduler.pods.onAdd?.({ ...pod, metadata: { ...pod.metadata, uid: `uid-${i}` } });
  }
  // CPU time, not wall time: the figure is compared with the control plane's CPU per pod.
  const began = process.cpuUsage();
  let placed = 0;
  while (scheduler.scheduleNext()?.kind === "assumed") placed++;
  if (placed !== pods) throw new Error(`cycles: placed ${placed} of ${pods} pods`);
  const used = process.cpuUsage(began);
  return { workload: name, nodes, pods, msPerPod: (used.user + used.system) / 1000 / pods };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const count = (name: string, fallback: number) => Math.floor(envNumber(name, fallback));
  const nodes = Math.max(1, count("BENCH_NODES", 500));
  const pods = Math.max(1, count("BENCH_PODS", 2000));
  const concurrency = Math.max(1, count("BENCH_CREATE_CONCURRENCY", 32));
  const timeoutSeconds = count("BENCH_TIMEOUT_SECONDS", 300);
  const victimsPerNode = Math.max(1, count("BENCH_PREEMPTION_PODS_PER_NODE", 4));
  const memoryNodes = count("BENCH_MEMORY_NODES", 5000);
  const memoryPods = count("BENCH_MEMORY_PODS", 150_000);
  const chosen = (process.env.BENCH_WORKLOADS ?? WORKLOADS.join(",")).split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of chosen) if (!WORKLOADS.includes(name as WorkloadName)) throw new Error(`BENCH_WORKLOADS: unknown workload ${JSON.stringify(name)} (one of ${WORKLOADS.join(", ")})`);

  console.log(`scheduler benchmark: ${nodes} hollow nodes, ${pods} pods, creates at concurrency ${concurrency}, a fresh control plane (${defaultEngine()}) per workload; load average ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);
  const results: Figures[] = [];
  const problems: string[] = [];
  for (const workload of workloads(nodes, pods, victimsPerNode).filter((w) => chosen.includes(w.name))) {
    try {
      const figures = await runWorkload(workload, nodes, concurrency, timeoutSeconds);
      results.push(figures);
      for (const p of figures.problems) problems.push(`${workload.name}: ${p}`);
      console.log(`${workload.name}: ${figures.bound}/${figures.pods} bound in ${fixed(figures.seconds, 1)} s (nodes registered in ${fixed(figures.registerSeconds, 1)} s${workload.initPods ? `, ${workload.initPods} init pods scheduled in ${fixed(figures.initSeconds, 1)} s` : ""})`);
    } catch (e) {
      problems.push(`${workload.name}: ${message(e)}`);
      console.log(`${workload.name}: failed: ${message(e)}`);
    }
  }
  let memory: MemoryFigures | undefined;
  const cycleFigures = new Map<WorkloadName, CycleFigures>();
  try {
    if (memoryNodes && memoryPods) memory = await measureMemory(memoryNodes, memoryPods);
    for (const name of CYCLE_WORKLOADS) if (chosen.includes(name)) cycleFigures.set(name, await measureCycles(name, nodes, Math.min(pods, 5000)));
  } catch (e) {
    problems.push(`memory or cycles: ${message(e)}`);
  }
  const cycles = cycleFigures.get("basic");

  if (json) {
    console.log(JSON.stringify({
      nodes, pods, concurrency,
      workloads: results.map((r) => ({
        name: r.workload.name, pods: r.pods, bound: r.bound, seconds: r.seconds, podsPerSecond: r.podsPerSecond, createsPerSecond: r.createsPerSecond,
        p50Ms: r.latency.percentile(50), p99Ms: r.latency.percentile(99), createP50Ms: r.createLatency.percentile(50),
        cpuMsPerPod: (r.cpuSeconds * 1000) / r.bound, workerdRssMb: r.rssMb, floor: r.workload.floor,
        ...(r.afterReturn ? { afterReturnP50Ms: r.afterReturn.percentile(50), afterReturnP99Ms: r.afterReturn.percentile(99) } : {}),
      })),
      memory, cycles: [...cycleFigures.values()], problems,
    }, null, 2));
    return;
  }
  console.log(`\npods/s: measured pods over first create → last bound; latency: create sent → spec.nodeName seen on a watch of the namespace's pods;
cpu/pod: CPU of the control plane's whole process group (Miniflare + workerd: apiserver, store and scheduler) over the measured phase, per bound pod;
cycles/pod: the workload's scheduling cycles alone (the core in Node, no I/O), CPU per pod`);
  console.log(formatTable(
    ["workload", "nodes", "pods", "pods/s", "creates/s", "p50 ms", "p99 ms", "create p50 ms", "cpu ms/pod", "cycles ms/pod", "workerd RSS MB", "kube floor @5000 nodes"],
    results.map((r) => [
      r.workload.title, r.nodes, r.bound === r.pods ? r.pods : `${r.bound}/${r.pods}`, fixed(r.podsPerSecond, 0), fixed(r.createsPerSecond, 0),
      fixed(r.latency.percentile(50), 0), fixed(r.latency.percentile(99), 0), fixed(r.createLatency.percentile(50), 1),
      fixed((r.cpuSeconds * 1000) / r.bound, 2), cycleFigures.has(r.workload.name) ? fixed(cycleFigures.get(r.workload.name)!.msPerPod, 2) : "-", fixed(r.rssMb, 0), r.workload.floor ?? "-",
    ]),
  ));
  for (const r of results) {
    if (!r.afterReturn) continue;
    console.log(`\n${r.workload.title}: the nodes' taints removed (first PATCH sent) → bound p50 ${fixed(r.afterReturn.percentile(50), 0)} ms, p99 ${fixed(r.afterReturn.percentile(99), 0)} ms (kube moves such pods on NodeTaintChange; the unschedulable pool's limit is 5 minutes)`);
  }
  const basic = results.find((r) => r.workload.name === "basic");
  const write = results.find((r) => r.workload.name === "write-path");
  const creates = results.find((r) => r.workload.name === "creates");
  if (basic && write && creates) {
    const perPod = (r: Figures) => (r.cpuSeconds * 1000) / r.bound;
    const total = perPod(basic);
    const parts: [string, number][] = [
      ["pod creates (apiserver + store)", perPod(creates)],
      ["bindings (apiserver + store)", perPod(write) - perPod(creates)],
      ["scheduling cycles (the core alone, CPU in Node)", cycles?.msPerPod ?? 0],
      ["the rest of the scheduler object: catch-up watches, Events, Lease, status writes", total - perPod(write) - (cycles?.msPerPod ?? 0)],
    ];
    console.log(`
where SchedulingBasic's control-plane CPU goes, ms per pod (differences between the workloads' figures; shares of ${fixed(total, 2)} ms):`);
    console.log(formatTable(["part", "cpu ms/pod", "share"], parts.map(([part, ms]) => [part, fixed(ms, 2), `${fixed((100 * ms) / total, 0)}%`])));
  }
  if (basic && write) {
    console.log(`\nwrite path: creates + bindings alone take ${fixed(write.seconds, 1)} s for ${write.pods} pods (${fixed(write.podsPerSecond, 0)}/s), ` +
      `${fixed((100 * write.seconds) / basic.seconds, 0)}% of SchedulingBasic's ${fixed(basic.seconds, 1)} s; CPU ${fixed((write.cpuSeconds * 1000) / write.bound, 2)} of ${fixed((basic.cpuSeconds * 1000) / basic.bound, 2)} ms/pod ` +
      `(${fixed((100 * write.cpuSeconds) / basic.cpuSeconds, 0)}%); the rest is the scheduler object: its informer catch-up through the API, the cycles, its status patches and Events`);
  }
  if (memory) {
    console.log(`\nthe core's memory: ${memory.nodes} nodes and ${memory.pods} bound pods through the informer handlers (in Node's V8): ${fixed(memory.mb, 1)} MB of heap, built in ${fixed(memory.ms, 0)} ms; a Durable Object has 128 MB`);
  }
  console.log(`\nload average after: ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);
  if (problems.length) {
    console.log(`\nproblems (${problems.length}):`);
    for (const p of problems) console.log(`- ${p}`);
    process.exitCode = 1;
  }
}

const memoryAt = process.argv.indexOf("--memory");
const cyclesAt = process.argv.indexOf("--cycles");
if (memoryAt !== -1) console.log(JSON.stringify(await memoryChild(Number(process.argv[memoryAt + 1]), Number(process.argv[memoryAt + 2]))));
else if (cyclesAt !== -1) console.log(JSON.stringify(await cyclesChild(Number(process.argv[cyclesAt + 1]), Number(process.argv[cyclesAt + 2]), process.argv[cyclesAt + 3] as WorkloadName)));
else await main();

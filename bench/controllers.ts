// The controller manager benchmark: Deployments created through the API on a fresh control plane
// whose nodes are hollow nodes run by the node agent's simulated runtime (one child process, as a
// user runs it), so pods are scheduled, started and reported Ready for real. Watches on the
// namespace's pods and Deployments time, from each Deployment's create: every pod existing (the
// controllers' part) and the Deployment complete, i.e. availableReplicas = replicas as `kubectl
// rollout status` waits for (the scheduler's and the agent's parts too). A timeline per workload
// says where the time went: pods existing, bound and Ready, the requests each client sent (from the
// audit log) and the CPU used, per window.
//
//   npm run bench:controllers [-- --json]
//
// Workloads (BENCH_WORKLOADS, comma list; default all): one-100 and one-1000 (one Deployment of 100
// or 1,000 replicas), many-100x10 (100 Deployments of 10, created at once). Environment:
// BENCH_NODES (hollow nodes, default 20, 110 pods each), BENCH_CREATE_CONCURRENCY (Deployment
// creates in flight, 32), BENCH_TIMEOUT_SECONDS (per workload, 300), BENCH_VARS (Worker vars).
// kube-controller-manager at its default client limits (20 QPS, burst 30) needs about 50 s for
// 1,000 pods; the goal here is 1,000 pods existing in 5 s and the Deployment complete in 10 s.
import type { ChildProcess } from "node:child_process";
import type { IncomingMessage } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { Pod } from "kubernetes-types/core/v1";
import { defaultEngine, startControlPlane, type ControlPlane } from "../scripts/dev-server.ts";
import { cpuSeconds, defaultServiceAccount, deployment, expectCreated, startHollowNodes } from "./hollow-nodes.ts";
import { HttpTarget, LatencyRecorder, benchVars, envNumber, fixed, formatTable, lineSplitter, runBatch } from "./load.ts";

const NAMESPACE = "bench";

type WorkloadName = "one-100" | "one-1000" | "many-100x10";
const WORKLOADS: WorkloadName[] = ["one-100", "one-1000", "many-100x10"];

interface Workload {
  name: WorkloadName;
  title: string;
  deployments: number;
  replicas: number;
}

const WORKLOAD_SHAPES: Workload[] = [
  { name: "one-100", title: "1 Deployment × 100", deployments: 1, replicas: 100 },
  { name: "one-1000", title: "1 Deployment × 1,000", deployments: 1, replicas: 1000 },
  { name: "many-100x10", title: "100 Deployments × 10", deployments: 100, replicas: 10 },
];

/** First sight of each pod and of its Ready condition, and each Deployment's completion, from two watches of the namespace. */
class Progress {
  readonly podSeenAt = new Map<string, number>();
  readonly podBoundAt = new Map<string, number>();
  readonly podReadyAt = new Map<string, number>();
  /** Each Deployment status seen: when, and how many replicas it said were available. */
  readonly availableSeen: { at: number; available: number }[] = [];
  /** Pods seen per Deployment (its app label) and when its last pod was first seen. */
  readonly podsOf = new Map<string, number>();
  readonly allPodsAt = new Map<string, number>();
  readonly completeAt = new Map<string, number>();
  readonly problems: string[] = [];
  private readonly responses: IncomingMessage[] = [];
  private closing = false;
  private readonly replicas: number;

  constructor(replicas: number) {
    this.replicas = replicas;
  }

  async open(api: HttpTarget): Promise<void> {
    await this.watch(api, "/api/v1", "pods", (pod: Pod, at) => {
      const name = pod.metadata!.name!;
      const app = pod.metadata?.labels?.app ?? "";
      if (!this.podSeenAt.has(name)) {
        this.podSeenAt.set(name, at);
        const seen = (this.podsOf.get(app) ?? 0) + 1;
        this.podsOf.set(app, seen);
        if (seen === this.replicas) this.allPodsAt.set(app, at);
      }
      if (pod.spec?.nodeName && !this.podBoundAt.has(name)) this.podBoundAt.set(name, at);
      const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
      if (ready && !this.podReadyAt.has(name)) this.podReadyAt.set(name, at);
    });
    await this.watch(api, "/apis/apps/v1", "deployments", (d: Deployment, at) => {
      const s = d.status;
      this.availableSeen.push({ at, available: s?.availableReplicas ?? 0 });
      const done = (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) && s?.updatedReplicas === this.replicas && s.availableReplicas === this.replicas && s.replicas === this.replicas;
      if (done && !this.completeAt.has(d.metadata!.name!)) this.completeAt.set(d.metadata!.name!, at);
    });
  }

  private async watch<T>(api: HttpTarget, prefix: string, resource: string, onObject: (object: T, at: number) => void): Promise<void> {
    const list = await api.send("GET", `${prefix}/namespaces/${NAMESPACE}/${resource}`);
    const resourceVersion = (JSON.parse(list.body.toString("utf8")) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const response = await api.stream(`${prefix}/namespaces/${NAMESPACE}/${resource}?watch=true&allowWatchBookmarks=false&resourceVersion=${resourceVersion}`);
    this.responses.push(response);
    let arrived = 0;
    const split = lineSplitter((line) => {
      const event = JSON.parse(line) as { type: string; object: T & { message?: string } };
      if (event.type === "ERROR") return void this.problems.push(`${resource} watch ERROR: ${event.object.message}`);
      if (event.type !== "DELETED") onObject(event.object, arrived);
    });
    response.on("data", (chunk: Buffer) => {
      arrived = performance.now();
      split(chunk);
    });
    response.on("end", () => this.closing || this.problems.push(`the ${resource} watch ended`));
  }

  close(): void {
    this.closing = true;
    for (const response of this.responses) response.destroy();
  }
}

async function until(done: () => boolean, deadline: number): Promise<boolean> {
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

interface Figures {
  workload: Workload;
  pods: number;
  /** From the first create sent to the last pod seen, and to the last Deployment complete (NaN until every one is). */
  existSeconds: number;
  completeSeconds: number;
  /** Per Deployment (one workload: per pod) from its create. */
  exist: LatencyRecorder;
  complete: LatencyRecorder;
  podReady: LatencyRecorder;
  cpu: { plane: number; agent: number };
  timeline: TimelineRow[];
  problems: string[];
}

/** The request groups the timeline counts, from the audit log: who sent what. */
const REQUEST_GROUPS = ["cm pod creates", "cm events", "cm status", "cm watches", "cm other", "sched binds", "sched other", "node writes", "node reads"] as const;
type RequestGroup = (typeof REQUEST_GROUPS)[number];

function requestGroup(user: string, verb: string, resource: string): RequestGroup {
  const read = verb === "get" || verb === "list" || verb === "watch";
  if (user === "system:kube-controller-manager") {
    if (verb === "create" && resource === "pods") return "cm pod creates";
    if (resource === "events") return "cm events";
    if (resource.endsWith("/status")) return "cm status";
    return verb === "watch" ? "cm watches" : "cm other";
  }
  if (user === "system:kube-scheduler") return resource === "pods/binding" ? "sched binds" : "sched other";
  return read ? "node reads" : "node writes";
}

/** One window of the run: pods existing, bound and Ready at its end, the Deployments' available replicas, requests in it by group, and CPU used in it. */
interface TimelineRow {
  from: number;
  to: number;
  exist: number;
  bound: number;
  ready: number;
  available: number;
  requests: Record<RequestGroup, number>;
  /** The controller manager's pod creates in the window: median latency (received → answered), ms. */
  createP50Ms: number;
  planeCpu: number;
  agentCpu: number;
}

/** How long the timeline may take to read the run's audit log. */
const AUDIT_READ_SECONDS = 60;

/** Window ends, in seconds from the first create: every second for 10 s, then wider. */
const WINDOW_ENDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600];

/** Every audited request since `since` (wall-clock ms): when it was received relative to `since`, its group and its latency. */
async function auditedRequests(api: HttpTarget, since: number): Promise<{ at: number; group: RequestGroup; create: boolean; ms: number }[]> {
  const out: { at: number; group: RequestGroup; create: boolean; ms: number }[] = [];
  let next: string | undefined;
  do {
    const answer = await api.send("GET", `/audit/v1/events?since=${encodeURIComponent(new Date(since).toISOString())}&limit=5000${next ? `&continue=${encodeURIComponent(next)}` : ""}`);
    if (answer.status !== 200) throw new Error(`audit log: HTTP ${answer.status}`);
    const list = JSON.parse(answer.body.toString("utf8")) as {
      metadata: { continue?: string };
      items: { verb: string; user: { username: string }; objectRef?: { resource?: string; subresource?: string }; requestReceivedTimestamp: string; stageTimestamp: string }[];
    };
    for (const e of list.items) {
      const resource = `${e.objectRef?.resource ?? "-"}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ""}`;
      const received = Date.parse(e.requestReceivedTimestamp);
      const group = requestGroup(e.user.username, e.verb, resource);
      out.push({ at: (received - since) / 1000, group, create: group === "cm pod creates", ms: Date.parse(e.stageTimestamp) - received });
    }
    next = list.metadata.continue || undefined;
  } while (next);
  return out;
}

function buildTimeline(progress: Progress, start: number, end: number, requests: { at: number; group: RequestGroup; ms: number }[], cpu: { at: number; plane: number; agent: number }[]): TimelineRow[] {
  const rows: TimelineRow[] = [];
  const upTo = (times: Iterable<number>, t: number) => {
    let n = 0;
    for (const at of times) if ((at - start) / 1000 <= t) n++;
    return n;
  };
  const cpuAt = (t: number) => {
    let last = cpu[0]!;
    for (const sample of cpu) if (sample.at <= t) last = sample;
    return last;
  };
  let from = 0;
  const seconds = (end - start) / 1000;
  for (const to of WINDOW_ENDS) {
    const inWindow = requests.filter((r) => r.at >= from && r.at < to);
    const counts = Object.fromEntries(REQUEST_GROUPS.map((g) => [g, inWindow.filter((r) => r.group === g).length])) as Record<RequestGroup, number>;
    const creates = new LatencyRecorder();
    for (const r of inWindow) if (r.group === "cm pod creates") creates.record(r.ms);
    const available = progress.availableSeen.filter((s) => (s.at - start) / 1000 <= to).reduce((n, s) => Math.max(n, s.available), 0);
    const [a, b] = [cpuAt(from), cpuAt(to)];
    rows.push({
      from, to, exist: upTo(progress.podSeenAt.values(), to), bound: upTo(progress.podBoundAt.values(), to), ready: upTo(progress.podReadyAt.values(), to),
      available, requests: counts, createP50Ms: creates.percentile(50), planeCpu: b.plane - a.plane, agentCpu: b.agent - a.agent,
    });
    from = to;
    if (to >= seconds) break;
  }
  return rows;
}

async function runWorkload(workload: Workload, nodes: number, concurrency: number, timeoutSeconds: number): Promise<Figures> {
  const root = mkdtempSync(join(tmpdir(), "edgeplane-bench-controllers-"));
  const vars: Record<string, string> = { RATE_LIMIT_QPS: "1000000", ...benchVars() };
  let plane: ControlPlane | undefined;
  let api: HttpTarget | undefined;
  let agent: ChildProcess | undefined;
  const progress = new Progress(workload.replicas);
  try {
    plane = await startControlPlane({ engine: defaultEngine(), stateDir: join(root, "state"), tlsDir: join(root, "tls"), vars });
    api = new HttpTarget(plane.url, { Authorization: `Bearer ${plane.token}` }, concurrency + 4, plane.caPem);
    const deadline = performance.now() + timeoutSeconds * 1000;
    await expectCreated(api, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
    const hollow = await startHollowNodes(plane, api, nodes, join(root, "agent"), deadline);
    agent = hollow.agent;
    await defaultServiceAccount(api, NAMESPACE, deadline);
    await progress.open(api);

    const planeGroup = plane.process.pid!;
    const agentPid = agent.pid!;
    const cpuBefore = { plane: cpuSeconds((_, g) => g === planeGroup), agent: cpuSeconds((p) => p === agentPid) };
    const sentAt = new Map<string, number>();
    const start = performance.now();
    const startWall = Date.now();
    const cpuSamples = [{ at: 0, plane: 0, agent: 0 }];
    const sampler = setInterval(() => cpuSamples.push({
      at: (performance.now() - start) / 1000,
      plane: cpuSeconds((_, g) => g === planeGroup) - cpuBefore.plane, agent: cpuSeconds((p) => p === agentPid) - cpuBefore.agent,
    }), 250);
    const names = Array.from({ length: workload.deployments }, (_, i) => `web-${i}`);
    const created = await runBatch({
      concurrency, count: names.length,
      op: async (i) => {
        sentAt.set(names[i]!, performance.now());
        await expectCreated(api!, "POST", `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`, deployment(NAMESPACE, names[i]!, workload.replicas));
      },
    });
    if (created.errors) progress.problems.push(`${created.errors} Deployment creates failed; first: ${String(created.firstError)}`);
    const total = sentAt.size * workload.replicas;
    if (!(await until(() => progress.podSeenAt.size >= total, deadline))) progress.problems.push(`only ${progress.podSeenAt.size} of ${total} pods exist after ${timeoutSeconds} s`);
    if (!(await until(() => progress.completeAt.size >= sentAt.size, deadline))) progress.problems.push(`only ${progress.completeAt.size} of ${sentAt.size} Deployments complete after ${timeoutSeconds} s`);
    const end = performance.now();
    clearInterval(sampler);
    const cpu = { plane: cpuSeconds((_, g) => g === planeGroup) - cpuBefore.plane, agent: cpuSeconds((p) => p === agentPid) - cpuBefore.agent };

    const exist = new LatencyRecorder();
    const complete = new LatencyRecorder();
    const podReady = new LatencyRecorder();
    const sent = (pod: string) => sentAt.get(pod.replace(/-[a-z0-9]+-[a-z0-9]{5}$/, ""));
    for (const [pod, at] of progress.podReadyAt) podReady.record(at - (sent(pod) ?? start));
    if (workload.deployments === 1) {
      for (const [pod, at] of progress.podSeenAt) exist.record(at - (sent(pod) ?? start));
    } else {
      for (const [name, at] of progress.allPodsAt) exist.record(at - sentAt.get(name)!);
    }
    for (const [name, at] of progress.completeAt) complete.record(at - sentAt.get(name)!);
    const last = (values: Iterable<number>) => Math.max(start, ...values);
    let timeline: TimelineRow[] = [];
    try {
      // The audit log of a long run is read in pages from a plane that may still be busy: bounded, so the run always ends.
      const requests = await Promise.race([
        auditedRequests(api, startWall),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the audit log was not read within ${AUDIT_READ_SECONDS} s`)), AUDIT_READ_SECONDS * 1000).unref()),
      ]);
      timeline = buildTimeline(progress, start, end, requests, cpuSamples);
    } catch (e) {
      progress.problems.push(`no timeline: ${message(e)}`);
    }
    return {
      workload, pods: progress.podSeenAt.size,
      existSeconds: (last(progress.podSeenAt.values()) - start) / 1000,
      completeSeconds: progress.completeAt.size < workload.deployments ? NaN : (last(progress.completeAt.values()) - start) / 1000,
      exist, complete, podReady, cpu, timeline, problems: progress.problems,
    };
  } finally {
    progress.close();
    agent?.kill("SIGKILL");
    api?.close();
    await plane?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const count = (name: string, fallback: number) => Math.floor(envNumber(name, fallback));
  const nodes = Math.max(1, count("BENCH_NODES", 20));
  const concurrency = Math.max(1, count("BENCH_CREATE_CONCURRENCY", 32));
  const timeoutSeconds = count("BENCH_TIMEOUT_SECONDS", 300);
  const chosen = (process.env.BENCH_WORKLOADS ?? WORKLOADS.join(",")).split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of chosen) if (!WORKLOADS.includes(name as WorkloadName)) throw new Error(`BENCH_WORKLOADS: unknown workload ${JSON.stringify(name)} (one of ${WORKLOADS.join(", ")})`);

  const loadBefore = loadavg();
  console.log(`controller manager benchmark: ${nodes} hollow nodes (one simulated node agent), a fresh control plane (${defaultEngine()}) per workload; load average ${loadBefore.map((n) => n.toFixed(2)).join(" ")}`);
  const results: Figures[] = [];
  const problems: string[] = [];
  for (const workload of WORKLOAD_SHAPES.filter((w) => chosen.includes(w.name))) {
    try {
      const figures = await runWorkload(workload, nodes, concurrency, timeoutSeconds);
      results.push(figures);
      for (const p of figures.problems) problems.push(`${workload.name}: ${p}`);
      const complete = Number.isNaN(figures.completeSeconds) ? "not every Deployment complete" : `complete in ${fixed(figures.completeSeconds, 1)} s`;
      console.log(`${workload.name}: ${figures.pods} pods exist in ${fixed(figures.existSeconds, 1)} s, ${complete}; load average ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);
    } catch (e) {
      problems.push(`${workload.name}: ${message(e)}`);
      console.log(`${workload.name}: failed: ${message(e)}`);
    }
  }

  if (json) {
    console.log(JSON.stringify({
      nodes, concurrency, loadAverage: loadBefore,
      workloads: results.map((r) => ({
        name: r.workload.name, pods: r.pods, existSeconds: r.existSeconds, completeSeconds: r.completeSeconds,
        podsExistPerSecond: r.pods / r.existSeconds, existP50Ms: r.exist.percentile(50), existP99Ms: r.exist.percentile(99),
        completeP50Ms: r.complete.percentile(50), completeP99Ms: r.complete.percentile(99), podReadyP50Ms: r.podReady.percentile(50), podReadyP99Ms: r.podReady.percentile(99),
        planeCpuMsPerPod: (r.cpu.plane * 1000) / r.pods, agentCpuMsPerPod: (r.cpu.agent * 1000) / r.pods, timeline: r.timeline,
      })),
      problems,
    }, null, 2));
    return;
  }
  console.log(`\nexist: create sent → pod first seen on a watch of the namespace (one Deployment: per pod; many: per Deployment, its last pod);
complete: create sent → the Deployment's status says every replica updated and available (what kubectl rollout status waits for);
cpu/pod: CPU of the control plane's process group (Miniflare + workerd: apiserver, store, scheduler, controller manager) and of the node agent, per pod`);
  console.log(formatTable(
    ["workload", "pods", "exist s", "pods/s", "exist p50 ms", "exist p99 ms", "complete s", "complete p50 ms", "complete p99 ms", "pod Ready p50 ms", "plane cpu ms/pod", "agent cpu ms/pod"],
    results.map((r) => [
      r.workload.title, r.pods, fixed(r.existSeconds, 1), fixed(r.pods / r.existSeconds, 0), fixed(r.exist.percentile(50), 0), fixed(r.exist.percentile(99), 0),
      fixed(r.completeSeconds, 1), fixed(r.complete.percentile(50), 0), fixed(r.complete.percentile(99), 0), fixed(r.podReady.percentile(50), 0),
      fixed((r.cpu.plane * 1000) / r.pods, 1), fixed((r.cpu.agent * 1000) / r.pods, 1),
    ]),
  ));
  for (const r of results) {
    if (!r.timeline.length) continue;
    console.log(`\n${r.workload.title}: timeline (s from the first create; pods and available replicas at the window's end; requests received in it, from the audit log; CPU seconds used in it)`);
    console.log(formatTable(
      ["window s", "exist", "bound", "Ready", "available", ...REQUEST_GROUPS, "create p50 ms", "plane cpu s", "agent cpu s"],
      r.timeline.map((w) => [`${w.from}–${w.to}`, w.exist, w.bound, w.ready, w.available, ...REQUEST_GROUPS.map((g) => w.requests[g]), fixed(w.createP50Ms, 0), fixed(w.planeCpu, 2), fixed(w.agentCpu, 2)]),
    ));
  }
  console.log(`\nkube-controller-manager at 20 QPS (burst 30): ~50 s for 1,000 pods; the goal here: 1,000 pods existing in ≤ 5 s, the Deployment complete in ≤ 10 s`);
  console.log(`load average after: ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);
  if (problems.length) {
    console.log(`\nproblems (${problems.length}):`);
    for (const p of problems) console.log(`- ${p}`);
    process.exitCode = 1;
  }
}

await main();

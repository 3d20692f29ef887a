// Whether the controller manager holds a large cluster within a Durable Object's 128 MB: BENCH_PODS
// Deployment-owned pods (150,000 by default, Running and Ready on nodes that stay healthy) are
// written straight into the store through the etcd gateway, 128 puts per txn, with the controller
// manager and scheduler off; then the control plane restarts with the controller manager on and
// the bench reads the isolate's V8 heap through workerd's inspector (Runtime.getHeapUsage, sampled
// every 200 ms, and after a forced GC) while it:
//   initial: lists every resource for the first time and resyncs;
//   restart: restarts (workerd stopped and started on the same state) and resyncs from its caches;
//   relist:  finds every cursor compacted away (a write and a compaction while it was off), so
//            every informer relists (410 Gone) before it resyncs;
//   large:   scales the big Deployment (BENCH_BIG replicas in one namespace) by 100 and creates a
//            Service over its pods, so one ReplicaSet and one EndpointSlice reconcile read them all.
// Each phase ends when its trigger's effect is seen (a Deployment scaled by one gets its pod) and
// workerd's CPU has gone quiet. Locally every Durable Object and the Worker share one isolate, so
// the heap figures include the apiserver's and the store's share of the work (its baseline is the
// heap before the trigger). workerd answers the inspector only between the isolate's tasks, so a
// busy isolate leaves gaps in the samples (the table says the longest): the committed heap, which
// V8 does not give back at once, and workerd's peak RSS (VmHWM; each phase but the last starts a
// new workerd) show the high water in between.
//
//   npm run bench:controllers-memory
//
// Environment: BENCH_PODS (150000), BENCH_BIG (5000, part of BENCH_PODS), BENCH_PODS_PER_NAMESPACE
// (1000, in Deployments of 100), BENCH_PODS_PER_NODE (100), BENCH_PHASES (comma list, default all),
// BENCH_PHASE_TIMEOUT_SECONDS (900), BENCH_VARS (Worker vars), BENCH_WORKERD_OUTPUT=1 (workerd's own output
// to this one's, for a run that fails), BENCH_PROFILE=1 (V8's CPU profiler on during each phase: its
// busy time split by part of the control plane, so the controller manager's own share is told from
// the apiserver's and the store's).
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1";
import type { Node, Pod, PodTemplateSpec } from "kubernetes-types/core/v1";
import { podTemplateHash } from "../durable-objects/controllers/deployment.ts";
import { SERVICE_ACCOUNT_MOUNT_PATH, serviceAccountTokenVolume } from "../lib/k8s/service-account-volume.ts";
import { freePort, startControlPlane, type ControlPlane } from "../scripts/dev-server.ts";
import { byComponent, byModule, bundleModules, summarize, type CpuProfile } from "./cpu-profile.ts";
import { cpuSeconds, expectCreated } from "./hollow-nodes.ts";
import { HttpTarget, benchVars, envNumber, fixed, formatTable } from "./load.ts";

const PODS = envNumber("BENCH_PODS", 150_000);
const BIG = Math.min(envNumber("BENCH_BIG", 5_000), PODS);
const PER_NAMESPACE = envNumber("BENCH_PODS_PER_NAMESPACE", 1_000);
const PER_DEPLOYMENT = 100;
const PER_NODE = envNumber("BENCH_PODS_PER_NODE", 100);
const PHASE_TIMEOUT_MS = envNumber("BENCH_PHASE_TIMEOUT_SECONDS", 900) * 1000;
const PROFILE = process.env.BENCH_PROFILE === "1";
const PHASES = (process.env.BENCH_PHASES ?? "initial,restart,relist,large").split(",").map((s) => s.trim()).filter(Boolean);
const BIG_NAMESPACE = "big";
const BIG_APP = "big";
const CREATED = new Date().toISOString().replace(/\.\d+Z$/, "Z");
const MB = 1024 * 1024;

const utf8b64 = (text: string) => Buffer.from(text).toString("base64");

/** A Deployment, its one ReplicaSet and its pods as the controllers and a kubelet would have left them. */
interface Workload {
  namespace: string;
  app: string;
  replicas: number;
}

function template(app: string): PodTemplateSpec {
  return {
    metadata: { labels: { app } },
    spec: {
      containers: [{
        name: "app", image: "registry.example/app:1.0", imagePullPolicy: "IfNotPresent", ports: [{ containerPort: 8080, protocol: "TCP" }],
        resources: { requests: { cpu: "10m", memory: "16Mi" } }, terminationMessagePath: "/dev/termination-log", terminationMessagePolicy: "File",
      }],
      // Every default the apiserver gives a template: a Deployment it rewrites must keep its pod-template-hash.
      restartPolicy: "Always", terminationGracePeriodSeconds: 30, dnsPolicy: "ClusterFirst", securityContext: {}, schedulerName: "default-scheduler",
      serviceAccountName: "default", serviceAccount: "default", enableServiceLinks: true,
    },
  };
}

function workloadObjects(w: Workload, podNode: (i: number) => string, podIp: (i: number) => string) {
  const tmpl = template(w.app);
  const hash = podTemplateHash(tmpl);
  const dUid = randomUUID();
  const rsUid = randomUUID();
  const rsName = `${w.app}-${hash}`;
  const selector = { matchLabels: { app: w.app } };
  const readyStatus = { replicas: w.replicas, readyReplicas: w.replicas, availableReplicas: w.replicas, observedGeneration: 1 };
  const deployment: Deployment = {
    apiVersion: "apps/v1", kind: "Deployment",
    metadata: { name: w.app, namespace: w.namespace, uid: dUid, generation: 1, creationTimestamp: CREATED, labels: { app: w.app }, annotations: { "deployment.kubernetes.io/revision": "1" } },
    spec: {
      replicas: w.replicas, selector, template: tmpl, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      revisionHistoryLimit: 10, progressDeadlineSeconds: 600,
    },
    status: {
      ...readyStatus, updatedReplicas: w.replicas,
      conditions: [
        { type: "Available", status: "True", lastUpdateTime: CREATED, lastTransitionTime: CREATED, reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability." },
        { type: "Progressing", status: "True", lastUpdateTime: CREATED, lastTransitionTime: CREATED, reason: "NewReplicaSetAvailable", message: `ReplicaSet "${rsName}" has successfully progressed.` },
      ],
    },
  };
  const rsTemplate = { ...tmpl, metadata: { labels: { app: w.app, "pod-template-hash": hash } } };
  const replicaSet: ReplicaSet = {
    apiVersion: "apps/v1", kind: "ReplicaSet",
    metadata: {
      name: rsName, namespace: w.namespace, uid: rsUid, generation: 1, creationTimestamp: CREATED, labels: rsTemplate.metadata.labels,
      annotations: { "deployment.kubernetes.io/desired-replicas": String(w.replicas), "deployment.kubernetes.io/max-replicas": String(Math.ceil(w.replicas * 1.25)), "deployment.kubernetes.io/revision": "1" },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: w.app, uid: dUid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { replicas: w.replicas, selector: { matchLabels: rsTemplate.metadata.labels }, template: rsTemplate },
    status: { ...readyStatus, fullyLabeledReplicas: w.replicas },
  };
  const pods = Array.from({ length: w.replicas }, (_, i): Pod => {
    const name = `${rsName}-${i.toString(36).padStart(5, "0")}`;
    const ip = podIp(i);
    const conditions = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
      .map((type) => ({ type, status: "True", lastProbeTime: null as unknown as string, lastTransitionTime: CREATED }));
    return {
      apiVersion: "v1", kind: "Pod",
      metadata: {
        name, generateName: `${rsName}-`, namespace: w.namespace, uid: randomUUID(), creationTimestamp: CREATED, labels: rsTemplate.metadata.labels,
        ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: rsName, uid: rsUid, controller: true, blockOwnerDeletion: true }],
      },
      spec: {
        ...tmpl.spec!,
        containers: tmpl.spec!.containers.map((c) => ({ ...c, volumeMounts: [{ name: "kube-api-access-x1", readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH }] })),
        volumes: [serviceAccountTokenVolume("kube-api-access-x1")],
        nodeName: podNode(i), preemptionPolicy: "PreemptLowerPriority", priority: 0,
        tolerations: [
          { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
          { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
        ],
      },
      status: {
        phase: "Running", conditions, hostIP: "10.0.0.1", hostIPs: [{ ip: "10.0.0.1" }], podIP: ip, podIPs: [{ ip }], startTime: CREATED, qosClass: "Burstable",
        containerStatuses: [{
          name: "app", state: { running: { startedAt: CREATED } }, lastState: {}, ready: true, restartCount: 0, started: true,
          image: "registry.example/app:1.0", imageID: "registry.example/app@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
          containerID: `containerd://${randomUUID().replaceAll("-", "")}${randomUUID().replaceAll("-", "")}`,
        }],
      },
    };
  });
  return { deployment, replicaSet, pods };
}

function node(name: string, index: number): Node {
  return {
    apiVersion: "v1", kind: "Node",
    metadata: { name, uid: randomUUID(), creationTimestamp: CREATED, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" } },
    spec: { podCIDR: `10.${1 + (index >> 8)}.${index & 255}.0/24`, podCIDRs: [`10.${1 + (index >> 8)}.${index & 255}.0/24`] },
    status: {
      capacity: { cpu: "64", memory: "256Gi", pods: "110" }, allocatable: { cpu: "64", memory: "256Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: CREATED, lastTransitionTime: CREATED }],
      addresses: [{ type: "InternalIP", address: `10.0.${index >> 8}.${index & 255}` }],
    },
  };
}

/** Puts objects through the etcd gateway, 128 per txn, `concurrency` txns in flight. */
async function putAll(api: HttpTarget, entries: [key: string, object: object][], concurrency = 6): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const batch = entries.slice(next, (next += 128));
      const body = { success: batch.map(([key, object]) => ({ request_put: { key: utf8b64(key), value: utf8b64(JSON.stringify(object)) } })) };
      await api.post("/etcd/v3/kv/txn", Buffer.from(JSON.stringify(body)));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function layout(): Workload[] {
  const workloads: Workload[] = [];
  if (BIG > 0) workloads.push({ namespace: BIG_NAMESPACE, app: BIG_APP, replicas: BIG });
  let left = PODS - BIG;
  for (let ns = 0; left > 0; ns++) {
    for (let d = 0; d * PER_DEPLOYMENT < PER_NAMESPACE && left > 0; d++) {
      const replicas = Math.min(PER_DEPLOYMENT, left);
      workloads.push({ namespace: `ns-${ns}`, app: `web-${d}`, replicas });
      left -= replicas;
    }
  }
  return workloads;
}

/** Writes the cluster: namespaces through the API, everything else through the etcd gateway. */
async function fill(api: HttpTarget): Promise<{ seconds: number; bytes: number }> {
  const started = performance.now();
  const workloads = layout();
  for (const namespace of new Set(workloads.map((w) => w.namespace))) {
    await expectCreated(api, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  }
  const nodeCount = Math.ceil(PODS / PER_NODE);
  const nodeNames = Array.from({ length: nodeCount }, (_, i) => `node-${i}`);
  await putAll(api, nodeNames.map((name, i) => [`/registry/minions/${name}`, node(name, i)]));
  let placed = 0;
  let bytes = 0;
  for (const w of workloads) {
    const first = placed;
    const { deployment, replicaSet, pods } = workloadObjects(w, (i) => nodeNames[Math.floor((first + i) / PER_NODE) % nodeCount]!, (i) => {
      const n = first + i;
      return `10.${64 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
    });
    placed += w.replicas;
    const entries: [string, object][] = [
      [`/registry/deployments/${w.namespace}/${w.app}`, deployment],
      [`/registry/replicasets/${w.namespace}/${replicaSet.metadata!.name}`, replicaSet],
      ...pods.map((pod): [string, object] => [`/registry/pods/${w.namespace}/${pod.metadata!.name}`, pod]),
    ];
    bytes += pods.reduce((sum, pod) => sum + JSON.stringify(pod).length, 0);
    await putAll(api, entries);
  }
  return { seconds: (performance.now() - started) / 1000, bytes };
}

/**
 * A DevTools protocol session with workerd's inspector for the Worker's isolate. workerd reads
 * inspector messages only when the isolate next has work: while a call is unanswered, requests to
 * /livez give it some.
 */
async function inspect(port: number, api: HttpTarget) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/core:user:edgeplane`);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", () => reject(new Error("inspector: cannot connect")), { once: true });
  });
  let next = 1;
  const pending = new Map<number, (v: { result?: unknown; error?: { message: string } }) => void>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (message.id !== undefined) pending.get(message.id)?.(message);
    pending.delete(message.id!);
  });
  return {
    async call<T>(method: string, params: object = {}): Promise<T> {
      const id = next++;
      socket.send(JSON.stringify({ id, method, params }));
      let answered = false;
      const answer = new Promise<{ result?: unknown; error?: { message: string } }>((resolve) => pending.set(id, (v) => {
        answered = true;
        resolve(v);
      }));
      while (!answered) {
        await Promise.race([answer, new Promise((r) => setTimeout(r, 100))]);
        if (!answered) await api.send("GET", "/livez");
      }
      return resolveAnswer(method, await answer) as T;
    },
    close: () => socket.close(),
  };
}

function resolveAnswer(method: string, answer: { result?: unknown; error?: { message: string } }): unknown {
  if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
  return answer.result;
}

type Inspector = Awaited<ReturnType<typeof inspect>>;
interface HeapUsage { usedSize: number; totalSize: number }

/** Samples the heap until stopped: the peak used and committed sizes, and the longest gap between answers. */
function sampleHeap(inspector: Inspector) {
  let peakUsed = 0;
  let peakTotal = 0;
  let longestGapMs = 0;
  let running = true;
  const done = (async () => {
    let last = performance.now();
    while (running) {
      const usage = await inspector.call<HeapUsage>("Runtime.getHeapUsage");
      const now = performance.now();
      longestGapMs = Math.max(longestGapMs, now - last);
      last = now;
      peakUsed = Math.max(peakUsed, usage.usedSize);
      peakTotal = Math.max(peakTotal, usage.totalSize);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return async () => {
    running = false;
    await done;
    return { peakUsed, peakTotal, longestGapMs };
  };
}

/** The heap used after a full GC. */
async function heapAfterGc(inspector: Inspector): Promise<number> {
  await inspector.call("HeapProfiler.collectGarbage");
  return (await inspector.call<HeapUsage>("Runtime.getHeapUsage")).usedSize;
}

/** Resident memory of workerd (the process group's largest), now and at its peak since it started, in bytes. */
function rssOf(group: number): { now: number; peak: number } {
  let now = 0;
  let peak = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) !== group) continue;
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      if (rss > now) [now, peak] = [rss, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024];
    } catch {
      continue;
    }
  }
  return { now, peak };
}

async function until(what: string | (() => string), check: () => Promise<boolean>, deadline: number): Promise<void> {
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until the control plane's processes used under 5% of a core over 3 s. */
async function quiet(group: number, deadline: number): Promise<void> {
  for (;;) {
    const before = cpuSeconds((_, g) => g === group);
    await new Promise((r) => setTimeout(r, 3000));
    if (cpuSeconds((_, g) => g === group) - before < 0.15) return;
    if (performance.now() > deadline) throw new Error("the control plane did not go quiet");
  }
}

async function getJson<T>(api: HttpTarget, path: string): Promise<T> {
  const answer = await api.send("GET", path);
  if (answer.status !== 200) throw new Error(`GET ${path}: HTTP ${answer.status} ${answer.body.toString().slice(0, 200)}`);
  return JSON.parse(answer.body.toString()) as T;
}

/** Scales a Deployment by `by` and resolves once its ReplicaSet reports that many replicas. */
async function scaleAndWait(api: HttpTarget, namespace: string, app: string, by: number, deadline: number): Promise<void> {
  const d = await getJson<Deployment>(api, `/apis/apps/v1/namespaces/${namespace}/deployments/${app}`);
  const want = (d.spec?.replicas ?? 0) + by;
  const patch = Buffer.from(JSON.stringify({ spec: { replicas: want } }));
  const answer = await api.send("PATCH", `/apis/apps/v1/namespaces/${namespace}/deployments/${app}/scale`, patch, "application/merge-patch+json");
  if (answer.status !== 200) throw new Error(`scale ${namespace}/${app}: HTTP ${answer.status} ${answer.body.toString().slice(0, 200)}`);
  let seen = 0;
  await until(() => `${want} pods of ${namespace}/${app} (${seen} seen)`, async () => {
    const list = await getJson<{ items: Pod[] }>(api, `/api/v1/namespaces/${namespace}/pods?labelSelector=app%3D${app}&limit=${want + 10}`);
    seen = list.items.length;
    return seen >= want;
  }, deadline);
}

interface PhaseResult {
  phase: string;
  effectSeconds: number;
  quietSeconds: number;
  cpuSeconds: number;
  heapBefore: number;
  peakUsed: number;
  peakTotal: number;
  heapAfter: number;
  rss: { now: number; peak: number };
  longestGapMs: number;
  /** Sampled busy seconds by part of the control plane (BENCH_PROFILE). */
  parts?: Map<string, number>;
}

/** The part names of bench/cpu-profile.ts's byComponent that are the controller manager's own work. */
const CONTROLLER_MANAGER_PARTS = ["controllers object (durable-objects/controllers/)", "lib/client (no caller on the stack)"];
/**
 * The controller manager's share of the phase's CPU: its share of the busy samples times the
 * processes' CPU. Samples are taken in wall time, so on a loaded machine they add up to more than
 * the CPU; their shares are what holds.
 */
const controllerManagerCpu = (r: PhaseResult) => {
  const busy = [...r.parts!.values()].reduce((sum, s) => sum + s, 0);
  const own = CONTROLLER_MANAGER_PARTS.reduce((sum, part) => sum + (r.parts!.get(part) ?? 0), 0);
  return busy ? (r.cpuSeconds * own) / busy : 0;
};

async function phase(name: string, plane: ControlPlane, inspectorPort: number, api: HttpTarget, trigger: (deadline: number) => Promise<void>): Promise<PhaseResult> {
  const inspector = await inspect(inspectorPort, api);
  const group = plane.process.pid!;
  try {
    const heapBefore = await heapAfterGc(inspector);
    if (PROFILE) {
      await inspector.call("Profiler.enable");
      // 1 ms: a phase of minutes stays a profile of a few MB.
      await inspector.call("Profiler.setSamplingInterval", { interval: 1000 });
      await inspector.call("Profiler.start");
    }
    const cpuBefore = cpuSeconds((_, g) => g === group);
    const stop = sampleHeap(inspector);
    const started = performance.now();
    // A line every 30 s: a long phase shows where it is (and a run that fails shows how far it got).
    const progress = setInterval(() => {
      const rss = rssOf(group);
      console.log(`  ${name} +${fixed((performance.now() - started) / 1000, 0)} s: CPU ${fixed(cpuSeconds((_, g) => g === group) - cpuBefore, 1)} s, workerd RSS ${fixed(rss.now / MB, 0)} MB (peak ${fixed(rss.peak / MB, 0)}), load ${loadavg()[0]!.toFixed(2)}`);
    }, 30_000);
    const deadline = started + PHASE_TIMEOUT_MS;
    let effectSeconds: number;
    let quietSeconds: number;
    try {
      await trigger(deadline);
      effectSeconds = (performance.now() - started) / 1000;
      await quiet(group, deadline);
      quietSeconds = (performance.now() - started) / 1000 - 3;
    } catch (e) {
      // The sampler's request in flight fails when the control plane is stopped: without this its
      // rejection, unhandled, ended the run as "socket hang up" and hid why the phase failed.
      await Promise.race([stop().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
      throw e;
    } finally {
      clearInterval(progress);
    }
    const { peakUsed, peakTotal, longestGapMs } = await stop();
    const cpu = cpuSeconds((_, g) => g === group) - cpuBefore;
    let parts: Map<string, number> | undefined;
    if (PROFILE) {
      const { profile } = await inspector.call<{ profile: CpuProfile }>("Profiler.stop");
      parts = new Map([...byComponent(profile, modules().moduleOf)].map(([part, ms]) => [part, ms / 1000]));
      const sorted = [...parts].sort((a, b) => b[1] - a[1]);
      const busy = sorted.reduce((sum, [, s]) => sum + s, 0);
      const share = (ms: number) => `${fixed((100 * ms) / 1000 / busy, 1)}%`;
      console.log(`  ${name}: busy samples by part: ${sorted.map(([part, s]) => `${part} ${fixed((100 * s) / busy, 1)}%`).join("; ")}`);
      const top = (entries: Iterable<[string, number]>) => [...entries].filter(([n]) => n !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, 12).map(([n, ms]) => `${n} ${share(ms)}`).join("; ");
      console.log(`  ${name}: self time by file: ${top(byModule(profile, modules().moduleOf))}`);
      const { self, inclusive } = summarize(profile, modules().moduleOf);
      console.log(`  ${name}: self time by function: ${top(self)}`);
      console.log(`  ${name}: inclusive time in the controller manager: ${top([...inclusive].filter(([n]) => /durable-objects\/controllers|lib\/client/.test(n)))}`);
    }
    const result = {
      phase: name, effectSeconds, quietSeconds, cpuSeconds: cpu,
      heapBefore, peakUsed, peakTotal, heapAfter: await heapAfterGc(inspector), rss: rssOf(group), longestGapMs, parts,
    };
    const mb = (bytes: number) => fixed(bytes / MB, 1);
    console.log(`${name}: effect ${fixed(effectSeconds, 1)} s, quiet ${fixed(quietSeconds, 1)} s, CPU ${fixed(result.cpuSeconds, 1)} s; heap peak used ${mb(peakUsed)} MB, ` +
      `committed ${mb(peakTotal)} MB, after GC ${mb(result.heapAfter)} MB; workerd RSS ${mb(result.rss.now)} MB, peak ${mb(result.rss.peak)} MB (load average ${loadavg()[0]!.toFixed(2)})`);
    return result;
  } finally {
    inspector.close();
  }
}

let bundle: ReturnType<typeof bundleModules> | undefined;
/** Which module each line of the Worker's bundle comes from (built once, when first needed). */
const modules = () => (bundle ??= bundleModules());

async function main(): Promise<void> {
  if (PROFILE) modules();
  const root = mkdtempSync(join(tmpdir(), "edgeplane-controllers-memory-"));
  const stateDir = join(root, "state");
  const base = {
    stateDir, tlsDir: join(root, "tls"), token: undefined as string | undefined, serviceAccountKey: undefined as string | undefined, encryptionKeys: undefined as string | undefined,
  };
  const vars = {
    RATE_LIMIT_QPS: "1000000", KUBE_SCHEDULER_ENABLED: "false", CLUSTER_CIDR: "10.0.0.0/8",
    NODE_MONITOR_GRACE_PERIOD_SECONDS: "86400", NODE_STARTUP_GRACE_PERIOD_SECONDS: "86400", ...benchVars(),
  };
  const results: PhaseResult[] = [];
  let plane: ControlPlane | undefined;
  let api: HttpTarget | undefined;
  const inspectorPort = await freePort();
  const start = async (controllers: boolean) => {
    api?.close();
    await plane?.stop();
    plane = await startControlPlane({
      ...base, token: base.token, inspectorPort, inheritOutput: process.env.BENCH_WORKERD_OUTPUT === "1",
      vars: { ...vars, KUBE_CONTROLLER_MANAGER_ENABLED: String(controllers) },
      serviceAccountKey: base.serviceAccountKey, encryptionKeys: base.encryptionKeys,
    });
    base.token = plane.token;
    api = new HttpTarget(plane.url, { Authorization: `Bearer ${plane.token}` }, 8, plane.caPem);
    return { plane, api };
  };
  base.serviceAccountKey = (await import("../scripts/dev-server.ts")).newServiceAccountKey();
  base.encryptionKeys = (await import("../scripts/dev-server.ts")).newEncryptionKeys();
  const load = loadavg()[0]!.toFixed(2);
  try {
    let { plane: p, api: a } = await start(false);
    const filled = await fill(a);
    console.log(`filled ${PODS} pods (${fixed(filled.bytes / PODS / 1024, 2)} KiB of JSON each) on ${Math.ceil(PODS / PER_NODE)} nodes in ${fixed(filled.seconds, 1)} s (${fixed(PODS / filled.seconds, 0)} pods/s)`);
    const trigger = (deadline: number) => scaleAndWait(api!, "ns-0", "web-0", 1, deadline);
    for (const name of PHASES) {
      if (name === "initial" || name === "restart") {
        ({ plane: p, api: a } = await start(true));
        results.push(await phase(name, p, inspectorPort, a, trigger));
      } else if (name === "relist") {
        ({ plane: p, api: a } = await start(false));
        // A write, then a compaction at the newest revision: every cursor the controller manager kept is gone.
        await expectCreated(a, "POST", "/api/v1/namespaces/default/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `relist-${Date.now()}` } });
        const head = JSON.parse(await a.post("/etcd/v3/kv/range", Buffer.from(JSON.stringify({ key: utf8b64("/registry/pods/"), limit: 1 })))) as { header: { revision: string } };
        await a.post("/etcd/v3/kv/compaction", Buffer.from(JSON.stringify({ revision: head.header.revision, physical: true })));
        ({ plane: p, api: a } = await start(true));
        results.push(await phase(name, p, inspectorPort, a, trigger));
      } else if (name === "large") {
        results.push(await phase(name, p, inspectorPort, a, async (deadline) => {
          await expectCreated(a, "POST", `/api/v1/namespaces/${BIG_NAMESPACE}/services`, {
            apiVersion: "v1", kind: "Service", metadata: { name: BIG_APP }, spec: { selector: { app: BIG_APP }, ports: [{ port: 80, targetPort: 8080 }] },
          });
          await scaleAndWait(a, BIG_NAMESPACE, BIG_APP, 100, deadline);
          let endpoints = 0;
          await until(() => `EndpointSlices over ${BIG} pods (${endpoints} endpoints seen)`, async () => {
            const slices = await getJson<{ items: { endpoints?: unknown[] }[] }>(a, `/apis/discovery.k8s.io/v1/namespaces/${BIG_NAMESPACE}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${BIG_APP}`);
            endpoints = slices.items.reduce((n, s) => n + (s.endpoints?.length ?? 0), 0);
            return endpoints >= BIG;
          }, deadline);
        }));
      } else throw new Error(`unknown phase ${JSON.stringify(name)}: initial, restart, relist or large`);
    }
    // A ReplicaSet more than the Deployments would mean a rollout the bench did not ask for (a template the apiserver rewrote).
    const sets = await getJson<{ items: unknown[] }>(a, "/apis/apps/v1/replicasets");
    const deployments = layout().length;
    if (sets.items.length !== deployments) console.log(`WARNING: ${sets.items.length} ReplicaSets for ${deployments} Deployments: the controller manager rolled some out`);
  } finally {
    api?.close();
    await plane?.stop();
    rmSync(root, { recursive: true, force: true });
  }
  const mb = (bytes: number) => fixed(bytes / MB, 1);
  console.log(`\ncontroller manager over ${PODS} pods (${BIG} in one Deployment) on ${Math.ceil(PODS / PER_NODE)} nodes; load average ${load} → ${loadavg()[0]!.toFixed(2)}; a Durable Object may use 128 MB`);
  console.log(formatTable(
    ["phase", "effect s", "quiet s", "CPU s", ...(PROFILE ? ["controller manager's CPU s"] : []), "heap before MB", "peak used MB", "peak committed MB", "after GC MB", "workerd RSS MB", "peak RSS MB", "longest sample gap ms"],
    results.map((r) => [r.phase, fixed(r.effectSeconds, 1), fixed(r.quietSeconds, 1), fixed(r.cpuSeconds, 1), ...(r.parts ? [fixed(controllerManagerCpu(r), 1)] : []), mb(r.heapBefore), mb(r.peakUsed), mb(r.peakTotal), mb(r.heapAfter), mb(r.rss.now), mb(r.rss.peak), fixed(r.longestGapMs, 0)]),
  ));
  if (PROFILE) console.log(`controller manager's CPU s: the phase's CPU times the share of busy samples in durable-objects/controllers/ frames and in lib/client with no caller on the stack (informer pages resumed after their fetch; the scheduler is off); V8 and native work with no JS caller (GC among it) is not counted`);
  if (process.argv.includes("--json")) console.log(JSON.stringify(results.map((r) => ({ ...r, parts: r.parts && Object.fromEntries(r.parts) }))));
}

await main();

// The apiserver benchmark: pod creates, pod bindings (the scheduler's write), Event creates (what
// every component records), the kubelet's own requests (Lease update, Node GET, Event, pod status, TokenRequest), JSON vs protobuf bodies, custom resource vs built-in creates, reads by the admin vs a service account (authn + RBAC), LISTs of 10,000 pods whole and paged, and watch delivery to 100 watchers, against a fresh local control plane over HTTPS, as kubectl reaches it.
//
//   npm run bench:api [-- --json]
//
// Environment: BENCH_CASES (which parts run, default all: creates,bindings,events,kubelet,bodies,custom,
// identities,list,watch), BENCH_SECONDS (measured seconds per create run, default 10), BENCH_WARMUP_SECONDS
// (default 2), BENCH_BINDINGS (bindings timed per concurrency, 2000), BENCH_LIST_PODS (10000), BENCH_LIST_RUNS (timed LISTs of each kind, 10),
// BENCH_WATCHERS (100), BENCH_WATCH_EVENTS (configmap creates the watchers must see, 200),
// BENCH_VARS (Worker vars, "NAME=value,…").
// Creates, bindings, Event creates and the kubelet's requests print the control plane's CPU per operation (workerd and its
// Node.js host, from /proc), steadier than throughput on a shared machine.
// Kubernetes' API call latency SLOs are printed beside the figures: p99 ≤ 1 s for a mutating
// call, ≤ 5 s for a LIST within one namespace.
import type { IncomingMessage } from "node:http";
import { mkdtempSync, rmSync, watch as watchFiles } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { ConfigMap, Namespace, Pod, PodList } from "kubernetes-types/core/v1";
import { defaultEngine, PROJECT_ROOT, startControlPlane } from "../scripts/dev-server.ts";
import { cpuSeconds } from "./hollow-nodes.ts";
import { closeKubelets, joinKubelets, kubeletRequest, KUBELET_REQUESTS, type KubeletRequest } from "./kubelet-requests.ts";
import { configMapProtobuf } from "./protobuf-body.ts";
import {
  HttpTarget, LatencyRecorder, benchVars, envNumber, fixed, formatTable, lineSplitter, runBatch, runClosedLoop,
  type BatchResult, type LoadResult,
} from "./load.ts";

/** The namespace of the create runs and the watched configmaps. */
const NAMESPACE = "bench";
/** The LIST's own namespace, so it holds exactly the seeded pods and none from the create runs. */
const LIST_NAMESPACE = "bench-list";
const CREATE_CONCURRENCIES = [1, 32];
const CASES = ["creates", "bindings", "events", "kubelet", "bodies", "custom", "identities", "list", "watch"];
/** The node the bound pods name: registered, never served by an agent. */
const BENCH_NODE = "bench-node";
/** Pods no scheduler profile serves, so only the benchmark binds them. */
const UNSCHEDULED = "bench-manual";
const SEED_CONCURRENCY = 32;
const PAGE_LIMIT = 500;
/** How long the watchers may take to see every event after the last write. */
const DELIVERY_TIMEOUT_MS = 30_000;
const SLO_MUTATING_P99_MS = 1000;
const SLO_NAMESPACE_LIST_P99_MS = 5000;
/** What wrangler dev bundles: under it (EDGEPLANE_DEV=wrangler), a change here mid-run reloads the Worker being measured. */
const SOURCE_DIRS = ["worker", "durable-objects", "lib", "migrations"];

/** A small pod as a Deployment would stamp it out: one container with a port, requests and labels. */
function podBody(name: string, schedulerName?: string): Buffer {
  const pod: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "bench-web", tier: "frontend", "pod-template-hash": "5d9c8b7f4" } },
    spec: {
      ...(schedulerName ? { schedulerName } : {}),
      containers: [{
        name: "web",
        image: "nginx:1.27",
        ports: [{ name: "http", containerPort: 80 }],
        resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "128Mi" } },
      }],
    },
  };
  return Buffer.from(JSON.stringify(pod));
}

function configMapBody(name: string): Buffer {
  const configMap: ConfigMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels: { app: "bench" } }, data: { key: name } };
  return Buffer.from(JSON.stringify(configMap));
}

/** A namespace and its `default` ServiceAccount, which pod admission waits for: made here when the controller manager that makes it is off (BENCH_VARS), or already made by it (409). */
async function createNamespace(client: HttpTarget, name: string) {
  await expectStatus(client, 201, "POST", "/api/v1/namespaces", namespaceBody(name));
  const answer = await client.send("POST", `/api/v1/namespaces/${name}/serviceaccounts`, Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default" } })));
  if (answer.status !== 201 && answer.status !== 409) throw new Error(`the default ServiceAccount of ${name}: HTTP ${answer.status}: ${answer.body.toString("utf8").slice(0, 300)}`);
}

function namespaceBody(name: string): Buffer {
  const namespace: Namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name } };
  return Buffer.from(JSON.stringify(namespace));
}

interface Answer<T> {
  value: T;
  bytes: number;
  /** When the whole answer was in (performance.now()), before it was parsed. */
  receivedAt: number;
  /** From sending the request to `receivedAt`. */
  ms: number;
}

/** The answer's body parsed, or an error naming the status and message when it is not `status`. */
async function expectStatus<T>(client: HttpTarget, status: number, method: string, path: string, body?: Buffer): Promise<Answer<T>> {
  const began = performance.now();
  const answer = await client.send(method, path, body);
  const receivedAt = performance.now();
  const text = answer.body.toString("utf8");
  if (answer.status !== status) throw new Error(`${method} ${path}: HTTP ${answer.status} (want ${status}): ${text.slice(0, 300)}`);
  return { value: JSON.parse(text) as T, bytes: answer.body.length, receivedAt, ms: receivedAt - began };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * CPU seconds the control plane's processes (workerd and its Node.js host, one process group)
 * spent from `startAfterMs` on while `run` ran: steadier than throughput on a shared machine.
 */
async function controlPlaneCpu<T>(group: number, startAfterMs: number, run: () => Promise<T>): Promise<{ value: T; cpuMs: number }> {
  const used = () => cpuSeconds((_, g) => g === group);
  let start = used();
  const timer = setTimeout(() => (start = used()), startAfterMs);
  try {
    const value = await run();
    return { value, cpuMs: (used() - start) * 1000 };
  } finally {
    clearTimeout(timer);
  }
}

interface CreateRun {
  concurrency: number;
  result: LoadResult;
  /** Control-plane CPU per create in the measured window. */
  cpuMsPerOp: number;
}

async function measureCreates(client: HttpTarget, group: number, seconds: number, warmupSeconds: number): Promise<CreateRun[]> {
  const runs: CreateRun[] = [];
  for (const concurrency of CREATE_CONCURRENCIES) {
    const { value: result, cpuMs } = await controlPlaneCpu(group, warmupSeconds * 1000, () => runClosedLoop({
      concurrency, durationMs: seconds * 1000, warmupMs: warmupSeconds * 1000,
      op: async (_worker, seq) => {
        await expectStatus(client, 201, "POST", `/api/v1/namespaces/${NAMESPACE}/pods`, podBody(`web-c${concurrency}-${seq}`));
      },
    }));
    runs.push({ concurrency, result, cpuMsPerOp: cpuMs / Math.max(1, result.ops) });
  }
  return runs;
}

interface BindingRun {
  concurrency: number;
  result: BatchResult;
  seed: BatchResult;
  cpuMsPerOp: number;
}

/**
 * Bindings alone: for each concurrency, `count` pods that no scheduler serves are created (not
 * timed), then each is bound to a registered node once, as kube-scheduler binds.
 */
async function measureBindings(client: HttpTarget, group: number, count: number): Promise<BindingRun[]> {
  const node = await client.send("POST", "/api/v1/nodes", Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: BENCH_NODE } })));
  if (node.status !== 201 && node.status !== 409) throw new Error(`node ${BENCH_NODE}: HTTP ${node.status}: ${node.body.toString("utf8").slice(0, 300)}`);
  const runs: BindingRun[] = [];
  // The first run's first pods warm the path up, untimed.
  const warmup = 100;
  for (const concurrency of CREATE_CONCURRENCIES) {
    const name = (i: number) => `bound-c${concurrency}-${i}`;
    const total = count + (runs.length ? 0 : warmup);
    const seed = await runBatch({
      concurrency: SEED_CONCURRENCY, count: total,
      op: async (i) => void (await expectStatus(client, 201, "POST", `/api/v1/namespaces/${NAMESPACE}/pods`, podBody(name(i), UNSCHEDULED))),
    });
    const bind = (i: number) => expectStatus(client, 201, "POST", `/api/v1/namespaces/${NAMESPACE}/pods/${name(i)}/binding`, Buffer.from(JSON.stringify({
      apiVersion: "v1", kind: "Binding", metadata: { name: name(i), namespace: NAMESPACE }, target: { apiVersion: "v1", kind: "Node", name: BENCH_NODE },
    })));
    const first = total - count;
    if (first) await runBatch({ concurrency, count: first, op: async (i) => void (await bind(i)) });
    const { value: result, cpuMs } = await controlPlaneCpu(group, 0, () => runBatch({ concurrency, count, op: async (i) => void (await bind(first + i)) }));
    runs.push({ concurrency, result, seed, cpuMsPerOp: cpuMs / Math.max(1, result.ops) });
  }
  return runs;
}

function reportBindings(runs: BindingRun[]): void {
  console.log(`\npod bindings: POST /api/v1/namespaces/${NAMESPACE}/pods/NAME/binding of pods no scheduler serves, each bound once; every answer must be 201`);
  console.log(formatTable(
    ["concurrency", "bindings", "ops/s", "p50 ms", "p99 ms", "errors", "CPU ms/op", "seed creates/s"],
    runs.map(({ concurrency, result, seed, cpuMsPerOp }) => [
      concurrency, result.ops, fixed(result.ops / (result.elapsedMs / 1000), 0), ms(result.latency.percentile(50)), ms(result.latency.percentile(99)), result.errors,
      fixed(cpuMsPerOp, 2), fixed(seed.ops / (seed.elapsedMs / 1000), 0),
    ]),
  ));
  for (const { concurrency, result } of runs) if (result.firstError) console.log(`c=${concurrency}: first error: ${message(result.firstError)}`);
}

interface EventRun {
  concurrency: number;
  result: LoadResult;
  cpuMsPerOp: number;
}

/** An events.k8s.io/v1 Event as the node agent records a container's image pull. */
function eventBody(seq: number): Buffer {
  const now = new Date();
  const micro = `${now.toISOString().slice(0, 19)}.${String(now.getUTCMilliseconds() * 1000).padStart(6, "0")}Z`;
  const pod = `web-${seq}`;
  return Buffer.from(JSON.stringify({
    apiVersion: "events.k8s.io/v1", kind: "Event",
    metadata: { name: `${pod}.${(BigInt(now.getTime()) * 1_000_000n + BigInt(seq)).toString(16)}`, namespace: NAMESPACE },
    eventTime: micro, reportingController: "kubelet", reportingInstance: BENCH_NODE, action: "Pulled", reason: "Pulled", type: "Normal",
    note: `Container image "nginx:1.27" already present on machine`,
    regarding: { apiVersion: "v1", kind: "Pod", name: pod, namespace: NAMESPACE, uid: "8f2c3a4e-0b1d-4c6e-9f7a-1b2c3d4e5f60", fieldPath: "spec.containers{web}" },
  }));
}

async function measureEvents(client: HttpTarget, group: number, seconds: number, warmupSeconds: number): Promise<EventRun[]> {
  const runs: EventRun[] = [];
  for (const concurrency of CREATE_CONCURRENCIES) {
    const { value: result, cpuMs } = await controlPlaneCpu(group, warmupSeconds * 1000, () => runClosedLoop({
      concurrency, durationMs: seconds * 1000, warmupMs: warmupSeconds * 1000,
      op: async (_worker, seq) => void (await expectStatus(client, 201, "POST", `/apis/events.k8s.io/v1/namespaces/${NAMESPACE}/events`, eventBody(concurrency * 10_000_000 + seq))),
    }));
    runs.push({ concurrency, result, cpuMsPerOp: cpuMs / Math.max(1, result.ops) });
  }
  return runs;
}

function reportEvents(runs: EventRun[]): void {
  console.log(`\nEvent creates: POST /apis/events.k8s.io/v1/namespaces/${NAMESPACE}/events (the node agent's Pulled), every answer must be 201`);
  console.log(formatTable(
    ["concurrency", "ops/s", "p50 ms", "p99 ms", "errors", "CPU ms/op"],
    runs.map(({ concurrency, result, cpuMsPerOp }) => [concurrency, fixed(result.opsPerSecond, 0), ms(result.latency.percentile(50)), ms(result.latency.percentile(99)), result.errors, fixed(cpuMsPerOp, 2)]),
  ));
  for (const { concurrency, result } of runs) if (result.firstError) console.log(`c=${concurrency}: first error: ${message(result.firstError)}`);
}

interface KubeletRun {
  request: KubeletRequest;
  concurrency: number;
  result: LoadResult;
  cpuMsPerOp: number;
}

/**
 * The node's own requests, each kind in a closed loop at each concurrency: loop N acts as node N
 * (its own credential, Lease and pod), as that many kubelets would.
 */
async function measureKubeletRequests(admin: HttpTarget, plane: { url: string; caPem?: string }, group: number, seconds: number, warmupSeconds: number): Promise<KubeletRun[]> {
  const kubelets = await joinKubelets(admin, plane, Math.max(...CREATE_CONCURRENCIES), NAMESPACE);
  const runs: KubeletRun[] = [];
  try {
    for (const request of KUBELET_REQUESTS) {
      for (const concurrency of CREATE_CONCURRENCIES) {
        const { value: result, cpuMs } = await controlPlaneCpu(group, warmupSeconds * 1000, () => runClosedLoop({
          concurrency, durationMs: seconds * 1000, warmupMs: warmupSeconds * 1000,
          op: (worker, seq) => kubeletRequest(request, kubelets[worker]!, NAMESPACE, seq),
        }));
        runs.push({ request, concurrency, result, cpuMsPerOp: cpuMs / Math.max(1, result.ops) });
      }
    }
  } finally {
    closeKubelets(kubelets);
  }
  return runs;
}

function reportKubeletRequests(runs: KubeletRun[]): void {
  console.log(`\nthe kubelet's requests, each by its node's own credential (loop N is node N): Lease PUT, Node GET, core/v1 Event create, pods/status merge patch, TokenRequest bound to the pod`);
  console.log(formatTable(
    ["request", "concurrency", "ops/s", "p50 ms", "p99 ms", "errors", "CPU ms/op"],
    runs.map(({ request, concurrency, result, cpuMsPerOp }) => [request, concurrency, fixed(result.opsPerSecond, 0), ms(result.latency.percentile(50)), ms(result.latency.percentile(99)), result.errors, fixed(cpuMsPerOp, 2)]),
  ));
  for (const { request, concurrency, result } of runs) if (result.firstError) console.log(`${request} c=${concurrency}: first error: ${message(result.firstError)}`);
}

interface BodyRun {
  body: "json" | "protobuf";
  concurrency: number;
  result: LoadResult;
}

/** ConfigMap creates with JSON bodies against the same with protobuf bodies (kubectl 1.32+). */
async function measureBodies(client: HttpTarget, seconds: number, warmupSeconds: number): Promise<BodyRun[]> {
  const runs: BodyRun[] = [];
  const path = `/api/v1/namespaces/${NAMESPACE}/configmaps`;
  const data = { "app.properties": "mode=fast\nlevel=3\n", owner: "bench" };
  for (const concurrency of CREATE_CONCURRENCIES) {
    for (const body of ["json", "protobuf"] as const) {
      const result = await runClosedLoop({
        concurrency, durationMs: seconds * 1000, warmupMs: warmupSeconds * 1000,
        op: async (_worker, seq) => {
          const name = `cm-${body}-c${concurrency}-${seq}`;
          const payload = body === "json"
            ? Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: NAMESPACE }, data }))
            : configMapProtobuf(name, NAMESPACE, data);
          const answer = await client.send("POST", path, payload, body === "json" ? "application/json" : "application/vnd.kubernetes.protobuf");
          if (answer.status !== 201) throw new Error(`POST ${path} (${body}): HTTP ${answer.status}: ${answer.body.toString("utf8").slice(0, 200)}`);
        },
      });
      runs.push({ body, concurrency, result });
    }
  }
  return runs;
}

function reportBodies(runs: BodyRun[]): void {
  console.log(`
create bodies: POST /api/v1/namespaces/${NAMESPACE}/configmaps as JSON and as protobuf (what kubectl 1.32+ sends)`);
  console.log(formatTable(
    ["body", "concurrency", "ops/s", "p50 ms", "p99 ms", "errors"],
    runs.map(({ body, concurrency, result }) => [body, concurrency, fixed(result.opsPerSecond, 0), ms(result.latency.percentile(50)), ms(result.latency.percentile(99)), result.errors]),
  ));
  for (const concurrency of CREATE_CONCURRENCIES) {
    const json = runs.find((r) => r.body === "json" && r.concurrency === concurrency)?.result;
    const proto = runs.find((r) => r.body === "protobuf" && r.concurrency === concurrency)?.result;
    if (json && proto && json.opsPerSecond) console.log(`c=${concurrency}: protobuf/json throughput ${fixed(proto.opsPerSecond / json.opsPerSecond, 2)}x`);
  }
}

/** The custom resource the benchmark creates: a schema with defaults, a pattern and a CEL rule, as operators' CRDs have. */
const BENCH_GROUP = "bench.edgeplane.dev";
const benchCrd = {
  apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: `widgets.${BENCH_GROUP}` },
  spec: {
    group: BENCH_GROUP, scope: "Namespaced", names: { plural: "widgets", singular: "widget", kind: "Widget" },
    versions: [{
      name: "v1", served: true, storage: true, subresources: { status: {} },
      schema: { openAPIV3Schema: { type: "object", properties: {
        spec: { type: "object", required: ["size"], "x-kubernetes-validations": [{ rule: "self.replicas <= self.maxReplicas" }], properties: {
          size: { type: "string", enum: ["small", "large"] }, image: { type: "string", pattern: "^[a-z0-9./:-]+$" },
          replicas: { type: "integer", minimum: 0, default: 1 }, maxReplicas: { type: "integer", default: 10 },
          settings: { type: "object", additionalProperties: { type: "string" } },
        } },
        status: { type: "object", properties: { ready: { type: "boolean" } } },
      } } },
    }],
  },
};

interface KindRun {
  kind: "ConfigMap" | "Widget";
  concurrency: number;
  result: LoadResult;
}

/** Creates of a custom resource against creates of a built-in kind of about the same size, each concurrency in turn. */
async function measureCustomResources(client: HttpTarget, seconds: number, warmupSeconds: number): Promise<KindRun[]> {
  await expectStatus(client, 201, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Buffer.from(JSON.stringify(benchCrd)));
  const runs: KindRun[] = [];
  const settings = { "app.properties": "mode=fast", owner: "bench" };
  for (const concurrency of CREATE_CONCURRENCIES) {
    for (const kind of ["ConfigMap", "Widget"] as const) {
      const path = kind === "ConfigMap" ? `/api/v1/namespaces/${NAMESPACE}/configmaps` : `/apis/${BENCH_GROUP}/v1/namespaces/${NAMESPACE}/widgets`;
      const result = await runClosedLoop({
        concurrency, durationMs: seconds * 1000, warmupMs: warmupSeconds * 1000,
        op: async (_worker, seq) => {
          const name = `${kind.toLowerCase()}-c${concurrency}-${seq}`;
          const object = kind === "ConfigMap"
            ? { apiVersion: "v1", kind, metadata: { name, labels: { app: "bench" } }, data: { size: "small", image: "nginx:1.27", ...settings } }
            : { apiVersion: `${BENCH_GROUP}/v1`, kind, metadata: { name, labels: { app: "bench" } }, spec: { size: "small", image: "nginx:1.27", settings } };
          await expectStatus(client, 201, "POST", path, Buffer.from(JSON.stringify(object)));
        },
      });
      runs.push({ kind, concurrency, result });
    }
  }
  return runs;
}

function reportCustomResources(runs: KindRun[]): void {
  console.log(`\ncustom resource creates (a CRD schema with defaults, enum, pattern and a CEL rule) beside ConfigMap creates of the same data`);
  console.log(formatTable(
    ["kind", "concurrency", "ops/s", "p50 ms", "p99 ms", "errors"],
    runs.map(({ kind, concurrency, result }) => [kind, concurrency, fixed(result.opsPerSecond, 0), ms(result.latency.percentile(50)), ms(result.latency.percentile(99)), result.errors]),
  ));
  for (const concurrency of CREATE_CONCURRENCIES) {
    const builtin = runs.find((r) => r.kind === "ConfigMap" && r.concurrency === concurrency)?.result;
    const custom = runs.find((r) => r.kind === "Widget" && r.concurrency === concurrency)?.result;
    if (builtin && custom && builtin.opsPerSecond) console.log(`c=${concurrency}: custom/built-in throughput ${fixed(custom.opsPerSecond / builtin.opsPerSecond, 2)}x`);
  }
}

interface IdentityRun {
  identity: "admin" | "service account";
  concurrency: number;
  result: LoadResult;
}

/**
 * The cost of authentication and authorization: ConfigMap reads by the admin (system:masters,
 * which skips RBAC) against the same reads by a service account whose token is verified (ES256)
 * and whose rights come from a RoleBinding to the "edit" ClusterRole.
 */
async function measureIdentities(plane: { url: string; caPem?: string }, admin: HttpTarget, seconds: number, warmupSeconds: number): Promise<IdentityRun[]> {
  await expectStatus(admin, 201, "POST", `/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, Buffer.from(JSON.stringify({ metadata: { name: "bench-reader" } })));
  await expectStatus(admin, 201, "POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/rolebindings`, Buffer.from(JSON.stringify({
    metadata: { name: "bench-reader-edit" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
    subjects: [{ kind: "ServiceAccount", name: "bench-reader", namespace: NAMESPACE }],
  })));
  const issued = await expectStatus<{ status: { token: string } }>(admin, 201, "POST", `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/bench-reader/token`, Buffer.from(JSON.stringify({ spec: {} })));
  const account = new HttpTarget(plane.url, { Authorization: `Bearer ${issued.value.status.token}` }, Math.max(...CREATE_CONCURRENCIES), plane.caPem);
  await expectStatus(admin, 201, "POST", `/api/v1/namespaces/${NAMESPACE}/configmaps`, configMapBody("bench-read"));
  const runs: IdentityRun[] = [];
  try {
    // "edit" gets its rules from the clusterrole-aggregation controller, as in kube: wait for them.
    for (let waited = 0; (await account.send("GET", `/api/v1/namespaces/${NAMESPACE}/configmaps/bench-read`)).status !== 200; waited += 100) {
      if (waited >= 15_000) throw new Error(`the service account cannot read after 15 s: the "edit" ClusterRole has no rules yet (its aggregation is the controller manager's; BENCH_VARS must not turn it off for this measure)`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const concurrency of CREATE_CONCURRENCIES) {
      for (const [identity, client] of [["admin", admin], ["service account", account]] as const) {
        const result = await runClosedLoop({
          concurrency, durationMs: seconds * 1000, warmupMs: warmupSeconds * 1000,
          op: async () => {
            await expectStatus(client, 200, "GET", `/api/v1/namespaces/${NAMESPACE}/configmaps/bench-read`);
          },
        });
        runs.push({ identity, concurrency, result });
      }
    }
  } finally {
    account.close();
  }
  return runs;
}

function reportIdentities(runs: IdentityRun[]): void {
  console.log(`\nauthentication + authorization: GET of one ConfigMap by the admin (no RBAC) and by a service account (JWT + RBAC via a RoleBinding to "edit")`);
  console.log(formatTable(
    ["identity", "concurrency", "ops/s", "p50 ms", "p99 ms", "errors"],
    runs.map(({ identity, concurrency, result }) => [identity, concurrency, fixed(result.opsPerSecond, 0), ms(result.latency.percentile(50)), ms(result.latency.percentile(99)), result.errors]),
  ));
  for (const concurrency of CREATE_CONCURRENCIES) {
    const admin = runs.find((r) => r.identity === "admin" && r.concurrency === concurrency)?.result;
    const account = runs.find((r) => r.identity === "service account" && r.concurrency === concurrency)?.result;
    if (admin && account && admin.opsPerSecond) console.log(`c=${concurrency}: service account/admin throughput ${fixed(account.opsPerSecond / admin.opsPerSecond, 2)}x`);
  }
}

interface ListFigures {
  pods: number;
  seed: BatchResult;
  whole: { latency: LatencyRecorder; bytes: number; items: number };
  paged: { walks: LatencyRecorder; pages: LatencyRecorder; pagesPerWalk: number; items: number; walkBytes: number };
}

async function measureList(client: HttpTarget, pods: number, runs: number, problems: string[]): Promise<ListFigures> {
  await createNamespace(client, LIST_NAMESPACE);
  const podsPath = `/api/v1/namespaces/${LIST_NAMESPACE}/pods`;
  const seed = await runBatch({
    concurrency: SEED_CONCURRENCY, count: pods,
    op: async (index) => {
      await expectStatus(client, 201, "POST", podsPath, podBody(`web-${String(index).padStart(5, "0")}`));
    },
  });
  if (seed.errors) problems.push(`seeding: ${seed.errors} of ${pods} creates failed; first: ${message(seed.firstError)}`);
  const expected = seed.ops;

  // Times run to the last byte received, leaving out the client's own JSON.parse; a paged walk
  // is the sum of its pages' round trips.
  const wholeList = async () => {
    const { value, bytes, ms } = await expectStatus<PodList>(client, 200, "GET", podsPath);
    return { ms, bytes, items: value.items.length };
  };
  const pagedWalk = async (pages: LatencyRecorder | undefined) => {
    let ms = 0;
    let items = 0;
    let count = 0;
    let bytes = 0;
    let token: string | undefined;
    do {
      const query = `?limit=${PAGE_LIMIT}${token ? `&continue=${encodeURIComponent(token)}` : ""}`;
      const page = await expectStatus<PodList>(client, 200, "GET", podsPath + query);
      pages?.record(page.ms);
      ms += page.ms;
      if (page.value.items.length > PAGE_LIMIT) throw new Error(`a page of limit=${PAGE_LIMIT} held ${page.value.items.length} items`);
      items += page.value.items.length;
      bytes += page.bytes;
      count++;
      token = page.value.metadata?.continue || undefined;
    } while (token);
    return { ms, items, pages: count, bytes };
  };

  // One untimed LIST of each kind first: the store's first full read of the range warms its caches.
  await wholeList();
  const whole = { latency: new LatencyRecorder(), bytes: 0, items: 0 };
  for (let i = 0; i < runs; i++) {
    const run = await wholeList();
    whole.latency.record(run.ms);
    whole.bytes = run.bytes;
    whole.items = run.items;
    if (run.items !== expected) problems.push(`whole LIST ${i + 1}: ${run.items} items, want ${expected}`);
  }

  await pagedWalk(undefined);
  const paged = { walks: new LatencyRecorder(), pages: new LatencyRecorder(), pagesPerWalk: 0, items: 0, walkBytes: 0 };
  for (let i = 0; i < runs; i++) {
    const walk = await pagedWalk(paged.pages);
    paged.walks.record(walk.ms);
    paged.pagesPerWalk = walk.pages;
    paged.items = walk.items;
    paged.walkBytes = walk.bytes;
    if (walk.items !== expected) problems.push(`paged LIST walk ${i + 1}: ${walk.items} items, want ${expected}`);
  }
  if (expected !== pods) problems.push(`the LIST namespace holds ${expected} pods, not ${pods}: seeding failed`);
  return { pods: expected, seed, whole, paged };
}

interface WatchFigures {
  watchers: number;
  events: number;
  writes: LatencyRecorder;
  writeErrors: number;
  fromAck: LatencyRecorder;
  fromSend: LatencyRecorder;
  /** Deliveries that arrived before the client had read the write's own answer. */
  beforeAck: number;
  perWatcher: { min: number; max: number; complete: number };
}

/** One watch stream: when each measured configmap's ADDED event arrived, by write index. */
interface Watcher {
  response: IncomingMessage;
  received: Float64Array;
  count: number;
  sawWarmup: boolean;
  /** Why the stream closed before we closed it, if it did. */
  closed?: string;
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

async function measureWatch(client: HttpTarget, watchClient: HttpTarget, watchers: number, events: number, problems: string[]): Promise<WatchFigures> {
  const configMapsPath = `/api/v1/namespaces/${NAMESPACE}/configmaps`;
  const list = await expectStatus<{ metadata: { resourceVersion: string } }>(client, 200, "GET", configMapsPath);
  const rv = list.value.metadata.resourceVersion;
  const prefix = "watched-";
  const warmupName = "watch-warmup";

  const open = async (index: number): Promise<Watcher> => {
    const response = await watchClient.stream(`${configMapsPath}?watch=true&resourceVersion=${rv}`);
    const watcher: Watcher = { response, received: new Float64Array(events).fill(NaN), count: 0, sawWarmup: false };
    let arrived = 0;
    const split = lineSplitter((line) => {
      let event: { type: string; object: { metadata?: { name?: string }; message?: string } };
      try {
        event = JSON.parse(line);
      } catch {
        problems.push(`watcher ${index}: a line that is not JSON: ${line.slice(0, 300)}`);
        return;
      }
      const name = event.object.metadata?.name ?? "";
      if (event.type === "ERROR") problems.push(`watcher ${index}: ERROR event: ${event.object.message ?? line.slice(0, 300)}`);
      else if (event.type !== "ADDED") problems.push(`watcher ${index}: unexpected ${event.type} of ${name}`);
      else if (name === warmupName) watcher.sawWarmup = true;
      else if (name.startsWith(prefix)) {
        const i = Number(name.slice(prefix.length));
        if (Number.isNaN(watcher.received[i]!)) watcher.count++;
        else problems.push(`watcher ${index}: ${name} delivered twice`);
        watcher.received[i] = arrived;
      }
    });
    // The arrival time is taken before any parsing, for every line of the chunk.
    response.on("data", (chunk: Buffer) => {
      arrived = performance.now();
      split(chunk);
    });
    response.on("error", (e) => (watcher.closed ??= `failed: ${e.message}`));
    response.on("end", () => (watcher.closed ??= "ended by the server"));
    return watcher;
  };

  const streams = await Promise.all(Array.from({ length: watchers }, (_, i) => open(i)));
  try {
    // One unmeasured write that every watcher must see: proof each stream is live end to end.
    await expectStatus(client, 201, "POST", configMapsPath, configMapBody(warmupName));
    if (!(await waitUntil(() => streams.every((w) => w.sawWarmup || w.closed), DELIVERY_TIMEOUT_MS))) {
      problems.push(`only ${streams.filter((w) => w.sawWarmup).length} of ${watchers} watchers saw the warm-up configmap within ${DELIVERY_TIMEOUT_MS / 1000} s`);
    }

    const sent = new Float64Array(events);
    const acked = new Float64Array(events).fill(NaN);
    const writes = new LatencyRecorder();
    let writeErrors = 0;
    for (let i = 0; i < events; i++) {
      sent[i] = performance.now();
      try {
        acked[i] = (await expectStatus(client, 201, "POST", configMapsPath, configMapBody(`${prefix}${i}`))).receivedAt;
        writes.record(acked[i]! - sent[i]!);
      } catch (e) {
        if (writeErrors++ === 0) problems.push(`configmap create ${i}: ${message(e)}`);
      }
    }
    const acknowledged = events - writeErrors;
    if (!(await waitUntil(() => streams.every((w) => w.count >= acknowledged || w.closed), DELIVERY_TIMEOUT_MS))) {
      problems.push(`not every open watch saw all ${acknowledged} events within ${DELIVERY_TIMEOUT_MS / 1000} s of the last write`);
    }
    // One line per way of closing, with the events each stream had got by then.
    const closings = new Map<string, number[]>();
    for (const w of streams) if (w.closed) closings.set(w.closed, [...(closings.get(w.closed) ?? []), w.count]);
    for (const [why, counts] of closings) {
      problems.push(`${counts.length} of ${watchers} watch streams closed early (${why}) after ${[...new Set(counts)].sort((a, b) => a - b).join(", ")} events`);
    }

    const fromAck = new LatencyRecorder();
    const fromSend = new LatencyRecorder();
    let beforeAck = 0;
    for (const watcher of streams) {
      for (let i = 0; i < events; i++) {
        const at = watcher.received[i]!;
        if (Number.isNaN(at) || Number.isNaN(acked[i]!)) continue;
        fromAck.record(at - acked[i]!);
        fromSend.record(at - sent[i]!);
        if (at < acked[i]!) beforeAck++;
      }
    }
    const counts = streams.map((w) => w.count);
    const complete = counts.filter((c) => c === events).length;
    if (complete < watchers) problems.push(`${watchers - complete} of ${watchers} watchers missed events: received counts ${[...new Set(counts)].sort((a, b) => a - b).join(", ")} of ${events}`);
    return {
      watchers, events, writes, writeErrors, fromAck, fromSend, beforeAck,
      perWatcher: { min: Math.min(...counts), max: Math.max(...counts), complete },
    };
  } finally {
    for (const watcher of streams) watcher.response.destroy();
  }
}

const ms = (n: number) => fixed(n, 1);

function percentiles(latency: LatencyRecorder) {
  return { p50Ms: latency.percentile(50), p99Ms: latency.percentile(99), maxMs: latency.percentile(100) };
}

function reportCreates(runs: CreateRun[], seconds: number, warmupSeconds: number): void {
  console.log(`\npod creates: POST /api/v1/namespaces/${NAMESPACE}/pods, ${seconds} s per run after ${warmupSeconds} s warm-up, every answer must be 201`);
  console.log(formatTable(
    ["concurrency", "ops/s", "p50 ms", "p99 ms", "errors", "CPU ms/op", "SLO p99 ms"],
    runs.map(({ concurrency, result, cpuMsPerOp }) => [
      concurrency, fixed(result.opsPerSecond, 0), ms(result.latency.percentile(50)), ms(result.latency.percentile(99)),
      result.errors, fixed(cpuMsPerOp, 2), `≤ ${SLO_MUTATING_P99_MS}`,
    ]),
  ));
  for (const { concurrency, result } of runs) {
    if (result.firstError) console.log(`c=${concurrency}: first error: ${message(result.firstError)}`);
  }
}

function reportList(list: ListFigures, runs: number): void {
  const { seed, whole, paged } = list;
  console.log(`\nLIST of ${list.pods} pods: GET /api/v1/namespaces/${LIST_NAMESPACE}/pods, ${runs} timed runs of each after one untimed`);
  console.log(`seeding: ${seed.ops} creates at concurrency ${SEED_CONCURRENCY} in ${fixed(seed.elapsedMs / 1000, 1)} s ` +
    `(${fixed(seed.ops / (seed.elapsedMs / 1000), 0)}/s, p50 ${ms(seed.latency.percentile(50))} ms, p99 ${ms(seed.latency.percentile(99))} ms, ${seed.errors} errors)`);
  console.log(formatTable(
    ["request", "runs", "p50 ms", "p99 ms", "items", "bytes", "SLO p99 ms"],
    [
      ["whole", whole.latency.count, ms(whole.latency.percentile(50)), ms(whole.latency.percentile(99)), whole.items, whole.bytes, `≤ ${SLO_NAMESPACE_LIST_P99_MS}`],
      [`paged walk (${paged.pagesPerWalk} pages)`, paged.walks.count, ms(paged.walks.percentile(50)), ms(paged.walks.percentile(99)), paged.items, paged.walkBytes, "-"],
      [`page (limit=${PAGE_LIMIT})`, paged.pages.count, ms(paged.pages.percentile(50)), ms(paged.pages.percentile(99)),
        fixed(paged.items / paged.pagesPerWalk, 0), fixed(paged.walkBytes / paged.pagesPerWalk, 0), `≤ ${SLO_NAMESPACE_LIST_P99_MS}`],
    ],
  ));
}

function reportWatch(watch: WatchFigures): void {
  console.log(`\nwatch delivery: ${watch.watchers} watches of /api/v1/namespaces/${NAMESPACE}/configmaps, ${watch.events} sequential configmap creates; ` +
    "delivery is one (watcher, event) pair");
  console.log(formatTable(
    ["measure", "samples", "p50 ms", "p99 ms", "max ms", "SLO p99 ms"],
    [
      ["configmap create", watch.writes.count, ms(watch.writes.percentile(50)), ms(watch.writes.percentile(99)), ms(watch.writes.percentile(100)), `≤ ${SLO_MUTATING_P99_MS}`],
      ["delivery after ack", watch.fromAck.count, ms(watch.fromAck.percentile(50)), ms(watch.fromAck.percentile(99)), ms(watch.fromAck.percentile(100)), "-"],
      ["delivery after send", watch.fromSend.count, ms(watch.fromSend.percentile(50)), ms(watch.fromSend.percentile(99)), ms(watch.fromSend.percentile(100)), "-"],
    ],
  ));
  console.log(`events per watcher: min ${watch.perWatcher.min}, max ${watch.perWatcher.max} of ${watch.events}; ` +
    `${watch.perWatcher.complete}/${watch.watchers} watchers got all; ${watch.beforeAck} deliveries arrived before the client read the write's answer; ` +
    `${watch.writeErrors} write errors`);
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const seconds = envNumber("BENCH_SECONDS", 10);
  const warmupSeconds = envNumber("BENCH_WARMUP_SECONDS", 2);
  const count = (name: string, fallback: number) => Math.max(1, Math.floor(envNumber(name, fallback)));
  const listPods = count("BENCH_LIST_PODS", 10_000);
  const listRuns = count("BENCH_LIST_RUNS", 10);
  const watchers = count("BENCH_WATCHERS", 100);
  const watchEvents = count("BENCH_WATCH_EVENTS", 200);
  const bindings = count("BENCH_BINDINGS", 2000);
  const cases = new Set((process.env.BENCH_CASES ?? CASES.join(",")).split(",").map((c) => c.trim()).filter(Boolean));
  for (const c of cases) if (!CASES.includes(c)) throw new Error(`BENCH_CASES: unknown case ${JSON.stringify(c)}; known: ${CASES.join(", ")}`);

  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (e) {
        console.error(`stopping: ${message(e)}`);
      }
    }
  };
  // The control plane runs in its own process group, so an interrupt must stop it by hand.
  const onSignal = () => void stopAll().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const problems: string[] = [];
  const sourceChanges: string[] = [];
  try {
    const root = mkdtempSync(join(tmpdir(), "edgeplane-bench-api-"));
    stops.push(() => rmSync(root, { recursive: true, force: true }));
    // Rate limits off: the benchmark is the load, and measures the authorization chain, not the limiter.
    const engine = defaultEngine();
    const plane = await startControlPlane({ engine, stateDir: join(root, "state"), tlsDir: join(root, "tls"), vars: { RATE_LIMIT_QPS: "1000000", ...benchVars() } });
    let stopping = false;
    stops.push(() => {
      stopping = true;
      return plane.stop();
    });
    // The serving process should outlive the run (wrangler dev rebuilds when files under it change
    // and may exit); if it does not, say so with its last words.
    let planeOutput = "";
    const keep = (d: Buffer) => (planeOutput = (planeOutput + d.toString("utf8")).slice(-4000));
    plane.process.stdout?.on("data", keep);
    plane.process.stderr?.on("data", keep);
    plane.process.once("exit", (code, signal) => {
      if (!stopping) problems.push(`the control plane (${engine}) exited during the run (code ${code}, signal ${signal}); its last output:\n${planeOutput.trim()}`);
    });
    const began = performance.now();
    // workerd serves the bundle made at start; only wrangler dev reloads on source changes.
    for (const dir of engine === "wrangler" ? SOURCE_DIRS : []) {
      const watcher = watchFiles(join(PROJECT_ROOT, dir), { recursive: true }, (_event, file) => {
        sourceChanges.push(`${fixed((performance.now() - began) / 1000, 0)} s: ${dir}/${file}`);
      });
      stops.push(() => watcher.close());
    }
    const headers = { Authorization: `Bearer ${plane.token}` };
    const client = new HttpTarget(plane.url, headers, Math.max(SEED_CONCURRENCY, ...CREATE_CONCURRENCIES), plane.caPem);
    stops.push(() => client.close());
    const watchClient = new HttpTarget(plane.url, headers, watchers, plane.caPem);
    stops.push(() => watchClient.close());

    console.log(`apiserver benchmark against ${plane.url} (${engine}, fresh state); load average ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);
    await createNamespace(client, NAMESPACE);

    let creates: CreateRun[] = [];
    if (cases.has("creates")) {
      creates = await measureCreates(client, plane.process.pid!, seconds, warmupSeconds);
      reportCreates(creates, seconds, warmupSeconds);
      for (const { concurrency, result } of creates) if (result.errors) problems.push(`pod creates c=${concurrency}: ${result.errors} errors; first: ${message(result.firstError)}`);
    }

    let bound: BindingRun[] = [];
    if (cases.has("bindings")) {
      bound = await measureBindings(client, plane.process.pid!, bindings);
      reportBindings(bound);
      for (const { concurrency, result, seed } of bound) {
        if (result.errors) problems.push(`bindings c=${concurrency}: ${result.errors} errors; first: ${message(result.firstError)}`);
        if (seed.errors) problems.push(`binding seed creates c=${concurrency}: ${seed.errors} errors; first: ${message(seed.firstError)}`);
      }
    }

    let events: EventRun[] = [];
    if (cases.has("events")) {
      events = await measureEvents(client, plane.process.pid!, seconds, warmupSeconds);
      reportEvents(events);
      for (const { concurrency, result } of events) if (result.errors) problems.push(`event creates c=${concurrency}: ${result.errors} errors; first: ${message(result.firstError)}`);
    }

    let kubelet: KubeletRun[] = [];
    if (cases.has("kubelet")) {
      kubelet = await measureKubeletRequests(client, plane, plane.process.pid!, seconds, warmupSeconds);
      reportKubeletRequests(kubelet);
      for (const { request, concurrency, result } of kubelet) if (result.errors) problems.push(`${request} c=${concurrency}: ${result.errors} errors; first: ${message(result.firstError)}`);
    }

    let bodies: BodyRun[] = [];
    if (cases.has("bodies")) {
      bodies = await measureBodies(client, seconds, warmupSeconds);
      reportBodies(bodies);
      for (const { body, concurrency, result } of bodies) if (result.errors) problems.push(`${body} creates c=${concurrency}: ${result.errors} errors; first: ${message(result.firstError)}`);
    }

    let kinds: KindRun[] = [];
    if (cases.has("custom")) {
      kinds = await measureCustomResources(client, seconds, warmupSeconds);
      reportCustomResources(kinds);
      for (const { kind, concurrency, result } of kinds) if (result.errors) problems.push(`${kind} creates c=${concurrency}: ${result.errors} errors; first: ${message(result.firstError)}`);
    }

    let identities: IdentityRun[] = [];
    if (cases.has("identities")) {
      identities = await measureIdentities(plane, client, seconds, warmupSeconds).catch((e: unknown) => {
        problems.push(`reads by identity: ${message(e)}`);
        return [];
      });
      reportIdentities(identities);
      for (const { identity, concurrency, result } of identities) if (result.errors) problems.push(`${identity} reads c=${concurrency}: ${result.errors} errors; first: ${message(result.firstError)}`);
    }

    let list: ListFigures | undefined;
    if (cases.has("list")) {
      try {
        list = await measureList(client, listPods, listRuns, problems);
        reportList(list, listRuns);
      } catch (e) {
        problems.push(`LIST: ${message(e)}`);
      }
    }

    let watch: WatchFigures | undefined;
    if (cases.has("watch")) {
      try {
        watch = await measureWatch(client, watchClient, watchers, watchEvents, problems);
        reportWatch(watch);
      } catch (e) {
        problems.push(`watch: ${message(e)}`);
      }
    }

    console.log(`\nload average after: ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);
    if (sourceChanges.length) {
      const files = [...new Set(sourceChanges)];
      console.log("\nsource files changed during the run; wrangler dev rebuilds the Worker when one it bundles changes, so figures from then on are suspect:");
      for (const change of files.slice(0, 20)) console.log(`- ${change}`);
      if (files.length > 20) console.log(`- … and ${files.length - 20} more`);
    }
    if (problems.length) {
      console.log(`\nproblems (${problems.length}):`);
      for (const p of problems.slice(0, 50)) console.log(`- ${p}`);
      if (problems.length > 50) console.log(`- … and ${problems.length - 50} more`);
      process.exitCode = 1;
    }
    if (json) {
      console.log(JSON.stringify({
        benchmark: "api", seconds, warmupSeconds, loadavg: loadavg(),
        slo: { mutatingP99Ms: SLO_MUTATING_P99_MS, namespaceListP99Ms: SLO_NAMESPACE_LIST_P99_MS },
        creates: creates.map(({ concurrency, result, cpuMsPerOp }) => ({
          concurrency, ops: result.ops, opsPerSecond: result.opsPerSecond, p50Ms: result.latency.percentile(50),
          p99Ms: result.latency.percentile(99), errors: result.errors, cpuMsPerOp,
        })),
        bindings: bound.map(({ concurrency, result, cpuMsPerOp }) => ({
          concurrency, ops: result.ops, opsPerSecond: result.ops / (result.elapsedMs / 1000), p50Ms: result.latency.percentile(50), p99Ms: result.latency.percentile(99), errors: result.errors, cpuMsPerOp,
        })),
        events: events.map(({ concurrency, result, cpuMsPerOp }) => ({
          concurrency, ops: result.ops, opsPerSecond: result.opsPerSecond, p50Ms: result.latency.percentile(50), p99Ms: result.latency.percentile(99), errors: result.errors, cpuMsPerOp,
        })),
        kubelet: kubelet.map(({ request, concurrency, result, cpuMsPerOp }) => ({
          request, concurrency, ops: result.ops, opsPerSecond: result.opsPerSecond, p50Ms: result.latency.percentile(50), p99Ms: result.latency.percentile(99), errors: result.errors, cpuMsPerOp,
        })),
        bodies: bodies.map(({ body, concurrency, result }) => ({
          body, concurrency, ops: result.ops, opsPerSecond: result.opsPerSecond, p50Ms: result.latency.percentile(50), p99Ms: result.latency.percentile(99), errors: result.errors,
        })),
        customResources: kinds.map(({ kind, concurrency, result }) => ({
          kind, concurrency, ops: result.ops, opsPerSecond: result.opsPerSecond, p50Ms: result.latency.percentile(50), p99Ms: result.latency.percentile(99), errors: result.errors,
        })),
        identities: identities.map(({ identity, concurrency, result }) => ({
          identity, concurrency, ops: result.ops, opsPerSecond: result.opsPerSecond, p50Ms: result.latency.percentile(50), p99Ms: result.latency.percentile(99), errors: result.errors,
        })),
        list: list && {
          pods: list.pods,
          seed: { concurrency: SEED_CONCURRENCY, ms: list.seed.elapsedMs, opsPerSecond: list.seed.ops / (list.seed.elapsedMs / 1000), ...percentiles(list.seed.latency), errors: list.seed.errors },
          whole: { runs: list.whole.latency.count, ...percentiles(list.whole.latency), bytes: list.whole.bytes, items: list.whole.items },
          paged: {
            runs: list.paged.walks.count, limit: PAGE_LIMIT, pages: list.paged.pagesPerWalk, items: list.paged.items, walkBytes: list.paged.walkBytes,
            walk: percentiles(list.paged.walks), page: percentiles(list.paged.pages),
          },
        },
        watch: watch && {
          watchers: watch.watchers, events: watch.events, writeErrors: watch.writeErrors,
          create: percentiles(watch.writes), deliveryAfterAck: percentiles(watch.fromAck), deliveryAfterSend: percentiles(watch.fromSend),
          deliveries: watch.fromAck.count, beforeAck: watch.beforeAck, perWatcher: watch.perWatcher,
        },
        sourceChanges: [...new Set(sourceChanges)], problems,
      }));
    }
  } finally {
    await stopAll();
  }
}

await main();

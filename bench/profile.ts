// Where the control plane's CPU goes: runs one load against a fresh control plane served from
// workerd, with workerd's V8 CPU profiler on during the measured window, and prints CPU ms per
// operation: by source file, by function (self and inclusive), and what V8 does outside JS. The
// Worker and its Durable Objects (store, scheduler, controller manager) share one isolate locally,
// so one profile has them all.
//   put:        1 KiB etcd puts in a closed loop (BENCH_CONCURRENCY).
//   pod:        pod creates in a closed loop.
//   binding:    pods/binding of pods no scheduler serves (BENCH_BINDING_PODS, 4000, created first).
//   event:      events.k8s.io/v1 Event creates in a closed loop.
//   watch:      ConfigMap creates (1.5 KiB of data each, about a pod's size) in a closed loop while
//               BENCH_WATCHERS (20) watches of their namespace read every event: run it with 0, 1
//               and N watchers for what one more watcher of a write costs.
//   kubelet-lease, kubelet-node-get, kubelet-event, kubelet-pod-status, kubelet-token: one of the
//               kubelet's requests in a closed loop, each loop as its own node (bench/kubelet-requests.ts).
//   deployment: one Deployment of BENCH_REPLICAS (300) on BENCH_NODES (20) hollow nodes of the
//               simulated node agent, profiled from its create until every replica is available
//               (or BENCH_TIMEOUT_SECONDS, 300): apiserver, store, scheduler, controller manager and
//               the agent's writes together; per pod.
//
//   npm run bench:profile -- put|pod|binding|event|kubelet-…|deployment [--top N] [--save FILE.cpuprofile]
//
// Environment: BENCH_SECONDS (profiled seconds of the closed loops, default 5), BENCH_WARMUP_SECONDS (2),
// BENCH_CONCURRENCY (1), BENCH_VARS (Worker vars, "NAME=value,…"). A saved profile opens in Chrome
// DevTools' Performance panel (FILE.modules.json beside it: where each module starts in the bundle
// its lines refer to). Source files come from the comments esbuild leaves in the bundle
// (`// worker/index.ts`), which this script builds again as `wrangler deploy --dry-run` does.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, startControlPlane } from "../scripts/dev-server.ts";
import { byComponent, byModule, bundleModules, jsTime, OUTSIDE_JS, startProfiler, summarize, type CpuProfile } from "./cpu-profile.ts";
import { cpuSeconds, defaultServiceAccount, deployment, expectCreated, startHollowNodes } from "./hollow-nodes.ts";
import { joinKubelets, kubeletRequest, type Kubelet, type KubeletRequest } from "./kubelet-requests.ts";
import { HttpTarget, benchVars, envNumber, fixed, formatTable, lineSplitter, runBatch, runClosedLoop } from "./load.ts";


type Scenario = {
  setup(client: HttpTarget): Promise<void>;
  op(client: HttpTarget, seq: number, worker: number): Promise<void>;
  /** Checks after the measured loop (every watcher saw every write) and closes what setup opened. */
  finish?(ops: number): Promise<string>;
};

/** The kubelet's requests by scenario name. */
const KUBELET_SCENARIOS: Record<string, KubeletRequest> = {
  "kubelet-lease": "lease update", "kubelet-node-get": "node get", "kubelet-event": "event create",
  "kubelet-pod-status": "pod status patch", "kubelet-token": "token request",
};

function scenario(name: string, plane: { url: string; token: string; caPem?: string }, concurrency: number): Scenario {
  const request = KUBELET_SCENARIOS[name];
  if (request) {
    let kubelets: Kubelet[] = [];
    return {
      setup: async (client) => {
        await benchNamespace(client);
        kubelets = await joinKubelets(client, plane, concurrency, "bench");
      },
      op: (_client, seq, worker) => kubeletRequest(request, kubelets[worker]!, "bench", seq),
    };
  }
  if (name === "put") {
    const value = randomBytes(1024).toString("base64");
    const bodies = Array.from({ length: 1000 }, (_, i) =>
      Buffer.from(JSON.stringify({ key: Buffer.from(`/bench/store/${String(i).padStart(4, "0")}`).toString("base64"), value })));
    return {
      setup: async () => {},
      op: async (client, seq) => void (await client.post("/etcd/v3/kv/put", bodies[seq % bodies.length]!)),
    };
  }
  if (name === "pod") {
    const pod = (n: number) => Buffer.from(JSON.stringify({
      apiVersion: "v1", kind: "Pod",
      metadata: { name: `web-${n}`, labels: { app: "bench-web", tier: "frontend", "pod-template-hash": "5d9c8b7f4" } },
      spec: { containers: [{ name: "web", image: "nginx:1.27", ports: [{ name: "http", containerPort: 80 }], resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "128Mi" } } }] },
    }));
    return {
      setup: benchNamespace,
      op: async (client, seq) => {
        const answer = await client.send("POST", "/api/v1/namespaces/bench/pods", pod(seq));
        if (answer.status !== 201) throw new Error(`pod create: HTTP ${answer.status}: ${answer.body.toString().slice(0, 200)}`);
      },
    };
  }
  if (name === "binding") {
    // Pods no scheduler serves, created ahead (untimed); each op binds the next one.
    const pods = Math.max(1, Math.floor(envNumber("BENCH_BINDING_PODS", 4000)));
    const pod = (n: number) => Buffer.from(JSON.stringify({
      apiVersion: "v1", kind: "Pod",
      metadata: { name: `bound-${n}`, labels: { app: "bench-web" } },
      spec: { schedulerName: "bench-manual", containers: [{ name: "web", image: "nginx:1.27", resources: { requests: { cpu: "100m", memory: "64Mi" } } }] },
    }));
    let next = 0;
    return {
      setup: async (client) => {
        await benchNamespace(client);
        await client.send("POST", "/api/v1/nodes", Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: "bench-node" } })));
        const seeded = await runBatch({
          concurrency: 16, count: pods,
          op: async (i) => {
            const answer = await client.send("POST", "/api/v1/namespaces/bench/pods", pod(i));
            if (answer.status !== 201) throw new Error(`pod create: HTTP ${answer.status}: ${answer.body.toString().slice(0, 200)}`);
          },
        });
        if (seeded.errors) throw new Error(`seeding: ${seeded.errors} creates failed; first: ${(seeded.firstError as Error).message}`);
      },
      op: async (client) => {
        const n = next++;
        if (n >= pods) throw new Error(`all ${pods} pods are bound: raise BENCH_BINDING_PODS`);
        const answer = await client.send("POST", `/api/v1/namespaces/bench/pods/bound-${n}/binding`, Buffer.from(JSON.stringify({
          apiVersion: "v1", kind: "Binding", metadata: { name: `bound-${n}` }, target: { apiVersion: "v1", kind: "Node", name: "bench-node" },
        })));
        if (answer.status !== 201) throw new Error(`binding: HTTP ${answer.status}: ${answer.body.toString().slice(0, 200)}`);
      },
    };
  }
  if (name === "event") {
    // events.k8s.io/v1 Events as the node agent records an image pull.
    const event = (n: number) => {
      const now = new Date();
      return Buffer.from(JSON.stringify({
        apiVersion: "events.k8s.io/v1", kind: "Event",
        metadata: { name: `web-${n}.${(BigInt(now.getTime()) * 1_000_000n + BigInt(n)).toString(16)}`, namespace: "bench" },
        eventTime: `${now.toISOString().slice(0, 19)}.${String(now.getUTCMilliseconds() * 1000).padStart(6, "0")}Z`,
        reportingController: "kubelet", reportingInstance: "bench-node", action: "Pulled", reason: "Pulled", type: "Normal",
        note: `Container image "nginx:1.27" already present on machine`,
        regarding: { apiVersion: "v1", kind: "Pod", name: `web-${n}`, namespace: "bench", uid: "8f2c3a4e-0b1d-4c6e-9f7a-1b2c3d4e5f60", fieldPath: "spec.containers{web}" },
      }));
    };
    return {
      setup: benchNamespace,
      op: async (client, seq) => {
        const answer = await client.send("POST", "/apis/events.k8s.io/v1/namespaces/bench/events", event(seq));
        if (answer.status !== 201) throw new Error(`event create: HTTP ${answer.status}: ${answer.body.toString().slice(0, 200)}`);
      },
    };
  }
  if (name === "watch") return watchScenario(plane, Math.max(0, Math.floor(envNumber("BENCH_WATCHERS", 20))));
  throw new Error(`unknown scenario ${JSON.stringify(name)}: ${SCENARIOS.join(", ")}`);
}

const SCENARIOS = ["put", "pod", "binding", "event", "watch", ...Object.keys(KUBELET_SCENARIOS), "deployment"];

/** ConfigMap creates seen by `watchers` watches of their namespace (each its own connection), read to the last event. */
function watchScenario(plane: { url: string; token: string; caPem?: string }, watchers: number): Scenario {
  const data = { payload: randomBytes(1152).toString("base64") };
  const configMap = (n: number) => Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `watched-${n}` }, data }));
  const watchClient = new HttpTarget(plane.url, { Authorization: `Bearer ${plane.token}` }, Math.max(1, watchers), plane.caPem);
  const streams: { response: import("node:http").IncomingMessage; events: number }[] = [];
  let created = 0;
  return {
    setup: async (client) => {
      await benchNamespace(client);
      const list = await client.send("GET", "/api/v1/namespaces/bench/configmaps?limit=1");
      const rv = (JSON.parse(list.body.toString("utf8")) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
      for (let i = 0; i < watchers; i++) {
        const response = await watchClient.stream(`/api/v1/namespaces/bench/configmaps?watch=true&resourceVersion=${rv}`);
        const stream = { response, events: 0 };
        response.on("data", lineSplitter(() => void stream.events++));
        streams.push(stream);
      }
    },
    op: async (client, seq) => {
      const answer = await client.send("POST", "/api/v1/namespaces/bench/configmaps", configMap(seq));
      if (answer.status !== 201) throw new Error(`configmap create: HTTP ${answer.status}: ${answer.body.toString().slice(0, 200)}`);
      created++;
    },
    finish: async () => {
      const deadline = performance.now() + 60_000;
      while (streams.some((s) => s.events < created) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const behind = streams.filter((s) => s.events < created).length;
      for (const s of streams) s.response.destroy();
      watchClient.close();
      if (behind) throw new Error(`${behind} of ${watchers} watchers did not see all ${created} creates within 60 s`);
      return `${watchers} watchers each saw all ${created} creates`;
    },
  };
}

/** The bench namespace and its default ServiceAccount (made here when the controller manager is off). */
async function benchNamespace(client: HttpTarget): Promise<void> {
  const answer = await client.send("POST", "/api/v1/namespaces", Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "bench" } })));
  if (answer.status !== 201) throw new Error(`namespace: HTTP ${answer.status}`);
  const account = await client.send("POST", "/api/v1/namespaces/bench/serviceaccounts", Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default" } })));
  if (account.status !== 201 && account.status !== 409) throw new Error(`default ServiceAccount: HTTP ${account.status}`);
}

/** API requests since `since`, from the audit log, counted by client ("kube-scheduler", "node", …), verb and resource (and 5xx answers apart). */
async function requestsSince(api: HttpTarget, since: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const client = (user: string) => user.replace(/^system:node:.*/, "node").replace(/^system:/, "");
  let next: string | undefined;
  do {
    const answer = await api.send("GET", `/audit/v1/events?since=${encodeURIComponent(since)}&limit=5000${next ? `&continue=${encodeURIComponent(next)}` : ""}`);
    if (answer.status !== 200) throw new Error(`audit log: HTTP ${answer.status}`);
    const list = JSON.parse(answer.body.toString("utf8")) as {
      metadata: { continue?: string };
      items: { verb: string; user: { username: string }; objectRef?: { resource?: string; subresource?: string }; responseStatus?: { code?: number; message?: string } }[];
    };
    for (const e of list.items) {
      const resource = e.objectRef?.resource ? `${e.objectRef.resource}${e.objectRef.subresource ? `/${e.objectRef.subresource}` : ""}` : "-";
      const code = e.responseStatus?.code ?? 0;
      // Server errors are counted apart, with their message: the apiserver should answer none.
      const key = `${client(e.user.username)} ${e.verb} ${resource}${code >= 500 ? ` → ${code} ${e.responseStatus?.message ?? ""}` : ""}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    next = list.metadata.continue || undefined;
  } while (next);
  return counts;
}

/** One Deployment of `replicas` on hollow nodes, profiled from its create until every replica is available. */
async function profileDeployment(inspectorPort: number, plane: import("../scripts/dev-server.ts").ControlPlane, api: HttpTarget, root: string) {
  const nodes = Math.max(1, Math.floor(envNumber("BENCH_NODES", 20)));
  const replicas = Math.max(1, Math.floor(envNumber("BENCH_REPLICAS", 300)));
  const timeoutMs = envNumber("BENCH_TIMEOUT_SECONDS", 300) * 1000;
  let agent: ChildProcess | undefined;
  try {
    const setupDeadline = performance.now() + 300_000;
    await expectCreated(api, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "bench" } });
    agent = (await startHollowNodes(plane, api, nodes, join(root, "agent"), setupDeadline)).agent;
    await defaultServiceAccount(api, "bench", setupDeadline);
    const group = plane.process.pid!;
    const cpuBefore = cpuSeconds((_, g) => g === group);
    const stop = await startProfiler(inspectorPort);
    const start = performance.now();
    const startedAt = new Date().toISOString();
    await expectCreated(api, "POST", "/apis/apps/v1/namespaces/bench/deployments", deployment("bench", "web", replicas));
    let available = 0;
    while (performance.now() - start < timeoutMs) {
      const answer = await api.send("GET", "/apis/apps/v1/namespaces/bench/deployments/web");
      available = (JSON.parse(answer.body.toString("utf8")) as { status?: { availableReplicas?: number } }).status?.availableReplicas ?? 0;
      if (available >= replicas) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const seconds = (performance.now() - start) / 1000;
    const profile = await stop();
    const cpuMs = (cpuSeconds((_, g) => g === group) - cpuBefore) * 1000;
    const requests = await requestsSince(api, startedAt);
    return {
      profile, ops: replicas, requests, unit: "pod",
      title: `one Deployment of ${replicas} on ${nodes} hollow nodes: ${available} of ${replicas} available in ${fixed(seconds, 1)} s; ` +
        `control plane processes (workerd, Miniflare) ${fixed(cpuMs / replicas, 1)} ms CPU per pod`,
    };
  } finally {
    agent?.kill("SIGKILL");
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "30" }, save: { type: "string" } } });
  const which = positionals[0] ?? "put";
  if (!SCENARIOS.includes(which)) throw new Error(`unknown scenario ${JSON.stringify(which)}: ${SCENARIOS.join(", ")}`);
  const top = Number(values.top);
  const seconds = envNumber("BENCH_SECONDS", 5);
  const warmupSeconds = envNumber("BENCH_WARMUP_SECONDS", 2);
  const concurrency = envNumber("BENCH_CONCURRENCY", 1);
  const { moduleOf, starts } = bundleModules();
  const root = mkdtempSync(join(tmpdir(), "edgeplane-profile-"));
  const inspectorPort = await freePort();
  // Plain HTTP for puts (as bench:store), HTTPS otherwise (as bench:api and kubectl).
  const plane = await startControlPlane({ stateDir: join(root, "state"), tlsDir: which === "put" ? undefined : join(root, "tls"), inspectorPort, vars: { RATE_LIMIT_QPS: "1000000", ...benchVars() } });
  const client = new HttpTarget(plane.url, { Authorization: `Bearer ${plane.token}` }, Math.max(concurrency, 4), plane.caPem);
  const loadBefore = loadavg()[0]!.toFixed(2);
  try {
    let run: { profile: CpuProfile; ops: number; title: string; unit: string; requests?: Map<string, number> };
    if (which === "deployment") run = await profileDeployment(inspectorPort, plane, client, root);
    else {
      const work = scenario(which, plane, concurrency);
      await work.setup(client);
      await runClosedLoop({ concurrency, durationMs: warmupSeconds * 1000, warmupMs: 0, op: (w, seq) => work.op(client, seq, w) });
      const group = plane.process.pid!;
      const cpuBefore = cpuSeconds((_, g) => g === group);
      const stop = await startProfiler(inspectorPort);
      const result = await runClosedLoop({ concurrency, durationMs: seconds * 1000, warmupMs: 0, op: (w, seq) => work.op(client, seq + 1_000_000, w) });
      const finished = await work.finish?.(result.ops);
      const profile = await stop();
      const cpuMs = (cpuSeconds((_, g) => g === group) - cpuBefore) * 1000;
      if (result.errors) throw new Error(`${result.errors} errors; first: ${(result.firstError as Error).message}`);
      run = {
        profile, ops: result.ops, unit: "op",
        title: `${which} at concurrency ${concurrency}: ${result.ops} ops in ${seconds} s (${fixed(result.opsPerSecond, 0)}/s)${finished ? `, ${finished}` : ""}; ` +
          `control plane processes (workerd, Miniflare) ${fixed(cpuMs / result.ops, 3)} ms CPU per op`,
      };
    }
    const { profile, ops, unit } = run;
    if (values.save) {
      writeFileSync(values.save, JSON.stringify(profile));
      // Where each module starts in the bundle, to read the saved profile's lines by source file.
      writeFileSync(`${values.save}.modules.json`, JSON.stringify(starts));
    }
    const { self, inclusive, total } = summarize(profile, moduleOf);
    const perOp = (ms: number) => fixed(ms / ops, 3);
    const idle = self.get("(idle)") ?? 0;
    console.log(`${run.title}; our isolate busy ${perOp(total - idle)} ms per ${unit}, ${perOp(jsTime(self))} of it in JS ` +
      `(of ${perOp(total)} ms wall per ${unit}); load average ${loadBefore} → ${loadavg()[0]!.toFixed(2)}`);
    const table = (title: string, rows: [string, number][]) => {
      console.log(`\n${title}, ms per ${unit}`);
      console.log(formatTable(["", `ms/${unit}`, "% busy"], rows.slice(0, top).map(([n, ms]) => [n, perOp(ms), fixed((100 * ms) / (total - idle), 1)])));
    };
    if (run.requests) {
      const rows = [...run.requests].sort((a, b) => b[1] - a[1]).slice(0, top);
      console.log(`\nAPI requests per ${unit} (audit log; client verb resource)`);
      console.log(formatTable(["", `per ${unit}`], rows.map(([k, n]) => [k, fixed(n / ops, 2)])));
      const failed = [...run.requests].filter(([k]) => k.includes(" → 5"));
      console.log(failed.length ? `\nanswered 5xx:\n${failed.map(([k, n]) => `  ${n} × ${k}`).join("\n")}` : "\nanswered 5xx: none");
    }
    table("busy time by part of the control plane (the innermost worker/ or durable-objects/ frame of each sample)", [...byComponent(profile, moduleOf)].sort((a, b) => b[1] - a[1]));
    table("self time by source file", [...byModule(profile, moduleOf)].filter(([n]) => n !== "(idle)").sort((a, b) => b[1] - a[1]));
    table("self time by function", [...self].filter(([n]) => n !== "(idle)").sort((a, b) => b[1] - a[1]));
    table("inclusive time by function", [...inclusive].filter(([n]) => !OUTSIDE_JS.has(n)).sort((a, b) => b[1] - a[1]));
  } finally {
    client.close();
    await plane.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();

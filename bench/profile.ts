// Where a request's CPU goes: runs one load (1 KiB etcd puts, or pod creates) against a fresh
// control plane served from workerd, with workerd's V8 CPU profiler on during the measured window,
// and prints CPU ms per request: JS by function (self and inclusive) and what V8 does outside it.
// The Worker and its store Durable Object share one isolate locally, so one profile has both.
//
//   npm run bench:profile -- put|pod [--top N] [--save FILE.cpuprofile]
//
// Environment: BENCH_SECONDS (profiled seconds, default 5), BENCH_WARMUP_SECONDS (2),
// BENCH_CONCURRENCY (1), BENCH_VARS (Worker vars, "NAME=value,…"). A saved profile opens in Chrome DevTools' Performance panel.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, startControlPlane } from "../scripts/dev-server.ts";
import { HttpTarget, benchVars, envNumber, fixed, formatTable, runClosedLoop } from "./load.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A DevTools protocol session with workerd's inspector for one worker. */
async function inspect(port: number, target: string) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/${target}`);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", () => reject(new Error(`inspector ${target}: cannot connect`)), { once: true });
  });
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });
  return {
    call<T>(method: string, params: object = {}): Promise<T> {
      const id = next++;
      socket.send(JSON.stringify({ id, method, params }));
      return new Promise<T>((resolve, reject) => pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    },
    close: () => socket.close(),
  };
}

const OUTSIDE_JS = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  if (OUTSIDE_JS.has(functionName)) return functionName;
  const file = url.split("/").pop() || "native";
  return `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
}

/** Self and inclusive sampled time per function name, in ms. */
function summarize(profile: CpuProfile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const leaf = byId.get(profile.samples[i]!)!;
    const leafName = frameName(leaf);
    total += ms;
    self.set(leafName, (self.get(leafName) ?? 0) + ms);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const name = frameName(byId.get(id)!);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
    }
  }
  return { self, inclusive, total };
}

/** Sampled time in JS functions, leaving out V8's own buckets. */
function jsTime(self: Map<string, number>): number {
  return [...self].filter(([n]) => !OUTSIDE_JS.has(n)).reduce((sum, [, ms]) => sum + ms, 0);
}

type Scenario = { setup(client: HttpTarget): Promise<void>; op(client: HttpTarget, seq: number): Promise<void> };

function scenario(name: string): Scenario {
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
      setup: async (client) => {
        const answer = await client.send("POST", "/api/v1/namespaces", Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "bench" } })));
        if (answer.status !== 201) throw new Error(`namespace: HTTP ${answer.status}`);
      },
      op: async (client, seq) => {
        const answer = await client.send("POST", "/api/v1/namespaces/bench/pods", pod(seq));
        if (answer.status !== 201) throw new Error(`pod create: HTTP ${answer.status}: ${answer.body.toString().slice(0, 200)}`);
      },
    };
  }
  throw new Error(`unknown scenario ${JSON.stringify(name)}: put or pod`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "30" }, save: { type: "string" } } });
  const which = positionals[0] ?? "put";
  const top = Number(values.top);
  const seconds = envNumber("BENCH_SECONDS", 5);
  const warmupSeconds = envNumber("BENCH_WARMUP_SECONDS", 2);
  const concurrency = envNumber("BENCH_CONCURRENCY", 1);
  const work = scenario(which);
  const root = mkdtempSync(join(tmpdir(), "edgeplane-profile-"));
  const inspectorPort = await freePort();
  // Plain HTTP for puts (as bench:store), HTTPS for pods (as bench:api and kubectl).
  const plane = await startControlPlane({ stateDir: join(root, "state"), tlsDir: which === "pod" ? join(root, "tls") : undefined, inspectorPort, vars: { RATE_LIMIT_QPS: "1000000", ...benchVars() } });
  const client = new HttpTarget(plane.url, { Authorization: `Bearer ${plane.token}` }, concurrency, plane.caPem);
  try {
    await work.setup(client);
    await runClosedLoop({ concurrency, durationMs: warmupSeconds * 1000, warmupMs: 0, op: (_w, seq) => work.op(client, seq) });
    // Our Worker and its Durable Object share one isolate. Over HTTPS, Miniflare's entry worker
    // (another isolate on the same thread) passes each request on to ours; it is not profiled.
    const inspector = await inspect(inspectorPort, "core:user:edgeplane");
    await inspector.call("Profiler.enable");
    await inspector.call("Profiler.setSamplingInterval", { interval: 100 });
    await inspector.call("Profiler.start");
    const result = await runClosedLoop({ concurrency, durationMs: seconds * 1000, warmupMs: 0, op: (_w, seq) => work.op(client, seq + 1_000_000) });
    const { profile } = await inspector.call<{ profile: CpuProfile }>("Profiler.stop");
    inspector.close();
    if (values.save) writeFileSync(values.save, JSON.stringify(profile));
    if (result.errors) throw new Error(`${result.errors} errors; first: ${(result.firstError as Error).message}`);
    const { self, inclusive, total } = summarize(profile);
    const perOp = (ms: number) => fixed(ms / result.ops, 3);
    const idle = self.get("(idle)") ?? 0;
    console.log(`${which} at concurrency ${concurrency}: ${result.ops} ops in ${seconds} s (${fixed(result.opsPerSecond, 0)}/s); ` +
      `our isolate busy ${perOp(total - idle)} ms per op, ${perOp(jsTime(self))} of it in JS (of ${perOp(total)} ms wall per op); `);
    console.log("\nself time, ms per op");
    const selfRows = [...self].filter(([n]) => n !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, top);
    console.log(formatTable(["function", "ms/op", "% busy"], selfRows.map(([n, ms]) => [n, perOp(ms), fixed((100 * ms) / (total - idle), 1)])));
    console.log("\ninclusive time, ms per op");
    const inclusiveRows = [...inclusive].filter(([n]) => !OUTSIDE_JS.has(n)).sort((a, b) => b[1] - a[1]).slice(0, top);
    console.log(formatTable(["function", "ms/op", "% busy"], inclusiveRows.map(([n, ms]) => [n, perOp(ms), fixed((100 * ms) / (total - idle), 1)])));
  } finally {
    client.close();
    await plane.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();

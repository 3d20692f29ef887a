// The store benchmark: 1 KiB puts through etcd's v3 JSON gateway, sent by one client to a local
// etcd 3.4 and to our store (the Worker's /etcd gateway), one target at a time.
//
//   npm run bench:store [-- --json]
//
// Environment: BENCH_SECONDS (measured seconds per run, default 10), BENCH_WARMUP_SECONDS
// (default 2), BENCH_CONCURRENCY ("1,32"), BENCH_TARGETS ("etcd,edgeplane"). BENCH_EDGEPLANE_URL
// and BENCH_EDGEPLANE_TOKEN aim at a control plane that is already running instead of starting
// one. Beside throughput and latency it prints each server's CPU time per put (warm-up included)
// when the server runs here: on a machine shared with other work, the steadier figure. The one started here is served straight from workerd (startControlPlane's default engine;
// EDGEPLANE_DEV=wrangler measures it behind wrangler dev's proxy instead).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { defaultEngine, startControlPlane } from "../scripts/dev-server.ts";
import { startEtcd } from "../test/support/etcd.ts";
import { cpuSeconds } from "./hollow-nodes.ts";
import { HttpTarget, envNumber, fixed, formatTable, runClosedLoop, type LoadResult } from "./load.ts";

const KEYS = 1000;
const VALUE_BYTES = 1024;

interface Server {
  name: string;
  /** The gateway base: `${base}/v3/kv/put` is the put endpoint. */
  base: string;
  headers: Record<string, string>;
  /** The server's CPU seconds so far (its processes), when it runs on this machine. */
  cpu?: () => number;
}

interface Row {
  target: string;
  concurrency: number;
  result: LoadResult;
  /** The server's CPU milliseconds per put (warm-up included), when it runs here. */
  cpuMsPerOp?: number;
}

function envList(name: string, fallback: string): string[] {
  return (process.env[name] || fallback).split(",").map((s) => s.trim()).filter(Boolean);
}

/** One prebuilt request body per key, so the client spends nothing on encoding while measuring. */
function putBodies(): Buffer[] {
  const value = randomBytes(VALUE_BYTES).toString("base64");
  return Array.from({ length: KEYS }, (_, i) => {
    const key = Buffer.from(`/bench/store/${String(i).padStart(4, "0")}`).toString("base64");
    return Buffer.from(JSON.stringify({ key, value }));
  });
}

async function measure(server: Server, concurrency: number, bodies: Buffer[], durationMs: number, warmupMs: number): Promise<Omit<Row, "target" | "concurrency">> {
  const client = new HttpTarget(server.base, server.headers, concurrency);
  try {
    // One put first, so a wrong URL or token fails loudly instead of as a run full of errors.
    const answer = JSON.parse(await client.post("/v3/kv/put", bodies[0]!)) as { header?: { revision?: string } };
    if (!answer.header?.revision) throw new Error(`${server.name}: a put answered without a revision: ${JSON.stringify(answer)}`);
    const cpuBefore = server.cpu?.();
    let puts = 0;
    const result = await runClosedLoop({
      concurrency, durationMs, warmupMs,
      op: async (_worker, seq) => {
        await client.post("/v3/kv/put", bodies[seq % KEYS]!);
        puts++;
      },
    });
    const cpuMsPerOp = cpuBefore === undefined || puts === 0 ? undefined : ((server.cpu!() - cpuBefore) * 1000) / puts;
    return { result, cpuMsPerOp };
  } finally {
    client.close();
  }
}

function ratio(ours: number, theirs: number): string {
  return Number.isFinite(ours) && Number.isFinite(theirs) && theirs > 0 ? `${(ours / theirs).toFixed(2)}x` : "-";
}

interface Pair {
  concurrency: number;
  etcd: LoadResult;
  ours: LoadResult;
  /** CPU per put: ours, etcd's. */
  cpu: [number | undefined, number | undefined];
}

function report(rows: Row[], seconds: number, json: boolean): void {
  console.log(formatTable(
    ["target", "concurrency", "ops/s", "p50 ms", "p99 ms", "CPU ms/put", "errors"],
    rows.map(({ target, concurrency, result, cpuMsPerOp }) => [
      target, concurrency, fixed(result.opsPerSecond, 0), fixed(result.latency.percentile(50), 2),
      fixed(result.latency.percentile(99), 2), cpuMsPerOp === undefined ? "-" : fixed(cpuMsPerOp, 3), result.errors,
    ]),
  ));
  const concurrencies = [...new Set(rows.map((r) => r.concurrency))];
  const pairs = concurrencies.flatMap((concurrency): Pair[] => {
    const etcd = rows.find((r) => r.concurrency === concurrency && r.target === "etcd");
    const ours = rows.find((r) => r.concurrency === concurrency && r.target === "edgeplane");
    return etcd && ours ? [{ concurrency, etcd: etcd.result, ours: ours.result, cpu: [ours.cpuMsPerOp, etcd.cpuMsPerOp] }] : [];
  });
  if (pairs.length) {
    console.log();
    console.log(formatTable(
      ["edgeplane/etcd", "ops/s", "p50", "p99", "CPU/put"],
      pairs.map(({ concurrency, etcd, ours, cpu }) => [
        `c=${concurrency}`, ratio(ours.opsPerSecond, etcd.opsPerSecond),
        ratio(ours.latency.percentile(50), etcd.latency.percentile(50)),
        ratio(ours.latency.percentile(99), etcd.latency.percentile(99)),
        ratio(cpu[0] ?? NaN, cpu[1] ?? NaN),
      ]),
    ));
  }
  for (const { target, concurrency, result } of rows) {
    if (result.firstError) console.log(`${target} c=${concurrency}: first error: ${(result.firstError as Error).message ?? result.firstError}`);
  }
  if (json) {
    console.log(JSON.stringify({
      benchmark: "store-put", seconds, valueBytes: VALUE_BYTES, keys: KEYS, loadavg: loadavg(),
      results: rows.map(({ target, concurrency, result, cpuMsPerOp }) => ({
        target, concurrency, ops: result.ops, opsPerSecond: result.opsPerSecond, p50Ms: result.latency.percentile(50),
        p99Ms: result.latency.percentile(99), cpuMsPerOp, errors: result.errors,
      })),
      ratios: pairs.map(({ concurrency, etcd, ours }) => ({
        concurrency, opsPerSecond: ours.opsPerSecond / etcd.opsPerSecond,
        p50: ours.latency.percentile(50) / etcd.latency.percentile(50), p99: ours.latency.percentile(99) / etcd.latency.percentile(99),
      })),
    }));
  }
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const seconds = envNumber("BENCH_SECONDS", 10);
  const warmupSeconds = envNumber("BENCH_WARMUP_SECONDS", 2);
  const concurrencies = envList("BENCH_CONCURRENCY", "1,32").map((c) => {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_CONCURRENCY: ${JSON.stringify(c)} is not a positive integer`);
    return n;
  });
  const targets = envList("BENCH_TARGETS", "etcd,edgeplane");
  for (const t of targets) if (t !== "etcd" && t !== "edgeplane") throw new Error(`BENCH_TARGETS: unknown target ${JSON.stringify(t)}`);

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((e) => console.error(`stopping: ${(e as Error).message}`));
  };
  // The control plane runs in its own process group, so an interrupt must stop it by hand.
  const onSignal = () => void stopAll().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    const servers = new Map<string, Server>();
    if (targets.includes("etcd")) {
      const etcd = await startEtcd();
      stops.push(etcd.stop);
      servers.set("etcd", { name: "etcd", base: etcd.url, headers: {}, cpu: () => cpuSeconds((pid) => pid === etcd.pid) });
    }
    if (targets.includes("edgeplane")) {
      let url = process.env.BENCH_EDGEPLANE_URL;
      let token = process.env.BENCH_EDGEPLANE_TOKEN ?? "";
      let cpu: (() => number) | undefined;
      if (!url) {
        const stateDir = mkdtempSync(join(tmpdir(), "edgeplane-bench-"));
        stops.push(async () => rmSync(stateDir, { recursive: true, force: true }));
        console.log(`starting the control plane (${defaultEngine()})`);
        const plane = await startControlPlane({ stateDir });
        stops.push(plane.stop);
        ({ url, token } = plane);
        // The control plane runs in its own process group: workerd and the script that drives it.
        const group = plane.process.pid!;
        cpu = () => cpuSeconds((_, pgid) => pgid === group);
      }
      servers.set("edgeplane", { name: "edgeplane", base: `${url.replace(/\/$/, "")}/etcd`, headers: { Authorization: `Bearer ${token}` }, cpu });
    }

    const bodies = putBodies();
    console.log(`store put benchmark: ${VALUE_BYTES} B values over ${KEYS} keys, ${seconds} s per run after ${warmupSeconds} s warm-up; ` +
      `load average ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);
    const rows: Row[] = [];
    // Concurrency in the outer loop, so each pair is measured back to back under the same conditions.
    for (const concurrency of concurrencies) {
      for (const target of targets) {
        rows.push({ target, concurrency, ...await measure(servers.get(target)!, concurrency, bodies, seconds * 1000, warmupSeconds * 1000) });
      }
    }
    console.log(`load average after: ${loadavg().map((n) => n.toFixed(2)).join(" ")}\n`);
    report(rows, seconds, json);
    if (rows.some((r) => r.result.errors > 0)) process.exitCode = 1;
  } finally {
    await stopAll();
  }
}

await main();

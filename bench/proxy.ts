// The service proxy's cost at scale, in network namespaces of its own (as root), for the iptables
// and nftables modes side by side:
//   rules:      Services of 10 ready endpoints each become one rule set applied into empty tables,
//               then one Service's endpoints change five times, each a partial sync (only what
//               changed written): compute and apply times.
//   e2e:        a control plane of its own holds the Services and their EndpointSlices (created
//               through the API); the agent's ServiceProxy (its informers, minSyncPeriod 1 s, the
//               mode's backend) runs against it in a namespace; then one EndpointSlice at a time is
//               changed through the apiserver, 1.5 s apart, and the time from the PATCH sent to the
//               rules holding it applied is measured (kube's network programming latency).
//   packet:     with that whole rule set loaded, the time to connect (SYN → SYN-ACK) to the last
//               Service's ClusterIP against its backend's address directly, from the node namespace.
//   cri:        (not by default; as root with containerd, under the host lock) the same first-packet
//               comparison on a real node: the agent joined in a namespace, one busybox httpd pod.
//   dns:        in-cluster A queries per second and latency against the cluster DNS server in a
//               process of its own, with the CPU it used (queries per CPU-second = per core):
//               1,000 names asked over and over (its answer cache), and every question spelled in
//               a new letter case (no answer reused: decode, look up, encode each time).
//
//   npm run bench:proxy
//
// Environment: BENCH_CASES (rules,e2e,dns), BENCH_MODES (iptables,nftables), BENCH_SERVICES (comma
// list, default "1000,10000"), BENCH_ENDPOINTS (10), BENCH_CHANGES (e2e changes, 30),
// BENCH_CONNECTS (packet, 2000), BENCH_DNS_QUERIES (50000), BENCH_DNS_WINDOW (in flight, 64).
// The load average is printed with every figure: the machine may be shared.
import { execFileSync, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Service } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import dnsPacket from "dns-packet";
import { ApiClient } from "../lib/client/index.ts";
import { builtin } from "../lib/k8s/resources.ts";
import { ClusterDNS } from "../node-agent/dns/server.ts";
import { httpsFetch } from "../node-agent/http.ts";
import { hostCommands } from "../node-agent/proxy/iptables.ts";
import { backendFor, type ProxyMode } from "../node-agent/proxy/modes.ts";
import { ServiceProxy } from "../node-agent/proxy/proxier.ts";
import type { ProxyState } from "../node-agent/proxy/rules.ts";
import { ServiceInformers } from "../node-agent/proxy/service-informers.ts";
import { BACKENDS, LOCAL_CIDR, startTestbed, type Testbed } from "../node-agent/proxy/testbed.ts";
import { defaultEngine, startControlPlane } from "../scripts/dev-server.ts";
import { kubectl, ServicesNode } from "../test/support/services.ts";
import { benchVars, formatTable, LatencyRecorder, runBatch } from "./load.ts";

const cases = (process.env.BENCH_CASES ?? "rules,e2e,dns").split(",");
const modes = (process.env.BENCH_MODES ?? "iptables,nftables").split(",") as ProxyMode[];
const counts = (process.env.BENCH_SERVICES ?? "1000,10000").split(",").map(Number);
const endpointsPerService = Number(process.env.BENCH_ENDPOINTS ?? 10);
const changes = Number(process.env.BENCH_CHANGES ?? 30);
const connects = Number(process.env.BENCH_CONNECTS ?? 2000);
const dnsQueries = Number(process.env.BENCH_DNS_QUERIES ?? 50000);
const dnsWindow = Number(process.env.BENCH_DNS_WINDOW ?? 64);
const NAMESPACE = "bench";
const NODE = "node-0";

/** Changes made so far, across modes and counts: each gives an endpoint a new address. */
let changeSerial = 0;

const load = () => loadavg().map((n) => n.toFixed(2)).join(" ");
const round = (n: number) => Math.round(n * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Service i: a ClusterIP, port 80, and its slice of 10 endpoints (the last Service's are the testbed's real backends). */
function serviceOf(i: number, count: number): { service: Service; slice: EndpointSlice } {
  const name = `svc-${String(i).padStart(5, "0")}`;
  const real = i === count - 1;
  return {
    service: { metadata: { namespace: NAMESPACE, name }, spec: { clusterIP: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }] } },
    slice: {
      apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
      metadata: { namespace: NAMESPACE, name: `${name}-1`, labels: { "kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": "bench.edgeplane.dev" } },
      addressType: "IPv4", ports: [{ port: 8080, protocol: "TCP" }],
      endpoints: (real ? BACKENDS : Array.from({ length: endpointsPerService }, (_, e) => `10.${64 + (e % 64)}.${(i >> 8) & 255}.${i & 255}`)).map((ip, e) => ({ addresses: [ip], nodeName: `node-${e}`, conditions: { ready: true } })),
    },
  };
}

function stateOf(count: number, generation = 0): ProxyState {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < count; i++) {
    const { service, slice } = serviceOf(i, count);
    if (i === 0 && generation) slice.endpoints[0]!.addresses = [`10.200.${generation >> 8}.${generation & 255}`];
    services.push(service);
    slices.push(slice);
  }
  return { services, slices, node: { name: NODE, localCIDR: LOCAL_CIDR } };
}

/** Rule sets applied straight from memory: what the mode itself costs. */
async function ruleFigures(mode: ProxyMode, count: number): Promise<(string | number)[]> {
  const bed = await startTestbed(`bench-${mode}`);
  try {
    const backend = backendFor(mode, () => {}, hostCommands(bed.nodeNs));
    const first = await backend.sync(stateOf(count), true);
    const partial: { computeMs: number; applyMs: number }[] = [];
    for (let generation = 1; generation <= 5; generation++) partial.push(await backend.sync(stateOf(count, generation), false));
    const full = await backend.sync(stateOf(count, 5), true);
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const row = [mode, count, round(first.computeMs), round(first.applyMs), round(median(partial.map((p) => p.computeMs))), round(median(partial.map((p) => p.applyMs))), round(full.applyMs), load()];
    console.log(`  rules ${JSON.stringify(row)}`);
    return row;
  } finally {
    bed.stop();
  }
}

/** Connect times (ms) from a network namespace to `address`:`port`, one after another. */
function connectTimes(netns: string, address: string, port: number, times: number): number[] {
  const script = `
    const net = require("net");
    (async () => {
      const ms = [];
      for (let i = 0; i < ${times}; i++) {
        const started = process.hrtime.bigint();
        // A connect not answered in 5 s counts as 5 s (a dropped SYN is retried after 1 s, then 3 s).
        await new Promise((resolve, reject) => { const s = net.connect(${port}, ${JSON.stringify(address)}, () => { ms.push(Number(process.hrtime.bigint() - started) / 1e6); s.destroy(); resolve(); }); s.on("error", reject); s.setTimeout(5000, () => { ms.push(5000); s.destroy(); resolve(); }); });
      }
      console.log(JSON.stringify(ms));
    })();`;
  return JSON.parse(execFileSync("ip", ["netns", "exec", netns, process.execPath, "-e", script], { encoding: "utf8", maxBuffer: 64 * 2 ** 20 }));
}

/** Connect time p50/p99 through a Service and straight to its backend, and the p50 ratio. */
function firstPackets(netns: string, service: { address: string; port: number }, backend: { address: string; port: number }): string[] {
  const viaService = connectTimes(netns, service.address, service.port, connects).sort((a, b) => a - b);
  const direct = connectTimes(netns, backend.address, backend.port, connects).sort((a, b) => a - b);
  const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
  return [pct(viaService, 50).toFixed(3), pct(viaService, 99).toFixed(3), pct(direct, 50).toFixed(3), pct(direct, 99).toFixed(3), (pct(viaService, 50) / pct(direct, 50)).toFixed(2)];
}

/**
 * First packets on a real node (containerd, as root; run under the host lock): the agent joins in a
 * network namespace in the mode asked, a busybox httpd pod is exposed, and connects from the
 * node's namespace go through the ClusterIP and straight to the pod's IP.
 */
async function criFirstPackets(mode: ProxyMode): Promise<(string | number)[]> {
  const node = new ServicesNode({ prefix: "bench-proxy-cri-", node: "bench-proxy-cri", netns: "ep-bench-cri", hostIP: "10.99.81.1", nodeIP: "10.99.81.2", veth: "ep-bcriveth", bridge: "ep-bcri0", clusterCIDR: "10.252.0.0/16", proxyMode: mode });
  try {
    await node.start();
    await node.join();
    await node.harness.ok(kubectl, "create", "deployment", "web", "--image=busybox", "--replicas=1", "--", "sh", "-c", "httpd -f -p 8080 -h /");
    await node.harness.ok(kubectl, "expose", "deployment", "web", "--port=80", "--target-port=8080");
    const [podIP] = await node.until("the pod's ready endpoint", async () => {
      const ready = await node.readyEndpoints("web");
      return ready.length ? ready : undefined;
    }, 120_000);
    const clusterIP = await node.get("service", "web", "-o", "jsonpath={.spec.clusterIP}");
    // The rules hold the endpoint once the first connect through the ClusterIP is answered.
    await node.until("the ClusterIP to answer", async () => (connectTimes(node.options.netns, clusterIP, 80, 1).length ? true : undefined));
    return [mode, ...firstPackets(node.options.netns, { address: clusterIP, port: 80 }, { address: podIP!, port: 8080 }), load()];
  } finally {
    await node.stop();
  }
}

/** Change → applied through a real apiserver, then first-packet latency with the rules loaded. */
async function endToEnd(count: number): Promise<{ rows: (string | number)[][]; packets: (string | number)[][] }> {
  const root = mkdtempSync(join(tmpdir(), "bench-proxy-"));
  const plane = await startControlPlane({ engine: defaultEngine(), stateDir: join(root, "state"), tlsDir: join(root, "tls"), vars: { RATE_LIMIT_QPS: "1000000", ...benchVars() } });
  // Stopped by a signal (a long run cut short): the control plane and the namespaces go too.
  let bed: Testbed | undefined;
  const onSignal = () => {
    bed?.stop();
    void plane.stop().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  const rows: (string | number)[][] = [];
  const packets: (string | number)[][] = [];
  try {
    const client = new ApiClient({ fetch: httpsFetch(plane.caPem), baseUrl: plane.url, token: plane.token });
    await client.resource(builtin("v1", "namespaces")).create(undefined, { metadata: { name: NAMESPACE } });
    const services = client.resource<Service>(builtin("v1", "services"));
    const slices = client.resource<EndpointSlice>(builtin("discovery.k8s.io/v1", "endpointslices"));
    const started = performance.now();
    const made = await runBatch({ concurrency: 32, count, op: async (i) => {
      const { service, slice } = serviceOf(i, count);
      await services.create(NAMESPACE, service);
      await slices.create(NAMESPACE, slice);
    } });
    if (made.errors) throw new Error(`${made.errors} Service/EndpointSlice creates failed: ${String(made.firstError)}`);
    console.log(`  ${count} Services and EndpointSlices created through the API in ${round((performance.now() - started) / 1000)} s [load ${load()}]`);
    for (const mode of modes) {
      bed = await startTestbed(`e2e-${mode}`);
      const abort = new AbortController();
      try {
        const informers = new ServiceInformers(client);
        // The change waited for: a slice at a resourceVersion; applied once a synced state holds it.
        let waiting: { rv: bigint; name: string; resolve: () => void } | undefined;
        let lastApplied: ProxyState | undefined;
        const holds = (state: ProxyState | undefined, name: string, rv: bigint) => {
          const seen = state?.slices.find((s) => s.metadata?.name === name);
          return !!seen && BigInt(seen.metadata!.resourceVersion!) >= rv;
        };
        let firstSync: (() => void) | undefined;
        const firstSynced = new Promise<void>((resolve) => (firstSync = resolve));
        const proxy = new ServiceProxy({
          informers, node: { name: NODE, localCIDR: LOCAL_CIDR }, backend: backendFor(mode, () => {}, hostCommands(bed.nodeNs)), log: (m) => console.log(`  ${m}`),
          onSynced: (state) => {
            firstSync?.();
            lastApplied = state;
            if (waiting && holds(state, waiting.name, waiting.rv)) waiting.resolve();
          },
        });
        const t0 = performance.now();
        void informers.run(abort.signal);
        proxy.requestSync();
        await firstSynced;
        const firstMs = performance.now() - t0;
        const latency = new LatencyRecorder();
        for (let n = 0; n < changes; n++) {
          await sleep(1500);
          const i = (n * 7919) % (count - 1);
          const { slice } = serviceOf(i, count);
          // An address never used before, in this mode or an earlier one: a PATCH that changes nothing would not be a change.
          const serial = ++changeSerial;
          const endpoints = slice.endpoints.map((e, k) => (k === 0 ? { ...e, addresses: [`10.${201 + (serial >> 16)}.${(serial >> 8) & 255}.${serial & 255}`] } : e));
          const sent = performance.now();
          const patched = await slices.patch(NAMESPACE, slice.metadata!.name!, { endpoints }, "merge");
          const rv = BigInt(patched.metadata!.resourceVersion!);
          // The watch may have brought the change, and a sync applied it, before the PATCH's answer came.
          if (!holds(lastApplied, slice.metadata!.name!, rv)) await new Promise<void>((resolve) => (waiting = { rv, name: slice.metadata!.name!, resolve }));
          latency.record(performance.now() - sent);
          waiting = undefined;
        }
        rows.push([mode, count, round(firstMs / 1000), round(latency.percentile(50)), round(latency.percentile(99)), changes, round(proxy.lastTiming?.applyMs ?? 0), load()]);
        console.log(`  e2e ${JSON.stringify(rows.at(-1))}`);
        // First packets through the ClusterIP of the last Service (its backends are the testbed's), against its backend directly.
        const clusterIP = serviceOf(count - 1, count).service.spec!.clusterIP!;
        packets.push([mode, count, ...firstPackets(bed.nodeNs, { address: clusterIP, port: 80 }, { address: BACKENDS[0]!, port: 8080 }), load()]);
        console.log(`  packet ${JSON.stringify(packets.at(-1))}`);
      } finally {
        abort.abort();
        bed.stop();
        bed = undefined;
      }
    }
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    await plane.stop();
    rmSync(root, { recursive: true, force: true });
  }
  return { rows, packets };
}

/** The DNS server alone in this process (`--dns-server`): 1,000 Services from memory, its port on stdout. */
async function serveDNS(): Promise<void> {
  const { services, slices } = stateOf(1000);
  const serviceByKey = new Map(services.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
  const slicesByKey = new Map(slices.map((s) => [`${s.metadata?.namespace}/${s.metadata?.labels?.["kubernetes.io/service-name"]}`, [s]]));
  const server = new ClusterDNS({
    domain: "cluster.local", upstreams: [], host: "127.0.0.1", port: 0, log: () => {},
    view: { service: (namespace, name) => serviceByKey.get(`${namespace}/${name}`), slices: (namespace, name) => slicesByKey.get(`${namespace}/${name}`) ?? [] },
  });
  console.log(await server.start());
}

/** CPU seconds of a process so far (user + system, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A name's letters in upper or lower case by the bits of `n` (DNS names are case-insensitive; each spelling is a question of its own). */
function spelled(name: string, n: number): string {
  let bit = 0;
  return name.replace(/[a-z]/g, (c) => ((n >> bit++ % 24) & 1 ? c.toUpperCase() : c));
}

/** Queries per second against the server; `fresh`: every question spelled anew, so no answer is reused from the server's cache. */
async function dnsFigures(fresh: boolean): Promise<(string | number)[]> {
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), "--dns-server"], { stdio: ["ignore", "pipe", "inherit"] });
  const [chunk] = (await once(server.stdout!, "data")) as [Buffer];
  const port = Number(chunk.toString().trim());
  try {
    const socket = createSocket("udp4");
    const sent = new Map<number, number>();
    /** `total` queries, `dnsWindow` in flight, each answer's latency recorded; resolves with the wall time. */
    let spelling = 0;
    const runQueries = (total: number, latency: LatencyRecorder) => new Promise<number>((resolve) => {
      let next = 0;
      let answered = 0;
      const started = performance.now();
      const send = () => {
        const id = next++ & 0xffff;
        sent.set(id, performance.now());
        socket.send(dnsPacket.encode({ type: "query", id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: spelled(`svc-${String(id % 1000).padStart(5, "0")}.${NAMESPACE}.svc.cluster.local`, fresh ? ++spelling : 0), type: "A" }] }), port, "127.0.0.1");
      };
      socket.removeAllListeners("message");
      socket.on("message", (message) => {
        latency.record(performance.now() - sent.get(message.readUInt16BE(0))!);
        if (++answered === total) resolve(performance.now() - started);
        else if (next < total) send();
      });
      for (let i = 0; i < Math.min(dnsWindow, total); i++) send();
    });
    // A warm-up (the server's JIT), then the measured run.
    await runQueries(5000, new LatencyRecorder());
    const measured = new LatencyRecorder();
    const cpuBefore = cpuSeconds(server.pid!);
    const wallMs = await runQueries(dnsQueries, measured);
    const cpu = cpuSeconds(server.pid!) - cpuBefore;
    socket.close();
    const qps = dnsQueries / (wallMs / 1000);
    return [fresh ? "uncached" : "cached", dnsQueries, dnsWindow, Math.round(qps), measured.percentile(50).toFixed(2), measured.percentile(99).toFixed(2), cpu.toFixed(2), Math.round(dnsQueries / cpu), (dnsQueries / cpu / 17000).toFixed(2), load()];
  } finally {
    server.kill();
  }
}

if (process.argv.includes("--dns-server")) {
  await serveDNS();
} else {
  // Smallest first, each row printed as it comes: a long 10,000-Service run leaves the 1,000 figures behind it.
  const dns = cases.includes("dns") ? [await dnsFigures(false), await dnsFigures(true)] : undefined;
  if (dns) console.log(`  dns ${JSON.stringify(dns)}`);
  const rules: (string | number)[][] = [];
  const e2e: (string | number)[][] = [];
  const packets: (string | number)[][] = [];
  for (const count of counts) {
    if (cases.includes("rules")) for (const mode of modes) rules.push(await ruleFigures(mode, count));
    if (cases.includes("e2e")) {
      const result = await endToEnd(count);
      e2e.push(...result.rows);
      packets.push(...result.packets);
    }
  }
  const cri: (string | number)[][] = [];
  if (cases.includes("cri")) for (const mode of modes) {
    cri.push(await criFirstPackets(mode));
    console.log(`  cri ${JSON.stringify(cri.at(-1))}`);
  }
  if (cri.length) {
    console.log(`\nFirst packet on a real containerd node: TCP connect from the node's namespace, ${connects} each, ms: through the ClusterIP vs the pod's IP directly`);
    console.log(formatTable(["mode", "ClusterIP p50", "ClusterIP p99", "pod IP p50", "pod IP p99", "ratio p50", "load"], cri));
  }
  if (rules.length) {
    console.log("\nRule sets from memory (ms): first full apply into empty tables, median of 5 partial syncs after one Service's endpoints change, a full resync");
    console.log(formatTable(["mode", "services", "compute", "first apply", "partial compute", "partial apply", "full resync apply", "load"], rules));
  }
  if (e2e.length) {
    console.log("\nEndpointSlice PATCH sent → rules applied on the node (ms), changes 1.5 s apart (minSyncPeriod 1 s); first sync after start in s");
    console.log(formatTable(["mode", "services", "first sync s", "p50", "p99", "changes", "last apply", "load"], e2e));
    console.log(`\nFirst packet: TCP connect (SYN → SYN-ACK) from the node namespace, ${connects} each, ms: through the last Service's ClusterIP vs its backend's address directly`);
    console.log(formatTable(["mode", "services", "ClusterIP p50", "ClusterIP p99", "pod IP p50", "pod IP p99", "ratio p50", "load"], packets));
  }
  if (dns) {
    console.log(`\nCluster DNS: in-cluster A queries over UDP on loopback, ${dnsWindow} in flight, the server alone in its process (CoreDNS: ~17,000/s per core)`);
    console.log(formatTable(["answers", "queries", "in flight", "queries/s", "p50 ms", "p99 ms", "server CPU s", "queries/CPU-s", "vs CoreDNS/core", "load"], dns));
  }
}

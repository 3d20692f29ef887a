// The service proxy's cost at scale, in a network namespace of its own (as root): Services of 10
// ready endpoints each become one rule set (computeRules) applied with one iptables-restore, first
// into empty tables and then as a full resync that rewrites every chain; then one Service's
// endpoints change five times in turn, each computed again and applied as a partial sync (only the
// changed chains written), which is what a sync costs after an EndpointSlice change. Also: cluster DNS queries answered per
// second on loopback.
//
//   npm run bench:proxy
//
// Environment: BENCH_SERVICES (comma list, default "1000,10000"), BENCH_ENDPOINTS (10),
// BENCH_DNS_QUERIES (20000).
import { execFileSync } from "node:child_process";
import { createSocket } from "node:dgram";
import type { Service } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import dnsPacket from "dns-packet";
import { ClusterDNS } from "../node-agent/dns/server.ts";
import { hostCommands, Iptables } from "../node-agent/proxy/iptables.ts";
import { computeRules, type ProxyState, type Table } from "../node-agent/proxy/rules.ts";

const counts = (process.env.BENCH_SERVICES ?? "1000,10000").split(",").map(Number);
const endpointsPerService = Number(process.env.BENCH_ENDPOINTS ?? 10);
const dnsQueries = Number(process.env.BENCH_DNS_QUERIES ?? 20000);

function clusterOf(count: number, generation = 0): ProxyState {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < count; i++) {
    const name = `svc-${i}`;
    services.push({ metadata: { namespace: "bench", name }, spec: { clusterIP: `10.96.${(i >> 8) & 255}.${i & 255}`, type: "NodePort", ports: [{ port: 80, nodePort: 30000 + (i % 2700), protocol: "TCP" }] } });
    slices.push({
      metadata: { namespace: "bench", name: `${name}-1`, labels: { "kubernetes.io/service-name": name } },
      addressType: "IPv4", ports: [{ port: 8080, protocol: "TCP" }],
      endpoints: Array.from({ length: endpointsPerService }, (_, e) => ({ addresses: [`10.${64 + (e % 64)}.${(i >> 8) & 255}.${(i & 255) ^ (i === 0 ? generation : 0)}`], nodeName: `node-${e}`, conditions: { ready: true } })),
    });
  }
  return { services, slices, node: { name: "node-0", localCIDR: "10.64.0.0/24" } };
}

function ms(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}

async function proxyFigures(count: number): Promise<Record<string, number | string>> {
  const ns = `edgeplane-bench-proxy-${process.pid}`;
  execFileSync("ip", ["netns", "add", ns]);
  try {
    const iptables = new Iptables(hostCommands(ns));
    let t = performance.now();
    const rules = computeRules(clusterOf(count));
    const compute = ms(t);
    const lines = rules.rules.nat.length + rules.rules.filter.length;
    t = performance.now();
    await iptables.apply(rules, { nat: [], filter: [] });
    const firstRestore = ms(t);
    await iptables.ensureJumps();
    t = performance.now();
    await iptables.apply(rules, rules.chains);
    const resync = ms(t);
    // Five endpoint changes one after another, each a partial sync over the previous one.
    const recompute: number[] = [];
    const change: number[] = [];
    let previous = rules;
    for (let generation = 1; generation <= 5; generation++) {
      t = performance.now();
      const changed = computeRules(clusterOf(count, generation));
      recompute.push(ms(t));
      t = performance.now();
      await iptables.apply(changed, previous.chains as Record<Table, string[]>, previous);
      change.push(ms(t));
      previous = changed;
    }
    t = performance.now();
    await iptables.cleanup();
    const cleanup = ms(t);
    return { services: count, rules: lines, "compute ms": compute, "first restore ms": firstRestore, "resync restore ms": resync, "partial syncs: compute ms": recompute.join(" "), "partial syncs: restore ms": change.join(" "), "cleanup ms": cleanup };
  } finally {
    execFileSync("ip", ["netns", "del", ns]);
  }
}

async function dnsFigures(): Promise<Record<string, number>> {
  const { services, slices } = clusterOf(1000);
  // Looked up by key, as the agent's informer caches are.
  const serviceByKey = new Map(services.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
  const slicesByKey = new Map(slices.map((s) => [`${s.metadata?.namespace}/${s.metadata?.labels?.["kubernetes.io/service-name"]}`, [s]]));
  const server = new ClusterDNS({
    domain: "cluster.local", upstreams: [], host: "127.0.0.1", port: 0, log: () => {},
    view: { service: (namespace, name) => serviceByKey.get(`${namespace}/${name}`), slices: (namespace, name) => slicesByKey.get(`${namespace}/${name}`) ?? [] },
  });
  const port = await server.start();
  const socket = createSocket("udp4");
  const sent = new Map<number, number>();
  const latencies: number[] = [];
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let next = 0;
    const window = 64;
    const send = () => {
      const id = next++ & 0xffff;
      sent.set(id, performance.now());
      socket.send(dnsPacket.encode({ type: "query", id, questions: [{ name: `svc-${id % 1000}.bench.svc.cluster.local`, type: "A" }] }), port, "127.0.0.1");
    };
    socket.on("message", (message) => {
      const id = message.readUInt16BE(0);
      latencies.push(performance.now() - sent.get(id)!);
      if (latencies.length === dnsQueries) resolve();
      else if (next < dnsQueries) send();
    });
    for (let i = 0; i < window; i++) send();
  });
  const seconds = (performance.now() - started) / 1000;
  socket.close();
  await server.close();
  latencies.sort((a, b) => a - b);
  return { queries: dnsQueries, "queries/s": Math.round(dnsQueries / seconds), "p50 ms": Math.round(latencies[Math.floor(latencies.length / 2)]! * 100) / 100, "p99 ms": Math.round(latencies[Math.floor(latencies.length * 0.99)]! * 100) / 100 };
}

for (const count of counts) console.log(JSON.stringify(await proxyFigures(count)));
console.log(JSON.stringify({ dns: await dnsFigures() }));

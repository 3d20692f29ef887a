// Runs what a state directory says: one kubelet per node credential over the runtime it names. A
// host is one node on its real runtime; a simulated agent may be many hollow nodes in one process,
// each with its own Lease, Node status and pod informer, sharing one HTTPS agent.
import { createHash } from "node:crypto";
import { ApiClient } from "../lib/client/index.ts";
import { PodRoutes } from "./cni/routes.ts";
import { clusterDNSServers, NodeServices } from "./proxy/node-services.ts";
import { startCriNode } from "./cri-node.ts";
import { httpsFetch } from "./http.ts";
import { Kubelet } from "./kubelet.ts";
import { KUBELET_VERSION, machineFacts, type MachineFacts } from "./node-status.ts";
import type { Runtime } from "./runtime/runtime.ts";
import { SimulatedRuntime } from "./simulated/runtime.ts";
import { statsEndpoint } from "./stats/endpoint.ts";
import { startNodeStats } from "./stats/node-stats.ts";
import type { AgentState } from "./state.ts";
import { TunnelClient } from "./tunnel/client.ts";

/** How many nodes register at once. */
const REGISTRATION_LANES = 32;

export type Log = (node: string, message: string) => void;

/** Structured log lines: one JSON object per line on stderr. */
export const jsonLog: Log = (node, message) => process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), node, msg: message }) + "\n");

/** A hollow node's machine, as KWOK's default node: what the scheduler sees, not the host's. */
function hollowFacts(host: MachineFacts, name: string): MachineFacts {
  return { ...host, hostname: name, cpuCores: 16, memoryBytes: 64 * 2 ** 30, ephemeralStorageBytes: 100 * 2 ** 30, machineID: sha(name).slice(0, 32), bootID: sha(`${name}/boot`).slice(0, 32) };
}

function sha(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Each hollow node's pod range: a /24 in 10.64.0.0/10 chosen by its name's hash (so nodes of
 * different agent processes rarely share one), the next free one when two of this process collide.
 */
export function hollowPodCIDRs(names: string[]): Map<string, string> {
  const ranges = 192 * 256;
  const taken = new Set<number>();
  const cidrs = new Map<string, string>();
  for (const name of names) {
    let n = parseInt(sha(name).slice(0, 8), 16) % ranges;
    while (taken.has(n)) n = (n + 1) % ranges;
    taken.add(n);
    cidrs.set(name, `10.${64 + Math.floor(n / 256)}.${n % 256}.0/24`);
  }
  return cidrs;
}

/** A node's runtime and how to stop it. */
export interface NodeRuntimeHandle {
  runtime: Runtime;
  /** With `killPods`, the pods' containers are stopped too (a throwaway node); else they keep running. */
  stop(options?: { killPods?: boolean }): Promise<void>;
}

/**
 * Which runtime a node runs on: hollow pods in memory, or real containers through containerd (the
 * agent's own, started here, or the one the state names).
 */
export async function createRuntime(state: AgentState, stateDir: string, podCIDR: string): Promise<NodeRuntimeHandle> {
  if (state.runtime === "simulated") {
    const runtime = new SimulatedRuntime({ podCIDR, ...state.simulated });
    return { runtime, stop: () => runtime.close() };
  }
  return startCriNode(stateDir, state.cri);
}

/** Polls the runtime until its network is ready (the pod network written for a new podCIDR), for at most 10 s. */
async function networkReady(runtime: Runtime): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await runtime.health()).networkReady && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

export interface RunningAgent {
  kubelets: Kubelet[];
  stop(options?: { killPods?: boolean }): Promise<void>;
}

/**
 * Starts every node of the state; resolves once all are registered and running. A real node also
 * watches Nodes for its podCIDR and keeps routes to the other nodes' pods.
 */
export async function runAgent(state: AgentState, stateDir: string, log: Log = jsonLog): Promise<RunningAgent> {
  const fetch = httpsFetch(state.ca);
  const host = machineFacts(stateDir);
  const simulated = state.runtime === "simulated";
  const cidrs = hollowPodCIDRs(state.nodes.map((n) => n.name));
  const abort = new AbortController();
  const runtimes = await Promise.all(state.nodes.map(({ name }) => createRuntime(state, stateDir, cidrs.get(name)!)));
  // A real node's ClusterFirst pods resolve through the cluster DNS: kube-dns's ClusterIP, when the cluster has it.
  const clusterDNS = simulated ? [] : await clusterDNSServers(new ApiClient({ fetch, baseUrl: state.server, token: state.nodes[0]!.token }));
  const nodes = state.nodes.map(({ name, token }, i) => {
    const { runtime } = runtimes[i]!;
    const client = new ApiClient({ fetch, baseUrl: state.server, token, userAgent: `edgeplane-agent/${KUBELET_VERSION} (linux) kubelet/${name}` });
    const kubelet = new Kubelet({
      client, nodeName: name, runtime, stateDir,
      facts: simulated ? hollowFacts(host, name) : { ...host, hostname: name, internalIP: state.nodeIP ?? host.internalIP },
      labels: simulated ? { "node.edgeplane.dev/simulated": "true" } : {},
      reportsNetwork: !simulated, rootCA: state.ca, podManifestPath: state.podManifestPath, clusterDNS, log: (message) => log(name, message),
    });
    // A real node's Services: the service proxy and the cluster DNS.
    const services = simulated ? undefined : new NodeServices({ client, nodeName: name, proxyMode: state.proxyMode, log: (message) => log(name, message) });
    const routes = simulated ? undefined : new PodRoutes({
      client, nodeName: name, log: (message) => log(name, message),
      onPodCIDR: (cidr) => {
        services?.setPodCIDR(cidr);
        void Promise.resolve(runtime.updatePodCIDR?.(cidr)).then(() => networkReady(runtime)).then(() => kubelet.refreshStatus(),
          (error: Error) => log(name, `setting up the pod network for ${cidr}: ${error.message}`));
      },
    });
    return { kubelet, routes, services };
  });
  const kubelets = nodes.map((n) => n.kubelet);
  // Each node's stats (/stats/summary, /metrics/resource), for metrics.k8s.io.
  const stats = state.nodes.map(({ name }, i) => startNodeStats({
    nodeName: name, runtime: runtimes[i]!.runtime, stateDir, log: (message) => log(name, message), hollow: simulated ? hollowFacts(host, name) : undefined,
  }));
  // Each node's tunnel, which logs and nodes/proxy reach it through: no inbound port.
  const tunnels = state.nodes.map(({ name, token }, i) => new TunnelClient({
    server: state.server, nodeName: name, token, ca: state.ca, runtime: runtimes[i]!.runtime, endpoints: [statsEndpoint(stats[i]!)], log: (message) => log(name, message),
  }));
  // Registration through a bounded pool of lanes: a thousand hollow nodes neither open a thousand
  // connections at once nor wait for the slowest of a batch; each node dials its tunnel once
  // registered, so the tunnels' handshakes are spread the same way.
  let next = 0;
  const register = async () => {
    while (next < kubelets.length && !abort.signal.aborted) {
      const i = next++;
      await kubelets[i]!.start();
      tunnels[i]!.start();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(REGISTRATION_LANES, kubelets.length) }, register));
  } catch (error) {
    abort.abort();
    for (const tunnel of tunnels) tunnel.stop();
    await Promise.all(kubelets.map((k) => k.stop()));
    await Promise.all(runtimes.map((r) => r.stop()));
    throw error;
  }
  for (const { routes } of nodes) void routes?.run(abort.signal);
  for (const { services } of nodes) void services?.run(abort.signal).catch((e: Error) => jsonLog(state.nodes[0]!.name, `service networking stopped: ${e.message}`));
  return {
    kubelets,
    async stop(options) {
      abort.abort();
      for (const tunnel of tunnels) tunnel.stop();
      for (const collector of stats) collector.stop();
      await Promise.all(kubelets.map((k) => k.stop()));
      await Promise.all(runtimes.map((r) => r.stop(options)));
    },
  };
}

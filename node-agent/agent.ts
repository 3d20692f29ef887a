// Runs what a state directory says: one kubelet per node credential over the runtime it names. A
// host is one node on its real runtime; a simulated agent may be many hollow nodes in one process,
// each with its own Lease, Node status and pod informer, sharing one HTTPS agent.
import { createHash } from "node:crypto";
import { ApiClient } from "../lib/client/index.ts";
import { httpsFetch } from "./http.ts";
import { Kubelet } from "./kubelet.ts";
import { KUBELET_VERSION, machineFacts, type MachineFacts } from "./node-status.ts";
import type { Runtime } from "./runtime/runtime.ts";
import { SimulatedRuntime } from "./simulated/runtime.ts";
import type { AgentState, RuntimeKind } from "./state.ts";

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

/**
 * Which runtime a node runs on. The cri runtime (containerd, node-agent/cri/) is wired in here by
 * whoever integrates it; until then only the simulated one is in this build.
 */
export function createRuntime(kind: RuntimeKind, podCIDR: string, settings: AgentState["simulated"]): Runtime {
  if (kind === "simulated") return new SimulatedRuntime({ podCIDR, ...settings });
  throw new Error("the cri runtime is not part of this build yet: join with --runtime simulated");
}

export interface RunningAgent {
  kubelets: Kubelet[];
  stop(): Promise<void>;
}

/** Starts every node of the state; resolves once all are registered and running. */
export async function runAgent(state: AgentState, stateDir: string, log: Log = jsonLog): Promise<RunningAgent> {
  const fetch = httpsFetch(state.ca);
  const host = machineFacts(stateDir);
  const simulated = state.runtime === "simulated";
  const cidrs = hollowPodCIDRs(state.nodes.map((n) => n.name));
  const runtimes: Runtime[] = [];
  const kubelets = state.nodes.map(({ name, token }) => {
    const runtime = createRuntime(state.runtime, cidrs.get(name)!, state.simulated);
    runtimes.push(runtime);
    const client = new ApiClient({ fetch, baseUrl: state.server, token, userAgent: `edgeplane-agent/${KUBELET_VERSION} (linux) kubelet/${name}` });
    return new Kubelet({
      client, nodeName: name, runtime, stateDir,
      facts: simulated ? hollowFacts(host, name) : { ...host, hostname: name },
      labels: simulated ? { "node.edgeplane.dev/simulated": "true" } : {},
      reportsNetwork: !simulated, rootCA: state.ca, log: (message) => log(name, message),
    });
  });
  // Registration in batches: a thousand hollow nodes should not open a thousand connections at once.
  for (let i = 0; i < kubelets.length; i += 32) await Promise.all(kubelets.slice(i, i + 32).map((k) => k.start()));
  return {
    kubelets,
    async stop() {
      await Promise.all(kubelets.map((k) => k.stop()));
      await Promise.all(runtimes.map((r) => r.close()));
    },
  };
}

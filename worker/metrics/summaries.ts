// The node agents' Summary API as the metrics API reads it: /stats/summary?only_cpu_and_memory=true
// through each node's tunnel, kept by the isolate for 15 s (metrics-server's resolution). A node
// that is not connected, or does not answer in time, has no metrics, as metrics-server skips a
// kubelet it cannot scrape.
import { KeyedIsolateCache } from "../../lib/isolate-cache.ts";
import { openNodeStream } from "../tunnel/node-tunnel.ts";

/** The part of the kubelet's stats/v1alpha1 Summary the metrics API uses. */
export interface CpuMemory {
  cpu?: { time: string; usageNanoCores?: number };
  memory?: { time: string; workingSetBytes?: number };
}
export interface NodeSummary {
  node: { nodeName: string } & CpuMemory;
  pods?: ({ podRef: { name: string; namespace: string; uid: string }; containers?: ({ name: string } & CpuMemory)[] } & CpuMemory)[];
}

/** metrics-server's --metric-resolution. */
export const METRICS_RESOLUTION_MS = 15_000;
const SCRAPE_TIMEOUT_MS = 10_000;

const summaries = new KeyedIsolateCache<NodeSummary | null>(METRICS_RESOLUTION_MS, 10_000);

async function scrape(env: Env, node: string): Promise<NodeSummary | null> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), SCRAPE_TIMEOUT_MS)));
  const read = (async () => {
    const { body } = await openNodeStream(env, node, { type: "proxy", method: "GET", path: "/stats/summary?only_cpu_and_memory=true" });
    return (await new Response(body).json()) as NodeSummary;
  })().catch(() => null);
  try {
    return await Promise.race([read, timeout]);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

/** A node's latest Summary, or null when it has none to give. */
export function nodeSummary(env: Env, node: string): Promise<NodeSummary | null> {
  return summaries.get(`${env.CLUSTER_NAME}/${node}`, () => scrape(env, node));
}

/** Summaries of many nodes, a few scrapes at a time. */
export async function nodeSummaries(env: Env, nodes: string[], concurrency = 16): Promise<Map<string, NodeSummary>> {
  const found = new Map<string, NodeSummary>();
  let next = 0;
  const worker = async () => {
    while (next < nodes.length) {
      const node = nodes[next++]!;
      const summary = await nodeSummary(env, node);
      if (summary) found.set(node, summary);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, nodes.length) }, worker));
  return found;
}

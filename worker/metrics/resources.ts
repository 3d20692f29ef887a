// metrics.k8s.io/v1beta1, served by the apiserver itself as metrics-server would serve it through
// the aggregator: NodeMetrics and PodMetrics, get and list (label and field selectors, one
// namespace or all), computed on each read from the node agents' Summary API (summaries.ts): CPU is
// the usage rate in nanocores, memory the working set. Only Running pods on connected nodes whose
// every container has figures have metrics; anything else is simply absent, as in metrics-server.
import type { Node, Pod } from "kubernetes-types/core/v1";
import { formatQuantity } from "../../lib/k8s/quantity.ts";
import { apiErrors } from "../../lib/k8s/status.ts";
import { column, nameColumn, type TablePrinter } from "../printers/table.ts";
import { builtinStore } from "../registry/builtins.ts";
import type { ComputedRequest, KubeObject, ResourceDefinition } from "../registry/types.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { nodeSummaries, type CpuMemory } from "./summaries.ts";

export const METRICS_GROUP = "metrics.k8s.io";
const API_VERSION = `${METRICS_GROUP}/v1beta1`;
/** The span of the agents' CPU rates (their 10 s housekeeping), reported as each sample's window. */
const WINDOW = "10s";

/** Nanocores as kube's Quantity writes a scale -9 amount: whole cores, "m", "u" or "n". */
export function cpuQuantity(nanoCores: number): string {
  const n = Math.max(0, Math.round(nanoCores));
  if (n % 1e9 === 0) return String(n / 1e9);
  if (n % 1e6 === 0) return `${n / 1e6}m`;
  if (n % 1e3 === 0) return `${n / 1e3}u`;
  return `${n}n`;
}

/** Bytes as a BinarySI Quantity: the largest binary suffix that keeps it whole ("1234Ki"). */
export function memoryQuantity(bytes: number): string {
  return formatQuantity(BigInt(Math.max(0, Math.round(bytes))) * 1000n, true);
}

/** The usage of one measured thing, when both figures are there. */
function usageOf(stats: CpuMemory | undefined): { cpu: string; memory: string } | undefined {
  const nanoCores = stats?.cpu?.usageNanoCores;
  const workingSet = stats?.memory?.workingSetBytes;
  if (nanoCores === undefined || workingSet === undefined) return undefined;
  return { cpu: cpuQuantity(nanoCores), memory: memoryQuantity(workingSet) };
}

const nowTime = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

async function nodeMetrics(env: Env, request: ComputedRequest): Promise<KubeObject[]> {
  const store = builtinStore(new ObjectStorage(env), "v1", "nodes");
  let nodes: Node[];
  if (request.name) {
    const node = (await store.find(undefined, request.name)) as Node | undefined;
    if (!node) throw apiErrors.notFound("", "nodes", request.name);
    nodes = [node];
  } else {
    nodes = ((await store.list(undefined, { labelSelector: request.labelSelector, fieldSelector: request.fieldSelector })).items ?? []) as Node[];
  }
  const summaries = await nodeSummaries(env, nodes.map((n) => n.metadata!.name!));
  const items: KubeObject[] = [];
  for (const node of nodes) {
    const name = node.metadata!.name!;
    const stats = summaries.get(name)?.node;
    const usage = usageOf(stats);
    if (!usage) continue;
    items.push({
      kind: "NodeMetrics", apiVersion: API_VERSION,
      metadata: { name, creationTimestamp: nowTime(), ...(node.metadata?.labels ? { labels: node.metadata.labels } : {}) },
      timestamp: stats!.cpu!.time, window: WINDOW, usage,
    });
  }
  // metrics-server's words: its storage is named nodemetrics and podmetrics.
  if (request.name && !items.length) throw apiErrors.notFound(METRICS_GROUP, "nodemetrics", request.name);
  return items.sort((a, b) => (a.metadata!.name < b.metadata!.name ? -1 : 1));
}

async function podMetrics(env: Env, request: ComputedRequest): Promise<KubeObject[]> {
  const store = builtinStore(new ObjectStorage(env), "v1", "pods");
  let pods: Pod[];
  if (request.name) {
    const pod = (await store.find(request.namespace, request.name)) as Pod | undefined;
    if (!pod) throw apiErrors.notFound("", "pods", request.name);
    pods = [pod];
  } else {
    pods = ((await store.list(request.namespace, { labelSelector: request.labelSelector, fieldSelector: request.fieldSelector })).items ?? []) as Pod[];
  }
  const running = pods.filter((p) => p.status?.phase === "Running" && p.spec?.nodeName);
  const summaries = await nodeSummaries(env, [...new Set(running.map((p) => p.spec!.nodeName!))]);
  const items: KubeObject[] = [];
  for (const pod of running) {
    const { name, namespace, uid, labels } = pod.metadata!;
    const stats = summaries.get(pod.spec!.nodeName!)?.pods?.find((p) => p.podRef.uid === uid || (p.podRef.namespace === namespace && p.podRef.name === name && !p.podRef.uid));
    const containers = (stats?.containers ?? []).map((c) => ({ name: c.name, usage: usageOf(c) }));
    // A container without figures yet (just started) would make the pod look idler than it is: no metrics rather than partial ones.
    if (!containers.length || containers.some((c) => !c.usage)) continue;
    items.push({
      kind: "PodMetrics", apiVersion: API_VERSION,
      metadata: { name, namespace, creationTimestamp: nowTime(), ...(labels ? { labels } : {}) },
      timestamp: stats!.cpu?.time ?? stats!.containers![0]!.cpu!.time, window: WINDOW, containers,
    });
  }
  if (request.name && !items.length) throw apiErrors.notFound(METRICS_GROUP, "podmetrics", `${request.namespace}/${request.name}`);
  return items.sort((a, b) => (a.metadata!.namespace + "/" + a.metadata!.name < b.metadata!.namespace + "/" + b.metadata!.name ? -1 : 1));
}

type Usage = Record<string, string>;

/** metrics-server's table: the name, each resource's usage, the window. */
function metricsPrinter(usage: (object: KubeObject) => Usage): TablePrinter<KubeObject> {
  return {
    columns: [nameColumn, column("cpu", "string", "", { format: "quantity" }), column("memory", "string", "", { format: "quantity" }), column("Window", "string", "", { format: "duration" })],
    cells: (object) => {
      const u = usage(object);
      return [object.metadata?.name, u.cpu ?? "", u.memory ?? "", object.window];
    },
  };
}

/** A pod's usage summed over its containers, as metrics-server's table shows it. */
function podUsage(object: KubeObject): Usage {
  let cpu = 0, memory = 0;
  for (const c of object.containers ?? []) {
    cpu += Number(quantityNano(c.usage?.cpu));
    memory += Number(quantityBytes(c.usage?.memory));
  }
  return { cpu: cpuQuantity(cpu), memory: memoryQuantity(memory) };
}

const SCALE: Record<string, number> = { n: 1, u: 1e3, m: 1e6, "": 1e9 };
const quantityNano = (text: string | undefined) => {
  const m = /^(\d+)([num]?)$/.exec(text ?? "");
  return m ? Number(m[1]) * SCALE[m[2]!]! : 0;
};
const BINARY: Record<string, number> = { "": 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const quantityBytes = (text: string | undefined) => {
  const m = /^(\d+)((?:[KMGT]i)?)$/.exec(text ?? "");
  return m ? Number(m[1]) * BINARY[m[2]!]! : 0;
};

const names = (kind: string, resource: string, namespaced: boolean) => ({ group: METRICS_GROUP, version: "v1beta1", kind, resource, singular: "", namespaced });

export const metricsResources: ResourceDefinition[] = [
  { ...names("NodeMetrics", "nodes", false), verbs: ["get", "list"], computed: nodeMetrics, printer: metricsPrinter((o) => o.usage ?? {}) },
  { ...names("PodMetrics", "pods", true), verbs: ["get", "list"], computed: podMetrics, printer: metricsPrinter(podUsage) },
];

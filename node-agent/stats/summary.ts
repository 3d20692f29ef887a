// The kubelet's Summary API (/stats/summary, stats/v1alpha1) as the agent serves it: the node's CPU,
// memory, filesystem and processes, and each pod's containers' CPU and memory, built from samples
// of cumulative CPU time. A CPU rate (usageNanoCores) is the difference between two samples, as
// cAdvisor's housekeeping computes it, unless the runtime knows it outright (simulated).
import type { ContainerUsage, PodUsage } from "../runtime/runtime.ts";
import type { HostSample } from "./host.ts";

export interface CPUStats { time: string; usageNanoCores?: number; usageCoreNanoSeconds?: number }
export interface MemoryStats { time: string; availableBytes?: number; usageBytes?: number; workingSetBytes?: number; rssBytes?: number; pageFaults?: number; majorPageFaults?: number }
export interface FsStats { time: string; availableBytes?: number; capacityBytes?: number; usedBytes?: number; inodesFree?: number; inodes?: number; inodesUsed?: number }
export interface ContainerStats { name: string; startTime: string; cpu?: CPUStats; memory?: MemoryStats; rootfs?: FsStats }
export interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  containers: ContainerStats[];
  cpu?: CPUStats;
  memory?: MemoryStats;
}
export interface NodeStats {
  nodeName: string;
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
  fs?: FsStats;
  rlimit?: { time: string; maxpid?: number; curproc?: number };
}
export interface Summary { node: NodeStats; pods: PodStats[] }

/** metav1.Time's JSON: RFC 3339 to the second. */
export const statsTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");

/** One moment's figures: the host's and each running container's, cumulative CPU included. */
export interface StatsSample {
  host: HostSample;
  /** The host's CPU rate when the source knows it (a hollow node's). */
  hostNanoCores?: number;
  pods: PodUsage[];
}

const containerKey = (pod: PodUsage, c: ContainerUsage) => `${pod.ref.uid}/${c.name}/${c.startedAt}`;

/** CPU rates between two samples: nanocores per key (the node under ""); a key new since `previous` gets none. */
export function cpuRates(current: StatsSample, previous: StatsSample | undefined): Map<string, number> {
  const rates = new Map<string, number>();
  const rate = (now: { t: number; ns: number }, before: { t: number; ns: number } | undefined) =>
    before && now.t > before.t && now.ns >= before.ns ? Math.round(((now.ns - before.ns) * 1000) / (now.t - before.t)) : undefined;
  const node = current.hostNanoCores ?? rate({ t: current.host.timestamp, ns: current.host.usageCoreNanoSeconds }, previous && { t: previous.host.timestamp, ns: previous.host.usageCoreNanoSeconds });
  if (node !== undefined) rates.set("", node);
  const before = new Map<string, { t: number; ns: number }>();
  for (const pod of previous?.pods ?? []) for (const c of pod.containers) before.set(containerKey(pod, c), { t: c.timestamp, ns: c.usageCoreNanoSeconds });
  for (const pod of current.pods) {
    for (const c of pod.containers) {
      const key = containerKey(pod, c);
      const value = c.usageNanoCores ?? rate({ t: c.timestamp, ns: c.usageCoreNanoSeconds }, before.get(key));
      if (value !== undefined) rates.set(key, value);
    }
  }
  return rates;
}

export interface SummaryOptions {
  /** The kubelet's only_cpu_and_memory=true: no filesystem or process figures. */
  onlyCpuAndMemory?: boolean;
}

/** The Summary of a sample, its CPU rates against the previous one. */
export function buildSummary(nodeName: string, sample: StatsSample, rates: Map<string, number>, options: SummaryOptions = {}): Summary {
  const { host } = sample;
  const hostTime = statsTime(host.timestamp);
  const node: NodeStats = {
    nodeName, startTime: statsTime(host.bootTime),
    cpu: { time: hostTime, ...(rates.has("") ? { usageNanoCores: rates.get("") } : {}), usageCoreNanoSeconds: host.usageCoreNanoSeconds },
    memory: {
      time: hostTime, availableBytes: Math.max(0, host.memory.totalBytes - host.memory.workingSetBytes), usageBytes: host.memory.usageBytes,
      workingSetBytes: host.memory.workingSetBytes, rssBytes: host.memory.rssBytes, pageFaults: host.memory.pageFaults, majorPageFaults: host.memory.majorPageFaults,
    },
  };
  if (!options.onlyCpuAndMemory && host.fs) node.fs = { time: hostTime, ...host.fs };
  if (!options.onlyCpuAndMemory && host.rlimit) node.rlimit = { time: hostTime, ...host.rlimit };
  const pods = sample.pods.filter((p) => p.containers.length).map((pod): PodStats => {
    const containers = pod.containers.map((c): ContainerStats => {
      const time = statsTime(c.timestamp);
      const rate = rates.get(containerKey(pod, c));
      const stats: ContainerStats = {
        name: c.name, startTime: statsTime(c.startedAt),
        cpu: { time, ...(rate !== undefined ? { usageNanoCores: rate } : {}), usageCoreNanoSeconds: c.usageCoreNanoSeconds },
        memory: {
          time, workingSetBytes: c.workingSetBytes,
          ...(c.usageBytes !== undefined ? { usageBytes: c.usageBytes } : {}), ...(c.rssBytes !== undefined ? { rssBytes: c.rssBytes } : {}),
          ...(c.pageFaults !== undefined ? { pageFaults: c.pageFaults } : {}), ...(c.majorPageFaults !== undefined ? { majorPageFaults: c.majorPageFaults } : {}),
        },
      };
      if (!options.onlyCpuAndMemory && c.rootfsUsedBytes !== undefined) stats.rootfs = { time, usedBytes: c.rootfsUsedBytes, ...(c.rootfsInodesUsed !== undefined ? { inodesUsed: c.rootfsInodesUsed } : {}) };
      return stats;
    });
    // The pod's figures are its containers' sums (the kubelet reads the pod cgroup; the sums are what it holds).
    const time = statsTime(Math.max(...pod.containers.map((c) => c.timestamp)));
    const nanoCores = containers.every((c) => c.cpu?.usageNanoCores !== undefined) ? containers.reduce((sum, c) => sum + c.cpu!.usageNanoCores!, 0) : undefined;
    return {
      podRef: { name: pod.ref.name, namespace: pod.ref.namespace, uid: pod.ref.uid }, startTime: statsTime(pod.startedAt), containers,
      cpu: { time, ...(nanoCores !== undefined ? { usageNanoCores: nanoCores } : {}), usageCoreNanoSeconds: pod.containers.reduce((sum, c) => sum + c.usageCoreNanoSeconds, 0) },
      memory: { time, workingSetBytes: pod.containers.reduce((sum, c) => sum + c.workingSetBytes, 0) },
    };
  });
  return { node, pods };
}

/** The Summary as the kubelet's /metrics/resource (Prometheus text, its names and help), for scrapers. */
export function resourceMetricsText(summary: Summary): string {
  const lines: string[] = [];
  const family = (name: string, help: string, type: "counter" | "gauge", samples: string[]) => {
    lines.push(`# HELP ${name} [STABLE] ${help}`, `# TYPE ${name} ${type}`, ...samples.map((s) => `${name}${s}`));
  };
  const at = (time: string | undefined) => (time ? ` ${Date.parse(time)}` : "");
  const labels = (pairs: Record<string, string>) => `{${Object.entries(pairs).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`).join(",")}}`;
  const seconds = (ns: number) => String(ns / 1e9);
  const { node, pods } = summary;
  const containers = pods.flatMap((pod) => pod.containers.map((c) => ({ c, l: labels({ container: c.name, namespace: pod.podRef.namespace, pod: pod.podRef.name }) })));
  family("container_cpu_usage_seconds_total", "Cumulative cpu time consumed by the container in core-seconds", "counter",
    containers.filter(({ c }) => c.cpu?.usageCoreNanoSeconds !== undefined).map(({ c, l }) => `${l} ${seconds(c.cpu!.usageCoreNanoSeconds!)}${at(c.cpu!.time)}`));
  family("container_memory_working_set_bytes", "Current working set of the container in bytes", "gauge",
    containers.filter(({ c }) => c.memory?.workingSetBytes !== undefined).map(({ c, l }) => `${l} ${c.memory!.workingSetBytes}${at(c.memory!.time)}`));
  family("container_start_time_seconds", "Start time of the container since unix epoch in seconds", "gauge",
    containers.map(({ c, l }) => `${l} ${Date.parse(c.startTime) / 1000}`));
  family("node_cpu_usage_seconds_total", "Cumulative cpu time consumed by the node in core-seconds", "counter",
    node.cpu?.usageCoreNanoSeconds !== undefined ? [` ${seconds(node.cpu.usageCoreNanoSeconds)}${at(node.cpu.time)}`] : []);
  family("node_memory_working_set_bytes", "Current working set of the node in bytes", "gauge",
    node.memory?.workingSetBytes !== undefined ? [` ${node.memory.workingSetBytes}${at(node.memory.time)}`] : []);
  const podLabels = (pod: PodStats) => labels({ namespace: pod.podRef.namespace, pod: pod.podRef.name });
  family("pod_cpu_usage_seconds_total", "Cumulative cpu time consumed by the pod in core-seconds", "counter",
    pods.filter((p) => p.cpu?.usageCoreNanoSeconds !== undefined).map((p) => `${podLabels(p)} ${seconds(p.cpu!.usageCoreNanoSeconds!)}${at(p.cpu!.time)}`));
  family("pod_memory_working_set_bytes", "Current working set of the pod in bytes", "gauge",
    pods.filter((p) => p.memory?.workingSetBytes !== undefined).map((p) => `${podLabels(p)} ${p.memory!.workingSetBytes}${at(p.memory!.time)}`));
  family("resource_scrape_error", "1 if there was an error while getting container metrics, 0 otherwise", "gauge", [" 0"]);
  return lines.join("\n") + "\n";
}

// What a simulated (hollow) node reports to `kubectl top` and the HPA: figures that are made up but
// stable and plausible, so a demo or a test can drive an autoscaler without real load. A running
// container uses a tenth of its CPU request (1m without one) and half of its memory request (or of
// its limit; 8 MiB without either), unless the pod's annotations say otherwise:
//   simulated.edgeplane.dev/cpu-usage: "250m"              every container uses 250m
//   simulated.edgeplane.dev/memory-usage: "web=64Mi,log=8Mi"  per container, by name
// The node itself uses 50m and 256 MiB besides its pods.
import type { Container, Pod } from "kubernetes-types/core/v1";
import { parseQuantity } from "../../lib/k8s/quantity.ts";
import type { ContainerUsage, PodUsage } from "../runtime/runtime.ts";
import type { HostSample } from "./host.ts";

export const SIMULATED_CPU_USAGE = "simulated.edgeplane.dev/cpu-usage";
export const SIMULATED_MEMORY_USAGE = "simulated.edgeplane.dev/memory-usage";

const DEFAULT_CPU_NANOCORES = 1_000_000;
const DEFAULT_MEMORY_BYTES = 8 * 2 ** 20;
const NODE_CPU_NANOCORES = 50_000_000;
const NODE_MEMORY_BYTES = 256 * 2 ** 20;
const PAGE = 4096;

/** A container's figure from the annotation: one quantity for all, or `name=quantity` pairs; milli-units. */
function annotated(pod: Pod, annotation: string, container: string): bigint | undefined {
  const text = pod.metadata?.annotations?.[annotation]?.trim();
  if (!text) return undefined;
  try {
    if (!text.includes("=")) return parseQuantity(text);
    for (const pair of text.split(",")) {
      const [name, value] = pair.split("=").map((s) => s.trim());
      if (name === container && value) return parseQuantity(value);
    }
  } catch {
    // A malformed annotation is as none: the defaults apply.
  }
  return undefined;
}

const request = (container: Container, resource: "cpu" | "memory", kind: "requests" | "limits") => {
  const value = container.resources?.[kind]?.[resource];
  try {
    return value === undefined ? undefined : parseQuantity(value);
  } catch {
    return undefined;
  }
};

/** The CPU rate (nanocores) and memory working set (bytes) a simulated container runs at. */
export function simulatedRates(pod: Pod, container: Container): { nanoCores: number; memoryBytes: number } {
  const cpuMilli = annotated(pod, SIMULATED_CPU_USAGE, container.name);
  const cpuRequest = request(container, "cpu", "requests");
  const nanoCores = cpuMilli !== undefined ? Number(cpuMilli) * 1e6 : cpuRequest !== undefined ? Math.max(DEFAULT_CPU_NANOCORES, Number(cpuRequest) * 1e5) : DEFAULT_CPU_NANOCORES;
  const memoryMilli = annotated(pod, SIMULATED_MEMORY_USAGE, container.name);
  const memoryBase = request(container, "memory", "requests") ?? request(container, "memory", "limits");
  const bytes = memoryMilli !== undefined ? Number(memoryMilli) / 1000 : memoryBase !== undefined ? Number(memoryBase) / 2000 : DEFAULT_MEMORY_BYTES;
  return { nanoCores: Math.round(nanoCores), memoryBytes: Math.ceil(bytes / PAGE) * PAGE };
}

/** A simulated pod's usage now: each running container at its rate since it started. */
export function simulatedPodUsage(pod: Pod, running: { name: string; startedAt: number }[], now: number): PodUsage {
  const specs = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const containers: ContainerUsage[] = [];
  for (const { name, startedAt } of running) {
    const spec = specs.find((c) => c.name === name);
    if (!spec) continue;
    const { nanoCores, memoryBytes } = simulatedRates(pod, spec);
    containers.push({
      name, startedAt, timestamp: now, usageNanoCores: nanoCores, usageCoreNanoSeconds: Math.round((nanoCores * Math.max(0, now - startedAt)) / 1000),
      workingSetBytes: memoryBytes, usageBytes: memoryBytes, rssBytes: memoryBytes, pageFaults: 0, majorPageFaults: 0, rootfsUsedBytes: 0, rootfsInodesUsed: 0,
    });
  }
  const startedAt = Math.min(now, ...running.map((c) => c.startedAt));
  return { ref: { uid: pod.metadata!.uid!, namespace: pod.metadata!.namespace!, name: pod.metadata!.name! }, startedAt, containers };
}

/** A hollow node's own figures: its pods' sum plus what the node itself uses, on the machine it claims. */
export function simulatedHost(pods: PodUsage[], machine: { memoryBytes: number; ephemeralStorageBytes: number }, bootTime: number, now: number): HostSample {
  const containers = pods.flatMap((p) => p.containers);
  const podCpu = containers.reduce((sum, c) => sum + c.usageCoreNanoSeconds, 0);
  const podMemory = containers.reduce((sum, c) => sum + c.workingSetBytes, 0);
  const workingSetBytes = Math.min(machine.memoryBytes, NODE_MEMORY_BYTES + podMemory);
  const usedBytes = Math.min(machine.ephemeralStorageBytes, 4 * 2 ** 30);
  return {
    timestamp: now, bootTime,
    usageCoreNanoSeconds: Math.round((NODE_CPU_NANOCORES * Math.max(0, now - bootTime)) / 1000) + podCpu,
    memory: { totalBytes: machine.memoryBytes, usageBytes: workingSetBytes, workingSetBytes, rssBytes: workingSetBytes, pageFaults: 0, majorPageFaults: 0 },
    fs: { capacityBytes: machine.ephemeralStorageBytes, availableBytes: machine.ephemeralStorageBytes - usedBytes, usedBytes, inodes: 6_553_600, inodesFree: 6_500_000, inodesUsed: 53_600 },
  };
}

/** A hollow node's CPU rate: its own plus its containers'. */
export function simulatedHostNanoCores(pods: PodUsage[]): number {
  return NODE_CPU_NANOCORES + pods.flatMap((p) => p.containers).reduce((sum, c) => sum + (c.usageNanoCores ?? 0), 0);
}

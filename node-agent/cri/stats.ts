// Running containers' usage from CRI: ListContainerStats joined with ListContainers (the start time
// the kubelet reports is the container's creation) and ListPodSandbox (the pod's), grouped by pod.
import type { PodUsage } from "../runtime/runtime.ts";
import type { Container, ContainerStats, PodSandbox } from "./client.ts";
import { CONTAINER_NAME, POD_NAME, POD_NAMESPACE, POD_UID } from "./labels.ts";

const ms = (ns: number | undefined) => (ns ? Math.floor(ns / 1e6) : 0);

/** Each pod's running containers with their figures; a container without CPU or memory figures is left out, as the kubelet leaves it. */
export function podUsageFromCri(sandboxes: PodSandbox[], containers: Container[], stats: ContainerStats[], now: number): PodUsage[] {
  const running = new Map(containers.filter((c) => c.state === "CONTAINER_RUNNING").map((c) => [c.id, c]));
  const pods = new Map<string, PodUsage>();
  for (const s of stats) {
    const container = s.attributes && running.get(s.attributes.id);
    const labels = container?.labels ?? {};
    const uid = labels[POD_UID];
    if (!container || !uid || !s.cpu?.usage_core_nano_seconds || !s.memory?.working_set_bytes) continue;
    let pod = pods.get(uid);
    if (!pod) {
      const sandbox = sandboxes.find((b) => b.id === container.pod_sandbox_id);
      pod = { ref: { uid, namespace: labels[POD_NAMESPACE] ?? "", name: labels[POD_NAME] ?? "" }, startedAt: ms(sandbox?.created_at) || ms(container.created_at), containers: [] };
      pods.set(uid, pod);
    }
    const memory = s.memory;
    pod.containers.push({
      name: labels[CONTAINER_NAME] ?? s.attributes!.metadata.name, startedAt: ms(container.created_at), timestamp: ms(s.cpu.timestamp) || now,
      usageCoreNanoSeconds: s.cpu.usage_core_nano_seconds.value, workingSetBytes: memory.working_set_bytes!.value,
      ...(memory.usage_bytes ? { usageBytes: memory.usage_bytes.value } : {}), ...(memory.rss_bytes ? { rssBytes: memory.rss_bytes.value } : {}),
      ...(memory.page_faults ? { pageFaults: memory.page_faults.value } : {}), ...(memory.major_page_faults ? { majorPageFaults: memory.major_page_faults.value } : {}),
      ...(s.writable_layer?.used_bytes ? { rootfsUsedBytes: s.writable_layer.used_bytes.value } : {}),
      ...(s.writable_layer?.inodes_used ? { rootfsInodesUsed: s.writable_layer.inodes_used.value } : {}),
    });
  }
  return [...pods.values()];
}

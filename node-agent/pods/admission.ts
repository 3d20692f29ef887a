// Node admission as the kubelet does it before starting a pod: the pod must fit what is left of the
// node's allocatable (pods, cpu, memory, ephemeral-storage) next to the pods it already admitted,
// and ask for no host port another of them holds. A rejected pod fails with kube's reason
// (OutOfcpu, OutOfmemory, OutOfpods, NodePorts) and message instead of starting.
import type { Container, Pod } from "kubernetes-types/core/v1";
import { parseQuantity } from "../../lib/k8s/quantity.ts";
import { isRestartableInit } from "./status.ts";

export type Admission = { admit: true } | { admit: false; reason: string; message: string };

const RESOURCES = ["cpu", "memory", "ephemeral-storage"] as const;

/** A quantity in the units the kubelet's messages use: millicores for cpu, bytes otherwise. */
function amount(resource: string, quantity: string | number | undefined): bigint {
  if (quantity === undefined) return 0n;
  const milli = parseQuantity(String(quantity));
  return resource === "cpu" ? milli : (milli + 999n) / 1000n;
}

function requestOf(container: Container, resource: string): bigint {
  return amount(resource, container.resources?.requests?.[resource] as string | undefined);
}

/**
 * What a pod asks of the node: its containers and sidecars together, or its largest init
 * container with the sidecars started before it, whichever is more; plus its overhead.
 */
export function podRequest(pod: Pod, resource: string): bigint {
  let sidecars = 0n;
  let initPeak = 0n;
  for (const container of pod.spec?.initContainers ?? []) {
    if (isRestartableInit(container)) sidecars += requestOf(container, resource);
    else initPeak = [initPeak, sidecars + requestOf(container, resource)].reduce((a, b) => (a > b ? a : b));
  }
  const regular = (pod.spec?.containers ?? []).reduce((sum, c) => sum + requestOf(c, resource), 0n) + sidecars;
  const overhead = amount(resource, pod.spec?.overhead?.[resource] as string | undefined);
  return (regular > initPeak ? regular : initPeak) + overhead;
}

function hostPorts(pod: Pod): string[] {
  return (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? [])
    .filter((p) => p.hostPort)
    .map((p) => `${p.protocol ?? "TCP"}/${p.hostIP || "0.0.0.0"}/${p.hostPort}`);
}

function portsConflict(wanted: string[], held: Set<string>): boolean {
  return wanted.some((port) => {
    const [protocol, ip, number] = port.split("/");
    return [...held].some((h) => {
      const [hp, hip, hn] = h.split("/");
      return hp === protocol && hn === number && (hip === ip || hip === "0.0.0.0" || ip === "0.0.0.0");
    });
  });
}

/** Whether `pod` may start on a node with `allocatable` that already runs `admitted` (active pods only). */
export function admitPod(pod: Pod, allocatable: Record<string, string>, admitted: Pod[]): Admission {
  const maxPods = BigInt(allocatable.pods ?? "110");
  if (BigInt(admitted.length) + 1n > maxPods) {
    return { admit: false, reason: "OutOfpods", message: `Node didn't have enough resource: pods, requested: 1, used: ${admitted.length}, capacity: ${maxPods}` };
  }
  for (const resource of RESOURCES) {
    const requested = podRequest(pod, resource);
    if (requested === 0n) continue;
    const capacity = amount(resource, allocatable[resource]);
    const used = admitted.reduce((sum, p) => sum + podRequest(p, resource), 0n);
    if (used + requested > capacity) {
      return { admit: false, reason: `OutOf${resource}`, message: `Node didn't have enough resource: ${resource}, requested: ${requested}, used: ${used}, capacity: ${capacity}` };
    }
  }
  const held = new Set(admitted.flatMap(hostPorts));
  if (portsConflict(hostPorts(pod), held)) {
    return { admit: false, reason: "NodePorts", message: "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports" };
  }
  return { admit: true };
}

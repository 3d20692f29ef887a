// One node as the plugins see it (framework.NodeInfo): its projection plus the pods on it (bound or
// assumed) and their sums: requested and non-zero requested resources and the host ports in use.
import type { HostPort, NodeProjection, PodInfo } from "./projection.ts";
import { accumulate, cloneResources, emptyResources, type Resources } from "./resources.ts";

export class NodeInfo {
  /** Undefined while pods name a node the scheduler has not seen (or no longer sees). */
  node: NodeProjection | undefined;
  pods: PodInfo[] = [];
  /** Pods with any pod affinity or anti-affinity. */
  podsWithAffinity: PodInfo[] = [];
  podsWithRequiredAntiAffinity: PodInfo[] = [];
  requested: Resources = emptyResources();
  /** cpu and memory with defaults for containers that request none. */
  nonZeroMilliCPU = 0;
  nonZeroMemory = 0;
  usedPorts: HostPort[] = [];

  readonly name: string;

  constructor(name: string, node?: NodeProjection) {
    this.name = name;
    this.node = node;
  }

  addPod(pod: PodInfo): void {
    this.pods.push(pod);
    if (pod.spec.hasPodAffinity) this.podsWithAffinity.push(pod);
    if (pod.spec.requiredAntiAffinityTerms.length > 0) this.podsWithRequiredAntiAffinity.push(pod);
    this.update(pod, 1);
  }

  /** Removes the pod with `key`; answers whether it was here. */
  removePod(key: string): boolean {
    const i = this.pods.findIndex((p) => p.key === key);
    if (i < 0) return false;
    const [pod] = this.pods.splice(i, 1);
    const drop = (list: PodInfo[]) => {
      const j = list.findIndex((p) => p.key === key);
      if (j >= 0) list.splice(j, 1);
    };
    drop(this.podsWithAffinity);
    drop(this.podsWithRequiredAntiAffinity);
    this.update(pod!, -1);
    return true;
  }

  /** An independent copy for a simulation (preemption, nominated pods); projections are shared. */
  clone(): NodeInfo {
    const c = new NodeInfo(this.name, this.node);
    c.pods = [...this.pods];
    c.podsWithAffinity = [...this.podsWithAffinity];
    c.podsWithRequiredAntiAffinity = [...this.podsWithRequiredAntiAffinity];
    c.requested = cloneResources(this.requested);
    c.nonZeroMilliCPU = this.nonZeroMilliCPU;
    c.nonZeroMemory = this.nonZeroMemory;
    c.usedPorts = [...this.usedPorts];
    return c;
  }

  private update(pod: PodInfo, sign: 1 | -1): void {
    accumulate(this.requested, pod.spec.requests, sign);
    this.nonZeroMilliCPU += sign * pod.spec.nonZeroMilliCPU;
    this.nonZeroMemory += sign * pod.spec.nonZeroMemory;
    for (const port of pod.spec.hostPorts) {
      if (sign > 0) this.usedPorts.push(port);
      else {
        const i = this.usedPorts.indexOf(port);
        if (i >= 0) this.usedPorts.splice(i, 1);
      }
    }
  }
}

/** HostPortInfo.CheckConflict: the same protocol and port on the same IP, where 0.0.0.0 overlaps every IP. */
export function hostPortConflicts(used: readonly HostPort[], want: HostPort): boolean {
  if (want.port <= 0) return false;
  return used.some((u) => u.port === want.port && u.protocol === want.protocol && (u.ip === want.ip || u.ip === "0.0.0.0" || want.ip === "0.0.0.0"));
}

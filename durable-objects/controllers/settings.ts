// The controller manager's settings, as kube-controller-manager's flags: read from the Worker's
// vars (wrangler.toml), each with kube 1.30's default when unset.
import { loadBalancerDomain } from "./service-lb-names.ts";
export interface ControllerSettings {
  /** --cluster-cidr: the range node IPAM carves nodes' pod CIDRs from. */
  clusterCidr: string;
  /** --node-cidr-mask-size: the prefix length of each node's pod CIDR. */
  nodeCidrMaskSize: number;
  /** --node-monitor-grace-period: how long a node may be silent before it is Ready=Unknown. */
  nodeMonitorGracePeriodMs: number;
  /** --node-startup-grace-period: the same for a node that never posted its status. */
  nodeStartupGracePeriodMs: number;
  /** --node-eviction-rate: NoExecute taints per second per healthy zone. */
  nodeEvictionRate: number;
  /** --secondary-node-eviction-rate: the same in a partially disrupted zone larger than largeClusterSizeThreshold. */
  secondaryNodeEvictionRate: number;
  /** --terminated-pod-gc-threshold: terminated pods kept before PodGC deletes the oldest. */
  terminatedPodGcThreshold: number;
  /** --root-ca-file: the CA (PEM) pods should trust for the apiserver; unset, no kube-root-ca.crt is published. */
  clusterCaPem?: string;
  /** LoadBalancer Services exposed at the edge get hostnames `<svc>.<ns>.<loadBalancerDomain>` (service-lb.ts). */
  loadBalancerDomain: string;
}

export type ControllerVars = Partial<Record<
  "CLUSTER_CIDR" | "NODE_CIDR_MASK_SIZE" | "NODE_MONITOR_GRACE_PERIOD_SECONDS" | "NODE_STARTUP_GRACE_PERIOD_SECONDS" | "NODE_EVICTION_RATE" | "SECONDARY_NODE_EVICTION_RATE" | "TERMINATED_POD_GC_THRESHOLD" | "CLUSTER_CA_PEM" | "LOADBALANCER_DOMAIN",
  string
>>;

function number(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
}

export function controllerSettings(vars: ControllerVars): ControllerSettings {
  return {
    clusterCidr: vars.CLUSTER_CIDR?.trim() || "10.244.0.0/16",
    nodeCidrMaskSize: number(vars.NODE_CIDR_MASK_SIZE, 24),
    nodeMonitorGracePeriodMs: number(vars.NODE_MONITOR_GRACE_PERIOD_SECONDS, 40) * 1000,
    nodeStartupGracePeriodMs: number(vars.NODE_STARTUP_GRACE_PERIOD_SECONDS, 60) * 1000,
    nodeEvictionRate: number(vars.NODE_EVICTION_RATE, 0.1),
    secondaryNodeEvictionRate: number(vars.SECONDARY_NODE_EVICTION_RATE, 0.01),
    terminatedPodGcThreshold: number(vars.TERMINATED_POD_GC_THRESHOLD, 12500),
    loadBalancerDomain: loadBalancerDomain(vars.LOADBALANCER_DOMAIN),
    ...(vars.CLUSTER_CA_PEM?.trim() ? { clusterCaPem: vars.CLUSTER_CA_PEM } : {}),
  };
}

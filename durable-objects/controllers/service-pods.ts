// What the EndpointSlice and Endpoints controllers both read of a Service's pods, as kube's
// endpoint utilities define it: which Services select a pod, whether a pod belongs in endpoints at
// all, whether it is ready, and the port a Service port's targetPort means on that pod.
import type { Pod, Service, ServicePort } from "kubernetes-types/core/v1";
import { builtin } from "../../lib/k8s/resources.ts";
import { keyOf, type Listers } from "./framework.ts";

export const SERVICES = builtin("v1", "services");
export const PODS = builtin("v1", "pods");

const selectsPod = (selector: Record<string, string>, pod: Pod) =>
  Object.entries(selector).every(([k, v]) => pod.metadata?.labels?.[k] === v);

/** The Services (with a selector) in the pod's namespace that select it. */
export function serviceKeysForPod(object: unknown, listers: Listers): string[] {
  const pod = object as Pod;
  return listers.of<Service>(SERVICES).list(pod.metadata?.namespace ?? "")
    .filter((svc) => svc.spec?.selector && selectsPod(svc.spec.selector, pod))
    .map(keyOf);
}

/** The pods a Service's selector picks (a Service without one has none of ours). */
export function podsOf(service: Service, listers: Listers): Pod[] {
  const selector = service.spec?.selector;
  if (!selector) return [];
  const requirements = Object.entries(selector).map(([key, value]) => ({ key, operator: "=" as const, values: [value] }));
  return listers.of<Pod>(PODS).list(service.metadata?.namespace ?? "", requirements);
}

/** ShouldPodBeInEndpoints: not finished, has an address, and not terminating unless asked for. */
export function shouldPodBeInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return false;
  if (!pod.status?.podIP && !pod.status?.podIPs?.length) return false;
  return includeTerminating || !pod.metadata?.deletionTimestamp;
}

export const isPodReady = (pod: Pod): boolean => pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** The pod's IPv4 address (the only family this control plane allocates Services in). */
export function podIPv4(pod: Pod): string | undefined {
  const ips = pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : []);
  return ips.find((ip): ip is string => !!ip && !ip.includes(":"));
}

/** podutil.FindPort: a number as it is, a name as the container port of that name and protocol. */
export function findPort(pod: Pod, port: ServicePort): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === "number") return target;
  const protocol = port.protocol ?? "TCP";
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always")];
  for (const container of containers) {
    for (const p of container.ports ?? []) if (p.name === target && (p.protocol ?? "TCP") === protocol) return p.containerPort;
  }
  return undefined;
}

/** ShouldSetHostname: a pod whose subdomain is this Service's name gets its hostname published. */
export const publishedHostname = (pod: Pod, service: Service): string | undefined =>
  pod.spec?.hostname && pod.spec.subdomain === service.metadata?.name && pod.metadata?.namespace === service.metadata?.namespace ? pod.spec.hostname : undefined;

export const isHeadless = (service: Service): boolean => service.spec?.clusterIP === "None";

/** JSON with object keys sorted: two objects that mean the same compare equal whatever their key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v);
}

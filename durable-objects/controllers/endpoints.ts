// The Endpoints controller (kube-controller-manager 1.30's endpoint-controller), for clients that
// still read core/v1 Endpoints: every Service with a selector has an Endpoints object of its name
// whose subsets list its pods' addresses (ready ones in `addresses`, others in
// `notReadyAddresses`, or all ready when the Service publishes not-ready addresses), grouped by the
// ports their targetPorts resolve to; terminating pods are left out unless published; at most 1000
// addresses, with the over-capacity annotation when some were cut. A deleted Service's Endpoints
// go with it. Services without a selector (the `kubernetes` Service among them) are not ours.
import type { EndpointAddress, EndpointPort, Endpoints, EndpointSubset, Pod, Service } from "kubernetes-types/core/v1";
import { builtin } from "../../lib/k8s/resources.ts";
import { keyOf, splitKey, type Controller } from "./framework.ts";
import { LABEL_HEADLESS } from "./endpointslice.ts";
import { canonical, findPort, isHeadless, isPodReady, podIPv4, PODS, podsOf, publishedHostname, serviceKeysForPod, SERVICES, shouldPodBeInEndpoints } from "./service-pods.ts";

export const ENDPOINTS = builtin("v1", "endpoints");
/** --max-endpoints-per-... the Endpoints API's own cap. */
export const MAX_ENDPOINTS_ADDRESSES = 1000;
export const OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity";
const LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror";

function address(pod: Pod, service: Service): EndpointAddress {
  const hostname = publishedHostname(pod, service);
  return {
    ip: podIPv4(pod)!,
    ...(hostname ? { hostname } : {}),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    targetRef: { kind: "Pod", namespace: pod.metadata?.namespace, name: pod.metadata?.name, uid: pod.metadata?.uid },
  };
}

/** The subsets, repacked as kube's RepackSubsets does: addresses with the same ports share a subset. */
export function desiredSubsets(service: Service, pods: Pod[]): EndpointSubset[] {
  const publishNotReady = !!service.spec?.publishNotReadyAddresses;
  const subsets = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, publishNotReady) || !podIPv4(pod)) continue;
    let ports: EndpointPort[] = (service.spec?.ports ?? []).flatMap((port) => {
      const number = findPort(pod, port);
      return number === undefined ? [] : [{ name: port.name, port: number, protocol: port.protocol ?? "TCP", ...(port.appProtocol ? { appProtocol: port.appProtocol } : {}) }];
    });
    // A headless Service without ports still lists its pods' addresses.
    if (ports.length === 0 && !(isHeadless(service) && (service.spec?.ports ?? []).length === 0)) continue;
    ports = ports.sort((a, b) => (a.name ?? "").localeCompare(b.name ?? "") || a.port - b.port);
    const key = canonical(ports);
    const subset = subsets.get(key) ?? { ports, ready: [], notReady: [] };
    (publishNotReady || isPodReady(pod) ? subset.ready : subset.notReady).push(address(pod, service));
    subsets.set(key, subset);
  }
  const byIp = (a: EndpointAddress, b: EndpointAddress) => a.ip.localeCompare(b.ip) || (a.targetRef?.uid ?? "").localeCompare(b.targetRef?.uid ?? "");
  return [...subsets.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, s]) => ({
    ...(s.ready.length ? { addresses: s.ready.sort(byIp) } : {}),
    ...(s.notReady.length ? { notReadyAddresses: s.notReady.sort(byIp) } : {}),
    ...(s.ports.length ? { ports: s.ports } : {}),
  }));
}

/** At most 1000 addresses, ready ones kept first; answers whether any were cut. */
export function truncateSubsets(subsets: EndpointSubset[], max = MAX_ENDPOINTS_ADDRESSES): { subsets: EndpointSubset[]; truncated: boolean } {
  const total = subsets.reduce((n, s) => n + (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0), 0);
  if (total <= max) return { subsets, truncated: false };
  let budget = max;
  const take = (list: EndpointAddress[] | undefined) => {
    const kept = (list ?? []).slice(0, budget);
    budget -= kept.length;
    return kept;
  };
  const ready = subsets.map((s) => take(s.addresses));
  const notReady = subsets.map((s) => take(s.notReadyAddresses));
  const cut = subsets
    .map((s, i) => ({ ...(ready[i]!.length ? { addresses: ready[i] } : {}), ...(notReady[i]!.length ? { notReadyAddresses: notReady[i] } : {}), ...(s.ports ? { ports: s.ports } : {}) }))
    .filter((s) => s.addresses || s.notReadyAddresses);
  return { subsets: cut, truncated: true };
}

/** The Endpoints object a Service should have, keeping what else the existing one carries. */
export function desiredEndpoints(service: Service, pods: Pod[], existing: Endpoints | undefined): Endpoints {
  const { subsets, truncated } = truncateSubsets(desiredSubsets(service, pods));
  const labels: Record<string, string> = { ...service.metadata?.labels, [LABEL_SKIP_MIRROR]: "true" };
  if (isHeadless(service)) labels[LABEL_HEADLESS] = "";
  else delete labels[LABEL_HEADLESS];
  const annotations = { ...existing?.metadata?.annotations };
  if (truncated) annotations[OVER_CAPACITY_ANNOTATION] = "truncated";
  else delete annotations[OVER_CAPACITY_ANNOTATION];
  return {
    ...existing,
    apiVersion: "v1", kind: "Endpoints",
    metadata: {
      ...existing?.metadata, name: service.metadata!.name, namespace: service.metadata!.namespace, labels,
      annotations: Object.keys(annotations).length ? annotations : undefined,
    },
    subsets,
  };
}

const sameEndpoints = (a: Endpoints, b: Endpoints) =>
  canonical([a.subsets ?? [], a.metadata?.labels ?? {}, a.metadata?.annotations ?? {}]) === canonical([b.subsets ?? [], b.metadata?.labels ?? {}, b.metadata?.annotations ?? {}]);

export const endpointsController: Controller = {
  name: "endpoint-controller",
  watches: [
    { resource: SERVICES, keysFor: (svc) => [keyOf(svc)] },
    { resource: PODS, keysFor: serviceKeysForPod },
    { resource: ENDPOINTS, keysFor: (ep) => [keyOf(ep)] },
  ],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const client = ctx.client.resource<Endpoints>(ENDPOINTS);
    const existing = ctx.listers.of<Endpoints>(ENDPOINTS).get(namespace, name);
    const service = ctx.listers.of<Service>(SERVICES).get(namespace, name);
    if (!service) {
      if (existing) {
        await client.delete(namespace, name, { preconditions: { uid: existing.metadata?.uid } }).catch((e: unknown) => {
          if ((e as { code?: number })?.code !== 404) throw e;
        });
      }
      return;
    }
    if (!service.spec?.selector) return;
    const desired = desiredEndpoints(service, podsOf(service, ctx.listers), existing);
    if (!existing) await client.create(namespace, desired);
    else if (!sameEndpoints(existing, desired)) await client.update(namespace, desired);
  },
};

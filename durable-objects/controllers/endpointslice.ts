// The EndpointSlice controller (kube-controller-manager 1.30's endpointslice-controller): every
// Service with a selector has EndpointSlices (IPv4, owned by the Service, labelled with its name and
// managed-by endpointslice-controller.k8s.io) listing the pods it selects that have an address —
// each with its ready/serving/terminating conditions, node, zone and pod reference — grouped by the
// ports its named targetPorts resolve to on each pod, at most 100 endpoints per slice. Endpoints
// stay in the slice they are in; new ones fill slices with room before new slices are made; a
// Service with no endpoints keeps one empty placeholder slice. Topology hints are left out.
import type { Node, Pod, Service } from "kubernetes-types/core/v1";
import type { Endpoint, EndpointPort, EndpointSlice } from "kubernetes-types/discovery/v1";
import { builtin } from "../../lib/k8s/resources.ts";
import { keyOf, splitKey, type Controller, type Listers, type ReconcileContext } from "./framework.ts";
import { NODES } from "./node-ipam.ts";
import { canonical, findPort, isHeadless, isPodReady, podIPv4, PODS, podsOf, publishedHostname, serviceKeysForPod, SERVICES, shouldPodBeInEndpoints } from "./service-pods.ts";

export const ENDPOINT_SLICES = builtin("discovery.k8s.io/v1", "endpointslices");
export const LABEL_SERVICE_NAME = "kubernetes.io/service-name";
export const LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
export const MANAGED_BY = "endpointslice-controller.k8s.io";
export const LABEL_HEADLESS = "service.kubernetes.io/headless";
/** --max-endpoints-per-slice. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** podToEndpoint: ready only when serving and not terminating, unless the Service publishes not-ready addresses. */
export function podToEndpoint(pod: Pod, node: Node | undefined, service: Service): Endpoint {
  const serving = isPodReady(pod);
  const terminating = !!pod.metadata?.deletionTimestamp;
  const zone = node?.metadata?.labels?.["topology.kubernetes.io/zone"];
  const hostname = publishedHostname(pod, service);
  return {
    addresses: [podIPv4(pod)!],
    conditions: { ready: !!service.spec?.publishNotReadyAddresses || (serving && !terminating), serving, terminating },
    ...(hostname ? { hostname } : {}),
    nodeName: pod.spec?.nodeName,
    ...(zone ? { zone } : {}),
    targetRef: { kind: "Pod", namespace: pod.metadata?.namespace, name: pod.metadata?.name, uid: pod.metadata?.uid },
  };
}

/** The ports an endpoint serves: each Service port whose targetPort the pod resolves. */
export function endpointPorts(pod: Pod, service: Service): EndpointPort[] {
  return (service.spec?.ports ?? []).flatMap((port) => {
    const number = findPort(pod, port);
    if (number === undefined) return [];
    return [{ name: port.name ?? "", port: number, protocol: port.protocol ?? "TCP", ...(port.appProtocol ? { appProtocol: port.appProtocol } : {}) }];
  });
}

export interface EndpointGroup {
  ports: EndpointPort[];
  endpoints: Endpoint[];
}

/** The Service's endpoints, grouped by the ports they serve (one group per distinct port list). */
export function desiredEndpoints(service: Service, pods: Pod[], nodeOf: (name: string) => Node | undefined): EndpointGroup[] {
  const groups = new Map<string, EndpointGroup>();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, true) || !podIPv4(pod)) continue;
    const node = pod.spec?.nodeName ? nodeOf(pod.spec.nodeName) : undefined;
    // A pod on a node that does not exist is left out, unless the Service publishes every address.
    if (!node && !service.spec?.publishNotReadyAddresses) continue;
    const ports = endpointPorts(pod, service);
    const key = canonical(ports);
    const group = groups.get(key) ?? { ports, endpoints: [] };
    group.endpoints.push(podToEndpoint(pod, node, service));
    groups.set(key, group);
  }
  return [...groups.values()];
}

const endpointId = (e: Endpoint) => `${e.targetRef?.namespace}/${e.targetRef?.name}`;

/** What a slice of this Service carries besides its endpoints and ports. */
export function sliceMetadata(service: Service): Pick<EndpointSlice, "metadata"> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(service.metadata?.labels ?? {})) if (k !== LABEL_SERVICE_NAME && k !== LABEL_MANAGED_BY) labels[k] = v;
  if (isHeadless(service)) labels[LABEL_HEADLESS] = "";
  labels[LABEL_SERVICE_NAME] = service.metadata!.name!;
  labels[LABEL_MANAGED_BY] = MANAGED_BY;
  return {
    metadata: {
      namespace: service.metadata?.namespace,
      labels,
      ownerReferences: [{ apiVersion: "v1", kind: "Service", name: service.metadata!.name!, uid: service.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
    },
  };
}

export interface SlicePlan {
  create: EndpointSlice[];
  update: EndpointSlice[];
  delete: EndpointSlice[];
}

/**
 * The writes that turn the existing slices into the desired ones: endpoints still wanted stay in
 * their slice (updated in place), new ones go where there is room, slices left empty go, and with no
 * endpoints at all one placeholder slice remains.
 */
export function planSlices(service: Service, groups: EndpointGroup[], existing: EndpointSlice[]): SlicePlan {
  const meta = sliceMetadata(service);
  const result: { slice?: EndpointSlice; ports: EndpointPort[]; endpoints: Endpoint[] }[] = [];
  const unplaced = new Map(groups.map((g) => [canonical(g.ports), new Map(g.endpoints.map((e) => [endpointId(e), e]))]));
  const leftover: EndpointSlice[] = [];
  for (const slice of [...existing].sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""))) {
    const wanted = unplaced.get(canonical(slice.ports ?? []));
    const kept = wanted ? (slice.endpoints ?? []).map((e) => wanted.get(endpointId(e))).filter((e): e is Endpoint => e !== undefined) : [];
    for (const e of kept) wanted!.delete(endpointId(e));
    if (kept.length > 0) result.push({ slice, ports: slice.ports ?? [], endpoints: kept });
    else leftover.push(slice);
  }
  for (const group of groups) {
    const rest = [...unplaced.get(canonical(group.ports))!.values()].sort((a, b) => endpointId(a).localeCompare(endpointId(b)));
    for (const entry of result.filter((r) => canonical(r.ports) === canonical(group.ports))) {
      while (rest.length > 0 && entry.endpoints.length < MAX_ENDPOINTS_PER_SLICE) entry.endpoints.push(rest.shift()!);
    }
    while (rest.length > 0) result.push({ ports: group.ports, endpoints: rest.splice(0, MAX_ENDPOINTS_PER_SLICE) });
  }
  // With no endpoints, one empty placeholder slice (no ports) stays or is made.
  if (result.length === 0) result.push({ slice: leftover.shift(), ports: [], endpoints: [] });
  // New slices reuse the slices that lost all their endpoints before any is created.
  for (const entry of result) if (!entry.slice && leftover.length > 0) entry.slice = leftover.shift();

  const plan: SlicePlan = { create: [], update: [], delete: leftover };
  for (const { slice, ports, endpoints } of result) {
    const desired: EndpointSlice = {
      apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
      metadata: { ...meta.metadata, ...(slice ? { name: slice.metadata!.name, resourceVersion: slice.metadata!.resourceVersion } : { generateName: `${service.metadata!.name}-` }) },
      addressType: "IPv4",
      endpoints,
      ports: ports.length ? ports : undefined,
    };
    if (!slice) plan.create.push(desired);
    else if (!sameSlice(slice, desired)) plan.update.push({ ...slice, ...desired, metadata: { ...slice.metadata, ...desired.metadata } });
  }
  return plan;
}

function sameSlice(a: EndpointSlice, b: EndpointSlice): boolean {
  const view = (s: EndpointSlice) => canonical([s.addressType, s.endpoints ?? [], s.ports ?? [], s.metadata?.labels ?? {}, s.metadata?.ownerReferences ?? []]);
  return view(a) === view(b);
}

async function applyPlan(plan: SlicePlan, namespace: string, ctx: ReconcileContext): Promise<void> {
  const slices = ctx.client.resource<EndpointSlice>(ENDPOINT_SLICES);
  const ignoreGone = (e: unknown) => {
    if ((e as { code?: number })?.code !== 404) throw e;
  };
  // Creates and updates first, so a Service's endpoints are never missing in between.
  for (const slice of plan.create) await slices.create(namespace, slice);
  for (const slice of plan.update) await slices.update(namespace, slice);
  for (const slice of plan.delete) await slices.delete(namespace, slice.metadata!.name!, { preconditions: { uid: slice.metadata?.uid } }).catch(ignoreGone);
}

function managedSlices(namespace: string, name: string, listers: Listers): EndpointSlice[] {
  return listers.of<EndpointSlice>(ENDPOINT_SLICES).list(namespace, `${LABEL_SERVICE_NAME}=${name},${LABEL_MANAGED_BY}=${MANAGED_BY}`);
}

/** A slice of ours belongs to the Service its label names. */
function serviceKeyForSlice(object: unknown): string[] {
  const slice = object as EndpointSlice;
  const labels = slice.metadata?.labels ?? {};
  return labels[LABEL_MANAGED_BY] === MANAGED_BY && labels[LABEL_SERVICE_NAME] ? [`${slice.metadata?.namespace}/${labels[LABEL_SERVICE_NAME]}`] : [];
}

export const endpointSliceController: Controller = {
  name: "endpointslice-controller",
  watches: [
    { resource: SERVICES, keysFor: (svc) => [keyOf(svc)] },
    { resource: PODS, keysFor: serviceKeysForPod },
    { resource: ENDPOINT_SLICES, keysFor: serviceKeyForSlice },
    // Read for their zones; a node's new zone reaches its endpoints with its pods' next change.
    { resource: NODES, keysFor: () => [] },
  ],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const service = ctx.listers.of<Service>(SERVICES).get(namespace, name);
    // A deleted Service's slices are the garbage collector's (they are owned by it).
    if (!service || !service.spec?.selector || service.spec.type === "ExternalName") return;
    const nodes = ctx.listers.of<Node>(NODES);
    const groups = desiredEndpoints(service, podsOf(service, ctx.listers), (node) => nodes.get(undefined, node));
    await applyPlan(planSlices(service, groups, managedSlices(namespace, name, ctx.listers)), namespace, ctx);
  },
};

// Resource amounts as kube-scheduler counts them (framework.Resource): milli-CPU, bytes, a pod count
// and named scalar resources, and a pod's requests as component-helpers' PodRequests sums them.
import type { Container, Pod } from "kubernetes-types/core/v1";
import { parseQuantity } from "../../lib/k8s/quantity.ts";

/** Requests or allocatable amounts. `scalar` holds extended resources, hugepages and attachable volumes. */
export interface Resources {
  milliCPU: number;
  memory: number;
  ephemeralStorage: number;
  /** Allocatable pods on a node; unused for a pod's requests. */
  allowedPodNumber: number;
  scalar: Record<string, number> | undefined;
}

/** What a container asks for when it names no cpu or memory request (schedutil.DefaultMilliCPURequest, DefaultMemoryRequest). */
const DEFAULT_MILLI_CPU_REQUEST = 100;
const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

export function emptyResources(): Resources {
  return { milliCPU: 0, memory: 0, ephemeralStorage: 0, allowedPodNumber: 0, scalar: undefined };
}

export function cloneResources(r: Resources): Resources {
  return { ...r, scalar: r.scalar ? { ...r.scalar } : undefined };
}

/** v1helper.IsExtendedResourceName: a domain-prefixed name outside kubernetes.io. */
export function isExtendedResourceName(name: string): boolean {
  if (!name.includes("/") || name.includes("kubernetes.io/") || name.startsWith("requests.")) return false;
  return /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/.test(`requests.${name}`);
}

/** schedutil.IsScalarResourceName: extended, hugepages, prefixed native or attachable-volume resources. */
export function isScalarResourceName(name: string): boolean {
  return isExtendedResourceName(name) || name.startsWith("hugepages-") || name.includes("kubernetes.io/") || name.startsWith("attachable-volumes-");
}

/** Quantity.Value(): whole units, rounded up. */
function value(quantity: string | number): number {
  const milli = parseQuantity(quantity);
  return Number(milli >= 0n ? (milli + 999n) / 1000n : milli / 1000n);
}

/** Adds a ResourceList (as Resource.Add does): cpu in milli-units, every other amount in whole units. */
export function addResourceList(into: Resources, list: Record<string, string | number> | undefined): void {
  if (!list) return;
  for (const [name, quantity] of Object.entries(list)) {
    switch (name) {
      case "cpu":
        into.milliCPU += Number(parseQuantity(quantity));
        break;
      case "memory":
        into.memory += value(quantity);
        break;
      case "pods":
        into.allowedPodNumber += value(quantity);
        break;
      case "ephemeral-storage":
        into.ephemeralStorage += value(quantity);
        break;
      default:
        if (isScalarResourceName(name)) {
          into.scalar ??= {};
          into.scalar[name] = (into.scalar[name] ?? 0) + value(quantity);
        }
    }
  }
}

/** Adds (sign 1) or subtracts (sign -1) `delta` in place. */
export function accumulate(into: Resources, delta: Resources, sign: 1 | -1): void {
  into.milliCPU += sign * delta.milliCPU;
  into.memory += sign * delta.memory;
  into.ephemeralStorage += sign * delta.ephemeralStorage;
  if (delta.scalar) {
    into.scalar ??= {};
    for (const [name, amount] of Object.entries(delta.scalar)) into.scalar[name] = (into.scalar[name] ?? 0) + sign * amount;
  }
}

/** A container's requests keyed by resource name, in the list's units (milli-CPU, whole units otherwise). */
type Amounts = Map<string, number>;

function amountsOf(list: Record<string, string | number> | undefined): Amounts {
  const out: Amounts = new Map();
  for (const [name, quantity] of Object.entries(list ?? {})) out.set(name, name === "cpu" ? Number(parseQuantity(quantity)) : value(quantity));
  return out;
}

function addAmounts(into: Amounts, add: Amounts): void {
  for (const [name, amount] of add) into.set(name, (into.get(name) ?? 0) + amount);
}

function maxAmounts(into: Amounts, other: Amounts): void {
  for (const [name, amount] of other) if (!into.has(name) || into.get(name)! < amount) into.set(name, amount);
}

/**
 * A pod's requests as resourcehelper.PodRequests computes them: the sum of its containers and
 * sidecars (init containers with restartPolicy Always), at least any one init container's need
 * while it runs (plus the sidecars started before it), plus the pod overhead. With `nonMissing`,
 * a container that names no cpu or memory request counts the scheduler's defaults for it.
 */
export function podRequests(pod: Pod, nonMissing = false): Amounts {
  const spec = pod.spec;
  const reqs: Amounts = new Map();
  const containerAmounts = (c: Container): Amounts => {
    const amounts = amountsOf(c.resources?.requests);
    if (nonMissing) {
      if (!amounts.has("cpu")) amounts.set("cpu", DEFAULT_MILLI_CPU_REQUEST);
      if (!amounts.has("memory")) amounts.set("memory", DEFAULT_MEMORY_REQUEST);
    }
    return amounts;
  };
  for (const c of spec?.containers ?? []) addAmounts(reqs, containerAmounts(c));
  const sidecars: Amounts = new Map();
  const initMax: Amounts = new Map();
  for (const c of spec?.initContainers ?? []) {
    const own = containerAmounts(c);
    let during: Amounts;
    if (c.restartPolicy === "Always") {
      addAmounts(reqs, own);
      addAmounts(sidecars, own);
      during = new Map(sidecars);
    } else {
      during = new Map(own);
      addAmounts(during, sidecars);
    }
    maxAmounts(initMax, during);
  }
  maxAmounts(reqs, initMax);
  if (spec?.overhead) addAmounts(reqs, amountsOf(spec.overhead));
  return reqs;
}

/** Amounts (milli-CPU, whole units) as Resources, the way Resource.Add files them. */
export function resourcesFromAmounts(amounts: Amounts): Resources {
  const r = emptyResources();
  for (const [name, amount] of amounts) {
    if (name === "cpu") r.milliCPU += amount;
    else if (name === "memory") r.memory += amount;
    else if (name === "ephemeral-storage") r.ephemeralStorage += amount;
    else if (name === "pods") r.allowedPodNumber += amount;
    else if (isScalarResourceName(name)) {
      r.scalar ??= {};
      r.scalar[name] = (r.scalar[name] ?? 0) + amount;
    }
  }
  return r;
}

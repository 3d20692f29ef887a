// How NodeResourcesFit's scoring strategies and NodeResourcesBalancedAllocation weigh a node's
// resources (resourceAllocationScorer): per configured resource, the node's allocatable and what
// would be requested with the pod, then a strategy turns those pairs into 0..100.
import type { StateData } from "./framework/cycle-state.ts";
import { MAX_NODE_SCORE } from "./framework/interface.ts";
import type { NodeInfo } from "./node-info.ts";
import type { PodInfo } from "./projection.ts";
import { isScalarResourceName } from "./resources.ts";

/** PreScore's cycle state for the resource plugins: the pod's requests in their resources' order, computed once a cycle. */
export class PodRequestsState implements StateData {
  readonly podRequests: number[];

  constructor(podRequests: number[]) {
    this.podRequests = podRequests;
  }
  clone() {
    return this;
  }
}

export interface ResourceSpec {
  name: string;
  weight: number;
}

export const DEFAULT_RESOURCES: readonly ResourceSpec[] = [{ name: "cpu", weight: 1 }, { name: "memory", weight: 1 }];

/** Turns (requested, allocatable) per resource into a node score; resources with allocatable 0 are skipped. */
export type ResourceScorer = (requested: readonly number[], allocatable: readonly number[]) => number;

/**
 * The pod's request of each resource. Unless `useRequested`, cpu and memory count the scheduler's
 * defaults for containers that request none, so many empty pods do not pile onto one node.
 */
export function podRequestList(pod: PodInfo, resources: readonly ResourceSpec[], useRequested: boolean): number[] {
  const r = pod.spec.requests;
  return resources.map(({ name }) => {
    switch (name) {
      case "cpu":
        return useRequested ? r.milliCPU : pod.spec.nonZeroMilliCPU;
      case "memory":
        return useRequested ? r.memory : pod.spec.nonZeroMemory;
      case "ephemeral-storage":
        return r.ephemeralStorage;
      default:
        return r.scalar?.[name] ?? 0;
    }
  });
}

/** calculateResourceAllocatableRequest: [allocatable, requested including the pod]; [0, 0] leaves the resource out. */
function allocatableAndRequested(node: NodeInfo, name: string, podRequest: number, useRequested: boolean): [number, number] {
  const alloc = node.node!.allocatable;
  if (podRequest === 0 && isScalarResourceName(name)) return [0, 0];
  switch (name) {
    case "cpu":
      return [alloc.milliCPU, (useRequested ? node.requested.milliCPU : node.nonZeroMilliCPU) + podRequest];
    case "memory":
      return [alloc.memory, (useRequested ? node.requested.memory : node.nonZeroMemory) + podRequest];
    case "ephemeral-storage":
      return [alloc.ephemeralStorage, node.requested.ephemeralStorage + podRequest];
    default:
      if (alloc.scalar && Object.hasOwn(alloc.scalar, name)) return [alloc.scalar[name]!, (node.requested.scalar?.[name] ?? 0) + podRequest];
      return [0, 0];
  }
}

export function scoreNode(node: NodeInfo, podRequests: readonly number[], resources: readonly ResourceSpec[], useRequested: boolean, scorer: ResourceScorer): number {
  const requested = new Array<number>(resources.length).fill(0);
  const allocatable = new Array<number>(resources.length).fill(0);
  resources.forEach((r, i) => {
    const [alloc, req] = allocatableAndRequested(node, r.name, podRequests[i]!, useRequested);
    if (alloc === 0) return;
    allocatable[i] = alloc;
    requested[i] = req;
  });
  return scorer(requested, allocatable);
}

/** Weighted average of per-resource scores, as Go's integer division. */
function weighted(resources: readonly ResourceSpec[], perResource: (requested: number, capacity: number) => number): ResourceScorer {
  return (requested, allocatable) => {
    let score = 0;
    let weights = 0;
    for (let i = 0; i < requested.length; i++) {
      if (allocatable[i] === 0) continue;
      score += perResource(requested[i]!, allocatable[i]!) * resources[i]!.weight;
      weights += resources[i]!.weight;
    }
    return weights === 0 ? 0 : Math.trunc(score / weights);
  };
}

/** LeastAllocated: the more stays free, the better. */
export function leastAllocated(resources: readonly ResourceSpec[]): ResourceScorer {
  return weighted(resources, (requested, capacity) => (capacity === 0 || requested > capacity ? 0 : Math.trunc(((capacity - requested) * MAX_NODE_SCORE) / capacity)));
}

/** MostAllocated: the fuller (bin packing), the better. */
export function mostAllocated(resources: readonly ResourceSpec[]): ResourceScorer {
  return weighted(resources, (requested, capacity) => (capacity === 0 ? 0 : Math.trunc((Math.min(requested, capacity) * MAX_NODE_SCORE) / capacity)));
}

export interface UtilizationShapePoint {
  utilization: number;
  score: number;
}

/** RequestedToCapacityRatio: a piecewise-linear score of utilization; shape scores 0..10 scale to 0..100. */
export function requestedToCapacityRatio(resources: readonly ResourceSpec[], shape: readonly UtilizationShapePoint[]): ResourceScorer {
  const points = shape.map((p) => ({ utilization: p.utilization, score: p.score * (MAX_NODE_SCORE / 10) }));
  const raw = (p: number): number => {
    for (let i = 0; i < points.length; i++) {
      if (p <= points[i]!.utilization) {
        if (i === 0) return points[0]!.score;
        const a = points[i - 1]!;
        const b = points[i]!;
        return a.score + Math.trunc(((b.score - a.score) * (p - a.utilization)) / (b.utilization - a.utilization));
      }
    }
    return points[points.length - 1]!.score;
  };
  const perResource = (requested: number, capacity: number) => (capacity === 0 || requested > capacity ? raw(100) : raw(Math.trunc((requested * 100) / capacity)));
  return (requested, allocatable) => {
    let score = 0;
    let weights = 0;
    for (let i = 0; i < requested.length; i++) {
      if (allocatable[i] === 0) continue;
      const s = perResource(requested[i]!, allocatable[i]!);
      if (s > 0) {
        score += s * resources[i]!.weight;
        weights += resources[i]!.weight;
      }
    }
    return weights === 0 ? 0 : Math.round(score / weights);
  };
}

/** BalancedAllocation: 100 × (1 − the standard deviation of the requested fractions). */
export const balancedResourceScorer: ResourceScorer = (requested, allocatable) => {
  const fractions: number[] = [];
  let total = 0;
  for (let i = 0; i < requested.length; i++) {
    if (allocatable[i] === 0) continue;
    const f = Math.min(1, requested[i]! / allocatable[i]!);
    total += f;
    fractions.push(f);
  }
  let std = 0;
  if (fractions.length === 2) std = Math.abs((fractions[0]! - fractions[1]!) / 2);
  else if (fractions.length > 2) {
    const mean = total / fractions.length;
    std = Math.sqrt(fractions.reduce((sum, f) => sum + (f - mean) ** 2, 0) / fractions.length);
  }
  return Math.trunc((1 - std) * MAX_NODE_SCORE);
};

/** validateResources: names unique, weights in [1, 100]. */
export function validateResources(resources: readonly ResourceSpec[], field: string): void {
  const seen = new Set<string>();
  resources.forEach((r, i) => {
    if (!(Number.isInteger(r.weight) && r.weight >= 1 && r.weight <= 100)) {
      throw new Error(`${field}[${i}].weight: Invalid value: ${r.weight}: resource weight of ${r.name} should be in range [1, 100]`);
    }
    if (seen.has(r.name)) throw new Error(`${field}[${i}].name: Duplicate value: "${r.name}"`);
    seen.add(r.name);
  });
}

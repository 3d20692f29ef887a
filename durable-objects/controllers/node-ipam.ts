// Node IPAM (kube-controller-manager 1.30's range allocator): every Node gets a pod CIDR of its own,
// `spec.podCIDR` and `spec.podCIDRs`, carved from the cluster CIDR (--cluster-cidr, blocks of
// --node-cidr-mask-size bits); no two nodes share one, and a deleted node's block is free again
// because the blocks in use are read from the nodes that exist. One key allocates for every node
// that lacks a CIDR, so two allocations never race inside this controller.
import type { Node } from "kubernetes-types/core/v1";
import { builtin } from "../../lib/k8s/resources.ts";
import type { Controller, ReconcileContext, ReconcileResult } from "./framework.ts";

export const NODES = builtin("v1", "nodes");

/** The one key this controller reconciles. */
export const ALLOCATE_KEY = "/node-cidrs";

export interface CidrRange {
  /** The first address, as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

export function parseIpv4Cidr(text: string): CidrRange | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  if (!match) return undefined;
  const [a, b, c, d, prefix] = match.slice(1).map(Number) as [number, number, number, number, number];
  if ([a, b, c, d].some((octet) => octet > 255) || prefix > 32) return undefined;
  const address = (((a << 24) >>> 0) + (b << 16) + (c << 8) + d) >>> 0;
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return { base: (address & mask) >>> 0, prefix };
}

export function formatCidr({ base, prefix }: CidrRange): string {
  return `${[base >>> 24, (base >>> 16) & 255, (base >>> 8) & 255, base & 255].join(".")}/${prefix}`;
}

/** The blocks of the cluster CIDR, as a CIDR set sees them: how many there are and which one a CIDR is. */
export class CidrSet {
  readonly cluster: CidrRange;
  readonly maskSize: number;
  readonly size: number;
  private readonly used = new Set<number>();

  constructor(cluster: CidrRange, maskSize: number) {
    this.cluster = cluster;
    this.maskSize = maskSize;
    if (maskSize < cluster.prefix || maskSize > 32) throw new Error(`node CIDR mask size /${maskSize} does not fit the cluster CIDR ${formatCidr(cluster)}`);
    this.size = 2 ** (maskSize - cluster.prefix);
  }

  /** Marks a CIDR some node holds; CIDRs outside the cluster CIDR or of another size are not ours. */
  occupy(text: string): void {
    const cidr = parseIpv4Cidr(text);
    if (!cidr || cidr.prefix !== this.maskSize) return;
    const index = (cidr.base - this.cluster.base) / 2 ** (32 - this.maskSize);
    if (Number.isInteger(index) && index >= 0 && index < this.size) this.used.add(index);
  }

  /** The lowest free block, now taken; undefined when every block is in use. */
  allocateNext(): string | undefined {
    for (let index = 0; index < this.size; index++) {
      if (this.used.has(index)) continue;
      this.used.add(index);
      return formatCidr({ base: (this.cluster.base + index * 2 ** (32 - this.maskSize)) >>> 0, prefix: this.maskSize });
    }
    return undefined;
  }
}

export const hasPodCidr = (node: Node): boolean => !!(node.spec?.podCIDR || node.spec?.podCIDRs?.length);

/** The pod CIDR each node without one gets, oldest node first; nodes left over when the range is full map to undefined. */
export function planAllocations(nodes: Node[], clusterCidr: string, maskSize: number): Map<string, string | undefined> {
  const cluster = parseIpv4Cidr(clusterCidr);
  if (!cluster) throw new Error(`the cluster CIDR ${JSON.stringify(clusterCidr)} is not an IPv4 CIDR`);
  const set = new CidrSet(cluster, maskSize);
  for (const node of nodes) for (const cidr of node.spec?.podCIDRs ?? (node.spec?.podCIDR ? [node.spec.podCIDR] : [])) set.occupy(cidr);
  const waiting = nodes.filter((n) => !hasPodCidr(n)).sort((a, b) =>
    (a.metadata?.creationTimestamp ?? "").localeCompare(b.metadata?.creationTimestamp ?? "") || (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  return new Map(waiting.map((node) => [node.metadata!.name!, set.allocateNext()]));
}

/** While some node waits for a block that does not exist, look again this often (a deleted node frees one). */
const EXHAUSTED_RETRY_MS = 60_000;

async function allocate(ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
  const nodes = ctx.listers.of<Node>(NODES).list();
  const plan = planAllocations(nodes, ctx.settings.clusterCidr, ctx.settings.nodeCidrMaskSize);
  const client = ctx.client.resource<Node>(NODES);
  let failure: unknown;
  let exhausted = false;
  for (const [name, cidr] of plan) {
    const node = nodes.find((n) => n.metadata?.name === name)!;
    if (!cidr) {
      exhausted = true;
      await ctx.recorder.record(nodeRef(node), undefined, "Normal", "CIDRNotAvailable", "CIDRAssignmentFailed", `Node ${name} status is now: CIDRNotAvailable`).catch(() => undefined);
      continue;
    }
    // Only this key sets pod CIDRs, so the patch needs no resourceVersion (and does not conflict with
    // the node controller's writes); the uid makes sure it is the node the CIDR was planned for.
    await client.patch(undefined, name, { metadata: { uid: node.metadata?.uid }, spec: { podCIDR: cidr, podCIDRs: [cidr] } }, "merge")
      .catch((e: unknown) => {
        if ((e as { code?: number })?.code !== 404) failure ??= e;
      });
  }
  if (failure) throw failure;
  return exhausted ? { requeueAfter: EXHAUSTED_RETRY_MS } : undefined;
}

export function nodeRef(node: Node) {
  return { apiVersion: "v1", kind: "Node", name: node.metadata?.name, uid: node.metadata?.uid };
}

export const nodeIpamController: Controller = {
  name: "node-ipam-controller",
  watches: [{ resource: NODES, keysFor: (node) => (hasPodCidr(node as Node) ? [] : [ALLOCATE_KEY]) }],
  async reconcile(key, ctx) {
    return key === ALLOCATE_KEY ? allocate(ctx) : undefined;
  },
};

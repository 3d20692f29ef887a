// The routes between nodes' pod networks, as flannel's host-gw backend keeps them: the agent
// watches Nodes and, for every other node with a spec.podCIDR and an InternalIP, keeps a host route
// `<podCIDR> via <InternalIP>`, so a pod on this host reaches pods on that one; the route goes when
// the node goes or moves. Its own Node's podCIDR (the node IPAM controller's assignment) is handed
// to the runtime, which writes the pod network for it. Routes carry their own protocol number, so
// `edgeplane-agent cleanup` finds them again.
import { execFile } from "node:child_process";
import { networkInterfaces } from "node:os";
import { promisify } from "node:util";
import type { Node } from "kubernetes-types/core/v1";
import { builtin } from "../../lib/k8s/resources.ts";
import { Informer, type ApiClient } from "../../lib/client/index.ts";

const execFileAsync = promisify(execFile);

/** The routes' protocol number (0xed), so this agent's routes are told from anyone else's. */
export const ROUTE_PROTOCOL = "237";

export interface PodRoute {
  /** The other node's podCIDR. */
  destination: string;
  /** Its InternalIP. */
  via: string;
}

/** Runs `ip` with these arguments; the host's by default, a recording one in tests. */
export type IpCommand = (args: string[]) => Promise<void>;

export const hostIp: IpCommand = async (args) => {
  try {
    await execFileAsync("ip", args);
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(" ")}: ${(e.stderr || e.message).trim()}`);
  }
};

/** Hollow nodes (the simulated runtime) have no pods anyone can reach. */
const SIMULATED_LABEL = "node.edgeplane.dev/simulated";

/** This host's own addresses. */
function localAddresses(): Set<string> {
  return new Set(Object.values(networkInterfaces()).flatMap((addresses) => (addresses ?? []).map((a) => a.address)));
}

/**
 * The route to a node's pods, or undefined while it has no podCIDR or no InternalIP, and for a
 * node without real pods or one at this host's own address (hollow nodes of an agent here).
 */
export function routeTo(node: Node, ownAddresses = localAddresses()): PodRoute | undefined {
  const destination = node.spec?.podCIDR;
  const via = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
  if (!destination || !via || node.metadata?.labels?.[SIMULATED_LABEL] === "true" || ownAddresses.has(via)) return undefined;
  return { destination, via };
}

export interface PodRoutesOptions {
  client: ApiClient;
  nodeName: string;
  /** Called with this node's podCIDR when it is first seen and whenever it changes. */
  onPodCIDR: (cidr: string) => void;
  log: (message: string) => void;
  ip?: IpCommand;
}

export class PodRoutes {
  private readonly options: PodRoutesOptions;
  private readonly ip: IpCommand;
  private readonly informer: Informer<Node>;
  /** The route kept per other node's name. */
  private readonly routes = new Map<string, PodRoute>();
  private podCIDR: string | undefined;
  /** Route changes one at a time, in the order the watch delivered them. */
  private queue: Promise<void> = Promise.resolve();

  constructor(options: PodRoutesOptions) {
    this.options = options;
    this.ip = options.ip ?? hostIp;
    this.informer = new Informer(options.client.resource<Node>(builtin("v1", "nodes")), {
      // Only what the routes need of each Node.
      project: (node) => ({
        metadata: { name: node.metadata?.name, labels: node.metadata?.labels, resourceVersion: node.metadata?.resourceVersion },
        spec: { podCIDR: node.spec?.podCIDR }, status: { addresses: node.status?.addresses },
      }),
    });
    this.informer.addEventHandler({
      onAdd: (node) => this.nodeChanged(node),
      onUpdate: (_, node) => this.nodeChanged(node),
      onDelete: (node) => this.nodeDeleted(node.metadata?.name ?? ""),
    });
  }

  /** Watches Nodes until `signal` aborts (the routes stay: pods keep talking while the agent restarts). */
  run(signal: AbortSignal): Promise<void> {
    return this.informer.run(signal);
  }

  private nodeChanged(node: Node): void {
    const name = node.metadata?.name ?? "";
    if (name === this.options.nodeName) {
      const cidr = node.spec?.podCIDR;
      if (cidr && cidr !== this.podCIDR) {
        this.podCIDR = cidr;
        this.options.log(`pod network ${cidr} (the node's spec.podCIDR)`);
        this.options.onPodCIDR(cidr);
      }
      return;
    }
    const wanted = routeTo(node);
    const kept = this.routes.get(name);
    if (kept && wanted && kept.destination === wanted.destination && kept.via === wanted.via) return;
    this.enqueue(async () => {
      if (kept) await this.remove(name, kept);
      if (wanted) await this.add(name, wanted);
    });
  }

  private nodeDeleted(name: string): void {
    const kept = this.routes.get(name);
    if (kept) this.enqueue(() => this.remove(name, kept));
  }

  private enqueue(change: () => Promise<void>): void {
    this.queue = this.queue.then(change).catch((e: Error) => this.options.log(`pod route: ${e.message}`));
  }

  private async add(name: string, route: PodRoute): Promise<void> {
    await this.ip(["route", "replace", route.destination, "via", route.via, "proto", ROUTE_PROTOCOL]);
    this.routes.set(name, route);
    this.options.log(`route to node ${name}'s pods: ${route.destination} via ${route.via}`);
  }

  private async remove(name: string, route: PodRoute): Promise<void> {
    this.routes.delete(name);
    await this.ip(["route", "del", route.destination, "via", route.via, "proto", ROUTE_PROTOCOL]).catch(() => {
      // Already gone (removed by hand, or its interface went away).
    });
    this.options.log(`route to node ${name}'s pods removed: ${route.destination} via ${route.via}`);
  }
}

/** Removes every route an agent made in this network namespace (`edgeplane-agent cleanup`). */
export function removePodRoutes(ip: IpCommand = hostIp): Promise<void> {
  return ip(["route", "flush", "proto", ROUTE_PROTOCOL]);
}

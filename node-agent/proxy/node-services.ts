// A real node's Service networking: the service proxy (iptables mode; the nftables and userspace
// modes are not built) and the cluster DNS server, over one pair of Service and EndpointSlice
// informers. The kube-dns Service's ClusterIP leads to this node's own DNS server (as NodeLocal
// DNSCache intercepts it), at its pod network's gateway address once the Node has a podCIDR.
import { networkInterfaces } from "node:os";
import { readFileSync } from "node:fs";
import type { Service } from "kubernetes-types/core/v1";
import { isNotFound, type ApiClient } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { ClusterDNS, resolvConfUpstreams } from "../dns/server.ts";
import { ServiceProxy } from "./proxier.ts";
import { ServiceInformers, BY_SERVICE } from "./service-informers.ts";

export const CLUSTER_DOMAIN = "cluster.local";
/** Where the DNS server listens on the node (kube-dns's own port); pods reach it through kube-dns's ClusterIP. */
export const CLUSTER_DNS_PORT = 10053;

/** The kube-dns Service's ClusterIP: what ClusterFirst pods get as their nameserver; none without the Service. */
export async function clusterDNSServers(client: ApiClient): Promise<string[]> {
  try {
    const service = await client.resource<Service>(builtin("v1", "services")).get("kube-system", "kube-dns");
    const ip = service.spec?.clusterIP;
    return ip && ip !== "None" ? [ip] : [];
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

/** An IPv4 CIDR's first host address (the bridge's, which is the pods' gateway), and a test for membership. */
function cidrOf(cidr: string): { gateway: string; contains(ip: string): boolean } {
  const [base, bits] = cidr.split("/") as [string, string];
  const n = (ip: string) => ip.split(".").reduce((sum, part) => sum * 256 + Number(part), 0);
  const size = 2 ** (32 - Number(bits));
  const start = n(base) - (n(base) % size);
  const g = start + 1;
  return { gateway: [g >>> 24, (g >>> 16) & 255, (g >>> 8) & 255, g & 255].join("."), contains: (ip) => n(ip) >= start && n(ip) < start + size };
}

function localAddresses(): Set<string> {
  return new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)));
}

export interface NodeServicesOptions {
  client: ApiClient;
  nodeName: string;
  log: (message: string) => void;
  /** Where the DNS server listens (default 10053). */
  dnsPort?: number;
}

export class NodeServices {
  private readonly options: NodeServicesOptions;
  private readonly informers: ServiceInformers;
  private readonly proxy: ServiceProxy;
  private readonly dns: ClusterDNS;
  private podCIDR: { gateway: string; contains(ip: string): boolean } | undefined;
  private nodeAddresses = localAddresses();

  constructor(options: NodeServicesOptions) {
    this.options = options;
    this.informers = new ServiceInformers(options.client);
    this.proxy = new ServiceProxy({ informers: this.informers, node: { name: options.nodeName }, log: options.log });
    let resolvConf = "";
    try {
      resolvConf = readFileSync("/etc/resolv.conf", "utf8");
    } catch {
      // no resolvers on the host: names outside the cluster fail (SERVFAIL)
    }
    const { serviceLister, sliceLister } = this.informers;
    this.dns = new ClusterDNS({
      domain: CLUSTER_DOMAIN, port: options.dnsPort ?? CLUSTER_DNS_PORT, log: options.log,
      upstreams: resolvConfUpstreams(resolvConf),
      view: { service: (ns, name) => serviceLister.get(ns, name), slices: (ns, name) => sliceLister.byIndex(BY_SERVICE, `${ns}/${name}`) },
      accepts: (ip) => ip.startsWith("127.") || !!this.podCIDR?.contains(ip) || this.nodeAddresses.has(ip),
    });
  }

  /** Watches, serves DNS and programs the rules until `signal` aborts (the rules stay). */
  async run(signal: AbortSignal): Promise<void> {
    void this.informers.run(signal);
    await this.proxy.run(signal);
    this.options.log("service proxy in iptables mode (the nftables and userspace modes are not built)");
    try {
      const port = await this.dns.start();
      signal.addEventListener("abort", () => void this.dns.close());
      this.options.log(`cluster DNS for ${CLUSTER_DOMAIN} on port ${port}`);
    } catch (error) {
      // The proxy goes on without it: Services by address still work.
      this.options.log(`cluster DNS cannot listen on port ${this.options.dnsPort ?? CLUSTER_DNS_PORT}: ${(error as Error).message}`);
    }
  }

  /** The Node's podCIDR: pods inside it are not masqueraded, and kube-dns leads to the DNS server at its gateway. */
  setPodCIDR(cidr: string): void {
    this.podCIDR = cidrOf(cidr);
    this.nodeAddresses = localAddresses();
    const port = this.options.dnsPort ?? CLUSTER_DNS_PORT;
    this.proxy.setOverrides([{ namespace: "kube-system", name: "kube-dns", address: this.podCIDR.gateway, ports: { dns: port, "dns-tcp": port } }]);
    this.proxy.setLocalCIDR(cidr);
  }
}

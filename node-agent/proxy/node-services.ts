// A real node's Service networking: the service proxy (in the mode --proxy-mode asks for, or the
// best this host supports) and the cluster DNS server, over one pair of Service and EndpointSlice
// informers. The kube-dns Service's ClusterIP leads to this node's own DNS server (as NodeLocal
// DNSCache intercepts it), at its pod network's gateway address once the Node has a podCIDR. The
// mode chosen and why is logged, put on the Node (annotation and Event) and served at /proxyMode
// on kube-proxy's metrics address, 127.0.0.1:10249.
import { createServer, type Server } from "node:http";
import { networkInterfaces } from "node:os";
import { readFileSync } from "node:fs";
import type { Event, Node, Service } from "kubernetes-types/core/v1";
import { isNotFound, type ApiClient } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { ClusterDNS, resolvConfUpstreams } from "../dns/server.ts";
import { backendFor, chooseProxyMode, removeOtherModes, type ModeChoice, type RequestedProxyMode } from "./modes.ts";
import { ServiceProxy } from "./proxier.ts";
import type { LocalOverride, ProxyNode } from "./rules.ts";
import { ServiceInformers, BY_SERVICE } from "./service-informers.ts";

/** The Node annotation that says which mode the node's service proxy runs. */
export const PROXY_MODE_ANNOTATION = "edgeplane.dev/proxy-mode";
/** Where kube-proxy serves /proxyMode (its metrics address). */
export const PROXY_METRICS_PORT = 10249;

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
  /** --proxy-mode (default auto). */
  proxyMode?: RequestedProxyMode;
  /** Where /proxyMode is served on 127.0.0.1 (default 10249; 0 for none). */
  proxyMetricsPort?: number;
}

export class NodeServices {
  private readonly options: NodeServicesOptions;
  private readonly informers: ServiceInformers;
  private proxy: ServiceProxy | undefined;
  private proxyNode: ProxyNode;
  private overrides: LocalOverride[] = [];
  private readonly dns: ClusterDNS;
  private metrics: Server | undefined;
  /** The service proxy's mode and why, once chosen. */
  mode: ModeChoice | undefined;
  private podCIDR: { gateway: string; contains(ip: string): boolean } | undefined;
  private nodeAddresses = localAddresses();

  constructor(options: NodeServicesOptions) {
    this.options = options;
    this.informers = new ServiceInformers(options.client);
    this.proxyNode = { name: options.nodeName };
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
    this.informers.onChange(() => this.dns.viewChanged());
  }

  /** Watches, serves DNS and programs the rules until `signal` aborts (the rules stay). */
  async run(signal: AbortSignal): Promise<void> {
    const { log } = this.options;
    this.mode = await chooseProxyMode(this.options.proxyMode ?? "auto");
    for (const done of await removeOtherModes(this.mode.mode)) log(`service proxy in ${this.mode.mode} mode: ${done}`);
    this.proxy = new ServiceProxy({ informers: this.informers, node: this.proxyNode, overrides: this.overrides, backend: backendFor(this.mode.mode, log), log });
    void this.informers.run(signal);
    await this.proxy.run(signal);
    log(`service proxy in ${this.mode.mode} mode: ${this.mode.reason}`);
    void this.reportMode(this.mode);
    this.serveProxyMode(this.mode.mode, signal);
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
    this.overrides = [{ namespace: "kube-system", name: "kube-dns", address: this.podCIDR.gateway, ports: { dns: port, "dns-tcp": port } }];
    this.proxyNode = { ...this.proxyNode, localCIDR: cidr };
    this.proxy?.setOverrides(this.overrides);
    this.proxy?.setLocalCIDR(cidr);
  }

  /** The mode on the Node: an annotation, and an Event as kube-proxy records when it starts. */
  private async reportMode({ mode, reason }: ModeChoice): Promise<void> {
    const { client, nodeName, log } = this.options;
    try {
      const node = await client.resource<Node>(builtin("v1", "nodes")).patch(undefined, nodeName, { metadata: { annotations: { [PROXY_MODE_ANNOTATION]: mode } } }, "merge");
      const stamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      const event: Event = {
        apiVersion: "v1", kind: "Event",
        metadata: { name: `${nodeName}.${Date.now().toString(16)}`, namespace: "default" },
        involvedObject: { apiVersion: "v1", kind: "Node", name: nodeName, uid: node.metadata?.uid },
        reason: "Starting", type: "Normal", message: `Started the service proxy in ${mode} mode: ${reason}`,
        source: { component: "kube-proxy", host: nodeName }, reportingComponent: "kube-proxy", reportingInstance: nodeName,
        firstTimestamp: stamp, lastTimestamp: stamp, count: 1,
      };
      await client.resource<Event>(builtin("v1", "events")).create("default", event);
    } catch (error) {
      log(`service proxy: cannot record its mode on Node ${nodeName}: ${(error as Error).message}`);
    }
  }

  /** GET /proxyMode answers the mode, as kube-proxy's metrics server does. */
  private serveProxyMode(mode: string, signal: AbortSignal): void {
    const port = this.options.proxyMetricsPort ?? PROXY_METRICS_PORT;
    if (!port) return;
    const server = createServer((req, res) => {
      if (req.url === "/proxyMode") res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(mode);
      else res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("404 page not found\n");
    });
    server.on("error", (error) => this.options.log(`service proxy: cannot serve /proxyMode on 127.0.0.1:${port}: ${error.message}`));
    server.listen(port, "127.0.0.1");
    this.metrics = server;
    signal.addEventListener("abort", () => void this.metrics?.close());
  }
}

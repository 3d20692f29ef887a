// The fallback where neither nftables nor iptables works: the agent itself listens on each TCP
// NodePort and relays every connection to a usable endpoint (chosen at random, or the client's
// previous one under ClientIP affinity). This is less than kube's old userspace mode, which sent
// ClusterIP traffic to its listeners with iptables redirects: without a packet filter nothing can
// catch traffic to a ClusterIP, so here ClusterIPs and UDP NodePorts are not proxied at all. A
// NodePort without endpoints has no listener, so connections to it are refused.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { proxiedServicePorts, usableEndpoints, type ProxyEndpoint, type ProxyState } from "./rules.ts";

interface Listener {
  server: Server;
  /** The endpoints new connections go to (replaced on every sync; connections already relayed keep theirs). */
  endpoints: ProxyEndpoint[];
  /** ClientIP affinity: the timeout, and each client's endpoint with the time it last connected. */
  affinitySeconds?: number;
  clients: Map<string, { endpoint: string; at: number }>;
}

export class UserspaceProxy {
  private readonly listeners = new Map<number, Listener>();
  private readonly connections = new Set<Socket>();
  private readonly log: (message: string) => void;
  private readonly warned = new Set<string>();

  constructor(log: (message: string) => void) {
    this.log = log;
  }

  /** Listens on the NodePorts `state` has endpoints for, and on no other. */
  async sync(state: ProxyState): Promise<void> {
    const wanted = new Map<number, Omit<Listener, "server" | "clients">>();
    for (const { service, port, endpoints } of proxiedServicePorts(state)) {
      const spec = service.spec!;
      if (spec.type !== "NodePort" && spec.type !== "LoadBalancer") continue;
      if (!port.nodePort) continue;
      const name = `${service.metadata?.namespace}/${service.metadata?.name}:${port.nodePort}/${port.protocol ?? "TCP"}`;
      if ((port.protocol ?? "TCP") !== "TCP") {
        if (!this.warned.has(name)) this.log(`service proxy (userspace): NodePort ${name} is not proxied: only TCP NodePorts are`);
        this.warned.add(name);
        continue;
      }
      const local = spec.externalTrafficPolicy === "Local";
      const usable = usableEndpoints(local ? endpoints.filter((e) => e.local) : endpoints);
      if (!usable.length) continue;
      wanted.set(port.nodePort, { endpoints: usable, affinitySeconds: spec.sessionAffinity === "ClientIP" ? spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 : undefined });
    }
    for (const [port, listener] of this.listeners) {
      if (wanted.has(port)) continue;
      this.listeners.delete(port);
      // No new connections; those relayed already drain on their own (close would wait for them).
      listener.server.close();
    }
    for (const [port, next] of wanted) {
      const current = this.listeners.get(port);
      if (current) {
        current.endpoints = next.endpoints;
        current.affinitySeconds = next.affinitySeconds;
        continue;
      }
      const listener: Listener = { ...next, clients: new Map(), server: createServer((socket) => this.relay(listener, socket)) };
      try {
        await new Promise<void>((resolve, reject) => {
          listener.server.once("error", reject);
          listener.server.listen(port, "0.0.0.0", () => resolve());
        });
        this.listeners.set(port, listener);
      } catch (error) {
        this.log(`service proxy (userspace): cannot listen on NodePort ${port}: ${(error as Error).message}`);
      }
    }
  }

  /** The ports listened on now. */
  get ports(): number[] {
    return [...this.listeners.keys()];
  }

  private relay(listener: Listener, client: Socket): void {
    const address = client.remoteAddress ?? "";
    const endpoint = this.choose(listener, address);
    const [ip, port] = endpoint.split(":") as [string, string];
    const upstream = createConnection(Number(port), ip);
    for (const socket of [client, upstream]) {
      this.connections.add(socket);
      socket.on("close", () => this.connections.delete(socket));
    }
    // A backend that cannot be reached resets the client rather than leaving it hanging.
    upstream.on("error", () => client.resetAndDestroy());
    client.on("error", () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  }

  private choose(listener: Listener, client: string): string {
    const now = Date.now();
    const addresses = listener.endpoints.map((e) => `${e.ip}:${e.port}`);
    const seen = listener.clients.get(client);
    if (listener.affinitySeconds !== undefined && seen && now - seen.at < listener.affinitySeconds * 1000 && addresses.includes(seen.endpoint)) {
      seen.at = now;
      return seen.endpoint;
    }
    const endpoint = addresses[Math.floor(Math.random() * addresses.length)]!;
    if (listener.affinitySeconds === undefined) return endpoint;
    // Clients whose affinity has timed out are forgotten once the table grows.
    if (listener.clients.size >= 10_000) for (const [address, entry] of listener.clients) if (now - entry.at >= listener.affinitySeconds * 1000) listener.clients.delete(address);
    listener.clients.set(client, { endpoint, at: now });
    return endpoint;
  }

  /** Stops listening and drops the relayed connections. */
  async close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    await Promise.all([...this.listeners.values()].map((l) => new Promise<void>((resolve) => l.server.close(() => resolve()))));
    this.listeners.clear();
  }
}

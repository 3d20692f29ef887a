// kube-proxy's iptables mode as a pure function: Services and EndpointSlices, seen from one node,
// become the iptables-restore text of our own chains in the nat and filter tables. The chains are
// kube-proxy's (SERVICES, SVC-, SEP-, EXT-, SVL-, NODEPORTS, POSTROUTING, MARK-MASQ,
// EXTERNAL-SERVICES, FORWARD) under an EDGEPLANE- prefix and with a masquerade mark of their own,
// so a host that also runs a real kube-proxy keeps both working and `edgeplane-agent cleanup`
// removes only ours.
import { createHash } from "node:crypto";
import type { Service, ServicePort } from "kubernetes-types/core/v1";
import type { Endpoint, EndpointSlice } from "kubernetes-types/discovery/v1";

export const CHAIN_PREFIX = "EDGEPLANE-";
export const SERVICES_CHAIN = "EDGEPLANE-SERVICES";
export const EXTERNAL_SERVICES_CHAIN = "EDGEPLANE-EXTERNAL-SERVICES";
export const NODEPORTS_CHAIN = "EDGEPLANE-NODEPORTS";
export const POSTROUTING_CHAIN = "EDGEPLANE-POSTROUTING";
export const MARK_MASQ_CHAIN = "EDGEPLANE-MARK-MASQ";
export const FORWARD_CHAIN = "EDGEPLANE-FORWARD";
/** The packet mark that asks for SNAT: a bit of its own, not kube-proxy's 0x4000. */
export const MASQ_MARK = "0x40000";

/** The jumps from the built-in chains into ours, as kube-proxy installs them (`iptables -I`). */
export const JUMP_RULES: { table: "nat" | "filter"; chain: string; rule: string[] }[] = [
  { table: "nat", chain: "PREROUTING", rule: ["-m", "comment", "--comment", "edgeplane service portals", "-j", SERVICES_CHAIN] },
  { table: "nat", chain: "OUTPUT", rule: ["-m", "comment", "--comment", "edgeplane service portals", "-j", SERVICES_CHAIN] },
  { table: "nat", chain: "POSTROUTING", rule: ["-m", "comment", "--comment", "edgeplane postrouting rules", "-j", POSTROUTING_CHAIN] },
  { table: "filter", chain: "INPUT", rule: ["-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "edgeplane externally-visible service portals", "-j", EXTERNAL_SERVICES_CHAIN] },
  { table: "filter", chain: "FORWARD", rule: ["-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "edgeplane externally-visible service portals", "-j", EXTERNAL_SERVICES_CHAIN] },
  { table: "filter", chain: "FORWARD", rule: ["-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "edgeplane service portals", "-j", SERVICES_CHAIN] },
  { table: "filter", chain: "OUTPUT", rule: ["-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "edgeplane service portals", "-j", SERVICES_CHAIN] },
  { table: "filter", chain: "FORWARD", rule: ["-m", "comment", "--comment", "edgeplane forwarding rules", "-j", FORWARD_CHAIN] },
];

/** How traffic to a Service is told apart as coming from this node's pods, and where NodePorts listen. */
export interface ProxyNode {
  name: string;
  /** Sources inside are pods (kube-proxy's --detect-local-mode=NodeCIDR); others are masqueraded. Unset: nothing is. */
  localCIDR?: string;
  /** NodePorts answer on these CIDRs only (--nodeport-addresses); on every local address when empty. */
  nodePortAddresses?: string[];
}

/** A Service's endpoints replaced by one on this node (the cluster DNS Service answered by the agent's own server). */
export interface LocalOverride {
  namespace: string;
  name: string;
  address: string;
  /** Target port per Service port name. */
  ports: Record<string, number>;
}

export interface ProxyState {
  services: Service[];
  slices: EndpointSlice[];
  node: ProxyNode;
  overrides?: LocalOverride[];
}

export type Table = "nat" | "filter";

export interface ProxyRules {
  /** Every chain of ours, by table. */
  chains: Record<Table, string[]>;
  /** Their rules, as iptables-restore lines (`-A CHAIN ...`), by table. */
  rules: Record<Table, string[]>;
}

/** A backend as kube-proxy sees it: an address, a port, and its EndpointSlice conditions. */
export interface ProxyEndpoint {
  ip: string;
  port: number;
  local: boolean;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

/** A per-service chain's name: kind (SVC, SVL, EXT, SEP) and a hash of what it is for, at most 28 characters as iptables allows. */
export function chainName(prefix: string, ...parts: string[]): string {
  const digest = createHash("sha256").update(parts.join("/")).digest();
  return `${CHAIN_PREFIX}${prefix}-${base32(digest).slice(0, 12)}`;
}

function base32(bytes: Buffer): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** Endpoint conditions as EndpointSlice defines them: unset ready is ready, unset serving follows ready. */
function conditions(endpoint: Endpoint): Pick<ProxyEndpoint, "ready" | "serving" | "terminating"> {
  const ready = endpoint.conditions?.ready ?? true;
  return { ready, serving: endpoint.conditions?.serving ?? ready, terminating: endpoint.conditions?.terminating ?? false };
}

/** The endpoints of one Service port across all of the Service's slices, deduplicated by address and port. */
export function servicePortEndpoints(port: ServicePort, slices: EndpointSlice[], nodeName: string): ProxyEndpoint[] {
  const protocol = port.protocol ?? "TCP";
  const seen = new Map<string, ProxyEndpoint>();
  for (const slice of slices) {
    if (slice.addressType !== "IPv4") continue;
    const slicePort = (slice.ports ?? []).find((p) => (p.name ?? "") === (port.name ?? "") && (p.protocol ?? "TCP") === protocol);
    if (slicePort?.port === undefined || slicePort.port === null) continue;
    for (const endpoint of slice.endpoints ?? []) {
      const ip = endpoint.addresses[0];
      if (!ip) continue;
      const key = `${ip}:${slicePort.port}`;
      if (!seen.has(key)) seen.set(key, { ip, port: slicePort.port, local: endpoint.nodeName === nodeName, ...conditions(endpoint) });
    }
  }
  return [...seen.values()].sort((a, b) => (a.ip === b.ip ? a.port - b.port : compareIPs(a.ip, b.ip)));
}

function compareIPs(a: string, b: string): number {
  const n = (ip: string) => ip.split(".").reduce((sum, part) => sum * 256 + Number(part), 0);
  return n(a) - n(b);
}

/**
 * Which endpoints take new connections, as kube-proxy's CategorizeEndpoints: the ready ones, or,
 * when none is ready, the serving terminating ones (so a rolling update never drops to nothing).
 * Terminating endpoints are otherwise left to drain: their established connections are conntrack's.
 */
export function usableEndpoints(endpoints: ProxyEndpoint[]): ProxyEndpoint[] {
  const ready = endpoints.filter((e) => e.ready);
  return ready.length ? ready : endpoints.filter((e) => e.serving && e.terminating);
}

/** The Services the proxy programs: with a ClusterIP, not ExternalName. */
function proxied(service: Service): boolean {
  const ip = service.spec?.clusterIP;
  return service.spec?.type !== "ExternalName" && !!ip && ip !== "None";
}

class RuleWriter {
  readonly nat: string[] = [];
  readonly filter: string[] = [];
  readonly natChains = new Set<string>();
  readonly filterChains = new Set<string>();

  natRule(chain: string, ...args: string[]): void {
    this.natChains.add(chain);
    this.nat.push(`-A ${chain} ${args.join(" ")}`);
  }

  filterRule(chain: string, ...args: string[]): void {
    this.filterChains.add(chain);
    this.filter.push(`-A ${chain} ${args.join(" ")}`);
  }
}

function comment(text: string): string[] {
  return ["-m", "comment", "--comment", JSON.stringify(text)];
}

function portMatch(protocol: string, port: number): string[] {
  const p = protocol.toLowerCase();
  return ["-m", p, "-p", p, "--dport", String(port)];
}

/** The probability for the i-th of n endpoints, so that each gets 1/n of new connections. */
function probability(i: number, n: number): string {
  return (1 / (n - i)).toFixed(10);
}

/** The SVC-/SVL- chain: an endpoint chosen at random, or the one a client was sent to before (ClientIP affinity). */
function writeBalancer(w: RuleWriter, chain: string, name: string, endpoints: { ep: ProxyEndpoint; chain: string }[], affinitySeconds: number | undefined): void {
  w.natChains.add(chain);
  if (affinitySeconds !== undefined) {
    for (const { ep, chain: sep } of endpoints) {
      w.natRule(chain, ...comment(`${name} -> ${ep.ip}:${ep.port}`), "-m", "recent", "--name", sep, "--rcheck", "--seconds", String(affinitySeconds), "--reap", "-j", sep);
    }
  }
  endpoints.forEach(({ ep, chain: sep }, i) => {
    const last = i === endpoints.length - 1;
    w.natRule(chain, ...comment(`${name} -> ${ep.ip}:${ep.port}`), ...(last ? [] : ["-m", "statistic", "--mode", "random", "--probability", probability(i, endpoints.length)]), "-j", sep);
  });
}

function writeServicePort(w: RuleWriter, service: Service, port: ServicePort, endpoints: ProxyEndpoint[], node: ProxyNode): void {
  const namespace = service.metadata?.namespace ?? "";
  const name = `${namespace}/${service.metadata?.name}${port.name ? `:${port.name}` : ""}`;
  const protocol = port.protocol ?? "TCP";
  if (protocol === "SCTP") return;
  const spec = service.spec!;
  const clusterIP = spec.clusterIP!;
  const svcChain = chainName("SVC", name, protocol);
  const svlChain = chainName("SVL", name, protocol);
  const extChain = chainName("EXT", name, protocol);
  const affinity = spec.sessionAffinity === "ClientIP" ? spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 : undefined;

  const clusterEndpoints = usableEndpoints(endpoints);
  const localEndpoints = usableEndpoints(endpoints.filter((e) => e.local));
  const internalLocal = spec.internalTrafficPolicy === "Local";
  const externalLocal = spec.externalTrafficPolicy === "Local" && (spec.type === "NodePort" || spec.type === "LoadBalancer");
  const internalEndpoints = internalLocal ? localEndpoints : clusterEndpoints;
  const externalEndpoints = externalLocal ? localEndpoints : clusterEndpoints;
  const internalChain = internalLocal ? svlChain : svcChain;
  const nodePort = spec.type === "NodePort" || spec.type === "LoadBalancer" ? port.nodePort : undefined;
  const externalIPs = spec.externalIPs ?? [];
  const hasExternal = nodePort !== undefined || externalIPs.length > 0;

  // Each endpoint used by either policy gets its SEP- chain: hairpin traffic masqueraded, then DNAT.
  const used = new Map<string, { ep: ProxyEndpoint; chain: string }>();
  for (const ep of [...clusterEndpoints, ...(internalLocal || externalLocal ? localEndpoints : [])]) {
    const key = `${ep.ip}:${ep.port}`;
    if (used.has(key)) continue;
    const sep = chainName("SEP", name, protocol, key);
    used.set(key, { ep, chain: sep });
    w.natRule(sep, ...comment(name), "-s", `${ep.ip}/32`, "-j", MARK_MASQ_CHAIN);
    const remember = affinity === undefined ? [] : ["-m", "recent", "--name", sep, "--set"];
    w.natRule(sep, ...comment(name), ...remember, "-m", protocol.toLowerCase(), "-p", protocol.toLowerCase(), "-j", "DNAT", "--to-destination", key);
  }
  const chainsFor = (eps: ProxyEndpoint[]) => eps.map((ep) => used.get(`${ep.ip}:${ep.port}`)!);

  // ClusterIP.
  const clusterMatch = [...comment(`${name} cluster IP`), "-d", `${clusterIP}/32`, ...portMatch(protocol, port.port)];
  if (internalEndpoints.length) {
    w.natRule(SERVICES_CHAIN, ...clusterMatch, "-j", internalChain);
  } else {
    const target = clusterEndpoints.length ? "DROP" : "REJECT";
    w.filterRule(SERVICES_CHAIN, ...comment(`${name} has no ${clusterEndpoints.length ? "local " : ""}endpoints`), "-d", `${clusterIP}/32`, ...portMatch(protocol, port.port), "-j", target);
  }
  if (clusterEndpoints.length) {
    if (node.localCIDR) w.natRule(svcChain, ...clusterMatch, "!", "-s", node.localCIDR, "-j", MARK_MASQ_CHAIN);
    writeBalancer(w, svcChain, name, chainsFor(clusterEndpoints), affinity);
  }
  if ((internalLocal || externalLocal) && localEndpoints.length) writeBalancer(w, svlChain, name, chainsFor(localEndpoints), affinity);

  if (!hasExternal) return;
  // NodePorts and external IPs go through the EXT- chain, or are refused when it has nowhere to go.
  if (externalEndpoints.length || (externalLocal && clusterEndpoints.length)) {
    if (externalLocal) {
      if (node.localCIDR) w.natRule(extChain, ...comment(`pod traffic for ${name} external destinations`), "-s", node.localCIDR, "-j", svcChain);
      w.natRule(extChain, ...comment(`masquerade LOCAL traffic for ${name} external destinations`), "-m", "addrtype", "--src-type", "LOCAL", "-j", MARK_MASQ_CHAIN);
      w.natRule(extChain, ...comment(`route LOCAL traffic for ${name} external destinations`), "-m", "addrtype", "--src-type", "LOCAL", "-j", svcChain);
      if (localEndpoints.length) w.natRule(extChain, "-j", svlChain);
    } else {
      w.natRule(extChain, ...comment(`masquerade traffic for ${name} external destinations`), "-j", MARK_MASQ_CHAIN);
      w.natRule(extChain, "-j", svcChain);
    }
  }
  const externalTarget = externalEndpoints.length ? undefined : clusterEndpoints.length ? "DROP" : "REJECT";
  const why = comment(`${name} has no ${clusterEndpoints.length ? "local " : ""}endpoints`);
  for (const ip of externalIPs) {
    if (w.natChains.has(extChain)) w.natRule(SERVICES_CHAIN, ...comment(`${name} external IP`), "-d", `${ip}/32`, ...portMatch(protocol, port.port), "-j", extChain);
    if (externalTarget) w.filterRule(EXTERNAL_SERVICES_CHAIN, ...why, "-d", `${ip}/32`, ...portMatch(protocol, port.port), "-j", externalTarget);
  }
  if (nodePort !== undefined) {
    if (w.natChains.has(extChain)) w.natRule(NODEPORTS_CHAIN, ...comment(name), ...portMatch(protocol, nodePort), "-j", extChain);
    if (externalTarget) w.filterRule(EXTERNAL_SERVICES_CHAIN, ...why, "-m", "addrtype", "--dst-type", "LOCAL", ...portMatch(protocol, nodePort), "-j", externalTarget);
  }
}

/** The endpoints of a Service port: its slices', or this node's own server for an overridden Service. */
export function endpointsOf(service: Service, port: ServicePort, slices: EndpointSlice[], state: ProxyState): ProxyEndpoint[] {
  const override = overrideOf(service, state);
  if (override) {
    const target = override.ports[port.name ?? ""];
    return target === undefined ? [] : [{ ip: override.address, port: target, local: true, ready: true, serving: true, terminating: false }];
  }
  return servicePortEndpoints(port, slices, state.node.name);
}

export function overrideOf(service: Service, state: ProxyState): LocalOverride | undefined {
  return state.overrides?.find((o) => o.namespace === service.metadata?.namespace && o.name === service.metadata?.name);
}

/** Every Service the proxy programs, in a stable order, with its EndpointSlices. */
export function proxiedServices(state: ProxyState): { service: Service; slices: EndpointSlice[] }[] {
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const slice of state.slices) {
    const owner = slice.metadata?.labels?.["kubernetes.io/service-name"];
    if (!owner) continue;
    const key = `${slice.metadata?.namespace}/${owner}`;
    const list = slicesByService.get(key);
    if (list) list.push(slice);
    else slicesByService.set(key, [slice]);
  }
  const keyed = state.services.filter(proxied).map((service) => ({ key: serviceKey(service), service }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map(({ key, service }) => ({ service, slices: slicesByService.get(key) ?? [] }));
}

/** Every port of every Service the proxy programs, in a stable order, with the endpoints it has on this node's view. */
export function proxiedServicePorts(state: ProxyState): { service: Service; port: ServicePort; endpoints: ProxyEndpoint[] }[] {
  return proxiedServices(state).flatMap(({ service, slices }) =>
    (service.spec?.ports ?? []).map((port) => ({ service, port, endpoints: endpointsOf(service, port, slices, state) })));
}

/** The whole rule set for this node, as one iptables-restore input. */
export function computeRules(state: ProxyState): ProxyRules {
  const w = new RuleWriter();
  for (const chain of [SERVICES_CHAIN, NODEPORTS_CHAIN, POSTROUTING_CHAIN, MARK_MASQ_CHAIN]) w.natChains.add(chain);
  for (const chain of [SERVICES_CHAIN, EXTERNAL_SERVICES_CHAIN, FORWARD_CHAIN]) w.filterChains.add(chain);

  w.natRule(POSTROUTING_CHAIN, "-m", "mark", "!", "--mark", `${MASQ_MARK}/${MASQ_MARK}`, "-j", "RETURN");
  // The mark is cleared so that a packet re-entering the stack is not masqueraded twice.
  w.natRule(POSTROUTING_CHAIN, "-j", "MARK", "--xor-mark", MASQ_MARK);
  w.natRule(POSTROUTING_CHAIN, ...comment("edgeplane service traffic requiring SNAT"), "-j", "MASQUERADE", "--random-fully");
  w.natRule(MARK_MASQ_CHAIN, "-j", "MARK", "--or-mark", MASQ_MARK);
  w.filterRule(FORWARD_CHAIN, "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP");
  w.filterRule(FORWARD_CHAIN, ...comment("edgeplane forwarding rules"), "-m", "mark", "--mark", `${MASQ_MARK}/${MASQ_MARK}`, "-j", "ACCEPT");
  w.filterRule(FORWARD_CHAIN, ...comment("edgeplane forwarding conntrack rule"), "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT");

  for (const { service, port, endpoints } of proxiedServicePorts(state)) writeServicePort(w, service, port, endpoints, state.node);

  // NodePorts last: kube-proxy's "this must be the last rule in this chain".
  const nodePortComment = comment("edgeplane service nodeports; NOTE: this must be the last rule in this chain");
  const addresses = state.node.nodePortAddresses ?? [];
  if (addresses.length) for (const cidr of addresses) w.natRule(SERVICES_CHAIN, ...nodePortComment, "-d", cidr, "-j", NODEPORTS_CHAIN);
  else w.natRule(SERVICES_CHAIN, ...nodePortComment, "-m", "addrtype", "--dst-type", "LOCAL", "-j", NODEPORTS_CHAIN);

  return { chains: { nat: [...w.natChains], filter: [...w.filterChains] }, rules: { nat: w.nat, filter: w.filter } };
}

/**
 * What a partial sync writes, as kube-proxy's MinimizeIPTablesRestore: only the chains whose rules
 * differ from those `applied` last (all of them when nothing is known to be applied).
 */
export function changedRules(rules: ProxyRules, applied: ProxyRules | undefined): ProxyRules {
  if (!applied) return rules;
  const changed: ProxyRules = { chains: { nat: [], filter: [] }, rules: { nat: [], filter: [] } };
  for (const table of ["nat", "filter"] as const) {
    const before = rulesByChain(applied.rules[table]);
    const after = rulesByChain(rules.rules[table]);
    const wanted = new Set(rules.chains[table].filter((c) => !applied.chains[table].includes(c) || (before.get(c) ?? "") !== (after.get(c) ?? "")));
    changed.chains[table] = [...wanted];
    changed.rules[table] = rules.rules[table].filter((line) => wanted.has(line.slice(3, line.indexOf(" ", 3))));
  }
  return changed;
}

/** Each chain's rules as one text, for comparing. */
function rulesByChain(lines: string[]): Map<string, string> {
  const chains = new Map<string, string>();
  for (const line of lines) {
    const chain = line.slice(3, line.indexOf(" ", 3));
    chains.set(chain, `${chains.get(chain) ?? ""}${line}\n`);
  }
  return chains;
}

/**
 * The iptables-restore input (for --noflush) that replaces our chains with `rules` in one commit
 * per table: each chain declared is emptied first, and the `stale` ones (ours, no longer wanted)
 * are emptied and deleted.
 */
export function restoreInput(rules: ProxyRules, stale: Record<Table, string[]> = { nat: [], filter: [] }): string {
  const lines: string[] = [];
  for (const table of ["filter", "nat"] as const) {
    if (!rules.chains[table].length && !stale[table].length) continue;
    // Concatenated, not spread into push: 10,000 Services are ~400,000 lines, past the call stack's argument limit.
    lines.push(`*${table}`);
    for (const chain of rules.chains[table]) lines.push(`:${chain} - [0:0]`);
    for (const chain of stale[table]) lines.push(`:${chain} - [0:0]`);
    for (const rule of rules.rules[table]) lines.push(rule);
    for (const chain of stale[table]) lines.push(`-X ${chain}`);
    lines.push("COMMIT");
  }
  return lines.join("\n") + "\n";
}

function serviceKey(service: Service): string {
  return `${service.metadata?.namespace}/${service.metadata?.name}`;
}

// kube-proxy's nftables mode as a pure function: Services and EndpointSlices, seen from one node,
// become the contents of one table of our own (`ip edgeplane`), laid out as kube-proxy's nftables
// backend lays out `ip kube-proxy`: verdict maps from (address, protocol, port) to per-Service
// chains, `numgen random` to pick an endpoint, dynamic sets with timeouts for ClientIP affinity,
// maps of Services without endpoints leading to a reject, and a masquerade mark of our own. The
// second half turns the difference between two rule sets into one `nft -f` transaction that
// touches only the chains and map elements that changed.
import { createHash } from "node:crypto";
import type { Service, ServicePort } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import { endpointsOf, MASQ_MARK, overrideOf, proxiedServices, usableEndpoints, type LocalOverride, type ProxyEndpoint, type ProxyNode, type ProxyState } from "./rules.ts";

export const NFT_FAMILY = "ip";
export const NFT_TABLE = "edgeplane";
const T = `${NFT_FAMILY} ${NFT_TABLE}`;

export const SERVICES = "services";
export const MARK_MASQ = "mark-for-masquerade";
export const MASQUERADING = "masquerading";
export const SERVICE_ENDPOINTS_CHECK = "service-endpoints-check";
export const NODEPORT_ENDPOINTS_CHECK = "nodeport-endpoints-check";
export const REJECT_CHAIN = "reject-chain";

/** The verdict maps: ClusterIPs and external IPs, NodePorts, and both again for Services with nowhere to send traffic. */
export const MAPS = {
  "service-ips": "ipv4_addr . inet_proto . inet_service : verdict",
  "service-nodeports": "inet_proto . inet_service : verdict",
  "no-endpoint-services": "ipv4_addr . inet_proto . inet_service : verdict",
  "no-endpoint-nodeports": "inet_proto . inet_service : verdict",
} as const;
export type MapName = keyof typeof MAPS;

/**
 * The chains hooked into netfilter. NAT at dstnat/srcnat; the checks for Services without
 * endpoints at filter priority -110, before NAT on output, so they still see the ClusterIP.
 */
export const BASE_CHAINS: Record<string, string> = {
  "nat-prerouting": "type nat hook prerouting priority -100;",
  "nat-output": "type nat hook output priority -100;",
  "nat-postrouting": "type nat hook postrouting priority 100;",
  "filter-input": "type filter hook input priority -110;",
  "filter-forward": "type filter hook forward priority -110;",
  "filter-output": "type filter hook output priority -110;",
};

/** The table's contents: every chain with its rules, the verdict maps' elements, and the affinity sets with their timeouts. */
export interface NftRules {
  chains: Map<string, string[]>;
  maps: Record<MapName, Map<string, string>>;
  /** Affinity sets (type ipv4_addr, dynamic, with a timeout): name → timeout in seconds. */
  sets: Map<string, number>;
}

/**
 * A per-Service chain's name: its kind, a hash of what it is for, and the readable part kube-proxy
 * shows (`service-HASH-ns/name/tcp/port`, `endpoint-HASH-ns/name/tcp/port__ip/port`).
 */
export function nftChainName(kind: "service" | "local" | "external" | "endpoint" | "affinity", servicePort: string, endpoint?: string): string {
  const readable = endpoint ? `${servicePort}__${endpoint}` : servicePort;
  const digest = createHash("sha256").update(`${kind}/${readable}`).digest("base64url").replace(/[-_]/g, "").slice(0, 8).toUpperCase();
  return `${kind}-${digest}-${readable}`;
}

class TableWriter {
  readonly chains = new Map<string, string[]>();
  readonly maps: Record<MapName, Map<string, string>> = { "service-ips": new Map(), "service-nodeports": new Map(), "no-endpoint-services": new Map(), "no-endpoint-nodeports": new Map() };
  readonly sets = new Map<string, number>();

  rule(chain: string, rule: string): void {
    const rules = this.chains.get(chain);
    if (rules) rules.push(rule);
    else this.chains.set(chain, [rule]);
  }

  chain(name: string): void {
    if (!this.chains.has(name)) this.chains.set(name, []);
  }
}

const comment = (text: string) => `comment "${text.replace(/"/g, "'")}"`;

/** Where traffic to NodePorts is taken: every local address but loopback, or the --nodeport-addresses CIDRs. */
function nodePortMatch(node: ProxyNode): string {
  const cidrs = node.nodePortAddresses ?? [];
  return cidrs.length ? `ip daddr { ${cidrs.join(", ")} }` : "fib daddr type local ip daddr != 127.0.0.0/8";
}

/** The SVC/local chain's choice of endpoint: the one a client had (affinity), else one at random. */
function writeBalancer(w: TableWriter, chain: string, endpoints: { ep: ProxyEndpoint; chain: string; affinity?: string }[]): void {
  w.chain(chain);
  for (const { chain: target, affinity } of endpoints) if (affinity) w.rule(chain, `ip saddr @${affinity} goto ${target}`);
  if (endpoints.length === 1) w.rule(chain, `goto ${endpoints[0]!.chain}`);
  else w.rule(chain, `numgen random mod ${endpoints.length} vmap { ${endpoints.map((e, i) => `${i} : goto ${e.chain}`).join(", ")} }`);
}

function writeServicePort(w: TableWriter, service: Service, port: ServicePort, endpoints: ProxyEndpoint[], node: ProxyNode): void {
  const protocol = (port.protocol ?? "TCP").toLowerCase();
  if (protocol === "sctp") return;
  const spec = service.spec!;
  const name = `${service.metadata?.namespace}/${service.metadata?.name}/${protocol}/${port.name ?? ""}`;
  const clusterIP = spec.clusterIP!;
  const svcChain = nftChainName("service", name);
  const localChain = nftChainName("local", name);
  const extChain = nftChainName("external", name);
  const affinity = spec.sessionAffinity === "ClientIP" ? spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 : undefined;

  const clusterEndpoints = usableEndpoints(endpoints);
  const localEndpoints = usableEndpoints(endpoints.filter((e) => e.local));
  const internalLocal = spec.internalTrafficPolicy === "Local";
  const externalLocal = spec.externalTrafficPolicy === "Local" && (spec.type === "NodePort" || spec.type === "LoadBalancer");
  const internalEndpoints = internalLocal ? localEndpoints : clusterEndpoints;
  const externalEndpoints = externalLocal ? localEndpoints : clusterEndpoints;
  const nodePort = spec.type === "NodePort" || spec.type === "LoadBalancer" ? port.nodePort : undefined;
  const externalIPs = spec.externalIPs ?? [];

  // One chain per endpoint used: hairpin traffic masqueraded, the client remembered (affinity), then DNAT.
  const used = new Map<string, { ep: ProxyEndpoint; chain: string; affinity?: string }>();
  for (const ep of [...clusterEndpoints, ...(internalLocal || externalLocal ? localEndpoints : [])]) {
    const key = `${ep.ip}/${ep.port}`;
    if (used.has(key)) continue;
    const chain = nftChainName("endpoint", name, key);
    // The timeout is part of the set's name: a set's timeout cannot change in place.
    const set = affinity === undefined ? undefined : nftChainName("affinity", `${name}/${affinity}`, key);
    used.set(key, { ep, chain, affinity: set });
    w.rule(chain, `ip saddr ${ep.ip} jump ${MARK_MASQ}`);
    if (set) {
      w.sets.set(set, affinity!);
      w.rule(chain, `update @${set} { ip saddr }`);
    }
    w.rule(chain, `meta l4proto ${protocol} dnat to ${ep.ip}:${ep.port}`);
  }
  const chainsFor = (eps: ProxyEndpoint[]) => eps.map((ep) => used.get(`${ep.ip}/${ep.port}`)!);

  // ClusterIP: to the service (or local) chain, or to a reject (drop: only remote endpoints for a Local policy).
  const clusterKey = `${clusterIP} . ${protocol} . ${port.port}`;
  if (internalEndpoints.length) w.maps["service-ips"].set(clusterKey, `goto ${internalLocal ? localChain : svcChain}`);
  else w.maps["no-endpoint-services"].set(clusterKey, clusterEndpoints.length ? "drop" : `goto ${REJECT_CHAIN}`);
  if (clusterEndpoints.length) {
    w.chain(svcChain);
    if (node.localCIDR) w.rule(svcChain, `ip daddr ${clusterIP} ${protocol} dport ${port.port} ip saddr != ${node.localCIDR} jump ${MARK_MASQ}`);
    writeBalancer(w, svcChain, chainsFor(clusterEndpoints));
  }
  if ((internalLocal || externalLocal) && localEndpoints.length) writeBalancer(w, localChain, chainsFor(localEndpoints));

  if (nodePort === undefined && !externalIPs.length) return;
  // NodePorts and external IPs go through the external chain, or are refused when it has nowhere to go.
  const reachable = externalEndpoints.length > 0 || (externalLocal && clusterEndpoints.length > 0);
  if (reachable) {
    if (externalLocal) {
      if (node.localCIDR) w.rule(extChain, `ip saddr ${node.localCIDR} goto ${svcChain} ${comment("short-circuit pod traffic")}`);
      w.rule(extChain, `fib saddr type local jump ${MARK_MASQ} ${comment("masquerade local traffic")}`);
      w.rule(extChain, `fib saddr type local goto ${svcChain} ${comment("short-circuit local traffic")}`);
      if (localEndpoints.length) w.rule(extChain, `goto ${localChain}`);
    } else {
      w.rule(extChain, `jump ${MARK_MASQ}`);
      w.rule(extChain, `goto ${svcChain}`);
    }
  }
  const refusal = externalEndpoints.length ? undefined : clusterEndpoints.length ? "drop" : `goto ${REJECT_CHAIN}`;
  for (const ip of externalIPs) {
    const key = `${ip} . ${protocol} . ${port.port}`;
    if (reachable) w.maps["service-ips"].set(key, `goto ${extChain}`);
    if (refusal) w.maps["no-endpoint-services"].set(key, refusal);
  }
  if (nodePort !== undefined) {
    const key = `${protocol} . ${nodePort}`;
    if (reachable) w.maps["service-nodeports"].set(key, `goto ${extChain}`);
    if (refusal) w.maps["no-endpoint-nodeports"].set(key, refusal);
  }
}

/** What one Service puts in the table: its chains, map elements and affinity sets. */
interface Contribution {
  chains: Map<string, string[]>;
  maps: [MapName, string, string][];
  sets: Map<string, number>;
  /** What it was computed from, compared by identity: the informer caches replace an object when it changes. */
  from: { slices: EndpointSlice[]; node: ProxyNode; override: LocalOverride | undefined };
}

/**
 * Each Service's contribution kept between syncs, so that a sync after one EndpointSlice changes
 * computes that Service's rules alone and reuses every other Service's (and their rule arrays,
 * which the transaction then recognises as unchanged without comparing them).
 */
export class NftRulesMemo {
  readonly byService = new WeakMap<Service, Contribution>();
}

function sameInputs(a: Contribution["from"], b: Contribution["from"]): boolean {
  return a.node === b.node && a.override === b.override && a.slices.length === b.slices.length && a.slices.every((slice, i) => slice === b.slices[i]);
}

function contributionOf(service: Service, from: Contribution["from"], state: ProxyState): Contribution {
  const w = new TableWriter();
  for (const port of service.spec?.ports ?? []) writeServicePort(w, service, port, endpointsOf(service, port, from.slices, state), state.node);
  const maps: [MapName, string, string][] = [];
  for (const map of Object.keys(w.maps) as MapName[]) for (const [key, verdict] of w.maps[map]) maps.push([map, key, verdict]);
  return { chains: w.chains, maps, sets: w.sets, from };
}

/** The whole table for this node; with `memo`, Services whose inputs are the same objects as last time are not computed again. */
export function computeNftRules(state: ProxyState, memo?: NftRulesMemo): NftRules {
  const w = new TableWriter();
  w.rule("nat-prerouting", `jump ${SERVICES}`);
  w.rule("nat-output", `jump ${SERVICES}`);
  w.rule("nat-postrouting", `jump ${MASQUERADING}`);
  w.rule("filter-input", `ct state new jump ${SERVICE_ENDPOINTS_CHECK}`);
  w.rule("filter-input", `ct state new jump ${NODEPORT_ENDPOINTS_CHECK}`);
  w.rule("filter-forward", `ct state new jump ${SERVICE_ENDPOINTS_CHECK}`);
  w.rule("filter-output", `ct state new jump ${SERVICE_ENDPOINTS_CHECK}`);
  w.rule(MARK_MASQ, `mark set mark or ${MASQ_MARK}`);
  w.rule(MASQUERADING, `mark and ${MASQ_MARK} == 0 return`);
  // The mark is cleared so that a packet re-entering the stack is not masqueraded twice.
  w.rule(MASQUERADING, `mark set mark xor ${MASQ_MARK}`);
  w.rule(MASQUERADING, "masquerade fully-random");
  w.rule(SERVICES, "ip daddr . meta l4proto . th dport vmap @service-ips");
  w.rule(SERVICES, `${nodePortMatch(state.node)} meta l4proto . th dport vmap @service-nodeports`);
  w.rule(SERVICE_ENDPOINTS_CHECK, "ip daddr . meta l4proto . th dport vmap @no-endpoint-services");
  w.rule(NODEPORT_ENDPOINTS_CHECK, `${nodePortMatch(state.node)} meta l4proto . th dport vmap @no-endpoint-nodeports`);
  w.rule(REJECT_CHAIN, "reject");
  for (const { service, slices } of proxiedServices(state)) {
    const from = { slices, node: state.node, override: overrideOf(service, state) };
    let contribution = memo?.byService.get(service);
    if (!contribution || !sameInputs(contribution.from, from)) {
      contribution = contributionOf(service, from, state);
      memo?.byService.set(service, contribution);
    }
    for (const [chain, rules] of contribution.chains) w.chains.set(chain, rules);
    for (const [map, key, verdict] of contribution.maps) w.maps[map].set(key, verdict);
    for (const [set, timeout] of contribution.sets) w.sets.set(set, timeout);
  }
  return { chains: w.chains, maps: w.maps, sets: w.sets };
}

/** What the table holds in the kernel now: its chains and its sets (not maps), by name. */
export interface NftExisting {
  chains: string[];
  sets: string[];
}

const declareChain = (name: string) => (BASE_CHAINS[name] ? `add chain ${T} ${name} { ${BASE_CHAINS[name]} }` : `add chain ${T} ${name}`);
const declareSet = (name: string, timeout: number) => `add set ${T} ${name} { type ipv4_addr; flags dynamic,timeout; timeout ${timeout}s; }`;
const ruleLines = (chain: string, rules: string[]) => rules.map((rule) => `add rule ${T} ${chain} ${rule}`);

/** Map elements as `add element` lines, many per line (nft parses one big element list faster than many commands). */
function elementLines(map: MapName, entries: [string, string][], deleting = false): string[] {
  const lines: string[] = [];
  for (let i = 0; i < entries.length; i += 500) {
    const chunk = entries.slice(i, i + 500).map(([key, verdict]) => (deleting ? key : `${key} : ${verdict}`));
    lines.push(`${deleting ? "delete" : "add"} element ${T} ${map} { ${chunk.join(", ")} }`);
  }
  return lines;
}

/**
 * The `nft -f` input that makes the table `rules`, as one transaction. Without `applied` (a full
 * sync) every chain is emptied and written, every map emptied and filled, and what `existing` holds
 * that `rules` no longer has is deleted; the affinity sets that stay keep their entries. With
 * `applied`, the rules the kernel holds from the previous transaction, only what differs is
 * written: new chains and sets, changed chains rewritten, map elements deleted and added, and
 * chains and sets no longer wanted deleted, last, once nothing refers to them.
 */
export function nftScript(rules: NftRules, applied?: NftRules, existing: NftExisting = { chains: [], sets: [] }): string {
  const lines: string[] = [];
  if (!applied) {
    lines.push(`add table ${T}`, `flush table ${T}`);
    for (const chain of new Set([...Object.keys(BASE_CHAINS), ...rules.chains.keys()])) lines.push(declareChain(chain));
    for (const [set, timeout] of rules.sets) lines.push(declareSet(set, timeout));
    for (const [map, type] of Object.entries(MAPS)) lines.push(`add map ${T} ${map} { type ${type}; }`, `flush map ${T} ${map}`);
    for (const [chain, chainRules] of rules.chains) lines.push(...ruleLines(chain, chainRules));
    for (const map of Object.keys(MAPS) as MapName[]) lines.push(...elementLines(map, [...rules.maps[map]]));
    for (const chain of existing.chains) if (!rules.chains.has(chain) && !BASE_CHAINS[chain]) lines.push(`delete chain ${T} ${chain}`);
    for (const set of existing.sets) if (!rules.sets.has(set)) lines.push(`delete set ${T} ${set}`);
    return lines.join("\n") + "\n";
  }
  for (const chain of rules.chains.keys()) if (!applied.chains.has(chain)) lines.push(declareChain(chain));
  for (const [set, timeout] of rules.sets) if (!applied.sets.has(set)) lines.push(declareSet(set, timeout));
  for (const [chain, chainRules] of rules.chains) {
    const before = applied.chains.get(chain);
    if (before && (before === chainRules || sameRules(before, chainRules))) continue;
    if (before) lines.push(`flush chain ${T} ${chain}`);
    lines.push(...ruleLines(chain, chainRules));
  }
  for (const map of Object.keys(MAPS) as MapName[]) {
    const after = rules.maps[map];
    const before = applied.maps[map];
    const gone = [...before].filter(([key, verdict]) => after.get(key) !== verdict);
    const added = [...after].filter(([key, verdict]) => before.get(key) !== verdict);
    lines.push(...elementLines(map, gone, true), ...elementLines(map, added));
  }
  // Every stale chain emptied before any is deleted: they refer to one another (service → endpoint).
  const stale = [...applied.chains.keys()].filter((chain) => !rules.chains.has(chain));
  for (const chain of stale) lines.push(`flush chain ${T} ${chain}`);
  for (const chain of stale) lines.push(`delete chain ${T} ${chain}`);
  for (const set of applied.sets.keys()) if (!rules.sets.has(set)) lines.push(`delete set ${T} ${set}`);
  return lines.length ? lines.join("\n") + "\n" : "";
}

function sameRules(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((rule, i) => rule === b[i]);
}

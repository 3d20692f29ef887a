// The nftables rule generator, table-driven: Services and EndpointSlices seen from node-a become the
// table kube-proxy's nftables mode would hold (our names), and a change becomes a transaction that
// touches only what changed.
import type { Service } from "kubernetes-types/core/v1";
import type { Endpoint, EndpointSlice } from "kubernetes-types/discovery/v1";
import { describe, expect, it } from "vitest";
import { computeNftRules, nftChainName, NftRulesMemo, nftScript, type MapName } from "./nft-rules.ts";
import type { ProxyState } from "./rules.ts";

const node = { name: "node-a", localCIDR: "10.244.0.0/24" };

function service(name: string, spec: Service["spec"]): Service {
  return { metadata: { namespace: "default", name }, spec: { clusterIP: "10.96.0.20", ports: [{ port: 80, protocol: "TCP" }], ...spec } };
}

function endpoint(ip: string, nodeName: string, conditions: Endpoint["conditions"] = { ready: true }): Endpoint {
  return { addresses: [ip], nodeName, conditions };
}

function slice(serviceName: string, endpoints: Endpoint[], port = 8080): EndpointSlice {
  return {
    metadata: { namespace: "default", name: `${serviceName}-abc`, labels: { "kubernetes.io/service-name": serviceName } },
    addressType: "IPv4", endpoints, ports: [{ port, protocol: "TCP" }],
  };
}

const SVC = nftChainName("service", "default/web/tcp/");
const LOCAL = nftChainName("local", "default/web/tcp/");
const EXT = nftChainName("external", "default/web/tcp/");
const ep = (ip: string) => nftChainName("endpoint", "default/web/tcp/", `${ip}/8080`);
const affinity = (ip: string, seconds: number) => nftChainName("affinity", `default/web/tcp//${seconds}`, `${ip}/8080`);

interface ChainCase {
  name: string;
  state: ProxyState;
  chain: string;
  rules: string[] | undefined;
}

const chainCases: ChainCase[] = [
  {
    name: "three endpoints: off-node sources masqueraded, then one chosen at random",
    state: { services: [service("web", {})], slices: [slice("web", ["10.244.0.5", "10.244.1.6", "10.244.2.7"].map((ip) => endpoint(ip, "node-x")))], node },
    chain: SVC,
    rules: [
      "ip daddr 10.96.0.20 tcp dport 80 ip saddr != 10.244.0.0/24 jump mark-for-masquerade",
      `numgen random mod 3 vmap { 0 : goto ${ep("10.244.0.5")}, 1 : goto ${ep("10.244.1.6")}, 2 : goto ${ep("10.244.2.7")} }`,
    ],
  },
  {
    name: "an endpoint chain masquerades hairpin traffic and DNATs",
    state: { services: [service("web", {})], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node },
    chain: ep("10.244.0.5"),
    rules: ["ip saddr 10.244.0.5 jump mark-for-masquerade", "meta l4proto tcp dnat to 10.244.0.5:8080"],
  },
  {
    name: "ClientIP affinity: the endpoint remembers the client, the service chain sends it back there first",
    state: { services: [service("web", { sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } })], slices: [slice("web", [endpoint("10.244.0.5", "node-a"), endpoint("10.244.0.6", "node-a")])], node },
    chain: SVC,
    rules: [
      "ip daddr 10.96.0.20 tcp dport 80 ip saddr != 10.244.0.0/24 jump mark-for-masquerade",
      `ip saddr @${affinity("10.244.0.5", 60)} goto ${ep("10.244.0.5")}`,
      `ip saddr @${affinity("10.244.0.6", 60)} goto ${ep("10.244.0.6")}`,
      `numgen random mod 2 vmap { 0 : goto ${ep("10.244.0.5")}, 1 : goto ${ep("10.244.0.6")} }`,
    ],
  },
  {
    name: "ClientIP affinity: the endpoint chain updates its set",
    state: { services: [service("web", { sessionAffinity: "ClientIP" })], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node },
    chain: ep("10.244.0.5"),
    rules: ["ip saddr 10.244.0.5 jump mark-for-masquerade", `update @${affinity("10.244.0.5", 10800)} { ip saddr }`, "meta l4proto tcp dnat to 10.244.0.5:8080"],
  },
  {
    name: "a not-ready endpoint gets no chain",
    state: { services: [service("web", {})], slices: [slice("web", [endpoint("10.244.0.5", "node-a"), endpoint("10.244.0.6", "node-a", { ready: false })])], node },
    chain: ep("10.244.0.6"),
    rules: undefined,
  },
  {
    name: "only terminating serving endpoints: they still take connections",
    state: { services: [service("web", {})], slices: [slice("web", [endpoint("10.244.0.5", "node-a", { ready: false, serving: true, terminating: true })])], node },
    chain: SVC,
    rules: ["ip daddr 10.96.0.20 tcp dport 80 ip saddr != 10.244.0.0/24 jump mark-for-masquerade", `goto ${ep("10.244.0.5")}`],
  },
  {
    name: "NodePort with the Cluster policy: masqueraded, then the service chain",
    state: { services: [service("web", { type: "NodePort", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })], slices: [slice("web", [endpoint("10.244.0.5", "node-x")])], node },
    chain: EXT,
    rules: ["jump mark-for-masquerade", `goto ${SVC}`],
  },
  {
    name: "NodePort with the Local policy: pods and the node itself short-circuit to the cluster, the rest to local endpoints",
    state: { services: [service("web", { type: "NodePort", externalTrafficPolicy: "Local", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })], slices: [slice("web", [endpoint("10.244.0.5", "node-a"), endpoint("10.244.1.6", "node-b")])], node },
    chain: EXT,
    rules: [
      `ip saddr 10.244.0.0/24 goto ${SVC} comment "short-circuit pod traffic"`,
      'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
      `fib saddr type local goto ${SVC} comment "short-circuit local traffic"`,
      `goto ${LOCAL}`,
    ],
  },
  {
    name: "the Local chain balances over this node's endpoints only",
    state: { services: [service("web", { internalTrafficPolicy: "Local" })], slices: [slice("web", [endpoint("10.244.0.5", "node-a"), endpoint("10.244.1.6", "node-b")])], node },
    chain: LOCAL,
    rules: [`goto ${ep("10.244.0.5")}`],
  },
  {
    name: "NodePorts listen on every local address but loopback",
    state: { services: [], slices: [], node },
    chain: "services",
    rules: ["ip daddr . meta l4proto . th dport vmap @service-ips", "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"],
  },
  {
    name: "--nodeport-addresses limits NodePorts to its CIDRs",
    state: { services: [], slices: [], node: { ...node, nodePortAddresses: ["192.168.1.0/24", "10.0.0.1/32"] } },
    chain: "nodeport-endpoints-check",
    rules: ["ip daddr { 192.168.1.0/24, 10.0.0.1/32 } meta l4proto . th dport vmap @no-endpoint-nodeports"],
  },
  {
    name: "masquerading clears our mark and masquerades what carries it",
    state: { services: [], slices: [], node },
    chain: "masquerading",
    rules: ["mark and 0x40000 == 0 return", "mark set mark xor 0x40000", "masquerade fully-random"],
  },
  {
    name: "the filter hooks check new connections for Services without endpoints",
    state: { services: [], slices: [], node },
    chain: "filter-input",
    rules: ["ct state new jump service-endpoints-check", "ct state new jump nodeport-endpoints-check"],
  },
];

interface MapCase {
  name: string;
  state: ProxyState;
  map: MapName;
  elements: [string, string][];
}

const mapCases: MapCase[] = [
  {
    name: "a ClusterIP with endpoints leads to its service chain",
    state: { services: [service("web", {})], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node },
    map: "service-ips",
    elements: [["10.96.0.20 . tcp . 80", `goto ${SVC}`]],
  },
  {
    name: "a ClusterIP without endpoints is rejected",
    state: { services: [service("web", {})], slices: [slice("web", [])], node },
    map: "no-endpoint-services",
    elements: [["10.96.0.20 . tcp . 80", "goto reject-chain"]],
  },
  {
    name: "internalTrafficPolicy Local with endpoints only elsewhere: dropped, not rejected",
    state: { services: [service("web", { internalTrafficPolicy: "Local" })], slices: [slice("web", [endpoint("10.244.1.6", "node-b")])], node },
    map: "no-endpoint-services",
    elements: [["10.96.0.20 . tcp . 80", "drop"]],
  },
  {
    name: "a NodePort leads to the external chain",
    state: { services: [service("web", { type: "NodePort", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node },
    map: "service-nodeports",
    elements: [["tcp . 30080", `goto ${EXT}`]],
  },
  {
    name: "a NodePort without endpoints is rejected",
    state: { services: [service("web", { type: "NodePort", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })], slices: [], node },
    map: "no-endpoint-nodeports",
    elements: [["tcp . 30080", "goto reject-chain"]],
  },
  {
    name: "external IPs lead to the external chain",
    state: { services: [service("web", { externalIPs: ["192.0.2.10"] })], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node },
    map: "service-ips",
    elements: [["10.96.0.20 . tcp . 80", `goto ${SVC}`], ["192.0.2.10 . tcp . 80", `goto ${EXT}`]],
  },
  {
    name: "a UDP port is keyed by its protocol",
    state: { services: [service("dns", { ports: [{ name: "dns", port: 53, protocol: "UDP" }] })], slices: [{ ...slice("dns", [endpoint("10.244.0.5", "node-a")]), ports: [{ name: "dns", port: 53, protocol: "UDP" }] }], node },
    map: "service-ips",
    elements: [["10.96.0.20 . udp . 53", `goto ${nftChainName("service", "default/dns/udp/dns")}`]],
  },
  {
    name: "ExternalName and headless Services are not proxied",
    state: { services: [service("a", { type: "ExternalName", externalName: "example.com", clusterIP: undefined }), service("b", { clusterIP: "None" })], slices: [], node },
    map: "service-ips",
    elements: [],
  },
];

describe("nftables rules", () => {
  for (const c of chainCases) {
    it(c.name, () => {
      expect(computeNftRules(c.state).chains.get(c.chain)).toEqual(c.rules);
    });
  }
  for (const c of mapCases) {
    it(c.name, () => {
      expect([...computeNftRules(c.state).maps[c.map]]).toEqual(c.elements);
    });
  }

  it("the local DNS override sends kube-dns to this node's own server", () => {
    const dns = service("kube-dns", { clusterIP: "10.96.0.10", ports: [{ name: "dns", port: 53, protocol: "UDP" }] });
    dns.metadata!.namespace = "kube-system";
    const rules = computeNftRules({ services: [dns], slices: [], node, overrides: [{ namespace: "kube-system", name: "kube-dns", address: "10.244.0.1", ports: { dns: 10053 } }] });
    expect(rules.chains.get(nftChainName("endpoint", "kube-system/kube-dns/udp/dns", "10.244.0.1/10053"))).toContain("meta l4proto udp dnat to 10.244.0.1:10053");
  });

  it("affinity sets carry their timeout; a changed timeout is a new set", () => {
    const state = (seconds: number): ProxyState => ({ services: [service("web", { sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: seconds } } })], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node });
    expect([...computeNftRules(state(60)).sets]).toEqual([[affinity("10.244.0.5", 60), 60]]);
    const script = nftScript(computeNftRules(state(90)), computeNftRules(state(60)));
    expect(script).toContain(`add set ip edgeplane ${affinity("10.244.0.5", 90)} { type ipv4_addr; flags dynamic,timeout; timeout 90s; }`);
    expect(script).toContain(`delete set ip edgeplane ${affinity("10.244.0.5", 60)}`);
  });

  it("chain names stay within nft's 256 characters for the longest names kube allows", () => {
    const long = "a".repeat(63);
    expect(nftChainName("endpoint", `${long}/${long}/tcp/${"p".repeat(15)}`, "255.255.255.255/65535").length).toBeLessThan(256);
  });
});

describe("nftables transactions", () => {
  const one = (ips: string[]): ProxyState => ({ services: [service("web", { type: "NodePort", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })], slices: [slice("web", ips.map((ip) => endpoint(ip, "node-x")))], node });

  it("a full sync declares the table, empties it, writes everything and deletes what the kernel holds beyond it", () => {
    const script = nftScript(computeNftRules(one(["10.244.1.5"])), undefined, { chains: ["nat-output", "services", "endpoint-OLD-default/gone/tcp/__10.0.0.1/80"], sets: ["affinity-OLD-x"] }).split("\n");
    expect(script.slice(0, 2)).toEqual(["add table ip edgeplane", "flush table ip edgeplane"]);
    expect(script).toContain("add chain ip edgeplane nat-output { type nat hook output priority -100; }");
    expect(script).toContain("add map ip edgeplane service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }");
    expect(script).toContain("flush map ip edgeplane service-ips");
    expect(script).toContain(`add element ip edgeplane service-nodeports { tcp . 30080 : goto ${EXT} }`);
    expect(script.filter((l) => l.startsWith("delete "))).toEqual(["delete chain ip edgeplane endpoint-OLD-default/gone/tcp/__10.0.0.1/80", "delete set ip edgeplane affinity-OLD-x"]);
  });

  it("an endpoint replaced: its chain added, the service chain rewritten, the old chain deleted last; nothing else", () => {
    const script = nftScript(computeNftRules(one(["10.244.1.6"])), computeNftRules(one(["10.244.1.5"]))).trim().split("\n");
    expect(script).toEqual([
      `add chain ip edgeplane ${ep("10.244.1.6")}`,
      `add rule ip edgeplane ${ep("10.244.1.6")} ip saddr 10.244.1.6 jump mark-for-masquerade`,
      `add rule ip edgeplane ${ep("10.244.1.6")} meta l4proto tcp dnat to 10.244.1.6:8080`,
      `flush chain ip edgeplane ${SVC}`,
      `add rule ip edgeplane ${SVC} ip daddr 10.96.0.20 tcp dport 80 ip saddr != 10.244.0.0/24 jump mark-for-masquerade`,
      `add rule ip edgeplane ${SVC} goto ${ep("10.244.1.6")}`,
      `flush chain ip edgeplane ${ep("10.244.1.5")}`,
      `delete chain ip edgeplane ${ep("10.244.1.5")}`,
    ]);
  });

  it("a Service losing its last endpoint: its map elements move to the reject maps", () => {
    const script = nftScript(computeNftRules(one([])), computeNftRules(one(["10.244.1.5"])));
    expect(script).toContain("delete element ip edgeplane service-ips { 10.96.0.20 . tcp . 80 }");
    expect(script).toContain("delete element ip edgeplane service-nodeports { tcp . 30080 }");
    expect(script).toContain("add element ip edgeplane no-endpoint-services { 10.96.0.20 . tcp . 80 : goto reject-chain }");
    expect(script).toContain("add element ip edgeplane no-endpoint-nodeports { tcp . 30080 : goto reject-chain }");
    expect(script).toContain(`delete chain ip edgeplane ${SVC}`);
  });

  it("with a memo, a Service whose objects did not change keeps its rules; the changed one is computed again, as without a memo", () => {
    const memo = new NftRulesMemo();
    const other = service("other", { clusterIP: "10.96.0.21" });
    const otherSlice = slice("other", [endpoint("10.244.1.9", "node-x")]);
    const web = service("web", {});
    const first = computeNftRules({ services: [web, other], slices: [slice("web", [endpoint("10.244.1.5", "node-x")]), otherSlice], node }, memo);
    const changed = { services: [web, other], slices: [slice("web", [endpoint("10.244.1.6", "node-x")]), otherSlice], node };
    const second = computeNftRules(changed, memo);
    const otherChain = nftChainName("service", "default/other/tcp/");
    expect(second.chains.get(otherChain)).toBe(first.chains.get(otherChain));
    expect(second.chains.get(SVC)).not.toBe(first.chains.get(SVC));
    expect(second).toEqual(computeNftRules(changed));
  });

  it("nothing changed: an empty transaction", () => {
    expect(nftScript(computeNftRules(one(["10.244.1.5"])), computeNftRules(one(["10.244.1.5"])))).toBe("");
  });
});

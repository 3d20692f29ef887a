// The rule generator, table-driven: Services and EndpointSlices seen from node-a become the rules
// kube-proxy's iptables mode would write (under our chain names).
import type { Service } from "kubernetes-types/core/v1";
import type { Endpoint, EndpointSlice } from "kubernetes-types/discovery/v1";
import { describe, expect, it } from "vitest";
import { chainName, changedRules, computeRules, restoreInput, type ProxyState } from "./rules.ts";

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

/** The rules of one chain in one table, in order. */
function chain(state: ProxyState, table: "nat" | "filter", name: string): string[] {
  const text = restoreInput(computeRules(state));
  const section = text.split(`*${table}\n`)[1]!.split("COMMIT")[0]!;
  return section.split("\n").filter((line) => line.startsWith(`-A ${name} `)).map((line) => line.slice(`-A ${name} `.length));
}

const SVC = chainName("SVC", "default/web", "TCP");
const SVL = chainName("SVL", "default/web", "TCP");
const EXT = chainName("EXT", "default/web", "TCP");
const sep = (ip: string) => chainName("SEP", "default/web", "TCP", `${ip}:8080`);

interface Case {
  name: string;
  state: ProxyState;
  table: "nat" | "filter";
  chain: string;
  rules: string[];
}

const cases: Case[] = [
  {
    name: "ClusterIP: traffic to the address and port goes to the service chain",
    state: { services: [service("web", {})], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node },
    table: "nat", chain: "EDGEPLANE-SERVICES",
    rules: [
      `-m comment --comment "default/web cluster IP" -d 10.96.0.20/32 -m tcp -p tcp --dport 80 -j ${SVC}`,
      `-m comment --comment "edgeplane service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j EDGEPLANE-NODEPORTS`,
    ],
  },
  {
    name: "ClusterIP: off-cluster sources masqueraded, three endpoints with equal chances",
    state: { services: [service("web", {})], slices: [slice("web", ["10.244.0.5", "10.244.1.6", "10.244.2.7"].map((ip) => endpoint(ip, "node-x")))], node },
    table: "nat", chain: SVC,
    rules: [
      `-m comment --comment "default/web cluster IP" -d 10.96.0.20/32 -m tcp -p tcp --dport 80 ! -s 10.244.0.0/24 -j EDGEPLANE-MARK-MASQ`,
      `-m comment --comment "default/web -> 10.244.0.5:8080" -m statistic --mode random --probability 0.3333333333 -j ${sep("10.244.0.5")}`,
      `-m comment --comment "default/web -> 10.244.1.6:8080" -m statistic --mode random --probability 0.5000000000 -j ${sep("10.244.1.6")}`,
      `-m comment --comment "default/web -> 10.244.2.7:8080" -j ${sep("10.244.2.7")}`,
    ],
  },
  {
    name: "an endpoint chain masquerades hairpin traffic and DNATs to the pod",
    state: { services: [service("web", {})], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node },
    table: "nat", chain: sep("10.244.0.5"),
    rules: [
      `-m comment --comment "default/web" -s 10.244.0.5/32 -j EDGEPLANE-MARK-MASQ`,
      `-m comment --comment "default/web" -m tcp -p tcp -j DNAT --to-destination 10.244.0.5:8080`,
    ],
  },
  {
    name: "no ready endpoint: the ClusterIP is rejected in the filter table",
    state: { services: [service("web", {})], slices: [slice("web", [endpoint("10.244.0.5", "node-a", { ready: false, serving: false })])], node },
    table: "filter", chain: "EDGEPLANE-SERVICES",
    rules: [`-m comment --comment "default/web has no endpoints" -d 10.96.0.20/32 -m tcp -p tcp --dport 80 -j REJECT`],
  },
  {
    name: "only ready endpoints take new connections; a terminating one drains",
    state: { services: [service("web", {})], slices: [slice("web", [endpoint("10.244.0.5", "node-a"), endpoint("10.244.0.6", "node-a", { ready: false, serving: true, terminating: true })])], node },
    table: "nat", chain: SVC,
    rules: [
      `-m comment --comment "default/web cluster IP" -d 10.96.0.20/32 -m tcp -p tcp --dport 80 ! -s 10.244.0.0/24 -j EDGEPLANE-MARK-MASQ`,
      `-m comment --comment "default/web -> 10.244.0.5:8080" -j ${sep("10.244.0.5")}`,
    ],
  },
  {
    name: "with none ready, serving terminating endpoints are used (kube's fallback)",
    state: { services: [service("web", {})], slices: [slice("web", [endpoint("10.244.0.6", "node-a", { ready: false, serving: true, terminating: true }), endpoint("10.244.0.7", "node-a", { ready: false, serving: false, terminating: true })])], node },
    table: "nat", chain: SVC,
    rules: [
      `-m comment --comment "default/web cluster IP" -d 10.96.0.20/32 -m tcp -p tcp --dport 80 ! -s 10.244.0.0/24 -j EDGEPLANE-MARK-MASQ`,
      `-m comment --comment "default/web -> 10.244.0.6:8080" -j ${sep("10.244.0.6")}`,
    ],
  },
  {
    name: "sessionAffinity ClientIP: a client goes back to its endpoint within the timeout",
    state: { services: [service("web", { sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } })], slices: [slice("web", [endpoint("10.244.0.5", "node-a"), endpoint("10.244.0.6", "node-a")])], node },
    table: "nat", chain: SVC,
    rules: [
      `-m comment --comment "default/web cluster IP" -d 10.96.0.20/32 -m tcp -p tcp --dport 80 ! -s 10.244.0.0/24 -j EDGEPLANE-MARK-MASQ`,
      `-m comment --comment "default/web -> 10.244.0.5:8080" -m recent --name ${sep("10.244.0.5")} --rcheck --seconds 60 --reap -j ${sep("10.244.0.5")}`,
      `-m comment --comment "default/web -> 10.244.0.6:8080" -m recent --name ${sep("10.244.0.6")} --rcheck --seconds 60 --reap -j ${sep("10.244.0.6")}`,
      `-m comment --comment "default/web -> 10.244.0.5:8080" -m statistic --mode random --probability 0.5000000000 -j ${sep("10.244.0.5")}`,
      `-m comment --comment "default/web -> 10.244.0.6:8080" -j ${sep("10.244.0.6")}`,
    ],
  },
  {
    name: "sessionAffinity ClientIP: the endpoint chain remembers the client",
    state: { services: [service("web", { sessionAffinity: "ClientIP" })], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node },
    table: "nat", chain: sep("10.244.0.5"),
    rules: [
      `-m comment --comment "default/web" -s 10.244.0.5/32 -j EDGEPLANE-MARK-MASQ`,
      `-m comment --comment "default/web" -m recent --name ${sep("10.244.0.5")} --set -m tcp -p tcp -j DNAT --to-destination 10.244.0.5:8080`,
    ],
  },
  {
    name: "NodePort: the port goes to the external chain",
    state: { services: [service("web", { type: "NodePort", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node },
    table: "nat", chain: "EDGEPLANE-NODEPORTS",
    rules: [`-m comment --comment "default/web" -m tcp -p tcp --dport 30080 -j ${EXT}`],
  },
  {
    name: "NodePort, externalTrafficPolicy Cluster: masquerade, then any endpoint",
    state: { services: [service("web", { type: "NodePort", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node },
    table: "nat", chain: EXT,
    rules: [`-m comment --comment "masquerade traffic for default/web external destinations" -j EDGEPLANE-MARK-MASQ`, `-j ${SVC}`],
  },
  {
    name: "NodePort without endpoints is rejected for traffic to a local address",
    state: { services: [service("web", { type: "NodePort", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })], slices: [], node },
    table: "filter", chain: "EDGEPLANE-EXTERNAL-SERVICES",
    rules: [`-m comment --comment "default/web has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j REJECT`],
  },
  {
    name: "externalTrafficPolicy Local: the client address kept, only this node's endpoints",
    state: { services: [service("web", { type: "NodePort", externalTrafficPolicy: "Local", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })], slices: [slice("web", [endpoint("10.244.0.5", "node-a"), endpoint("10.244.1.6", "node-b")])], node },
    table: "nat", chain: EXT,
    rules: [
      `-m comment --comment "pod traffic for default/web external destinations" -s 10.244.0.0/24 -j ${SVC}`,
      `-m comment --comment "masquerade LOCAL traffic for default/web external destinations" -m addrtype --src-type LOCAL -j EDGEPLANE-MARK-MASQ`,
      `-m comment --comment "route LOCAL traffic for default/web external destinations" -m addrtype --src-type LOCAL -j ${SVC}`,
      `-j ${SVL}`,
    ],
  },
  {
    name: "externalTrafficPolicy Local with no endpoint here: external traffic dropped",
    state: { services: [service("web", { type: "NodePort", externalTrafficPolicy: "Local", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })], slices: [slice("web", [endpoint("10.244.1.6", "node-b")])], node },
    table: "filter", chain: "EDGEPLANE-EXTERNAL-SERVICES",
    rules: [`-m comment --comment "default/web has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j DROP`],
  },
  {
    name: "internalTrafficPolicy Local: the ClusterIP reaches only this node's endpoints",
    state: { services: [service("web", { internalTrafficPolicy: "Local" })], slices: [slice("web", [endpoint("10.244.0.5", "node-a"), endpoint("10.244.1.6", "node-b")])], node },
    table: "nat", chain: SVL,
    rules: [`-m comment --comment "default/web -> 10.244.0.5:8080" -j ${sep("10.244.0.5")}`],
  },
  {
    name: "internalTrafficPolicy Local with no endpoint here: dropped",
    state: { services: [service("web", { internalTrafficPolicy: "Local" })], slices: [slice("web", [endpoint("10.244.1.6", "node-b")])], node },
    table: "filter", chain: "EDGEPLANE-SERVICES",
    rules: [`-m comment --comment "default/web has no local endpoints" -d 10.96.0.20/32 -m tcp -p tcp --dport 80 -j DROP`],
  },
  {
    name: "externalIPs: traffic to them goes to the external chain",
    state: { services: [service("web", { externalIPs: ["192.0.2.10"] })], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node },
    table: "nat", chain: "EDGEPLANE-SERVICES",
    rules: [
      `-m comment --comment "default/web cluster IP" -d 10.96.0.20/32 -m tcp -p tcp --dport 80 -j ${SVC}`,
      `-m comment --comment "default/web external IP" -d 192.0.2.10/32 -m tcp -p tcp --dport 80 -j ${EXT}`,
      `-m comment --comment "edgeplane service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j EDGEPLANE-NODEPORTS`,
    ],
  },
  {
    name: "--nodeport-addresses: NodePorts only on the listed addresses",
    state: { services: [], slices: [], node: { ...node, nodePortAddresses: ["192.168.1.10/32"] } },
    table: "nat", chain: "EDGEPLANE-SERVICES",
    rules: [`-m comment --comment "edgeplane service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.1.10/32 -j EDGEPLANE-NODEPORTS`],
  },
  {
    name: "headless and ExternalName Services get no rules",
    state: { services: [service("headless", { clusterIP: "None" }), service("ext", { type: "ExternalName", externalName: "example.com", clusterIP: undefined })], slices: [slice("headless", [endpoint("10.244.0.5", "node-a")])], node },
    table: "nat", chain: "EDGEPLANE-SERVICES",
    rules: [`-m comment --comment "edgeplane service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j EDGEPLANE-NODEPORTS`],
  },
  {
    name: "a Service answered by this node (cluster DNS): its endpoint is the local server",
    state: {
      services: [{ metadata: { namespace: "kube-system", name: "kube-dns" }, spec: { clusterIP: "10.96.0.10", ports: [{ name: "dns", port: 53, protocol: "UDP" }] } }],
      slices: [], node, overrides: [{ namespace: "kube-system", name: "kube-dns", address: "10.244.0.1", ports: { dns: 10053 } }],
    },
    table: "nat", chain: chainName("SEP", "kube-system/kube-dns:dns", "UDP", "10.244.0.1:10053"),
    rules: [
      `-m comment --comment "kube-system/kube-dns:dns" -s 10.244.0.1/32 -j EDGEPLANE-MARK-MASQ`,
      `-m comment --comment "kube-system/kube-dns:dns" -m udp -p udp -j DNAT --to-destination 10.244.0.1:10053`,
    ],
  },
  {
    name: "masquerade: marked packets are SNATed once, the mark cleared",
    state: { services: [], slices: [], node },
    table: "nat", chain: "EDGEPLANE-POSTROUTING",
    rules: [
      `-m mark ! --mark 0x40000/0x40000 -j RETURN`,
      `-j MARK --xor-mark 0x40000`,
      `-m comment --comment "edgeplane service traffic requiring SNAT" -j MASQUERADE --random-fully`,
    ],
  },
];

describe("computeRules", () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(chain(c.state, c.table, c.chain)).toEqual(c.rules);
    });
  }

  it("declares every chain it writes, and chain names fit iptables' 28 characters", () => {
    const rules = computeRules({ services: [service("web", { type: "NodePort", externalTrafficPolicy: "Local", sessionAffinity: "ClientIP", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })], slices: [slice("web", [endpoint("10.244.0.5", "node-a")])], node });
    for (const c of [...rules.chains.nat, ...rules.chains.filter]) expect(c.length).toBeLessThanOrEqual(28);
    for (const line of [...rules.rules.nat, ...rules.rules.filter]) {
      const target = / -j (EDGEPLANE-\S+)/.exec(line)?.[1];
      if (target) expect([...rules.chains.nat, ...rules.chains.filter]).toContain(target);
    }
  });

  it("a partial sync writes only the chains an endpoint change touched", () => {
    const before = computeRules({ services: [service("web", {}), service("other", { clusterIP: "10.96.0.30" })], slices: [slice("web", [endpoint("10.244.0.5", "node-a")]), slice("other", [endpoint("10.244.0.9", "node-a")])], node });
    const after = computeRules({ services: [service("web", {}), service("other", { clusterIP: "10.96.0.30" })], slices: [slice("web", [endpoint("10.244.0.6", "node-a")]), slice("other", [endpoint("10.244.0.9", "node-a")])], node });
    const changed = changedRules(after, before);
    expect(changed.chains).toEqual({ nat: [sep("10.244.0.6"), SVC], filter: [] });
    expect(changed.rules.nat.every((line) => line.startsWith(`-A ${SVC} `) || line.startsWith(`-A ${sep("10.244.0.6")} `))).toBe(true);
    expect(changedRules(after, undefined)).toBe(after);
  });

  it("deletes chains of ours that are no longer wanted, in the same commit", () => {
    const text = restoreInput(computeRules({ services: [], slices: [], node }), { nat: ["EDGEPLANE-SVC-OLD"], filter: [] });
    const nat = text.split("*nat\n")[1]!;
    expect(nat).toContain(":EDGEPLANE-SVC-OLD - [0:0]\n");
    expect(nat.indexOf("-X EDGEPLANE-SVC-OLD")).toBeLessThan(nat.indexOf("COMMIT"));
    expect(nat.indexOf("-X EDGEPLANE-SVC-OLD")).toBeGreaterThan(nat.lastIndexOf("-A "));
  });
});

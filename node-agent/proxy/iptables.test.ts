// The rules in a real kernel (as root): a "node" network namespace holding the rules and a "pod"
// namespace behind a veth pair serving HTTP on two addresses; a ClusterIP and a NodePort reach
// both backends, affinity keeps a client on one, a Service without endpoints is refused at once,
// and cleanup leaves no rule or chain of ours.
import type { Service } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostCommands, Iptables } from "./iptables.ts";
import { computeRules, type ProxyState, type Table } from "./rules.ts";
import { BACKENDS, LOCAL_CIDR, NODE_IP, startTestbed, type Testbed } from "./testbed.ts";

const node = { name: "node-a", localCIDR: LOCAL_CIDR };
let bed: Testbed;
let NODE_NS = "";
let POD_NS = "";
let iptables: Iptables;

beforeAll(async () => {
  bed = await startTestbed("iptables");
  NODE_NS = bed.nodeNs;
  POD_NS = bed.podNs;
  iptables = new Iptables(hostCommands(NODE_NS));
});

afterAll(() => bed?.stop());

const get = (ns: string, url: string, times: number) => bed.get(ns, url, times);
const inNode = (...args: string[]) => bed.inNode(...args);

function web(spec: Service["spec"] = {}): Service {
  return { metadata: { namespace: "default", name: "web" }, spec: { clusterIP: "10.96.0.20", type: "NodePort", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }], ...spec } };
}

function slice(ips: string[]): EndpointSlice {
  return {
    metadata: { namespace: "default", name: "web-1", labels: { "kubernetes.io/service-name": "web" } },
    addressType: "IPv4", ports: [{ port: 8080, protocol: "TCP" }],
    endpoints: ips.map((ip) => ({ addresses: [ip], nodeName: "node-b", conditions: { ready: true } })),
  };
}

let existing: Record<Table, string[]> = { nat: [], filter: [] };

async function apply(state: ProxyState): Promise<void> {
  const rules = computeRules(state);
  await iptables.apply(rules, existing);
  await iptables.ensureJumps();
  existing = rules.chains;
}

describe("iptables rules in a network namespace", () => {
  it("a ClusterIP reaches every ready backend", async () => {
    await apply({ services: [web()], slices: [slice(BACKENDS)], node });
    const { answers } = get(NODE_NS, "http://10.96.0.20/", 30);
    expect(new Set(answers.map((a) => a.split(" ")[0]))).toEqual(new Set(BACKENDS));
  });

  it("a NodePort reaches the backends, its traffic masqueraded to the node's address", async () => {
    const { answers } = get(POD_NS, `http://${NODE_IP}:30080/`, 10);
    for (const answer of answers) expect(answer).toMatch(new RegExp(`^10\\.213\\.0\\.[23] ${NODE_IP.replaceAll(".", "\\.")}$`));
  });

  it("sessionAffinity ClientIP keeps a client on one backend", async () => {
    await apply({ services: [web({ sessionAffinity: "ClientIP" })], slices: [slice(BACKENDS)], node });
    const { answers } = get(NODE_NS, "http://10.96.0.20/", 10);
    const backends = new Set(answers.map((a) => a.split(" ")[0]));
    expect(backends.size).toBe(1);
    expect(BACKENDS).toContain([...backends][0]);
  });

  it("without endpoints the ClusterIP and the NodePort refuse connections at once", async () => {
    await apply({ services: [web()], slices: [slice([])], node });
    const cluster = get(NODE_NS, "http://10.96.0.20/", 3);
    expect(cluster.answers).toEqual(["ECONNREFUSED", "ECONNREFUSED", "ECONNREFUSED"]);
    expect(cluster.ms).toBeLessThan(1000);
    const nodePort = get(POD_NS, `http://${NODE_IP}:30080/`, 1);
    expect(nodePort.answers).toEqual(["ECONNREFUSED"]);
  });

  it("a partial sync (only the changed chains written) moves new connections to the new endpoint", async () => {
    await apply({ services: [web()], slices: [slice([BACKENDS[0]!])], node });
    const rules = computeRules({ services: [web()], slices: [slice([BACKENDS[1]!])], node });
    await iptables.apply(rules, existing, computeRules({ services: [web()], slices: [slice([BACKENDS[0]!])], node }));
    const { answers } = get(NODE_NS, "http://10.96.0.20/", 5);
    expect(new Set(answers.map((a) => a.split(" ")[0]))).toEqual(new Set([BACKENDS[1]]));
    // The old endpoint's chain is left, unreferenced, until a full sync deletes it.
    expect(inNode("iptables-save", "-t", "nat")).toContain(`${BACKENDS[0]}:8080`);
    await iptables.apply(rules, await iptables.ourChains());
    existing = rules.chains;
    expect(inNode("iptables-save", "-t", "nat")).not.toContain(`${BACKENDS[0]}:8080`);
  });

  it("a Service deleted leaves no chain of its own", async () => {
    await apply({ services: [web()], slices: [slice(BACKENDS)], node });
    expect(inNode("iptables-save", "-t", "nat")).toMatch(/EDGEPLANE-SEP-/);
    await apply({ services: [], slices: [], node });
    expect(inNode("iptables-save", "-t", "nat")).not.toMatch(/EDGEPLANE-(SVC|SEP|EXT)-/);
  });

  it("cleanup removes every rule and chain of ours", async () => {
    await apply({ services: [web()], slices: [slice(BACKENDS)], node });
    await iptables.ensureJumps();
    expect(await iptables.hasChain("nat", "EDGEPLANE-MARK-MASQ")).toBe(true);
    const done = await iptables.cleanup();
    expect(done.length).toBeGreaterThan(0);
    expect(inNode("iptables-save")).not.toContain("EDGEPLANE");
    expect(await iptables.hasChain("nat", "EDGEPLANE-MARK-MASQ")).toBe(false);
  });
});

// The nftables mode in a real kernel (as root), in the testbed's namespaces: the kernel and nft here
// support the mode; a ClusterIP and a NodePort reach both backends, affinity keeps a client on one,
// a Service without endpoints is refused at once, an endpoint change is one small transaction that
// moves new connections, a full sync after a restart deletes what is left over, and cleanup
// deletes the table. The mode choice falls back as kube-proxy's does.
import type { Service } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostCommands, Iptables, type CommandRunner } from "./iptables.ts";
import { chooseProxyMode, IptablesBackend, NftablesBackend, removeOtherModes } from "./modes.ts";
import { computeNftRules, nftScript } from "./nft-rules.ts";
import { Nftables } from "./nftables.ts";
import type { ProxyState } from "./rules.ts";
import { BACKENDS, LOCAL_CIDR, NODE_IP, startTestbed, type Testbed } from "./testbed.ts";

const node = { name: "node-a", localCIDR: LOCAL_CIDR };
let bed: Testbed;
let run: CommandRunner;
let nft: Nftables;
let backend: NftablesBackend;

beforeAll(async () => {
  bed = await startTestbed("nft");
  run = hostCommands(bed.nodeNs);
  nft = new Nftables(run);
  backend = new NftablesBackend(nft);
});

afterAll(() => bed?.stop());

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

const backendsOf = (answers: string[]) => new Set(answers.map((a) => a.split(" ")[0]));

describe("nftables mode in a network namespace", () => {
  it("this kernel and nft support the mode; auto chooses it, and says why", async () => {
    expect(await nft.support()).toMatchObject({ supported: true });
    const choice = await chooseProxyMode("auto", run);
    expect(choice.mode).toBe("nftables");
    expect(choice.reason).toMatch(/^--proxy-mode=auto: the kernel and nft \d+\.\d+\.\d+ support nftables mode$/);
  });

  it("without nft, auto falls back to iptables and nftables asked by name fails with the reason", async () => {
    const noNft: CommandRunner = (command, args, input) => (command === "nft" ? Promise.reject(new Error("spawn nft ENOENT")) : run(command, args, input));
    expect(await chooseProxyMode("auto", noNft)).toEqual({ mode: "iptables", reason: "--proxy-mode=auto: nft is not installed (Debian package nftables): spawn nft ENOENT; iptables works" });
    await expect(chooseProxyMode("nftables", noNft)).rejects.toThrow("--proxy-mode=nftables: nft is not installed (Debian package nftables): spawn nft ENOENT");
    const nothing: CommandRunner = () => Promise.reject(new Error("spawn ENOENT"));
    expect((await chooseProxyMode("auto", nothing)).mode).toBe("userspace");
  });

  it("a ClusterIP reaches every ready backend", async () => {
    await backend.sync({ services: [web()], slices: [slice(BACKENDS)], node }, true);
    expect(bed.inNode("nft", "list", "tables")).toContain("table ip edgeplane");
    const { answers } = bed.get(bed.nodeNs, "http://10.96.0.20/", 30);
    expect(backendsOf(answers)).toEqual(new Set(BACKENDS));
  });

  it("a NodePort reaches the backends, its traffic masqueraded to the node's address", async () => {
    const { answers } = bed.get(bed.podNs, `http://${NODE_IP}:30080/`, 10);
    for (const answer of answers) expect(answer).toMatch(new RegExp(`^10\\.213\\.0\\.[23] ${NODE_IP.replaceAll(".", "\\.")}$`));
  });

  it("sessionAffinity ClientIP keeps a client on one backend", async () => {
    await backend.sync({ services: [web({ sessionAffinity: "ClientIP" })], slices: [slice(BACKENDS)], node }, false);
    const { answers } = bed.get(bed.nodeNs, "http://10.96.0.20/", 10);
    expect(backendsOf(answers).size).toBe(1);
    expect(BACKENDS).toContain([...backendsOf(answers)][0]);
  });

  it("without endpoints the ClusterIP and the NodePort refuse connections at once", async () => {
    await backend.sync({ services: [web()], slices: [slice([])], node }, false);
    const cluster = bed.get(bed.nodeNs, "http://10.96.0.20/", 3);
    expect(cluster.answers).toEqual(["ECONNREFUSED", "ECONNREFUSED", "ECONNREFUSED"]);
    expect(cluster.ms).toBeLessThan(1000);
    expect(bed.get(bed.podNs, `http://${NODE_IP}:30080/`, 1).answers).toEqual(["ECONNREFUSED"]);
  });

  it("an endpoint change is one transaction of the changed chains and elements, and moves new connections", async () => {
    const before: ProxyState = { services: [web()], slices: [slice([BACKENDS[0]!])], node };
    const after: ProxyState = { services: [web()], slices: [slice([BACKENDS[1]!])], node };
    await backend.sync(before, false);
    expect(backendsOf(bed.get(bed.nodeNs, "http://10.96.0.20/", 3).answers)).toEqual(new Set([BACKENDS[0]]));
    // The transaction: the new endpoint's chain, the service chain, the old chain deleted; no map element moves.
    expect(nftScript(computeNftRules(after), computeNftRules(before)).split("\n").filter(Boolean)).toHaveLength(8);
    await backend.sync(after, false);
    expect(backendsOf(bed.get(bed.nodeNs, "http://10.96.0.20/", 5).answers)).toEqual(new Set([BACKENDS[1]]));
    expect(bed.inNode("nft", "list", "table", "ip", "edgeplane")).not.toContain(`${BACKENDS[0]}/8080`);
  });

  it("a restarted proxy's full sync deletes what the table holds beyond its rules", async () => {
    await backend.sync({ services: [web({ sessionAffinity: "ClientIP" }), { ...web(), metadata: { namespace: "default", name: "old" } }], slices: [slice(BACKENDS)], node }, false);
    expect(bed.inNode("nft", "list", "table", "ip", "edgeplane")).toMatch(/affinity-/);
    const restarted = new NftablesBackend(new Nftables(run));
    await restarted.sync({ services: [web()], slices: [slice(BACKENDS)], node }, true);
    const table = bed.inNode("nft", "list", "table", "ip", "edgeplane");
    expect(table).not.toMatch(/affinity-/);
    expect(table).not.toContain("default/old/");
    expect(backendsOf(bed.get(bed.nodeNs, "http://10.96.0.20/", 30).answers)).toEqual(new Set(BACKENDS));
    backend = restarted;
  });

  it("when someone deletes the table, the backend says so and a full sync writes it again", async () => {
    bed.inNode("nft", "delete", "table", "ip", "edgeplane");
    expect(await backend.intact()).toBe(false);
    await backend.sync({ services: [web()], slices: [slice(BACKENDS)], node }, true);
    expect(await backend.intact()).toBe(true);
    expect(backendsOf(bed.get(bed.nodeNs, "http://10.96.0.20/", 20).answers)).toEqual(new Set(BACKENDS));
  });

  it("starting in nftables mode removes the chains an iptables-mode agent left, and the other way round", async () => {
    await new IptablesBackend(new Iptables(run)).sync({ services: [web()], slices: [slice(BACKENDS)], node }, true);
    expect(bed.inNode("iptables-save", "-t", "nat")).toContain("EDGEPLANE-SERVICES");
    const removed = await removeOtherModes("nftables", run);
    expect(removed.join("\n")).toMatch(/deleted \d+ nat and \d+ filter chains of the service proxy/);
    expect(bed.inNode("iptables-save")).not.toContain("EDGEPLANE");
    expect(bed.inNode("nft", "list", "tables")).toContain("table ip edgeplane");
    expect(backendsOf(bed.get(bed.nodeNs, "http://10.96.0.20/", 10).answers)).toEqual(new Set(BACKENDS));
  });

  it("cleanup deletes the table", async () => {
    expect(await nft.cleanup()).toEqual(["deleted the nftables table ip edgeplane of the service proxy"]);
    expect(bed.inNode("nft", "list", "tables")).not.toContain("edgeplane");
    expect(await nft.cleanup()).toEqual([]);
  });
});

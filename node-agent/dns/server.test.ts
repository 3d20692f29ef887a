// The cluster DNS server on loopback, asked over real UDP and TCP: cluster names answered from the
// caches, other names forwarded to an upstream (a second server standing in for the host's
// resolver) and cached, clients outside the allowed ones refused, oversized UDP answers truncated.
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import type { Service } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import dnsPacket, { type DecodedPacket, type RecordType } from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterView } from "./answers.ts";
import { ClusterDNS, resolvConfUpstreams } from "./server.ts";

const services: Service[] = [
  { metadata: { namespace: "default", name: "web" }, spec: { clusterIP: "10.96.0.20", ports: [{ port: 80 }] } },
  { metadata: { namespace: "default", name: "many" }, spec: { clusterIP: "None", ports: [{ port: 80 }] } },
];
const slices: EndpointSlice[] = [{
  metadata: { namespace: "default", name: "many-1", labels: { "kubernetes.io/service-name": "many" } },
  addressType: "IPv4", ports: [{ port: 80 }],
  endpoints: Array.from({ length: 60 }, (_, i) => ({ addresses: [`10.244.0.${i + 2}`], conditions: { ready: true } })),
}];

function viewOf(list: Service[]): ClusterView & { lookups: number } {
  const view = {
    lookups: 0,
    service: (namespace: string, name: string) => {
      view.lookups++;
      return list.find((s) => s.metadata?.namespace === namespace && s.metadata?.name === name);
    },
    slices: (namespace: string, name: string) => slices.filter((s) => s.metadata?.namespace === namespace && s.metadata?.labels?.["kubernetes.io/service-name"] === name),
  };
  return view;
}

// The upstream answers the "example.test" zone, as the host's resolver would answer the internet.
const upstreamView = viewOf([{ metadata: { namespace: "ns", name: "www" }, spec: { clusterIP: "192.0.2.80", ports: [{ port: 80 }] } }]);
const upstream = new ClusterDNS({ view: upstreamView, domain: "example.test", upstreams: [], host: "127.0.0.1", port: 0, log: () => {} });
let server: ClusterDNS;
let port: number;

beforeAll(async () => {
  const upstreamPort = await upstream.start();
  server = new ClusterDNS({
    view: viewOf(services), domain: "cluster.local", upstreams: [{ address: "127.0.0.1", port: upstreamPort }],
    host: "127.0.0.1", port: 0, accepts: (address) => address.startsWith("127."), log: () => {},
  });
  port = await server.start();
});

afterAll(async () => {
  await server?.close();
  await upstream.close();
});

let nextId = 1;

function udpQuery(name: string, type: RecordType, to = port): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    const timer = setTimeout(() => reject(new Error("no answer in 3 s")), 3000);
    socket.on("message", (message) => {
      clearTimeout(timer);
      socket.close();
      resolve(dnsPacket.decode(message));
    });
    socket.send(dnsPacket.encode({ type: "query", id: nextId++, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: "IN" }] }), to, "127.0.0.1");
  });
}

function tcpQuery(name: string, type: RecordType): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let buffered = Buffer.alloc(0);
    socket.on("error", reject);
    socket.on("data", (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        socket.end();
        resolve(dnsPacket.decode(buffered.subarray(2)));
      }
    });
    socket.write(dnsPacket.streamEncode({ type: "query", id: nextId++, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: "IN" }] }));
  });
}

const rcode = (packet: DecodedPacket) => (packet as DecodedPacket & { rcode: string }).rcode;
const addresses = (packet: DecodedPacket) => (packet.answers ?? []).map((r) => ("data" in r ? r.data : undefined));

describe("cluster DNS server", () => {
  it("answers a Service's name with its ClusterIP over UDP, authoritatively", async () => {
    const answer = await udpQuery("web.default.svc.cluster.local", "A");
    expect(rcode(answer)).toBe("NOERROR");
    expect(answer.flag_aa).toBe(true);
    expect(addresses(answer)).toEqual(["10.96.0.20"]);
  });

  it("answers NXDOMAIN with the zone's SOA for a name that does not exist", async () => {
    const answer = await udpQuery("nope.default.svc.cluster.local", "A");
    expect(rcode(answer)).toBe("NXDOMAIN");
    expect(answer.authorities?.[0]?.type).toBe("SOA");
  });

  it("forwards other names to the host's resolver and keeps the answer for its TTL", async () => {
    const before = upstreamView.lookups;
    const first = await udpQuery("www.ns.svc.example.test", "A");
    const second = await udpQuery("www.ns.svc.example.test", "A");
    expect(addresses(first)).toEqual(["192.0.2.80"]);
    expect(addresses(second)).toEqual(["192.0.2.80"]);
    expect(second.id).toBe(first.id! + 1);
    expect(upstreamView.lookups - before).toBe(1);
  });

  it("truncates an answer too big for UDP, and gives it whole over TCP", async () => {
    const udp = await udpQuery("many.default.svc.cluster.local", "A");
    expect(udp.flag_tc).toBe(true);
    const tcp = await tcpQuery("many.default.svc.cluster.local", "A");
    expect(tcp.flag_tc).toBe(false);
    expect(tcp.answers).toHaveLength(60);
  });

  it("answers a repeated question from its cache until the view changes, and afresh after", async () => {
    const list: Service[] = [{ metadata: { namespace: "default", name: "moving" }, spec: { clusterIP: "10.96.0.30", ports: [{ port: 80 }] } }];
    const view = viewOf(list);
    const cached = new ClusterDNS({ view, domain: "cluster.local", upstreams: [], host: "127.0.0.1", port: 0, log: () => {} });
    const cachedPort = await cached.start();
    try {
      const first = await udpQuery("moving.default.svc.cluster.local", "A", cachedPort);
      const second = await udpQuery("moving.default.svc.cluster.local", "A", cachedPort);
      expect(addresses(second)).toEqual(["10.96.0.30"]);
      expect(second.id).toBe(first.id! + 1);
      expect(view.lookups).toBe(1);
      list[0]!.spec!.clusterIP = "10.96.0.31";
      expect(addresses(await udpQuery("moving.default.svc.cluster.local", "A", cachedPort))).toEqual(["10.96.0.30"]);
      cached.viewChanged();
      expect(addresses(await udpQuery("moving.default.svc.cluster.local", "A", cachedPort))).toEqual(["10.96.0.31"]);
    } finally {
      await cached.close();
    }
  });

  it("refuses clients it does not serve", async () => {
    const closed = new ClusterDNS({ view: viewOf(services), domain: "cluster.local", upstreams: [], host: "127.0.0.1", port: 0, accepts: () => false, log: () => {} });
    const closedPort = await closed.start();
    try {
      expect(rcode(await udpQuery("web.default.svc.cluster.local", "A", closedPort))).toBe("REFUSED");
    } finally {
      await closed.close();
    }
  });

  it("reads the host's resolvers from resolv.conf", () => {
    expect(resolvConfUpstreams("# generated\nsearch example.com\nnameserver 10.0.0.2\nnameserver  10.0.0.3\noptions ndots:1\n")).toEqual([
      { address: "10.0.0.2", port: 53 }, { address: "10.0.0.3", port: 53 },
    ]);
  });
});

// Cluster DNS answers, table-driven: a name and type asked, the records (or NXDOMAIN) that come back.
import type { Service } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import type { RecordType } from "dns-packet";
import { describe, expect, it } from "vitest";
import { clusterAnswer, type ClusterView } from "./answers.ts";

const services: Service[] = [
  { metadata: { namespace: "default", name: "web" }, spec: { clusterIP: "10.96.0.20", ports: [{ name: "http", port: 80, protocol: "TCP" }] } },
  { metadata: { namespace: "default", name: "db" }, spec: { clusterIP: "None", ports: [{ name: "pg", port: 5432, protocol: "TCP" }] } },
  { metadata: { namespace: "default", name: "search" }, spec: { type: "ExternalName", externalName: "search.example.com" } },
];
const slices: EndpointSlice[] = [{
  metadata: { namespace: "default", name: "db-1", labels: { "kubernetes.io/service-name": "db" } },
  addressType: "IPv4", ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
  endpoints: [
    { addresses: ["10.244.0.5"], hostname: "db-0", conditions: { ready: true } },
    { addresses: ["10.244.1.6"], conditions: { ready: true } },
    { addresses: ["10.244.2.7"], hostname: "db-2", conditions: { ready: false } },
  ],
}];

const view: ClusterView = {
  service: (namespace, name) => services.find((s) => s.metadata?.namespace === namespace && s.metadata?.name === name),
  slices: (namespace, name) => slices.filter((s) => s.metadata?.namespace === namespace && s.metadata?.labels?.["kubernetes.io/service-name"] === name),
};

/** The answer as "rcode: records", each record as "type data". */
function ask(name: string, type: RecordType): string {
  const answer = clusterAnswer({ name, type, class: "IN" }, view, "cluster.local");
  if (!answer) return "forwarded";
  const data = answer.answers.map((r) => r.type === "SOA" ? `SOA ${r.data.mname} ${r.data.rname}` : `${r.type} ${"data" in r ? (typeof r.data === "object" ? JSON.stringify(r.data) : r.data) : ""}`);
  const soa = answer.answers.length === 0 ? [`(SOA ${answer.authorities[0]?.name})`] : [];
  return `${answer.rcode}: ${[...data, ...soa].join(", ")}`;
}

const cases: [string, RecordType, string][] = [
  ["web.default.svc.cluster.local", "A", "NOERROR: A 10.96.0.20"],
  ["WEB.Default.svc.cluster.local.", "A", "NOERROR: A 10.96.0.20"],
  ["web.default.svc.cluster.local", "AAAA", "NOERROR: (SOA cluster.local)"],
  ["missing.default.svc.cluster.local", "A", "NXDOMAIN: (SOA cluster.local)"],
  ["web.other.svc.cluster.local", "A", "NXDOMAIN: (SOA cluster.local)"],
  ["db.default.svc.cluster.local", "A", "NOERROR: A 10.244.0.5, A 10.244.1.6"],
  ["db-0.db.default.svc.cluster.local", "A", "NOERROR: A 10.244.0.5"],
  ["db-2.db.default.svc.cluster.local", "A", "NXDOMAIN: (SOA cluster.local)"],
  ["_http._tcp.web.default.svc.cluster.local", "SRV", `NOERROR: SRV {"priority":0,"weight":100,"port":80,"target":"web.default.svc.cluster.local"}`],
  ["_pg._tcp.db.default.svc.cluster.local", "SRV", `NOERROR: SRV {"priority":0,"weight":100,"port":5432,"target":"db-0.db.default.svc.cluster.local"}, SRV {"priority":0,"weight":100,"port":5432,"target":"10-244-1-6.db.default.svc.cluster.local"}`],
  ["_http._udp.web.default.svc.cluster.local", "SRV", "NXDOMAIN: (SOA cluster.local)"],
  ["search.default.svc.cluster.local", "A", "NOERROR: CNAME search.example.com"],
  ["10-244-0-9.default.pod.cluster.local", "A", "NOERROR: A 10.244.0.9"],
  ["10-244-0-999.default.pod.cluster.local", "A", "NXDOMAIN: (SOA cluster.local)"],
  ["default.svc.cluster.local", "A", "NOERROR: (SOA cluster.local)"],
  ["nothing.cluster.local", "A", "NXDOMAIN: (SOA cluster.local)"],
  ["cluster.local", "SOA", "NOERROR: SOA ns.dns.cluster.local hostmaster.cluster.local"],
  ["example.com", "A", "forwarded"],
  ["web.default.svc.cluster.local.example.com", "A", "forwarded"],
];

describe("clusterAnswer", () => {
  for (const [name, type, expected] of cases) {
    it(`${name} ${type} → ${expected}`, () => {
      expect(ask(name, type)).toBe(expected);
    });
  }

  it("a headless Service's SRV answer carries the endpoints' addresses as additional records", () => {
    const answer = clusterAnswer({ name: "_pg._tcp.db.default.svc.cluster.local", type: "SRV", class: "IN" }, view, "cluster.local")!;
    expect(answer.additionals.map((r) => `${r.name} ${"data" in r ? r.data : ""}`)).toEqual([
      "db-0.db.default.svc.cluster.local 10.244.0.5", "10-244-1-6.db.default.svc.cluster.local 10.244.1.6",
    ]);
  });
});

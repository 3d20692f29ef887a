// Cluster DNS answers, as the kubernetes plugin of CoreDNS gives them (the DNS specification for
// Kubernetes): `<svc>.<ns>.svc.<domain>` A is the ClusterIP, or the ready endpoints' addresses for a
// headless Service; `<hostname>.<svc>.<ns>.svc.<domain>` a headless endpoint by its hostname;
// `_<port>._<proto>.<svc>.<ns>.svc.<domain>` SRV for named ports; `<a-b-c-d>.<ns>.pod.<domain>` the
// address its name spells; ExternalName a CNAME; a name of the zone that does not exist NXDOMAIN
// with the zone's SOA. Names outside the zone are for the forwarder.
import type { Service } from "kubernetes-types/core/v1";
import type { Endpoint, EndpointSlice } from "kubernetes-types/discovery/v1";
import type { Answer, Question, SoaAnswer } from "dns-packet";

/** What the answers read: the Service and EndpointSlice caches. */
export interface ClusterView {
  service(namespace: string, name: string): Service | undefined;
  slices(namespace: string, service: string): EndpointSlice[];
}

export type Rcode = "NOERROR" | "NXDOMAIN";

export interface ClusterAnswer {
  rcode: Rcode;
  answers: Answer[];
  /** The SOA when there is no answer (NXDOMAIN, or a name without records of the type asked). */
  authorities: Answer[];
  additionals: Answer[];
}

/** CoreDNS's kubernetes plugin TTL. */
export const TTL = 5;

function soa(domain: string): SoaAnswer {
  return {
    type: "SOA", name: domain, ttl: TTL, class: "IN",
    // The serial changes as the zone does in CoreDNS; a clock-derived one is as good to a stub resolver.
    data: { mname: `ns.dns.${domain}`, rname: `hostmaster.${domain}`, serial: Math.floor(Date.now() / 1000), refresh: 7200, retry: 1800, expire: 86400, minimum: TTL },
  };
}

function nxdomain(domain: string): ClusterAnswer {
  return { rcode: "NXDOMAIN", answers: [], authorities: [soa(domain)], additionals: [] };
}

function records(domain: string, answers: Answer[], additionals: Answer[] = []): ClusterAnswer {
  return { rcode: "NOERROR", answers, authorities: answers.length ? [] : [soa(domain)], additionals };
}

/** Whether a question asks for this record type (ANY, type 255, asks for all; dns-packet's types leave it out). */
function asks(question: Question, type: "A" | "SRV"): boolean {
  return question.type === type || String(question.type) === "ANY";
}

function a(name: string, ip: string): Answer {
  return { type: "A", name, ttl: TTL, class: "IN", data: ip };
}

/** Ready endpoints, or every one when the Service publishes not-ready addresses. */
function publishedEndpoints(service: Service, slices: EndpointSlice[]): Endpoint[] {
  const all = slices.filter((s) => s.addressType === "IPv4").flatMap((s) => s.endpoints ?? []);
  return service.spec?.publishNotReadyAddresses ? all : all.filter((e) => e.conditions?.ready ?? true);
}

function headless(service: Service): boolean {
  return service.spec?.clusterIP === "None";
}

/** The name an endpoint of a headless Service goes by: its hostname, else its address with dashes. */
function endpointLabel(endpoint: Endpoint): string {
  return endpoint.hostname ?? endpoint.addresses[0]!.replaceAll(".", "-");
}

function serviceRecords(question: Question, service: Service, slices: EndpointSlice[], name: string, domain: string): ClusterAnswer {
  const spec = service.spec ?? {};
  if (spec.type === "ExternalName") {
    // Any type: the CNAME is the answer, the resolver follows it.
    return records(domain, [{ type: "CNAME", name: question.name, ttl: TTL, class: "IN", data: spec.externalName ?? "" }]);
  }
  if (!asks(question, "A")) return records(domain, []);
  if (!headless(service)) return records(domain, spec.clusterIP ? [a(question.name, spec.clusterIP)] : []);
  return records(domain, publishedEndpoints(service, slices).map((e) => a(question.name, e.addresses[0]!)));
}

function srvRecords(question: Question, service: Service, slices: EndpointSlice[], port: string, protocol: string, svcName: string, domain: string): ClusterAnswer {
  const servicePort = (service.spec?.ports ?? []).find((p) => p.name === port && (p.protocol ?? "TCP").toLowerCase() === protocol);
  if (!servicePort || service.spec?.type === "ExternalName") return nxdomain(domain);
  if (!asks(question, "SRV")) return records(domain, []);
  if (!headless(service)) {
    const srv: Answer = { type: "SRV", name: question.name, ttl: TTL, class: "IN", data: { priority: 0, weight: 100, port: servicePort.port, target: svcName } };
    return records(domain, [srv], service.spec?.clusterIP ? [a(svcName, service.spec.clusterIP)] : []);
  }
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  for (const slice of slices) {
    const slicePort = (slice.ports ?? []).find((p) => p.name === port && (p.protocol ?? "TCP").toLowerCase() === protocol);
    if (slicePort?.port === undefined || slicePort.port === null) continue;
    for (const endpoint of publishedEndpoints(service, [slice])) {
      const target = `${endpointLabel(endpoint)}.${svcName}`;
      answers.push({ type: "SRV", name: question.name, ttl: TTL, class: "IN", data: { priority: 0, weight: 100, port: slicePort.port, target } });
      additionals.push(a(target, endpoint.addresses[0]!));
    }
  }
  return records(domain, answers, additionals);
}

/** `a-b-c-d` as an IPv4 address, or undefined. */
function dashedIP(label: string): string | undefined {
  const parts = label.split("-");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.join(".");
}

/** The answer for a name of the cluster zone, or undefined for a name outside it (to be forwarded). */
export function clusterAnswer(question: Question, view: ClusterView, domain: string): ClusterAnswer | undefined {
  const name = question.name.toLowerCase().replace(/\.$/, "");
  if (name !== domain && !name.endsWith(`.${domain}`)) return undefined;
  const labels = name === domain ? [] : name.slice(0, -domain.length - 1).split(".");
  if (labels.length === 0) return records(domain, question.type === "SOA" ? [soa(domain)] : []);
  const zone = labels.at(-1);
  if (zone === "pod" && labels.length === 3) {
    const ip = dashedIP(labels[0]!);
    if (!ip) return nxdomain(domain);
    return records(domain, asks(question, "A") ? [a(question.name, ip)] : []);
  }
  if (zone !== "svc") return labels.length === 1 && zone === "pod" ? records(domain, []) : nxdomain(domain);
  // <ns>.svc and svc exist as names (they hold Services) without records of their own.
  if (labels.length <= 2) return records(domain, []);
  const [ns, svc] = [labels.at(-2)!, labels.at(-3)!];
  const service = view.service(ns, svc);
  if (!service) return nxdomain(domain);
  const slices = view.slices(ns, svc);
  const svcName = `${svc}.${ns}.svc.${domain}`;
  if (labels.length === 3) return serviceRecords(question, service, slices, svcName, domain);
  if (labels.length === 5 && labels[0]!.startsWith("_") && labels[1]!.startsWith("_")) {
    return srvRecords(question, service, slices, labels[0]!.slice(1), labels[1]!.slice(1), svcName, domain);
  }
  if (labels.length === 4 && headless(service)) {
    const endpoint = publishedEndpoints(service, slices).find((e) => endpointLabel(e) === labels[0]);
    if (!endpoint) return nxdomain(domain);
    return records(domain, asks(question, "A") ? [a(question.name, endpoint.addresses[0]!)] : []);
  }
  return nxdomain(domain);
}

// Ingress, IngressClass and NetworkPolicy rows as kubectl shows them, at a fixed time.
import type { Ingress, IngressClass, NetworkPolicy } from "kubernetes-types/networking/v1";
import { describe, expect, it } from "vitest";
import { networkingPrinters } from "./networking.ts";
import type { TablePrinter } from "./table.ts";

const now = new Date("2024-05-01T12:00:00Z");
const meta = (name: string) => ({ name, creationTimestamp: new Date(now.getTime() - 5 * 60_000).toISOString() });
const backend = { service: { name: "web", port: { number: 80 } } };

function printer<T>(key: string): TablePrinter<T> {
  const found = networkingPrinters[key];
  if (!found) throw new Error(`no printer for ${key}`);
  return found;
}

describe("column definitions", () => {
  it.each([
    ["networking.k8s.io/Ingress", "Name,Class,Hosts,Address,Ports,Age"],
    ["networking.k8s.io/IngressClass", "Name,Controller,Parameters,Age"],
    ["networking.k8s.io/NetworkPolicy", "Name,Pod-Selector,Age"],
  ])("%s", (key, names) => {
    const columns = printer(key).columns;
    expect(columns.map((c) => c.name)).toEqual(names.split(","));
    expect(columns.every((c) => c.priority === 0)).toBe(true);
  });
});

describe("Ingress", () => {
  const ingresses = printer<Ingress>("networking.k8s.io/Ingress");
  const rule = (host?: string) => ({ host, http: { paths: [{ path: "/", pathType: "Prefix", backend }] } });
  it.each<[string, Ingress, unknown[]]>([
    ["a default backend only", { metadata: meta("catch-all"), spec: { defaultBackend: backend } }, ["catch-all", "<none>", "*", "", "80", "5m"]],
    [
      "a class, hosts, TLS and a load balancer",
      {
        metadata: meta("web"),
        spec: { ingressClassName: "nginx", rules: [rule("b.example.com"), rule("a.example.com")], tls: [{ hosts: ["a.example.com"] }] },
        status: { loadBalancer: { ingress: [{ ip: "10.0.0.9" }, { hostname: "lb.example.com" }, { ip: "10.0.0.1" }, { ip: "10.0.0.9" }] } },
      },
      ["web", "nginx", "b.example.com,a.example.com", "10.0.0.1,10.0.0.9,lb.example.com", "80, 443", "5m"],
    ],
    [
      "more rules than shown, some without a host",
      { metadata: meta("many"), spec: { rules: [rule("a"), rule(), rule("b"), rule("c"), rule("d"), rule()] } },
      ["many", "<none>", "a,b,c + 3 more...", "", "80", "5m"],
    ],
    ["rules without hosts", { metadata: meta("any"), spec: { rules: [rule(), rule()] } }, ["any", "<none>", "*", "", "80", "5m"]],
  ])("%s", (_, object, expected) => {
    expect(ingresses.cells(object, now)).toEqual(expected);
  });
});

describe("IngressClass", () => {
  const classes = printer<IngressClass>("networking.k8s.io/IngressClass");
  it.each<[string, IngressClass, unknown[]]>([
    ["no parameters", { metadata: meta("nginx"), spec: { controller: "k8s.io/ingress-nginx" } }, ["nginx", "k8s.io/ingress-nginx", "<none>", "5m"]],
    [
      "parameters in an API group",
      { metadata: meta("external"), spec: { controller: "example.com/lb", parameters: { apiGroup: "k8s.example.com", kind: "IngressParameters", name: "external-lb" } } },
      ["external", "example.com/lb", "IngressParameters.k8s.example.com/external-lb", "5m"],
    ],
    [
      "core parameters",
      { metadata: meta("cm"), spec: { controller: "example.com/lb", parameters: { kind: "ConfigMap", name: "lb-config", namespace: "infra", scope: "Namespace" } } },
      ["cm", "example.com/lb", "ConfigMap/lb-config", "5m"],
    ],
  ])("%s", (_, object, expected) => {
    expect(classes.cells(object, now)).toEqual(expected);
  });
});

describe("NetworkPolicy", () => {
  const policies = printer<NetworkPolicy>("networking.k8s.io/NetworkPolicy");
  it.each<[string, NetworkPolicy, unknown[]]>([
    ["every pod", { metadata: meta("deny-all"), spec: { podSelector: {}, policyTypes: ["Ingress"] } }, ["deny-all", "<none>", "5m"]],
    [
      "labels and expressions",
      { metadata: meta("web"), spec: { podSelector: { matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "In", values: ["front", "edge"] }] } } },
      ["web", "app=web,tier in (edge,front)", "5m"],
    ],
  ])("%s", (_, object, expected) => {
    expect(policies.cells(object, now)).toEqual(expected);
  });
});

// The EndpointSlice controller's decisions: which endpoints a Service's pods make and how they are
// laid out in slices.
import type { Node, Pod, Service } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import { describe, expect, it } from "vitest";
import { desiredEndpoints, MAX_ENDPOINTS_PER_SLICE, planSlices } from "./endpointslice.ts";

const service = (extra: Partial<Service["spec"]> = {}): Service => ({
  metadata: { name: "web", namespace: "ns", uid: "svc-uid", labels: { app: "web" } },
  spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }], ...extra },
});

function pod(name: string, { ip = `10.244.0.${name.length}`, ready = true, terminating = false, phase = "Running", port = 8080, node = "n1" }: { ip?: string; ready?: boolean; terminating?: boolean; phase?: string; port?: number | null; node?: string } = {}): Pod {
  return {
    metadata: { name, namespace: "ns", uid: `uid-${name}`, labels: { app: "web" }, ...(terminating ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) },
    spec: { nodeName: node, containers: [{ name: "c", ...(port === null ? {} : { ports: [{ name: "http", containerPort: port }] }) }] },
    status: { phase, ...(ip ? { podIP: ip } : {}), conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  };
}
const nodes: Record<string, Node> = { n1: { metadata: { name: "n1", labels: { "topology.kubernetes.io/zone": "z1" } } } };
const nodeOf = (name: string) => nodes[name];

describe("desiredEndpoints", () => {
  it("makes an endpoint per addressed pod with its conditions, node, zone and reference, named ports resolved per pod", () => {
    const groups = desiredEndpoints(service(), [pod("a"), pod("b", { ready: false, port: 9090 }), pod("c", { terminating: true }), pod("d", { ip: "" }), pod("e", { phase: "Succeeded" }), pod("f", { node: "gone" })], nodeOf);
    expect(groups.map((g) => [g.ports, g.endpoints.map((e) => [e.targetRef!.name, e.conditions])])).toEqual([
      [[{ name: "http", port: 8080, protocol: "TCP" }], [["a", { ready: true, serving: true, terminating: false }], ["c", { ready: false, serving: true, terminating: true }]]],
      [[{ name: "http", port: 9090, protocol: "TCP" }], [["b", { ready: false, serving: false, terminating: false }]]],
    ]);
    expect(groups[0]!.endpoints[0]).toEqual({
      addresses: ["10.244.0.1"], conditions: { ready: true, serving: true, terminating: false }, nodeName: "n1", zone: "z1",
      targetRef: { kind: "Pod", namespace: "ns", name: "a", uid: "uid-a" },
    });
  });

  it("marks every endpoint ready when the Service publishes not-ready addresses, and keeps pods whose port has no name match out of that port", () => {
    const groups = desiredEndpoints(service({ publishNotReadyAddresses: true }), [pod("a", { ready: false }), pod("nameless", { port: null })], nodeOf);
    expect(groups.map((g) => [g.ports.length, g.endpoints.map((e) => [e.targetRef!.name, e.conditions!.ready])])).toEqual([[1, [["a", true]]], [0, [["nameless", true]]]]);
  });
});

const slice = (name: string, endpoints: string[], ports = [{ name: "http", port: 8080, protocol: "TCP" }]): EndpointSlice => ({
  metadata: { name, namespace: "ns", resourceVersion: "1", labels: { app: "web", "kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" }, ownerReferences: [{ apiVersion: "v1", kind: "Service", name: "web", uid: "svc-uid", controller: true, blockOwnerDeletion: true }] },
  addressType: "IPv4", ports,
  endpoints: endpoints.map((n) => desiredEndpoints(service(), [pod(n)], nodeOf)[0]!.endpoints[0]!),
});

describe("planSlices", () => {
  it("creates one labelled, owned slice per 100 endpoints", () => {
    const pods = Array.from({ length: 250 }, (_, i) => pod(`p${String(i).padStart(3, "0")}`, { ip: `10.244.${i >> 8}.${i & 255}` }));
    const plan = planSlices(service(), desiredEndpoints(service(), pods, nodeOf), []);
    expect(plan.create.map((s) => s.endpoints.length)).toEqual([MAX_ENDPOINTS_PER_SLICE, MAX_ENDPOINTS_PER_SLICE, 50]);
    expect(plan.create[0]).toMatchObject({
      addressType: "IPv4", ports: [{ name: "http", port: 8080, protocol: "TCP" }],
      metadata: { generateName: "web-", labels: { app: "web", "kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" }, ownerReferences: [{ kind: "Service", name: "web", uid: "svc-uid", controller: true }] },
    });
    expect(plan.update).toEqual([]);
  });

  it("changes nothing when the slices are as desired", () => {
    const plan = planSlices(service(), desiredEndpoints(service(), [pod("a"), pod("bb")], nodeOf), [slice("web-x", ["a", "bb"])]);
    expect(plan).toEqual({ create: [], update: [], delete: [] });
  });

  it("updates an endpoint in its slice, drops the gone, puts the new where there is room, and deletes emptied slices", () => {
    const existing = [slice("web-1", ["a", "bb"]), slice("web-2", ["ccc"])];
    const plan = planSlices(service(), desiredEndpoints(service(), [pod("a", { ready: false }), pod("dddd")], nodeOf), existing);
    expect(plan.create).toEqual([]);
    expect(plan.update.map((s) => [s.metadata!.name, s.endpoints.map((e) => `${e.targetRef!.name}:${e.conditions!.ready}`)])).toEqual([["web-1", ["a:false", "dddd:true"]]]);
    expect(plan.delete.map((s) => s.metadata!.name)).toEqual(["web-2"]);
  });

  it("keeps one empty placeholder slice for a Service with no endpoints", () => {
    expect(planSlices(service(), [], []).create).toEqual([expect.objectContaining({ endpoints: [], addressType: "IPv4" })]);
    const plan = planSlices(service(), [], [slice("web-1", ["a"]), slice("web-2", ["bb"])]);
    expect(plan.update.map((s) => [s.metadata!.name, s.endpoints, s.ports])).toEqual([["web-1", [], undefined]]);
    expect(plan.delete.map((s) => s.metadata!.name)).toEqual(["web-2"]);
  });
});

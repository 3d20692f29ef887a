// The Endpoints controller's subsets: ready and not-ready addresses grouped by resolved ports, and
// the 1000-address cap.
import type { Pod, Service } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { desiredEndpoints, desiredSubsets, truncateSubsets } from "./endpoints.ts";

const service = (extra: Partial<Service["spec"]> = {}): Service => ({
  metadata: { name: "web", namespace: "ns", labels: { app: "web" } },
  spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }], ...extra },
});
const pod = (name: string, ip: string, { ready = true, terminating = false, port = 8080 } = {}): Pod => ({
  metadata: { name, namespace: "ns", uid: `uid-${name}`, ...(terminating ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) },
  spec: { nodeName: "n1", containers: [{ name: "c", ports: [{ name: "http", containerPort: port }] }] },
  status: { phase: "Running", podIP: ip, conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
});

describe("desiredSubsets", () => {
  it("puts ready pods in addresses and the others in notReadyAddresses, one subset per resolved port, terminating pods left out", () => {
    const subsets = desiredSubsets(service(), [pod("b", "10.0.0.2", { ready: false }), pod("a", "10.0.0.1"), pod("c", "10.0.0.3", { port: 9090 }), pod("t", "10.0.0.4", { terminating: true })]);
    expect(subsets).toEqual([
      {
        addresses: [{ ip: "10.0.0.1", nodeName: "n1", targetRef: { kind: "Pod", namespace: "ns", name: "a", uid: "uid-a" } }],
        notReadyAddresses: [{ ip: "10.0.0.2", nodeName: "n1", targetRef: { kind: "Pod", namespace: "ns", name: "b", uid: "uid-b" } }],
        ports: [{ name: "http", port: 8080, protocol: "TCP" }],
      },
      { addresses: [{ ip: "10.0.0.3", nodeName: "n1", targetRef: { kind: "Pod", namespace: "ns", name: "c", uid: "uid-c" } }], ports: [{ name: "http", port: 9090, protocol: "TCP" }] },
    ]);
  });

  it("publishes every address as ready (terminating ones too) when asked", () => {
    const subsets = desiredSubsets(service({ publishNotReadyAddresses: true }), [pod("a", "10.0.0.1", { ready: false }), pod("t", "10.0.0.4", { terminating: true })]);
    expect(subsets.map((s) => [s.addresses?.map((a) => a.ip), s.notReadyAddresses])).toEqual([[["10.0.0.1", "10.0.0.4"], undefined]]);
  });
});

describe("the 1000-address cap", () => {
  it("keeps ready addresses first and says it truncated", () => {
    const pods = Array.from({ length: 1200 }, (_, i) => pod(`p${i}`, `10.0.${i >> 8}.${i & 255}`, { ready: i % 2 === 0 }));
    const endpoints = desiredEndpoints(service(), pods, undefined);
    const [subset] = endpoints.subsets!;
    expect([subset!.addresses!.length, subset!.notReadyAddresses!.length]).toEqual([600, 400]);
    expect(endpoints.metadata!.annotations).toEqual({ "endpoints.kubernetes.io/over-capacity": "truncated" });
    expect(endpoints.metadata!.labels).toEqual({ app: "web", "endpointslice.kubernetes.io/skip-mirror": "true" });
    expect(truncateSubsets(endpoints.subsets!, 2000).truncated).toBe(false);
  });

  it("drops the annotation once the Service fits again", () => {
    const existing = desiredEndpoints(service(), [], undefined);
    existing.metadata!.annotations = { "endpoints.kubernetes.io/over-capacity": "truncated", other: "kept" };
    expect(desiredEndpoints(service(), [pod("a", "10.0.0.1")], existing).metadata!.annotations).toEqual({ other: "kept" });
  });
});

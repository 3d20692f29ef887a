// Node admission as the kubelet does it: pods that do not fit what is left of the node's
// allocatable, or ask for a host port another admitted pod holds, are rejected with kube's reason
// and message; sidecars, init containers and overhead count as kube counts them.
import type { Container, Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { admitPod, podRequest } from "./admission.ts";

const allocatable = { cpu: "2", memory: "4Gi", "ephemeral-storage": "10Gi", pods: "3" };

function pod(name: string, containers: Partial<Container>[], extra: Partial<NonNullable<Pod["spec"]>> = {}): Pod {
  return { metadata: { name, namespace: "default" }, spec: { containers: containers.map((c, i) => ({ name: `c${i}`, image: "busybox", ...c })), ...extra } };
}
const asking = (cpu?: string, memory?: string): Partial<Container> => ({ resources: { requests: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } } });

describe("admitPod", () => {
  it("admits a pod that fits next to the admitted ones", () => {
    expect(admitPod(pod("a", [asking("1", "1Gi")]), allocatable, [pod("b", [asking("500m", "1Gi")])])).toEqual({ admit: true });
  });

  it("rejects a pod asking for more cpu or memory than is left: OutOfcpu, OutOfmemory", () => {
    expect(admitPod(pod("a", [asking("1500m")]), allocatable, [pod("b", [asking("1")])])).toEqual({
      admit: false, reason: "OutOfcpu", message: "Node didn't have enough resource: cpu, requested: 1500, used: 1000, capacity: 2000",
    });
    expect(admitPod(pod("a", [asking(undefined, "3Gi")]), allocatable, [pod("b", [asking(undefined, "2Gi")])])).toEqual({
      admit: false, reason: "OutOfmemory", message: "Node didn't have enough resource: memory, requested: 3221225472, used: 2147483648, capacity: 4294967296",
    });
  });

  it("rejects a pod beyond the node's pod count: OutOfpods", () => {
    expect(admitPod(pod("d", [{}]), allocatable, [pod("a", [{}]), pod("b", [{}]), pod("c", [{}])])).toEqual({
      admit: false, reason: "OutOfpods", message: "Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3",
    });
  });

  it("rejects a host port another pod holds (any address, same protocol), and allows another protocol", () => {
    const web = pod("web", [{ ports: [{ containerPort: 80, hostPort: 8080 }] }]);
    expect(admitPod(pod("other", [{ ports: [{ containerPort: 80, hostPort: 8080, hostIP: "127.0.0.1" }] }]), allocatable, [web])).toEqual({
      admit: false, reason: "NodePorts", message: "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports",
    });
    expect(admitPod(pod("udp", [{ ports: [{ containerPort: 80, hostPort: 8080, protocol: "UDP" }] }]), allocatable, [web])).toEqual({ admit: true });
  });
});

describe("podRequest", () => {
  it("is the larger of the containers with sidecars and the biggest init container with the sidecars before it, plus overhead", () => {
    const p = pod("a", [asking("300m")], {
      initContainers: [
        { name: "sidecar", image: "envoy", restartPolicy: "Always", ...asking("100m") },
        { name: "migrate", image: "busybox", ...asking("1") },
      ],
      overhead: { cpu: "50m" },
    });
    expect(podRequest(p, "cpu")).toBe(1150n);
    const light = pod("b", [asking("2")], { initContainers: [{ name: "setup", image: "busybox", ...asking("1") }] });
    expect(podRequest(light, "cpu")).toBe(2000n);
  });
});

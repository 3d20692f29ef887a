// The Node as the kubelet registers and reports it: capacity and allocatable (less the kubelet's
// default eviction thresholds), nodeInfo, labels, and the conditions in the kubelet's words with
// transition times kept while a status holds.
import { describe, expect, it } from "vitest";
import { conditionsChanged, desiredConditions, registrationNode, stampConditions, type MachineFacts } from "./node-status.ts";

const facts: MachineFacts = {
  hostname: "worker-1", internalIP: "192.0.2.10", cpuCores: 4, memoryBytes: 8 * 2 ** 30, ephemeralStorageBytes: 100 * 2 ** 30,
  kernelVersion: "6.1.0-18-amd64", osImage: "Debian GNU/Linux 12 (bookworm)", architecture: "amd64", machineID: "m1", bootID: "b1",
};

describe("registrationNode", () => {
  it("registers capacity, allocatable less the eviction thresholds, addresses, labels and nodeInfo", () => {
    const node = registrationNode("worker-1", facts, { runtimeName: "containerd", runtimeVersion: "1.6.20" });
    expect(node.metadata!.labels).toMatchObject({ "kubernetes.io/hostname": "worker-1", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64" });
    expect(node.status!.capacity).toEqual({ cpu: "4", memory: "8388608Ki", "ephemeral-storage": "104857600Ki", pods: "110" });
    expect(node.status!.allocatable).toEqual({ cpu: "4", memory: "8286208Ki", "ephemeral-storage": "96636764160", pods: "110" });
    expect(node.status!.addresses).toEqual([{ type: "InternalIP", address: "192.0.2.10" }, { type: "Hostname", address: "worker-1" }]);
    expect(node.status!.nodeInfo).toMatchObject({ containerRuntimeVersion: "containerd://1.6.20", kubeletVersion: "v1.30.0-edgeplane", operatingSystem: "linux", architecture: "amd64", kernelVersion: "6.1.0-18-amd64" });
  });
});

describe("node conditions", () => {
  it("says Ready in the kubelet's words, and why not", () => {
    const ready = desiredConditions({ runtimeReady: true, networkReady: true }, false);
    expect(ready.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["MemoryPressure", "False", "KubeletHasSufficientMemory"], ["DiskPressure", "False", "KubeletHasNoDiskPressure"],
      ["PIDPressure", "False", "KubeletHasSufficientPID"], ["Ready", "True", "KubeletReady"],
    ]);
    expect(ready[3]!.message).toBe("kubelet is posting ready status");
    const notReady = desiredConditions({ runtimeReady: true, networkReady: false, message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:no CNI configuration" }, true);
    expect(notReady[0]).toMatchObject({ type: "NetworkUnavailable", status: "True" });
    expect(notReady.at(-1)).toEqual({
      type: "Ready", status: "False", reason: "KubeletNotReady",
      message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:no CNI configuration",
    });
  });

  it("keeps transition times while a status holds and notices a change", () => {
    const first = stampConditions(undefined, desiredConditions({ runtimeReady: true, networkReady: true }, false), "2026-12-07T10:00:00Z");
    const desired = desiredConditions({ runtimeReady: true, networkReady: true }, false);
    expect(conditionsChanged(first, desired)).toBe(false);
    const later = stampConditions(first, desired, "2026-12-07T10:05:00Z");
    expect(later.every((c) => c.lastTransitionTime === "2026-12-07T10:00:00Z" && c.lastHeartbeatTime === "2026-12-07T10:05:00Z")).toBe(true);
    const down = desiredConditions({ runtimeReady: false, networkReady: true }, false);
    expect(conditionsChanged(later, down)).toBe(true);
    const marked = stampConditions(later, down, "2026-12-07T10:06:00Z");
    expect(marked.find((c) => c.type === "Ready")).toMatchObject({ status: "False", lastTransitionTime: "2026-12-07T10:06:00Z" });
    expect(marked.find((c) => c.type === "MemoryPressure")!.lastTransitionTime).toBe("2026-12-07T10:00:00Z");
  });
});

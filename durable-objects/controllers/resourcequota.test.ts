// What a ResourceQuota's status.used counts, given the objects of its namespace.
import type { Pod, ResourceQuota } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { countedResource, usageFrom } from "./resourcequota.ts";

const now = Date.parse("2026-01-01T00:00:00Z");
const quota = (hard: Record<string, string>, scopes?: string[]): ResourceQuota => ({ metadata: { name: "q", namespace: "ns" }, spec: { hard, ...(scopes ? { scopes } : {}) } });

function pod(name: string, { cpu, memory, limitCpu, phase = "Running", deadline, init }: { cpu?: string; memory?: string; limitCpu?: string; phase?: string; deadline?: number; init?: string } = {}): Pod {
  const requests = { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) };
  return {
    metadata: { name },
    spec: {
      containers: [{ name: "c", resources: { requests, ...(limitCpu ? { limits: { cpu: limitCpu } } : {}) } }],
      ...(init ? { initContainers: [{ name: "i", resources: { requests: { cpu: init } } }] } : {}),
      ...(deadline !== undefined ? { activeDeadlineSeconds: deadline } : {}),
    },
    status: { phase },
  };
}

const formatted = (used: Map<string, bigint>) => Object.fromEntries([...used].map(([k, v]) => [k, Number(v) / 1000]));

describe("which resource a quota name counts", () => {
  it.each([
    ["pods", { group: "", resource: "pods" }],
    ["requests.cpu", { group: "", resource: "pods" }],
    ["memory", { group: "", resource: "pods" }],
    ["count/deployments.apps", { group: "apps", resource: "deployments" }],
    ["count/widgets.example.com", { group: "example.com", resource: "widgets" }],
    ["count/configmaps", { group: "", resource: "configmaps" }],
    ["services.nodeports", { group: "", resource: "services" }],
    ["gold.storageclass.storage.k8s.io/requests.storage", { group: "", resource: "persistentvolumeclaims" }],
    ["nvidia.com/gpu", undefined],
  ])("%s", (name, expected) => {
    expect(countedResource(name)).toEqual(expected);
  });
});

describe("usage from the namespace's objects", () => {
  it.each([
    ["pods and their requests, finished pods not counted",
      quota({ pods: "10", "requests.cpu": "4", "requests.memory": "1Gi", "limits.cpu": "4" }),
      [pod("a", { cpu: "500m", memory: "64Mi", limitCpu: "1" }), pod("b", { cpu: "250m" }), pod("c", { cpu: "1", phase: "Succeeded" })],
      { pods: 2, "requests.cpu": 0.75, "requests.memory": 64 * 1024 * 1024, "limits.cpu": 1 }],
    ["an init container larger than the containers sets the request",
      quota({ cpu: "4" }), [pod("a", { cpu: "100m", init: "2" })], { cpu: 2 }],
    ["extended resources by their requests",
      quota({ "requests.example.com/gpu": "4" }), [{ metadata: { name: "g" }, spec: { containers: [{ name: "c", resources: { requests: { "example.com/gpu": "2" } } }] }, status: { phase: "Running" } }], { "requests.example.com/gpu": 2 }],
    ["only what the quota limits",
      quota({ "count/pods": "5" }), [pod("a", { cpu: "1" })], { "count/pods": 1 }],
    ["a Terminating quota counts pods with a deadline",
      quota({ pods: "5" }, ["Terminating"]), [pod("a", { deadline: 30 }), pod("b")], { pods: 1 }],
    ["a BestEffort quota counts pods that ask for nothing",
      quota({ pods: "5" }, ["BestEffort"]), [pod("a", { cpu: "1" }), pod("b")], { pods: 1 }],
  ])("%s", (_, q, pods, expected) => {
    expect(formatted(usageFrom(q, "", "pods", pods, now))).toEqual(expected);
  });

  it.each([
    ["In", ["high"], ["a"]],
    ["NotIn", ["high"], ["b", "c"]],
    ["Exists", undefined, ["a", "b"]],
    ["DoesNotExist", undefined, ["c"]],
  ])("a PriorityClass scope selector with %s counts pods by their priority class", (operator, values, counted) => {
    const q: ResourceQuota = { metadata: { name: "q" }, spec: { hard: { pods: "9" }, scopeSelector: { matchExpressions: [{ scopeName: "PriorityClass", operator, ...(values ? { values } : {}) }] } } };
    const classed = (name: string, priorityClassName?: string): Pod => ({ ...pod(name), spec: { ...pod(name).spec!, ...(priorityClassName ? { priorityClassName } : {}) } });
    const all = [classed("a", "high"), classed("b", "low"), classed("c")];
    expect(formatted(usageFrom(q, "", "pods", all, now))).toEqual({ pods: counted.length });
  });

  it("counts other objects by name, and a scoped quota counts none of them", () => {
    const maps = [{ metadata: { name: "a" } }, { metadata: { name: "b" } }];
    expect(formatted(usageFrom(quota({ configmaps: "5", "count/configmaps": "5" }), "", "configmaps", maps, now))).toEqual({ configmaps: 2, "count/configmaps": 2 });
    expect(formatted(usageFrom(quota({ configmaps: "5" }, ["NotTerminating"]), "", "configmaps", maps, now))).toEqual({});
  });
});

// Rows for the smaller groups as kubectl shows them, for representative objects at a fixed time.
import type * as autoscalingV1 from "kubernetes-types/autoscaling/v1";
import type { HorizontalPodAutoscaler } from "kubernetes-types/autoscaling/v2";
import type { Lease } from "kubernetes-types/coordination/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import type { Event } from "kubernetes-types/events/v1";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1";
import type { ClusterRoleBinding, RoleBinding } from "kubernetes-types/rbac/v1";
import type { PriorityClass } from "kubernetes-types/scheduling/v1";
import { describe, expect, it } from "vitest";
import { otherPrinters } from "./other.ts";
import type { TablePrinter } from "./table.ts";

const now = new Date("2024-05-01T12:00:00Z");
const s = 1000;
const m = 60 * s;
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, creationTimestamp: ago(5 * m), ...extra });

function printer<T>(key: string): TablePrinter<T> {
  const found = otherPrinters[key];
  if (!found) throw new Error(`no printer for ${key}`);
  return found;
}

describe("column definitions", () => {
  it.each([
    ["coordination.k8s.io/Lease", "Name,Holder,Age", ""],
    ["discovery.k8s.io/EndpointSlice", "Name,AddressType,Ports,Endpoints,Age", ""],
    ["events.k8s.io/Event", "Last Seen,Type,Reason,Object,Message", "Subobject,Source,First Seen,Count,Name"],
    ["policy/PodDisruptionBudget", "Name,Min Available,Max Unavailable,Allowed Disruptions,Age", ""],
    ["scheduling.k8s.io/PriorityClass", "Name,Value,Global-Default,Age,PreemptionPolicy", ""],
    ["rbac.authorization.k8s.io/RoleBinding", "Name,Role,Age", "Users,Groups,ServiceAccounts"],
    ["rbac.authorization.k8s.io/ClusterRoleBinding", "Name,Role,Age", "Users,Groups,ServiceAccounts"],
    ["autoscaling/HorizontalPodAutoscaler", "Name,Reference,Targets,MinPods,MaxPods,Replicas,Age", ""],
  ])("%s", (key, normal, wide) => {
    const columns = printer(key).columns;
    expect(columns.filter((c) => c.priority === 0).map((c) => c.name)).toEqual(normal.split(","));
    expect(columns.filter((c) => c.priority === 1).map((c) => c.name)).toEqual(wide ? wide.split(",") : []);
  });
});

describe("Lease", () => {
  it.each<[Lease, unknown[]]>([
    [{ metadata: meta("kube-scheduler"), spec: { holderIdentity: "scheduler-0_1f2e", leaseDurationSeconds: 15 } }, ["kube-scheduler", "scheduler-0_1f2e", "5m"]],
    [{ metadata: meta("free"), spec: {} }, ["free", "", "5m"]],
  ])("%#", (object, expected) => {
    expect(printer<Lease>("coordination.k8s.io/Lease").cells(object, now)).toEqual(expected);
  });
});

describe("EndpointSlice", () => {
  const slices = printer<EndpointSlice>("discovery.k8s.io/EndpointSlice");
  it.each<[string, EndpointSlice, unknown[]]>([
    [
      "a slice with more endpoints than shown",
      {
        metadata: meta("web-abc12"),
        addressType: "IPv4",
        ports: [{ port: 80, name: "http" }, { name: "metrics" }, {}],
        endpoints: [{ addresses: ["10.0.0.1", "10.0.0.2"] }, { addresses: ["10.0.0.3"] }, { addresses: ["10.0.0.4"] }, { addresses: ["10.0.0.5"] }],
      },
      ["web-abc12", "IPv4", "80,metrics,*", "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...", "5m"],
    ],
    [
      "a slice with more ports than shown",
      { metadata: meta("many"), addressType: "IPv6", ports: [{ port: 1 }, { port: 2 }, { port: 3 }, { port: 4 }], endpoints: [{ addresses: ["fd00::1"] }] },
      ["many", "IPv6", "1,2,3 + 1 more...", "fd00::1", "5m"],
    ],
    ["an empty slice", { metadata: meta("empty"), addressType: "IPv4", endpoints: [] }, ["empty", "IPv4", "<unset>", "<unset>", "5m"]],
  ])("%s", (_, object, expected) => {
    expect(slices.cells(object, now)).toEqual(expected);
  });
});

describe("events.k8s.io Event", () => {
  it("prints like a core event, through the renamed fields", () => {
    const event: Event = {
      metadata: meta("web.17c9"),
      eventTime: ago(10 * m),
      regarding: { kind: "Pod", name: "web", namespace: "default", fieldPath: "spec.containers{app}" },
      type: "Warning",
      reason: "Unhealthy",
      note: "Readiness probe failed: connection refused",
      reportingController: "kubelet",
      reportingInstance: "node-1",
      series: { count: 4, lastObservedTime: ago(30 * s) },
      action: "Probe",
    };
    expect(printer<Event>("events.k8s.io/Event").cells(event, now)).toEqual([
      "30s",
      "Warning",
      "Unhealthy",
      "pod/web",
      "spec.containers{app}",
      "kubelet, node-1",
      "Readiness probe failed: connection refused",
      "10m",
      4,
      "web.17c9",
    ]);
  });

  it("reads the deprecated fields older writers set", () => {
    const event: Event = {
      metadata: meta("web.1"),
      eventTime: ago(10 * m),
      regarding: { kind: "Node", name: "node-1" },
      reason: "Starting",
      deprecatedFirstTimestamp: ago(3 * m),
      deprecatedLastTimestamp: ago(2 * m),
      deprecatedCount: 2,
      deprecatedSource: { component: "kube-proxy" },
    };
    expect(printer<Event>("events.k8s.io/Event").cells(event, now)).toEqual(["2m", "", "Starting", "node/node-1", "", "kube-proxy", "", "3m", 2, "web.1"]);
  });
});

describe("PodDisruptionBudget and PriorityClass", () => {
  it.each<[PodDisruptionBudget, unknown[]]>([
    [{ metadata: meta("web"), spec: { minAvailable: 2 }, status: { disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 2, expectedPods: 3 } }, ["web", "2", "N/A", 1, "5m"]],
    [{ metadata: meta("db"), spec: { maxUnavailable: "25%" } }, ["db", "N/A", "25%", 0, "5m"]],
  ])("pdb %#", (object, expected) => {
    expect(printer<PodDisruptionBudget>("policy/PodDisruptionBudget").cells(object, now)).toEqual(expected);
  });

  it.each<[PriorityClass, unknown[]]>([
    [{ metadata: meta("system-node-critical"), value: 2000001000 }, ["system-node-critical", 2000001000, false, "5m", "PreemptLowerPriority"]],
    [{ metadata: meta("batch-low"), value: -10, globalDefault: true, preemptionPolicy: "Never" }, ["batch-low", -10, true, "5m", "Never"]],
  ])("priority class %#", (object, expected) => {
    expect(printer<PriorityClass>("scheduling.k8s.io/PriorityClass").cells(object, now)).toEqual(expected);
  });
});

describe("role bindings", () => {
  const subjects = [
    { kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" },
    { kind: "Group", name: "devs", apiGroup: "rbac.authorization.k8s.io" },
    { kind: "User", name: "bob", apiGroup: "rbac.authorization.k8s.io" },
    { kind: "ServiceAccount", name: "ci", namespace: "build" },
  ];

  it("prints a role binding's role and subjects", () => {
    const binding: RoleBinding = { metadata: meta("edit-team"), roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" }, subjects };
    expect(printer<RoleBinding>("rbac.authorization.k8s.io/RoleBinding").cells(binding, now)).toEqual([
      "edit-team",
      "ClusterRole/edit",
      "5m",
      "alice, bob",
      "devs",
      "build/ci",
    ]);
  });

  it("prints a cluster role binding without subjects", () => {
    const binding: ClusterRoleBinding = { metadata: meta("empty"), roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" } };
    expect(printer<ClusterRoleBinding>("rbac.authorization.k8s.io/ClusterRoleBinding").cells(binding, now)).toEqual(["empty", "ClusterRole/view", "5m", "", "", ""]);
  });
});

describe("HorizontalPodAutoscaler", () => {
  const hpas = printer<HorizontalPodAutoscaler | autoscalingV1.HorizontalPodAutoscaler>("autoscaling/HorizontalPodAutoscaler");
  const scaleTargetRef = { apiVersion: "apps/v1", kind: "Deployment", name: "web" };

  it.each<[string, HorizontalPodAutoscaler | autoscalingV1.HorizontalPodAutoscaler, unknown[]]>([
    [
      "CPU utilization with a current reading",
      {
        apiVersion: "autoscaling/v2",
        metadata: meta("web"),
        spec: { scaleTargetRef, minReplicas: 2, maxReplicas: 10, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }] },
        status: { currentReplicas: 3, desiredReplicas: 3, currentMetrics: [{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: 42, averageValue: "210m" } } }] },
      },
      ["web", "Deployment/web", "cpu: 42%/80%", "2", 10, 3, "5m"],
    ],
    [
      "four metrics, before any reading",
      {
        apiVersion: "autoscaling/v2",
        metadata: meta("web"),
        spec: {
          scaleTargetRef,
          maxReplicas: 5,
          metrics: [
            { type: "Resource", resource: { name: "memory", target: { type: "AverageValue", averageValue: "500Mi" } } },
            { type: "Pods", pods: { metric: { name: "rps" }, target: { type: "AverageValue", averageValue: "100" } } },
            { type: "External", external: { metric: { name: "queue" }, target: { type: "Value", value: "30" } } },
            { type: "ContainerResource", containerResource: { name: "cpu", container: "app", target: { type: "Utilization" } } },
          ],
        },
      },
      ["web", "Deployment/web", "memory: <unknown>/500Mi, <unknown>/100 + 2 more...", "1", 5, 0, "5m"],
    ],
    [
      "object and external averages with readings",
      {
        apiVersion: "autoscaling/v2",
        metadata: meta("web"),
        spec: {
          scaleTargetRef,
          maxReplicas: 5,
          metrics: [
            {
              type: "Object",
              object: { describedObject: { kind: "Ingress", name: "main" }, metric: { name: "hits" }, target: { type: "AverageValue", averageValue: "2k" } },
            },
            { type: "External", external: { metric: { name: "lag" }, target: { type: "Value", value: "10" } } },
          ],
        },
        status: {
          desiredReplicas: 2,
          currentReplicas: 2,
          currentMetrics: [
            { type: "Object", object: { describedObject: { kind: "Ingress", name: "main" }, metric: { name: "hits" }, current: { averageValue: "1500" } } },
            { type: "External", external: { metric: { name: "lag" }, current: { value: "4" } } },
          ],
        },
      },
      ["web", "Deployment/web", "1500/2k (avg), 4/10", "1", 5, 2, "5m"],
    ],
    [
      "no metrics",
      { apiVersion: "autoscaling/v2", metadata: meta("idle"), spec: { scaleTargetRef, maxReplicas: 3 } },
      ["idle", "Deployment/web", "<none>", "1", 3, 0, "5m"],
    ],
    [
      "an autoscaling/v1 object",
      {
        apiVersion: "autoscaling/v1",
        metadata: meta("old"),
        spec: { scaleTargetRef, minReplicas: 1, maxReplicas: 4, targetCPUUtilizationPercentage: 60 },
        status: { currentReplicas: 1, desiredReplicas: 1, currentCPUUtilizationPercentage: 12 },
      },
      ["old", "Deployment/web", "cpu: 12%/60%", "1", 4, 1, "5m"],
    ],
  ])("%s", (_, object, expected) => {
    expect(hpas.cells(object, now)).toEqual(expected);
  });
});

// The printer registry: which kinds have columns of their own, and the default table for the rest.
import { describe, expect, it } from "vitest";
import { defaultPrinter, printers } from "./index.ts";

const now = new Date("2024-05-01T12:00:00Z");

describe("printers", () => {
  it("covers the kinds kube-apiserver prints with columns of its own", () => {
    expect(Object.keys(printers).sort()).toEqual(
      [
        "/ComponentStatus",
        "/ConfigMap",
        "/Endpoints",
        "/Event",
        "/Namespace",
        "/Node",
        "/PersistentVolumeClaim",
        "/Pod",
        "/PodTemplate",
        "/ReplicationController",
        "/ResourceQuota",
        "/Secret",
        "/Service",
        "/ServiceAccount",
        "apps/ControllerRevision",
        "apps/DaemonSet",
        "apps/Deployment",
        "apps/ReplicaSet",
        "apps/StatefulSet",
        "autoscaling/HorizontalPodAutoscaler",
        "batch/CronJob",
        "batch/Job",
        "coordination.k8s.io/Lease",
        "discovery.k8s.io/EndpointSlice",
        "events.k8s.io/Event",
        "networking.k8s.io/Ingress",
        "networking.k8s.io/IngressClass",
        "networking.k8s.io/NetworkPolicy",
        "policy/PodDisruptionBudget",
        "rbac.authorization.k8s.io/ClusterRoleBinding",
        "rbac.authorization.k8s.io/RoleBinding",
        "scheduling.k8s.io/PriorityClass",
        "/PersistentVolume",
        "storage.k8s.io/StorageClass",
      ].sort(),
    );
  });

  it("leaves kinds kube has no printer for to the default table", () => {
    for (const key of ["/LimitRange", "rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/ClusterRole", "apiextensions.k8s.io/CustomResourceDefinition"]) {
      expect(printers[key]).toBeUndefined();
    }
  });

  // Required fields print as Go's zero values rather than failing, should an object lack them.
  it.each(Object.entries(printers))("%s prints a cell per column for an object with only metadata", (_, printer) => {
    const cells = printer.cells({ metadata: { name: "x", creationTimestamp: "2024-05-01T11:00:00Z" } }, now);
    expect(cells).toHaveLength(printer.columns.length);
    expect(cells).not.toContain(undefined);
    expect(cells[printer.columns.findIndex((c) => c.name === "Name")]).toBe("x");
  });
});

describe("defaultPrinter", () => {
  it("has kube's Name and Created At columns", () => {
    expect(defaultPrinter.columns.map(({ name, type, format, priority }) => ({ name, type, format, priority }))).toEqual([
      { name: "Name", type: "string", format: "name", priority: 0 },
      { name: "Created At", type: "date", format: "", priority: 0 },
    ]);
  });

  it("prints the creation time as RFC 3339 in UTC", () => {
    expect(defaultPrinter.cells({ metadata: { name: "admin", creationTimestamp: "2024-04-30T14:00:00+02:00" } }, now)).toEqual(["admin", "2024-04-30T12:00:00Z"]);
    expect(defaultPrinter.cells({ metadata: { name: "bare" } }, now)).toEqual(["bare", "0001-01-01T00:00:00Z"]);
  });
});

// apps-group rows as kubectl shows them, for representative objects at a fixed time.
import type { ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet } from "kubernetes-types/apps/v1";
import type { PodTemplateSpec } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { appsPrinters } from "./apps.ts";
import type { TablePrinter } from "./table.ts";

const now = new Date("2024-05-01T12:00:00Z");
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: "default", creationTimestamp: ago(26 * 3_600_000), ...extra });
const template: PodTemplateSpec = {
  metadata: { labels: { app: "web" } },
  spec: {
    containers: [
      { name: "nginx", image: "nginx:1.25" },
      { name: "proxy", image: "envoy:1.30" },
    ],
  },
};

function printer<T>(key: string): TablePrinter<T> {
  const found = appsPrinters[key];
  if (!found) throw new Error(`no printer for ${key}`);
  return found;
}

describe("column definitions", () => {
  it.each([
    ["apps/Deployment", "Name,Ready,Up-to-date,Available,Age", "Containers,Images,Selector"],
    ["apps/ReplicaSet", "Name,Desired,Current,Ready,Age", "Containers,Images,Selector"],
    ["apps/DaemonSet", "Name,Desired,Current,Ready,Up-to-date,Available,Node Selector,Age", "Containers,Images,Selector"],
    ["apps/StatefulSet", "Name,Ready,Age", "Containers,Images"],
    ["apps/ControllerRevision", "Name,Controller,Revision,Age", ""],
  ])("%s", (key, normal, wide) => {
    const columns = printer(key).columns;
    expect(columns.filter((c) => c.priority === 0).map((c) => c.name)).toEqual(normal.split(","));
    expect(columns.filter((c) => c.priority === 1).map((c) => c.name)).toEqual(wide ? wide.split(",") : []);
  });
});

describe("Deployment", () => {
  const deployments = printer<Deployment>("apps/Deployment");
  it.each<[string, Deployment, unknown[]]>([
    [
      "a deployment mid-rollout",
      {
        metadata: meta("web"),
        spec: { replicas: 3, selector: { matchLabels: { app: "web" } }, template },
        status: { replicas: 4, readyReplicas: 2, updatedReplicas: 1, availableReplicas: 2 },
      },
      ["web", "2/3", 1, 2, "26h", "nginx,proxy", "nginx:1.25,envoy:1.30", "app=web"],
    ],
    [
      "a new deployment without status or replicas",
      {
        metadata: meta("api"),
        spec: { selector: { matchLabels: { app: "api" }, matchExpressions: [{ key: "track", operator: "NotIn", values: ["canary"] }] }, template },
      },
      ["api", "0/1", 0, 0, "26h", "nginx,proxy", "nginx:1.25,envoy:1.30", "app=api,track notin (canary)"],
    ],
    [
      "a deployment scaled to zero with an empty selector",
      { metadata: meta("odd"), spec: { replicas: 0, selector: {}, template } },
      ["odd", "0/0", 0, 0, "26h", "nginx,proxy", "nginx:1.25,envoy:1.30", ""],
    ],
    [
      "a deployment whose selector is malformed",
      { metadata: meta("bad"), spec: { replicas: 1, selector: { matchExpressions: [{ key: "a", operator: "In" }] }, template } },
      ["bad", "0/1", 0, 0, "26h", "nginx,proxy", "nginx:1.25,envoy:1.30", "<invalid>"],
    ],
  ])("%s", (_, object, expected) => {
    expect(deployments.cells(object, now)).toEqual(expected);
  });
});

describe("ReplicaSet, DaemonSet and StatefulSet", () => {
  it("prints a replica set", () => {
    const rs: ReplicaSet = {
      metadata: meta("web-5d4f"),
      spec: { replicas: 3, selector: { matchLabels: { app: "web", "pod-template-hash": "5d4f" } }, template },
      status: { replicas: 3, readyReplicas: 1 },
    };
    expect(printer<ReplicaSet>("apps/ReplicaSet").cells(rs, now)).toEqual([
      "web-5d4f",
      3,
      3,
      1,
      "26h",
      "nginx,proxy",
      "nginx:1.25,envoy:1.30",
      "app=web,pod-template-hash=5d4f",
    ]);
  });

  it("prints a daemon set", () => {
    const ds: DaemonSet = {
      metadata: meta("fluentd", { creationTimestamp: ago(45 * 86_400_000) }),
      spec: {
        selector: { matchLabels: { app: "fluentd" } },
        template: { spec: { nodeSelector: { "kubernetes.io/os": "linux" }, containers: [{ name: "fluentd", image: "fluentd:1.16" }] } },
      },
      status: { desiredNumberScheduled: 5, currentNumberScheduled: 5, numberReady: 4, updatedNumberScheduled: 3, numberAvailable: 4, numberMisscheduled: 0 },
    };
    expect(printer<DaemonSet>("apps/DaemonSet").cells(ds, now)).toEqual([
      "fluentd",
      5,
      5,
      4,
      3,
      4,
      "kubernetes.io/os=linux",
      "45d",
      "fluentd",
      "fluentd:1.16",
      "app=fluentd",
    ]);
  });

  it("prints a stateful set", () => {
    const sts: StatefulSet = {
      metadata: meta("db"),
      spec: { replicas: 3, serviceName: "db", selector: { matchLabels: { app: "db" } }, template: { spec: { containers: [{ name: "pg", image: "postgres:16" }] } } },
      status: { replicas: 3, readyReplicas: 3 },
    };
    expect(printer<StatefulSet>("apps/StatefulSet").cells(sts, now)).toEqual(["db", "3/3", "26h", "pg", "postgres:16"]);
  });
});

describe("ControllerRevision", () => {
  const revisions = printer<ControllerRevision>("apps/ControllerRevision");
  const owner = (apiVersion: string, kind: string, controller = true) => ({ apiVersion, kind, name: "fluentd", uid: "u1", controller });
  it.each<[string, ControllerRevision, unknown[]]>([
    ["owned by a daemon set", { metadata: meta("fluentd-7b9c", { ownerReferences: [owner("apps/v1", "DaemonSet")] }), revision: 2 }, ["fluentd-7b9c", "daemonset.apps/fluentd", 2, "26h"]],
    ["owned by a core kind", { metadata: meta("r", { ownerReferences: [owner("v1", "Pod")] }), revision: 1 }, ["r", "pod/fluentd", 1, "26h"]],
    ["with only a non-controller owner", { metadata: meta("r", { ownerReferences: [owner("apps/v1", "DaemonSet", false)] }), revision: 1 }, ["r", "<none>", 1, "26h"]],
  ])("%s", (_, object, expected) => {
    expect(revisions.cells(object, now)).toEqual(expected);
  });
});

// The StatefulSet controller's decisions: ordinals, the pod and claims for one, what to create and
// delete next under OrderedReady and Parallel, the rolling update down to the partition, and the
// claims' owners under persistentVolumeClaimRetentionPolicy.
import type { StatefulSet } from "kubernetes-types/apps/v1";
import type { Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { claimOwners, claimsFor, ordinalOf, planStatefulSet, statefulPod } from "./statefulset.ts";

function sts(spec: Partial<NonNullable<StatefulSet["spec"]>> = {}): StatefulSet {
  return {
    metadata: { name: "web", namespace: "ns", uid: "sts-uid" },
    spec: {
      replicas: 3, serviceName: "nginx", selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c" }], volumes: [{ name: "data", emptyDir: {} }] } },
      volumeClaimTemplates: [{ metadata: { name: "data", labels: { tier: "db" } }, spec: { accessModes: ["ReadWriteOnce"] } }],
      ...spec,
    },
  };
}

function pod(ordinal: number, { ready = true, hash = "new", deleting = false, phase = "Running" } = {}): Pod {
  return {
    metadata: { name: `web-${ordinal}`, uid: `uid-${ordinal}`, labels: { "controller-revision-hash": hash }, ...(deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) },
    spec: { containers: [{ name: "c" }] },
    status: { phase, ...(ready ? { conditions: [{ type: "Ready", status: "True" }] } : {}) },
  };
}

const pods = (...list: Pod[]) => new Map(list.map((p) => [Number(p.metadata!.name!.split("-")[1]), p]));
const plan = (set: StatefulSet, map: Map<number, Pod>) => {
  const p = planStatefulSet(set, map, "new");
  return { create: p.create, delete: p.delete.map((d) => d.metadata!.name) };
};

describe("planStatefulSet", () => {
  it.each([
    ["OrderedReady creates the first missing ordinal only", sts(), pods(), { create: [0], delete: [] }],
    ["OrderedReady waits for the pod before to be Running and Ready", sts(), pods(pod(0, { ready: false })), { create: [], delete: [] }],
    ["OrderedReady creates the next once it is", sts(), pods(pod(0)), { create: [1], delete: [] }],
    ["Parallel creates every missing ordinal", sts({ podManagementPolicy: "Parallel" }), pods(pod(1, { ready: false })), { create: [0, 2], delete: [] }],
    ["OrderedReady scales down from the highest ordinal, one at a time", sts({ replicas: 1 }), pods(pod(0), pod(1), pod(2)), { create: [], delete: ["web-2"] }],
    ["OrderedReady waits while one is terminating", sts({ replicas: 1 }), pods(pod(0), pod(1), pod(2, { deleting: true })), { create: [], delete: [] }],
    ["Parallel scales down all at once", sts({ replicas: 1, podManagementPolicy: "Parallel" }), pods(pod(0), pod(1), pod(2)), { create: [], delete: ["web-2", "web-1"] }],
    ["a failed pod is deleted to be made again", sts(), pods(pod(0, { phase: "Failed" })), { create: [], delete: ["web-0"] }],
    ["RollingUpdate replaces the highest ordinal first", sts(), pods(pod(0, { hash: "old" }), pod(1, { hash: "old" }), pod(2, { hash: "old" })), { create: [], delete: ["web-2"] }],
    ["RollingUpdate goes no lower than the partition", sts({ updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 2 } } }), pods(pod(0, { hash: "old" }), pod(1, { hash: "old" }), pod(2)), { create: [], delete: [] }],
    ["RollingUpdate waits for every pod to be ready", sts(), pods(pod(0, { hash: "old" }), pod(1, { hash: "old" }), pod(2, { ready: false })), { create: [], delete: [] }],
    ["OnDelete replaces nothing", sts({ updateStrategy: { type: "OnDelete" } }), pods(pod(0, { hash: "old" }), pod(1, { hash: "old" }), pod(2, { hash: "old" })), { create: [], delete: [] }],
  ])("%s", (_, set, map, expected) => {
    expect(plan(set, map)).toEqual(expected);
  });
});

describe("a stateful pod", () => {
  it("has its ordinal's name, hostname, subdomain, labels and claims", () => {
    const p = statefulPod(sts(), 1, "abc");
    expect(p.metadata).toMatchObject({ name: "web-1", labels: { app: "web", "statefulset.kubernetes.io/pod-name": "web-1", "apps.kubernetes.io/pod-index": "1", "controller-revision-hash": "abc" } });
    expect(p.metadata!.generateName).toBeUndefined();
    expect(p.spec).toMatchObject({ hostname: "web-1", subdomain: "nginx" });
    // The claim replaces the template's volume of the same name.
    expect(p.spec!.volumes).toEqual([{ name: "data", persistentVolumeClaim: { claimName: "data-web-1" } }]);
    expect(ordinalOf(sts(), p)).toBe(1);
    expect(ordinalOf(sts(), { metadata: { name: "web-01" } })).toBeUndefined();
    expect(ordinalOf(sts(), { metadata: { name: "webx-1" } })).toBeUndefined();
  });

  it("has claims named <template>-<set>-<ordinal>, labelled by the template and the selector", () => {
    expect(claimsFor(sts(), 2)).toEqual([{
      apiVersion: "v1", kind: "PersistentVolumeClaim",
      metadata: { name: "data-web-2", namespace: "ns", labels: { tier: "db", app: "web" } },
      spec: { accessModes: ["ReadWriteOnce"] },
    }]);
  });
});

describe("claimOwners", () => {
  const claim = claimsFor(sts(), 2)[0]!;
  const setRef = { apiVersion: "apps/v1", kind: "StatefulSet", name: "web", uid: "sts-uid" };
  const podRef = { apiVersion: "v1", kind: "Pod", name: "web-2", uid: "uid-2" };
  it.each([
    ["Retain/Retain: none", { whenDeleted: "Retain", whenScaled: "Retain" }, 3, []],
    ["whenDeleted Delete: the set", { whenDeleted: "Delete", whenScaled: "Retain" }, 3, [setRef]],
    ["whenScaled Delete, ordinal still wanted: none", { whenDeleted: "Retain", whenScaled: "Delete" }, 3, []],
    ["whenScaled Delete, ordinal scaled away: its pod", { whenDeleted: "Retain", whenScaled: "Delete" }, 2, [podRef]],
    ["both Delete, scaled away: the set and the pod", { whenDeleted: "Delete", whenScaled: "Delete" }, 2, [setRef, podRef]],
  ])("%s", (_, policy, replicas, owners) => {
    expect(claimOwners(sts({ replicas, persistentVolumeClaimRetentionPolicy: policy }), claim, 2, pod(2))).toEqual(owners);
  });
});

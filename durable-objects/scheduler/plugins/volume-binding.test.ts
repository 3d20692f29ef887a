// VolumeBinding basics: a pod waits for missing, deleting, foreign or unbound immediate claims;
// bound claims' volumes must exist and admit the node; delayed claims fit where they can be provisioned.
import type { PersistentVolume, PersistentVolumeClaim, Volume } from "kubernetes-types/core/v1";
import type { StorageClass } from "kubernetes-types/storage/v1";
import { describe, expect, it } from "vitest";
import { Code, Status } from "../framework/status.ts";
import { makeNode, makePod, plugin, TestCluster } from "../testing.ts";
import { volumeBinding } from "./volume-binding.ts";

const claim = (name: string, o: { volumeName?: string; bound?: boolean; className?: string; deleting?: boolean; ownerUid?: string } = {}): PersistentVolumeClaim => ({
  metadata: {
    name, namespace: "default",
    ...(o.bound ? { annotations: { "pv.kubernetes.io/bind-completed": "yes" } } : {}),
    ...(o.deleting ? { deletionTimestamp: "2024-01-01T00:00:00Z" } : {}),
    ...(o.ownerUid ? { ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "p", uid: o.ownerUid, controller: true }] } : {}),
  },
  spec: { ...(o.volumeName ? { volumeName: o.volumeName } : {}), ...(o.className !== undefined ? { storageClassName: o.className } : {}) },
});
const pvcVolume = (claimName: string): Volume => ({ name: "data", persistentVolumeClaim: { claimName } });
const ephemeralVolume: Volume = { name: "scratch", ephemeral: { volumeClaimTemplate: { spec: {} } } };
const zoneVolume = (name: string, zone: string): PersistentVolume => ({
  metadata: { name },
  spec: { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: [zone] }] }] } } },
});
const waitForConsumer: StorageClass = { metadata: { name: "local" }, provisioner: "kubernetes.io/no-provisioner", volumeBindingMode: "WaitForFirstConsumer" };
const provisioned: StorageClass = { metadata: { name: "local-path" }, provisioner: "edgeplane.dev/local-path", volumeBindingMode: "WaitForFirstConsumer" };

describe("VolumeBinding PreFilter", () => {
  const p = plugin(volumeBinding);
  const cases: [string, Volume[], PersistentVolumeClaim[], string | "skip" | undefined][] = [
    ["no claims: skipped", [], [], "skip"],
    ["a missing claim", [pvcVolume("data")], [], 'persistentvolumeclaim "data" not found'],
    ["a claim being deleted", [pvcVolume("data")], [claim("data", { deleting: true })], 'persistentvolumeclaim "data" is being deleted'],
    ["an unbound claim without a class (immediate)", [pvcVolume("data")], [claim("data", { className: "" })], "pod has unbound immediate PersistentVolumeClaims"],
    ["a volume named but binding not completed", [pvcVolume("data")], [claim("data", { volumeName: "pv1" })], "pod has unbound immediate PersistentVolumeClaims"],
    ["a bound claim", [pvcVolume("data")], [claim("data", { volumeName: "pv1", bound: true })], undefined],
    ["an ephemeral volume's claim not created yet", [ephemeralVolume], [], 'waiting for ephemeral volume controller to create the persistentvolumeclaim "p-scratch"'],
    ["an ephemeral volume's claim owned by another pod", [ephemeralVolume], [claim("p-scratch", { ownerUid: "someone-else" })], "PVC default/p-scratch was not created for pod default/p (pod is not owner)"],
    ["an unbound claim of a WaitForFirstConsumer class passes PreFilter", [pvcVolume("data")], [claim("data", { className: "local" })], undefined],
  ];
  for (const [name, volumes, claims, want] of cases) {
    it(name, () => {
      const cluster = new TestCluster([makeNode("n")]);
      for (const c of claims) cluster.snapshot.setPersistentVolumeClaim(c);
      cluster.snapshot.setStorageClass(waitForConsumer);
      cluster.snapshot.setStorageClass(provisioned);
      const out = p.preFilter!(cluster.state(), cluster.pod(makePod("p", { volumes })));
      if (want === "skip") expect(out).toMatchObject({ code: Code.Skip });
      else if (want === undefined) expect(out).toBeUndefined();
      else {
        expect(out).toBeInstanceOf(Status);
        expect(out).toMatchObject({ code: Code.UnschedulableAndUnresolvable, reasons: [want] });
      }
    });
  }

  it("a claim naming an unknown storage class is an error, not a rejection", () => {
    const cluster = new TestCluster([makeNode("n")]);
    cluster.snapshot.setPersistentVolumeClaim(claim("data", { className: "fast" }));
    expect(p.preFilter!(cluster.state(), cluster.pod(makePod("p", { volumes: [pvcVolume("data")] })))).toMatchObject({ code: Code.Error, reasons: ['storageclass.storage.k8s.io "fast" not found'] });
  });
});

describe("VolumeBinding Filter", () => {
  const p = plugin(volumeBinding);
  const cases: [string, PersistentVolumeClaim, PersistentVolume | undefined, string, string | undefined][] = [
    ["a bound volume reachable from the node", claim("data", { volumeName: "pv1", bound: true }), zoneVolume("pv1", "a"), "in-a", undefined],
    ["a bound volume in another zone", claim("data", { volumeName: "pv1", bound: true }), zoneVolume("pv1", "b"), "in-a", "node(s) had volume node affinity conflict"],
    ["a bound volume that does not exist", claim("data", { volumeName: "pv1", bound: true }), undefined, "in-a", "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"],
    ["delayed binding without a provisioner is not done here", claim("data", { className: "local" }), undefined, "in-a", "node(s) didn't find available persistent volumes to bind"],
    ["delayed binding with a provisioner fits any node", claim("data", { className: "local-path" }), undefined, "in-a", undefined],
  ];
  for (const [name, c, pv, node, want] of cases) {
    it(name, () => {
      const cluster = new TestCluster([makeNode("in-a", { labels: { zone: "a" } })]);
      cluster.snapshot.setPersistentVolumeClaim(c);
      cluster.snapshot.setStorageClass(waitForConsumer);
      cluster.snapshot.setStorageClass(provisioned);
      if (pv) cluster.snapshot.setPersistentVolume(pv);
      const state = cluster.state();
      const pod = cluster.pod(makePod("p", { volumes: [pvcVolume("data")] }));
      expect(p.preFilter!(state, pod)).toBeUndefined();
      const status = p.filter!(state, pod, cluster.node(node));
      expect(status?.message).toBe(want);
      if (want) expect(status?.code).toBe(Code.UnschedulableAndUnresolvable);
    });
  }
});

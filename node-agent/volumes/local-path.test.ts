// The local-path provisioner's decisions: which claims a node provisions, the volume it makes for
// one, which volumes it deletes, and that it removes only directories under its own root.
import type { PersistentVolume, PersistentVolumeClaim } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { localPathVolume, ownedDirectory, shouldDelete, shouldProvision } from "./local-path.ts";

const claim = (annotations: Record<string, string>, extra: Partial<PersistentVolumeClaim["spec"]> = {}): PersistentVolumeClaim => ({
  metadata: { name: "www-web-0", namespace: "shop", uid: "1234", resourceVersion: "9", annotations },
  spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "2Gi" } }, storageClassName: "local-path", ...extra },
});
const ours = { "volume.kubernetes.io/selected-node": "n1", "volume.kubernetes.io/storage-provisioner": "edgeplane.dev/local-path" };

describe("shouldProvision", () => {
  it.each([
    ["selected for this node and asked of local-path", claim(ours), true],
    ["selected for another node", claim({ ...ours, "volume.kubernetes.io/selected-node": "n2" }), false],
    ["another provisioner", claim({ ...ours, "volume.kubernetes.io/storage-provisioner": "example.com/fast" }), false],
    ["no node selected yet", claim({ "volume.kubernetes.io/storage-provisioner": "edgeplane.dev/local-path" }), false],
    ["already has a volume", claim(ours, { volumeName: "pvc-1234" }), false],
  ])("%s", (_, c, want) => expect(shouldProvision(c, "n1")).toBe(want));
});

describe("localPathVolume", () => {
  it("is a hostPath volume under the state directory, pinned to the node, promised to the claim, with the class's policy", () => {
    const pv = localPathVolume(claim(ours), { metadata: { name: "local-path" }, provisioner: "edgeplane.dev/local-path", reclaimPolicy: "Retain" }, "n1", "/var/lib/edgeplane");
    expect(pv).toMatchObject({
      metadata: { name: "pvc-1234", labels: { "edgeplane.dev/local-path-node": "n1" }, annotations: { "pv.kubernetes.io/provisioned-by": "edgeplane.dev/local-path" } },
      spec: {
        capacity: { storage: "2Gi" }, accessModes: ["ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain", storageClassName: "local-path", volumeMode: "Filesystem",
        hostPath: { path: "/var/lib/edgeplane/local-path/pvc-1234", type: "DirectoryOrCreate" },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["n1"] }] }] } },
        claimRef: { kind: "PersistentVolumeClaim", namespace: "shop", name: "www-web-0", uid: "1234" },
      },
    });
  });
});

describe("deletion", () => {
  const volume = (phase: string, policy: string, node = "n1", path = "/state/local-path/pvc-1"): PersistentVolume => ({
    metadata: { name: "pvc-1", labels: { "edgeplane.dev/local-path-node": node }, annotations: { "pv.kubernetes.io/provisioned-by": "edgeplane.dev/local-path" } },
    spec: { persistentVolumeReclaimPolicy: policy, hostPath: { path } },
    status: { phase },
  });
  it.each([
    ["Released under Delete", volume("Released", "Delete"), true],
    ["Released under Retain", volume("Released", "Retain"), false],
    ["still Bound", volume("Bound", "Delete"), false],
    ["another node's", volume("Released", "Delete", "n2"), false],
  ])("%s", (_, v, want) => expect(shouldDelete(v, "n1")).toBe(want));

  it("removes only directories under the node's local-path root", () => {
    expect(ownedDirectory(volume("Released", "Delete"), "/state")).toBe("/state/local-path/pvc-1");
    expect(ownedDirectory(volume("Released", "Delete", "n1", "/state/local-path/../etc"), "/state")).toBeUndefined();
    expect(ownedDirectory(volume("Released", "Delete", "n1", "/etc"), "/state")).toBeUndefined();
  });
});

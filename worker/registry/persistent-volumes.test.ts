// PersistentVolume, PersistentVolumeClaim and StorageClass validation in kube's words: what a new
// object needs, what an update may change (a claim's volumeName once, as the binder sets it), and
// which class claims without one get.
import { describe, expect, it } from "vitest";
import { defaultClassOf } from "../admission/default-storage-class.ts";
import {
  defaultPersistentVolume, defaultPersistentVolumeClaim, defaultStorageClass, validatePersistentVolume, validatePersistentVolumeClaim, validateStorageClass,
} from "./persistent-volumes.ts";
import type { KubeObject } from "./types.ts";

const messages = (causes: { field?: string; message?: string }[]) => causes.map((c) => `${c.field}: ${c.message}`);

function pv(spec: Record<string, unknown>): KubeObject {
  const object = { metadata: { name: "pv" }, spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], hostPath: { path: "/data" }, ...spec } };
  defaultPersistentVolume(object);
  return object;
}

function pvc(spec: Record<string, unknown>): KubeObject {
  const object = { metadata: { name: "c" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, ...spec } };
  defaultPersistentVolumeClaim(object);
  return object;
}

describe("PersistentVolume", () => {
  it.each([
    ["a complete one", pv({}), []],
    ["no capacity, access modes or source", pv({ capacity: undefined, accessModes: undefined, hostPath: undefined }), ["spec.accessModes: Required value", "spec.capacity: Required value", "spec: Required value: must specify a volume type"]],
    ["two sources", pv({ nfs: { server: "s", path: "/" } }), ["spec.nfs: Forbidden: may not specify more than 1 volume type"]],
    ["a local volume without node affinity", pv({ hostPath: undefined, local: { path: "/mnt" } }), ["spec.nodeAffinity: Required value: Local volume requires node affinity"]],
    ["an unknown access mode and reclaim policy", pv({ accessModes: ["ReadSometimes"], persistentVolumeReclaimPolicy: "Shred" }), [
      'spec.accessModes: Unsupported value: "ReadSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
      'spec.persistentVolumeReclaimPolicy: Unsupported value: "Shred": supported values: "Delete", "Recycle", "Retain"',
    ]],
  ])("%s", (_, object, want) => expect(messages(validatePersistentVolume(object))).toEqual(want));

  it("defaults to Retain and Filesystem, Pending; its source is immutable", () => {
    const old = pv({});
    expect(old.spec.persistentVolumeReclaimPolicy).toBe("Retain");
    expect(old.status.phase).toBe("Pending");
    expect(messages(validatePersistentVolume(pv({ claimRef: { name: "c", namespace: "ns" } }), old))).toEqual([]);
    expect(messages(validatePersistentVolume(pv({ hostPath: { path: "/other" } }), old))).toEqual(["spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"]);
  });
});

describe("PersistentVolumeClaim", () => {
  it.each([
    ["a complete one", pvc({}), []],
    ["no access modes or storage request", pvc({ accessModes: [], resources: {} }), ["spec.accessModes: Required value: at least 1 access mode is required", "spec.resources[storage]: Required value"]],
    ["a zero request", pvc({ resources: { requests: { storage: "0" } } }), ['spec.resources[storage]: Invalid value: "0": must be greater than zero']],
  ])("%s", (_, object, want) => expect(messages(validatePersistentVolumeClaim(object))).toEqual(want));

  it("an update may set volumeName and storageClassName once, and change nothing else", () => {
    const old = pvc({});
    expect(validatePersistentVolumeClaim(pvc({ volumeName: "pv1", storageClassName: "local-path" }), old)).toEqual([]);
    const bound = pvc({ volumeName: "pv1" });
    expect(messages(validatePersistentVolumeClaim(pvc({ volumeName: "pv2" }), bound))).toEqual(["spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"]);
    expect(messages(validatePersistentVolumeClaim(pvc({ accessModes: ["ReadWriteMany"] }), old))).toHaveLength(1);
  });
});

describe("StorageClass", () => {
  it("needs a provisioner; defaults Delete and Immediate; what it provisions is immutable", () => {
    const sc: KubeObject = { metadata: { name: "fast" }, provisioner: "example.com/fast" };
    defaultStorageClass(sc);
    expect(sc).toMatchObject({ reclaimPolicy: "Delete", volumeBindingMode: "Immediate" });
    expect(validateStorageClass(sc)).toEqual([]);
    expect(messages(validateStorageClass({ ...sc, provisioner: undefined, reclaimPolicy: "Recycle" }))).toEqual([
      "provisioner: Required value", 'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
    ]);
    expect(messages(validateStorageClass({ ...sc, provisioner: "example.com/slow", parameters: { tier: "1" } }, sc))).toEqual([
      "parameters: Forbidden: updates to parameters are forbidden.", "provisioner: Forbidden: updates to provisioner are forbidden.",
    ]);
  });

  it("the default class is the newest of those annotated default", () => {
    const annotated = (name: string, created: string, isDefault = "true") => ({ metadata: { name, creationTimestamp: created, annotations: { "storageclass.kubernetes.io/is-default-class": isDefault } } });
    expect(defaultClassOf([annotated("old", "2026-01-01T00:00:00Z"), annotated("new", "2026-02-01T00:00:00Z"), annotated("off", "2026-03-01T00:00:00Z", "false")])?.metadata?.name).toBe("new");
    expect(defaultClassOf([annotated("off", "2026-03-01T00:00:00Z", "false")])).toBeUndefined();
  });
});

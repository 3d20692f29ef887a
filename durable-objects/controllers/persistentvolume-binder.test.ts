// The PV binder's decisions: which volume a claim gets, what a claim and a volume become as the
// other changes, and when a delayed claim follows its pod's node or asks its provisioner.
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1";
import type { StorageClass } from "kubernetes-types/storage/v1";
import { describe, expect, it } from "vitest";
import { findBestMatch, syncClaim, syncVolume, type World } from "./persistentvolume-binder.ts";

interface ClaimOptions { request?: string; modes?: string[]; className?: string | null; volumeName?: string; bound?: boolean; selector?: Record<string, string>; selectedNode?: string; provisioner?: string; volumeMode?: string }

function claim(name: string, o: ClaimOptions = {}): PersistentVolumeClaim {
  const annotations: Record<string, string> = {
    ...(o.bound ? { "pv.kubernetes.io/bind-completed": "yes" } : {}),
    ...(o.selectedNode ? { "volume.kubernetes.io/selected-node": o.selectedNode } : {}),
    ...(o.provisioner ? { "volume.kubernetes.io/storage-provisioner": o.provisioner, "volume.beta.kubernetes.io/storage-provisioner": o.provisioner } : {}),
  };
  return {
    metadata: { name, namespace: "ns", uid: `uid-${name}`, resourceVersion: "5", annotations },
    spec: {
      accessModes: o.modes ?? ["ReadWriteOnce"], resources: { requests: { storage: o.request ?? "1Gi" } },
      ...(o.className === null ? {} : { storageClassName: o.className ?? "" }),
      ...(o.volumeName ? { volumeName: o.volumeName } : {}), ...(o.selector ? { selector: { matchLabels: o.selector } } : {}),
      volumeMode: o.volumeMode ?? "Filesystem",
    },
    status: { phase: o.bound ? "Bound" : "Pending" },
  };
}

interface VolumeOptions { capacity?: string; modes?: string[]; className?: string; claimRef?: string; claimUid?: string; phase?: string; labels?: Record<string, string>; node?: string; policy?: string; provisioned?: boolean; boundByController?: boolean }

function volume(name: string, o: VolumeOptions = {}): PersistentVolume {
  return {
    metadata: {
      name, labels: o.labels ?? {},
      annotations: { ...(o.provisioned ? { "pv.kubernetes.io/provisioned-by": "edgeplane.dev/local-path" } : {}), ...(o.boundByController ? { "pv.kubernetes.io/bound-by-controller": "yes" } : {}) },
    },
    spec: {
      capacity: { storage: o.capacity ?? "1Gi" }, accessModes: o.modes ?? ["ReadWriteOnce"], storageClassName: o.className ?? "",
      persistentVolumeReclaimPolicy: o.policy ?? "Retain", volumeMode: "Filesystem", hostPath: { path: `/data/${name}` },
      ...(o.claimRef ? { claimRef: { namespace: "ns", name: o.claimRef, ...(o.claimUid !== undefined ? { uid: o.claimUid } : { uid: `uid-${o.claimRef}` }) } } : {}),
      ...(o.node ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [o.node] }] }] } } } : {}),
    },
    status: { phase: o.phase ?? "Available" },
  };
}

const node = (name: string): Node => ({ metadata: { name, labels: { "kubernetes.io/hostname": name } } });
const pod = (name: string, claimName: string, nodeName?: string): Pod => ({
  metadata: { name, namespace: "ns" },
  spec: { containers: [], volumes: [{ name: "data", persistentVolumeClaim: { claimName } }], ...(nodeName ? { nodeName } : {}) },
  status: { phase: "Pending" },
});

const classes: StorageClass[] = [
  { metadata: { name: "local-path" }, provisioner: "edgeplane.dev/local-path", volumeBindingMode: "WaitForFirstConsumer", reclaimPolicy: "Delete" },
  { metadata: { name: "fast" }, provisioner: "example.com/fast", volumeBindingMode: "Immediate" },
  { metadata: { name: "manual" }, provisioner: "kubernetes.io/no-provisioner", volumeBindingMode: "Immediate" },
];

function world({ volumes = [], claims = [], pods = [] }: { volumes?: PersistentVolume[]; claims?: PersistentVolumeClaim[]; pods?: Pod[] } = {}): World {
  return {
    volumes,
    volume: (name) => volumes.find((v) => v.metadata?.name === name),
    claim: (namespace, name) => claims.find((c) => c.metadata?.namespace === namespace && c.metadata?.name === name),
    storageClass: (name) => classes.find((c) => c.metadata?.name === name),
    node: (name) => node(name),
    podsUsing: (c) => pods.filter((p) => p.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === c.metadata?.name)),
  };
}

describe("findBestMatch", () => {
  const cases: [string, PersistentVolumeClaim, PersistentVolume[], string | undefined][] = [
    ["the smallest volume that fits", claim("c", { request: "2Gi" }), [volume("big", { capacity: "10Gi" }), volume("small", { capacity: "1Gi" }), volume("mid", { capacity: "3Gi" })], "mid"],
    ["no volume large enough", claim("c", { request: "5Gi" }), [volume("a", { capacity: "1Gi" })], undefined],
    ["access modes must all be offered", claim("c", { modes: ["ReadWriteMany"] }), [volume("rwo"), volume("rwx", { modes: ["ReadWriteOnce", "ReadWriteMany"], capacity: "5Gi" })], "rwx"],
    ["the class must match", claim("c", { className: "fast" }), [volume("none"), volume("fast", { className: "fast", capacity: "9Gi" })], "fast"],
    ["the selector must match", claim("c", { selector: { tier: "db" } }), [volume("web", { labels: { tier: "web" } }), volume("db", { labels: { tier: "db" }, capacity: "2Gi" })], "db"],
    ["a volume promised to someone else is not available", claim("c"), [volume("taken", { claimRef: "other" })], undefined],
    ["a volume not yet Available is not matched", claim("c"), [volume("new", { phase: "Pending" })], undefined],
    ["a volume promised to this claim wins over a smaller one", claim("c"), [volume("any", { capacity: "1Gi" }), volume("mine", { capacity: "5Gi", claimRef: "c", phase: "Pending" })], "mine"],
  ];
  it.each(cases)("%s", (_, c, volumes, want) => {
    expect(findBestMatch(c, volumes, false, undefined)?.metadata?.name).toBe(want);
  });

  it("with delayed binding, only a promised volume without a node, and only volumes on the selected node with one", () => {
    const c = claim("c", { className: "local-path" });
    const volumes = [volume("elsewhere", { className: "local-path", node: "n2" }), volume("here", { className: "local-path", node: "n1", capacity: "4Gi" })];
    expect(findBestMatch(c, volumes, true, undefined)).toBeUndefined();
    expect(findBestMatch(c, volumes, true, node("n1"))?.metadata?.name).toBe("here");
  });
});

describe("syncClaim", () => {
  const cases: [string, PersistentVolumeClaim, Parameters<typeof world>[0], object][] = [
    ["an unbound claim binds to a matching volume", claim("c"), { volumes: [volume("pv1")] }, { action: "bind", volume: { metadata: { name: "pv1" } } }],
    ["no match and no class: Pending with kube's event", claim("c"), {}, { action: "phase", phase: "Pending", event: { reason: "FailedBinding", message: "no persistent volumes available for this claim and no storage class is set" } }],
    ["a class that does not exist", claim("c", { className: "gold" }), {}, { action: "phase", phase: "Pending", event: { type: "Warning", reason: "ProvisioningFailed", message: 'storageclass.storage.k8s.io "gold" not found' } }],
    ["an Immediate class with a provisioner: the claim asks it", claim("c", { className: "fast" }), {}, {
      action: "annotate", annotations: { "volume.kubernetes.io/storage-provisioner": "example.com/fast", "volume.beta.kubernetes.io/storage-provisioner": "example.com/fast" },
      event: { reason: "ExternalProvisioning", message: expect.stringContaining("external provisioner 'example.com/fast'") },
    }],
    ["already asked: it waits", claim("c", { className: "fast", provisioner: "example.com/fast" }), {}, { action: "phase", phase: "Pending", event: { reason: "ExternalProvisioning" } }],
    ["a class without a provisioner and no volume", claim("c", { className: "manual" }), {}, { action: "phase", phase: "Pending", event: { reason: "FailedBinding" } }],
    ["WaitForFirstConsumer without a pod", claim("c", { className: "local-path" }), {}, { action: "phase", phase: "Pending", event: { reason: "WaitForFirstConsumer", message: "waiting for first consumer to be created before binding" } }],
    ["WaitForFirstConsumer with a pod not yet scheduled", claim("c", { className: "local-path" }), { pods: [pod("web-0", "c")] }, { action: "phase", phase: "Pending", event: { reason: "WaitForPodScheduled", message: "waiting for pod web-0 to be scheduled" } }],
    ["WaitForFirstConsumer with a scheduled pod: the claim follows its node", claim("c", { className: "local-path" }), { pods: [pod("web-0", "c", "n1")] }, { action: "annotate", annotations: { "volume.kubernetes.io/selected-node": "n1" } }],
    ["a node selected: its provisioner is asked", claim("c", { className: "local-path", selectedNode: "n1" }), {}, { action: "annotate", annotations: { "volume.kubernetes.io/storage-provisioner": "edgeplane.dev/local-path" } }],
    ["a provisioned volume promised to the claim binds", claim("c", { className: "local-path", selectedNode: "n1", provisioner: "edgeplane.dev/local-path" }),
      { volumes: [volume("pvc-1", { className: "local-path", claimRef: "c", node: "n1", phase: "Pending", provisioned: true })] }, { action: "bind", volume: { metadata: { name: "pvc-1" } } }],
    ["pre-bound by the user to a free volume", claim("c", { volumeName: "pv9" }), { volumes: [volume("pv9", { capacity: "8Gi" })] }, { action: "bind", volume: { metadata: { name: "pv9" } } }],
    ["pre-bound to a missing volume: Pending", claim("c", { volumeName: "pv9" }), {}, { action: "phase", phase: "Pending" }],
    ["pre-bound to a volume too small", claim("c", { volumeName: "pv9", request: "5Gi" }), { volumes: [volume("pv9")] }, { action: "phase", phase: "Pending", event: { reason: "VolumeMismatch", message: 'Cannot bind to requested volume "pv9": requested PV is too small' } }],
    ["pre-bound to a volume bound elsewhere", claim("c", { volumeName: "pv9" }), { volumes: [volume("pv9", { claimRef: "other" })] }, { action: "phase", phase: "Pending", event: { reason: "FailedBinding" } }],
    ["bound, and its volume agrees: the binding is kept whole", claim("c", { volumeName: "pv1", bound: true }), { volumes: [volume("pv1", { claimRef: "c", phase: "Bound" })] }, { action: "bind" }],
    ["bound, its volume gone: Lost", claim("c", { volumeName: "pv1", bound: true }), {}, { action: "phase", phase: "Lost", event: { type: "Warning", reason: "ClaimLost", message: "Bound claim has lost its PersistentVolume. Data on the volume is lost!" } }],
    ["bound, its volume bound to another claim: Lost", claim("c", { volumeName: "pv1", bound: true }), { volumes: [volume("pv1", { claimRef: "other" })] }, { action: "phase", phase: "Lost", event: { reason: "ClaimMisbound" } }],
  ];
  it.each(cases)("%s", (_, c, w, want) => {
    expect(syncClaim(c, world(w))).toMatchObject(want);
  });
});

describe("syncVolume", () => {
  const cases: [string, PersistentVolume, PersistentVolumeClaim[], object][] = [
    ["a new volume becomes Available", volume("pv", { phase: "Pending" }), [], { action: "phase", phase: "Available" }],
    ["an Available volume stays", volume("pv"), [], { action: "none" }],
    ["promised to a claim by name only: Available until the claim binds", volume("pv", { claimRef: "c", claimUid: "", phase: "Pending" }), [], { action: "phase", phase: "Available" }],
    ["its claim bound to it: Bound", volume("pv", { claimRef: "c" }), [claim("c", { volumeName: "pv", bound: true })], { action: "phase", phase: "Bound" }],
    ["its claim still binding: left to the claim", volume("pv", { claimRef: "c", phase: "Pending" }), [claim("c")], { action: "none" }],
    ["claim deleted, Retain: Released", volume("pv", { claimRef: "c", phase: "Bound" }), [], { action: "phase", phase: "Released" }],
    ["claim deleted and made again (new uid): Released", volume("pv", { claimRef: "c", claimUid: "old", phase: "Bound" }), [claim("c")], { action: "phase", phase: "Released" }],
    ["Released and Retain: stays", volume("pv", { claimRef: "c", phase: "Released" }), [], { action: "none" }],
    ["claim deleted, Delete, provisioned: Released for its provisioner", volume("pv", { claimRef: "c", phase: "Bound", policy: "Delete", provisioned: true }), [], { action: "phase", phase: "Released" }],
    ["claim deleted, Delete, made by hand: Failed", volume("pv", { claimRef: "c", phase: "Bound", policy: "Delete" }), [], { action: "phase", phase: "Failed", event: { reason: "VolumeFailedDelete" } }],
    ["claim deleted, Recycle: Failed", volume("pv", { claimRef: "c", phase: "Bound", policy: "Recycle" }), [], { action: "phase", phase: "Failed", event: { reason: "VolumeFailedRecycle" } }],
    ["its claim went to another volume, bound by us: unbound", volume("pv", { claimRef: "c", phase: "Bound", boundByController: true }), [claim("c", { volumeName: "other", bound: true })], { action: "unbind" }],
  ];
  it.each(cases)("%s", (_, v, claims, want) => {
    expect(syncVolume(v, world({ claims }))).toMatchObject(want);
  });
});

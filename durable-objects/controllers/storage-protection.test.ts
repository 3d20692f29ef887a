// Storage object in-use protection: which pods hold a claim; then, against the real apiserver with
// the controller manager woken as a poke would, claims and volumes get their finalizers at creation
// (admission), a claim in use stays Terminating until its pod is gone, and a volume stays while
// it is Bound.
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { isNotFound } from "../../lib/client/index.ts";
import { freshNamespace, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { claimsOf, podUsesClaim } from "./pvc-protection.ts";
import { wakeControllerManager } from "./testing.ts";

const claim = (name: string, owner?: string): PersistentVolumeClaim => ({
  metadata: { name, namespace: "ns", ...(owner ? { ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "p", uid: owner, controller: true }] } : {}) },
});
const pod = ({ node = "n1", claimName, ephemeral, shutDown }: { node?: string; claimName?: string; ephemeral?: string; shutDown?: boolean }): Pod => ({
  metadata: { name: "p", namespace: "ns", uid: "pod-uid", ...(shutDown ? { deletionTimestamp: "2026-01-01T00:00:00Z", deletionGracePeriodSeconds: 0 } : {}) },
  spec: {
    ...(node ? { nodeName: node } : {}),
    containers: [{ name: "c" }],
    volumes: [
      ...(claimName ? [{ name: "data", persistentVolumeClaim: { claimName } }] : []),
      ...(ephemeral ? [{ name: ephemeral, ephemeral: { volumeClaimTemplate: { spec: {} } } }] : []),
    ],
  },
});

describe("podUsesClaim", () => {
  it.each([
    ["a scheduled pod naming the claim", pod({ claimName: "c" }), claim("c"), true],
    ["a pod not yet scheduled does not (no kubelet will start it on a terminating claim)", pod({ node: "", claimName: "c" }), claim("c"), false],
    ["a pod naming another claim", pod({ claimName: "other" }), claim("c"), false],
    ["its generic ephemeral volume's claim, owned by the pod", pod({ ephemeral: "scratch" }), claim("p-scratch", "pod-uid"), true],
    ["a claim of that name owned by someone else", pod({ ephemeral: "scratch" }), claim("p-scratch", "other-uid"), false],
    ["an ephemeral claim of a pod shut down (deleted with no grace)", pod({ ephemeral: "scratch", shutDown: true }), claim("p-scratch", "pod-uid"), false],
  ])("%s: %s", (_, p, c, expected) => {
    expect(podUsesClaim(p, c)).toBe(expected);
  });

  it("claimsOf names claimName and <pod>-<volume> for ephemeral volumes", () => {
    expect(claimsOf(pod({ claimName: "c", ephemeral: "scratch" }))).toEqual(["c", "p-scratch"]);
  });
});

// ---- against the real apiserver ----

const client = testClient();
const claims = client.resource<PersistentVolumeClaim>(builtin("v1", "persistentvolumeclaims"));
const volumes = client.resource<PersistentVolume>(builtin("v1", "persistentvolumes"));
const pods = client.resource<Pod>(builtin("v1", "pods"));
const nodes = client.resource<Node>(builtin("v1", "nodes"));
const wake = wakeControllerManager;

const claimSpec = { accessModes: ["ReadWriteOnce"], storageClassName: "", resources: { requests: { storage: "1Gi" } } };
const volumeSpec = (claimRef?: { namespace: string; name: string }) => ({
  capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], storageClassName: "", persistentVolumeReclaimPolicy: "Retain", hostPath: { path: "/tmp/pv" },
  ...(claimRef ? { claimRef } : {}),
});

describe("pvc-protection", () => {
  it("a claim is created with kubernetes.io/pvc-protection, a volume with kubernetes.io/pv-protection", async () => {
    const ns = await freshNamespace(client, "pvcp");
    expect((await claims.create(ns, { metadata: { name: "c" }, spec: claimSpec })).metadata!.finalizers).toEqual(["kubernetes.io/pvc-protection"]);
    const name = `pvp-${crypto.randomUUID().slice(0, 8)}`;
    expect((await volumes.create(undefined, { metadata: { name }, spec: volumeSpec() })).metadata!.finalizers).toEqual(["kubernetes.io/pv-protection"]);
  });

  it("a claim no pod uses goes when deleted", async () => {
    const ns = await freshNamespace(client, "pvcp");
    await claims.create(ns, { metadata: { name: "unused" }, spec: claimSpec });
    await claims.delete(ns, "unused");
    await wake();
    await expect(claims.get(ns, "unused")).rejects.toSatisfy(isNotFound);
  });

  it("a claim a scheduled pod uses stays Terminating until the pod is gone", async () => {
    const ns = await freshNamespace(client, "pvcp");
    await claims.create(ns, { metadata: { name: "data" }, spec: claimSpec });
    // A node that exists, or PodGC would collect the pod as an orphan.
    const node = `pvcp-${crypto.randomUUID().slice(0, 8)}`;
    await nodes.create(undefined, { metadata: { name: node } });
    await pods.create(ns, { metadata: { name: "user" }, spec: { nodeName: node, containers: [{ name: "c", image: "busybox" }], volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }] } });
    await claims.delete(ns, "data");
    await wake();
    const held = await claims.get(ns, "data");
    expect(held.metadata!.deletionTimestamp).toBeTruthy();
    expect(held.metadata!.finalizers).toEqual(["kubernetes.io/pvc-protection"]);
    await pods.delete(ns, "user", { gracePeriodSeconds: 0 });
    await wake();
    await expect(claims.get(ns, "data")).rejects.toSatisfy(isNotFound);
  });
});

describe("pv-protection", () => {
  it("a volume that is not bound goes when deleted", async () => {
    const name = `pvp-${crypto.randomUUID().slice(0, 8)}`;
    await volumes.create(undefined, { metadata: { name }, spec: volumeSpec() });
    await wake();
    await volumes.delete(undefined, name);
    await wake();
    await expect(volumes.get(undefined, name)).rejects.toSatisfy(isNotFound);
  });

  it("a Bound volume stays Terminating until its claim is deleted and it is Released", async () => {
    const ns = await freshNamespace(client, "pvp");
    const name = `pvp-${crypto.randomUUID().slice(0, 8)}`;
    await volumes.create(undefined, { metadata: { name }, spec: volumeSpec({ namespace: ns, name: "c" }) });
    await claims.create(ns, { metadata: { name: "c" }, spec: { ...claimSpec, volumeName: name } });
    await wake();
    expect((await volumes.get(undefined, name)).status!.phase).toBe("Bound");
    await volumes.delete(undefined, name);
    await wake();
    const held = await volumes.get(undefined, name);
    expect(held.metadata!.deletionTimestamp).toBeTruthy();
    expect(held.status!.phase).toBe("Bound");
    await claims.delete(ns, "c");
    await wake();
    await expect(claims.get(ns, "c")).rejects.toSatisfy(isNotFound);
    await expect(volumes.get(undefined, name)).rejects.toSatisfy(isNotFound);
  });
});

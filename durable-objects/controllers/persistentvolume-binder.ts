// The PersistentVolume binder (kube-controller-manager 1.30's "persistentvolume-binder"): every
// claim is bound to the smallest available volume that satisfies it (capacity, access modes,
// class, volume mode, selector), or to the one either of them names; a claim with no match asks its
// class's provisioner for one; claims of WaitForFirstConsumer classes wait for a scheduled pod,
// whose node this controller writes on the claim (volume.kubernetes.io/selected-node, the
// scheduler's VolumeBinding PreBind in kube). A volume whose claim is gone is Released, and its
// reclaim policy says what then: Retain keeps it, Delete leaves it to its provisioner.
// Keys: "namespace/name" for a claim, "/name" for a volume.
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1";
import type { StorageClass } from "kubernetes-types/storage/v1";
import { isNotFound } from "../../lib/client/index.ts";
import { parseQuantity } from "../../lib/k8s/quantity.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import {
  ANN_BETA_STORAGE_PROVISIONER, ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_PROVISIONED_BY, ANN_SELECTED_NODE, ANN_STORAGE_PROVISIONER, NO_PROVISIONER,
} from "../../lib/k8s/storage.ts";
import { kubeTime } from "../../lib/k8s/time.ts";
import { keyOf, selects, splitKey, type Controller, type Listers, type ReconcileContext } from "./framework.ts";

const CLAIMS = builtin("v1", "persistentvolumeclaims");
const VOLUMES = builtin("v1", "persistentvolumes");
const CLASSES = builtin("storage.k8s.io/v1", "storageclasses");
const PODS = builtin("v1", "pods");
const NODES = builtin("v1", "nodes");

type EventSpec = { type: "Normal" | "Warning"; reason: string; message: string };

/** What syncClaim decides for a claim. */
export type ClaimDecision =
  | { action: "bind"; volume: PersistentVolume }
  | { action: "annotate"; annotations: Record<string, string>; event?: EventSpec }
  | { action: "phase"; phase: "Pending" | "Lost"; event?: EventSpec };

/** What syncVolume decides for a volume. */
export type VolumeDecision =
  | { action: "none" }
  | { action: "phase"; phase: "Available" | "Bound" | "Released" | "Failed"; message?: string; event?: EventSpec }
  | { action: "unbind" };

/** What the decisions read, besides the object itself. */
export interface World {
  volumes: readonly PersistentVolume[];
  volume(name: string): PersistentVolume | undefined;
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  storageClass(name: string): StorageClass | undefined;
  node(name: string): Node | undefined;
  /** The pods of the claim's namespace that use it and are not finished. */
  podsUsing(claim: PersistentVolumeClaim): Pod[];
}

const annotations = (o: { metadata?: { annotations?: Record<string, string> } }) => o.metadata?.annotations ?? {};

/** The class a claim asks for ("" for none); the beta annotation predates the field and wins. */
export function claimClass(claim: PersistentVolumeClaim): string {
  return annotations(claim)["volume.beta.kubernetes.io/storage-class"] ?? claim.spec?.storageClassName ?? "";
}

export function volumeClass(volume: PersistentVolume): string {
  return annotations(volume)["volume.beta.kubernetes.io/storage-class"] ?? volume.spec?.storageClassName ?? "";
}

function quantity(text: string | number | undefined): bigint {
  try {
    return text === undefined ? 0n : parseQuantity(text);
  } catch {
    return 0n;
  }
}

/** Whether the volume names this claim in its claimRef (by uid, when it has one). */
export function isVolumeBoundToClaim(volume: PersistentVolume, claim: PersistentVolumeClaim): boolean {
  const ref = volume.spec?.claimRef;
  if (!ref || ref.name !== claim.metadata?.name || ref.namespace !== claim.metadata?.namespace) return false;
  return !ref.uid || ref.uid === claim.metadata?.uid;
}

/** A node selector term's requirements against a node's labels and name (VolumeNodeAffinity). */
function termMatches(term: { matchExpressions?: { key: string; operator: string; values?: string[] }[]; matchFields?: { key: string; operator: string; values?: string[] }[] }, node: Node): boolean {
  const labels = node.metadata?.labels ?? {};
  const requirement = (value: string | undefined, operator: string, values: string[] = []) => {
    switch (operator) {
      case "In": return value !== undefined && values.includes(value);
      case "NotIn": return value === undefined || !values.includes(value);
      case "Exists": return value !== undefined;
      case "DoesNotExist": return value === undefined;
      case "Gt": return value !== undefined && Number(value) > Number(values[0]);
      case "Lt": return value !== undefined && Number(value) < Number(values[0]);
      default: return false;
    }
  };
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  return expressions.every((e) => requirement(labels[e.key], e.operator, e.values))
    && fields.every((f) => requirement(f.key === "metadata.name" ? node.metadata?.name : undefined, f.operator, f.values));
}

/** Whether a volume may be used on the node: no node affinity, or one of its terms matches. */
export function volumeFitsNode(volume: PersistentVolume, node: Node): boolean {
  const terms = volume.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  return !terms || terms.some((t) => termMatches(t, node));
}

/** Why the volume cannot satisfy the claim (checkVolumeSatisfyClaim), or undefined if it can. */
export function volumeMismatch(volume: PersistentVolume, claim: PersistentVolumeClaim): string | undefined {
  if (quantity(volume.spec?.capacity?.storage) < quantity(claim.spec?.resources?.requests?.storage)) return "requested PV is too small";
  if (volumeClass(volume) !== claimClass(claim)) return "storageClassName does not match";
  if ((volume.spec?.volumeMode ?? "Filesystem") !== (claim.spec?.volumeMode ?? "Filesystem")) return "incompatible volumeMode";
  if (!(claim.spec?.accessModes ?? []).every((m) => (volume.spec?.accessModes ?? []).includes(m))) return "incompatible accessMode";
  return undefined;
}

/**
 * findMatchingVolume: the volume already promised to the claim, else the smallest available one
 * that satisfies it and its selector. With delayed binding only a volume that fits the selected
 * node counts, and without a selected node only a promised one.
 */
export function findBestMatch(claim: PersistentVolumeClaim, volumes: readonly PersistentVolume[], delayBinding: boolean, node: Node | undefined): PersistentVolume | undefined {
  let best: PersistentVolume | undefined;
  for (const volume of volumes) {
    if (quantity(volume.spec?.capacity?.storage) < quantity(claim.spec?.resources?.requests?.storage)) continue;
    if ((volume.spec?.volumeMode ?? "Filesystem") !== (claim.spec?.volumeMode ?? "Filesystem")) continue;
    if (node && !volumeFitsNode(volume, node)) continue;
    if (isVolumeBoundToClaim(volume, claim)) return volume;
    if (delayBinding && !node) continue;
    if (volume.spec?.claimRef || (volume.status?.phase ?? "Pending") !== "Available" || volume.metadata?.deletionTimestamp) continue;
    if (claim.spec?.selector && !selects(claim.spec.selector, volume.metadata?.labels)) continue;
    if (volumeClass(volume) !== claimClass(claim)) continue;
    if (!(claim.spec?.accessModes ?? []).every((m) => (volume.spec?.accessModes ?? []).includes(m))) continue;
    if (!best || quantity(volume.spec?.capacity?.storage) < quantity(best.spec?.capacity?.storage)) best = volume;
  }
  return best;
}

/** The event kube's binder records while a delayed claim waits for a pod to be scheduled. */
function waitingForConsumer(pods: Pod[]): EventSpec {
  const unscheduled = pods.filter((p) => !p.spec?.nodeName).map((p) => p.metadata!.name!);
  if (unscheduled.length === 0) return { type: "Normal", reason: "WaitForFirstConsumer", message: "waiting for first consumer to be created before binding" };
  return { type: "Normal", reason: "WaitForPodScheduled", message: `waiting for ${unscheduled.length > 1 ? "pods" : "pod"} ${unscheduled.join(",")} to be scheduled` };
}

/** syncUnboundClaim: a claim the binder has not finished binding. */
function syncUnboundClaim(claim: PersistentVolumeClaim, world: World): ClaimDecision {
  const volumeName = claim.spec?.volumeName;
  if (volumeName) {
    // The user asked for this volume.
    const volume = world.volume(volumeName);
    if (!volume) return { action: "phase", phase: "Pending" };
    if (!volume.spec?.claimRef || isVolumeBoundToClaim(volume, claim)) {
      const mismatch = volumeMismatch(volume, claim);
      if (mismatch) return { action: "phase", phase: "Pending", event: { type: "Warning", reason: "VolumeMismatch", message: `Cannot bind to requested volume "${volumeName}": ${mismatch}` } };
      return { action: "bind", volume };
    }
    return { action: "phase", phase: "Pending", event: { type: "Warning", reason: "FailedBinding", message: `volume "${volumeName}" already bound to a different claim.` } };
  }
  const className = claimClass(claim);
  const storageClass = className ? world.storageClass(className) : undefined;
  const delayBinding = storageClass?.volumeBindingMode === "WaitForFirstConsumer";
  const selectedNode = annotations(claim)[ANN_SELECTED_NODE];
  if (delayBinding && !selectedNode) {
    // What kube's scheduler does in VolumeBinding's PreBind: the claim follows its first scheduled pod.
    const scheduled = world.podsUsing(claim).find((p) => p.spec?.nodeName);
    if (scheduled) return { action: "annotate", annotations: { [ANN_SELECTED_NODE]: scheduled.spec!.nodeName! } };
  }
  const node = selectedNode ? world.node(selectedNode) : undefined;
  const volume = findBestMatch(claim, world.volumes, delayBinding, node);
  if (volume) return { action: "bind", volume };
  if (delayBinding && !selectedNode) return { action: "phase", phase: "Pending", event: waitingForConsumer(world.podsUsing(claim)) };
  if (!className) return { action: "phase", phase: "Pending", event: { type: "Normal", reason: "FailedBinding", message: "no persistent volumes available for this claim and no storage class is set" } };
  if (!storageClass) return { action: "phase", phase: "Pending", event: { type: "Warning", reason: "ProvisioningFailed", message: `storageclass.storage.k8s.io "${className}" not found` } };
  const provisioner = storageClass.provisioner;
  if (provisioner === NO_PROVISIONER) return { action: "phase", phase: "Pending", event: { type: "Normal", reason: "FailedBinding", message: "no persistent volumes available for this claim and no storage class is set" } };
  // Every provisioner is external here: it watches for claims annotated with its name.
  const event: EventSpec = {
    type: "Normal", reason: "ExternalProvisioning",
    message: `Waiting for a volume to be created either by the external provisioner '${provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
  };
  if (annotations(claim)[ANN_STORAGE_PROVISIONER] === provisioner && annotations(claim)[ANN_BETA_STORAGE_PROVISIONER] === provisioner) return { action: "phase", phase: "Pending", event };
  return { action: "annotate", annotations: { [ANN_STORAGE_PROVISIONER]: provisioner, [ANN_BETA_STORAGE_PROVISIONER]: provisioner }, event };
}

/** syncClaim: what to do about a claim, given what exists. */
export function syncClaim(claim: PersistentVolumeClaim, world: World): ClaimDecision {
  if (annotations(claim)[ANN_BIND_COMPLETED] === undefined) return syncUnboundClaim(claim, world);
  // syncBoundClaim: the claim was bound; it stays bound, or it is Lost.
  const volumeName = claim.spec?.volumeName;
  if (!volumeName) return { action: "phase", phase: "Lost", event: { type: "Warning", reason: "ClaimLost", message: "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!" } };
  const volume = world.volume(volumeName);
  if (!volume) return { action: "phase", phase: "Lost", event: { type: "Warning", reason: "ClaimLost", message: "Bound claim has lost its PersistentVolume. Data on the volume is lost!" } };
  if (!volume.spec?.claimRef || isVolumeBoundToClaim(volume, claim)) return { action: "bind", volume };
  return { action: "phase", phase: "Lost", event: { type: "Warning", reason: "ClaimMisbound", message: "Two claims are bound to the same volume, this one is bound incorrectly" } };
}

/** reclaimVolume: what a Released volume's policy does once its claim is gone. */
function reclaim(volume: PersistentVolume): VolumeDecision {
  const phase = volume.status?.phase;
  switch (volume.spec?.persistentVolumeReclaimPolicy ?? "Retain") {
    case "Retain":
      return phase === "Released" ? { action: "none" } : { action: "phase", phase: "Released" };
    case "Delete":
      // A provisioned volume is its provisioner's to delete; nothing here deletes by hand-made ones.
      if (annotations(volume)[ANN_PROVISIONED_BY]) return phase === "Released" ? { action: "none" } : { action: "phase", phase: "Released" };
      return phase === "Failed" ? { action: "none" } : {
        action: "phase", phase: "Failed", message: "error getting deleter volume plugin for volume: no deletable volume plugin matched",
        event: { type: "Warning", reason: "VolumeFailedDelete", message: `error getting deleter volume plugin for volume "${volume.metadata?.name}": no deletable volume plugin matched` },
      };
    default:
      return phase === "Failed" ? { action: "none" } : {
        action: "phase", phase: "Failed", message: "No recycler plugin found for the volume!",
        event: { type: "Warning", reason: "VolumeFailedRecycle", message: "No recycler plugin found for the volume!" },
      };
  }
}

/** syncVolume: what to do about a volume, given its claim (if it has one and it exists). */
export function syncVolume(volume: PersistentVolume, world: Pick<World, "claim">): VolumeDecision {
  const phase = volume.status?.phase ?? "Pending";
  const ref = volume.spec?.claimRef;
  const available: VolumeDecision = phase === "Available" ? { action: "none" } : { action: "phase", phase: "Available" };
  // Not promised to anyone, or promised to a claim that may not exist yet.
  if (!ref || !ref.uid) return available;
  const claim = world.claim(ref.namespace ?? "", ref.name ?? "");
  if (!claim || claim.metadata?.uid !== ref.uid) return reclaim(volume);
  const claimVolume = claim.spec?.volumeName;
  // The claim's own sync finishes the binding.
  if (!claimVolume) return { action: "none" };
  if (claimVolume === volume.metadata?.name) return phase === "Bound" ? { action: "none" } : { action: "phase", phase: "Bound" };
  // The claim went to another volume: a volume the binder promised is free again.
  if (annotations(volume)[ANN_BOUND_BY_CONTROLLER]) return { action: "unbind" };
  return reclaim(volume);
}

/** The claims a pod uses, as keys (only once it is scheduled: delayed binding follows its node). */
function claimKeysOfPod(pod: Pod): string[] {
  if (!pod.spec?.nodeName) return [];
  return (pod.spec.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim?.claimName ? [`${pod.metadata?.namespace}/${v.persistentVolumeClaim.claimName}`] : []));
}

function worldOf(listers: Listers): World {
  const volumes = listers.of<PersistentVolume>(VOLUMES);
  const pods = listers.of<Pod>(PODS);
  return {
    get volumes() {
      return volumes.list();
    },
    volume: (name) => volumes.get(undefined, name),
    claim: (namespace, name) => listers.of<PersistentVolumeClaim>(CLAIMS).get(namespace, name),
    storageClass: (name) => listers.of<StorageClass>(CLASSES).get(undefined, name),
    node: (name) => listers.of<Node>(NODES).get(undefined, name),
    podsUsing: (claim) => pods.list(claim.metadata?.namespace).filter((p) =>
      !["Succeeded", "Failed"].includes(p.status?.phase ?? "") && (p.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claim.metadata?.name)),
  };
}

/** The binding's writes, in kube's order: the volume's claimRef, its phase, the claim, its phase. */
async function bind(ctx: ReconcileContext, claim: PersistentVolumeClaim, volume: PersistentVolume): Promise<void> {
  const volumes = ctx.client.resource<PersistentVolume>(VOLUMES);
  const claims = ctx.client.resource<PersistentVolumeClaim>(CLAIMS);
  const ref = volume.spec?.claimRef;
  if (!ref || ref.uid !== claim.metadata?.uid) {
    const boundByUs: Record<string, string> = !ref ? { [ANN_BOUND_BY_CONTROLLER]: "yes" } : {};
    volume = await volumes.update(undefined, {
      ...volume,
      metadata: { ...volume.metadata, annotations: { ...annotations(volume), ...boundByUs } },
      spec: {
        ...volume.spec,
        claimRef: { kind: "PersistentVolumeClaim", apiVersion: "v1", namespace: claim.metadata!.namespace!, name: claim.metadata!.name!, uid: claim.metadata!.uid!, resourceVersion: claim.metadata!.resourceVersion! },
      },
    });
  }
  if (volume.status?.phase !== "Bound") await setVolumePhase(ctx, volume, "Bound");
  if (claim.spec?.volumeName !== volume.metadata!.name || annotations(claim)[ANN_BIND_COMPLETED] === undefined) {
    const boundByUs: Record<string, string> = claim.spec?.volumeName !== volume.metadata!.name ? { [ANN_BOUND_BY_CONTROLLER]: "yes" } : {};
    claim = await claims.update(claim.metadata!.namespace!, {
      ...claim,
      metadata: { ...claim.metadata, annotations: { ...annotations(claim), ...boundByUs, [ANN_BIND_COMPLETED]: "yes" } },
      spec: { ...claim.spec, volumeName: volume.metadata!.name! },
    });
  }
  const status = claim.status ?? {};
  const capacity = volume.spec?.capacity;
  if (status.phase !== "Bound" || JSON.stringify(status.capacity) !== JSON.stringify(capacity) || JSON.stringify(status.accessModes) !== JSON.stringify(volume.spec?.accessModes)) {
    await claims.updateStatus(claim.metadata!.namespace!, { ...claim, status: { ...status, phase: "Bound", accessModes: volume.spec?.accessModes, capacity } });
  }
}

async function setVolumePhase(ctx: ReconcileContext, volume: PersistentVolume, phase: string, message?: string): Promise<void> {
  const changed = volume.status?.phase !== phase;
  await ctx.client.resource<PersistentVolume>(VOLUMES).updateStatus(undefined, {
    ...volume,
    status: { ...volume.status, phase, ...(message ? { message } : {}), ...(changed ? { lastPhaseTransitionTime: kubeTime(ctx.now()) } : {}) },
  });
}

async function setClaimPhase(ctx: ReconcileContext, claim: PersistentVolumeClaim, phase: string): Promise<void> {
  if (claim.status?.phase === phase) return;
  await ctx.client.resource<PersistentVolumeClaim>(CLAIMS).updateStatus(claim.metadata!.namespace!, { ...claim, status: { ...claim.status, phase } });
}

const record = (ctx: ReconcileContext, object: PersistentVolume | PersistentVolumeClaim, event: EventSpec | undefined) =>
  event ? ctx.recorder.record(object, undefined, event.type, event.reason, "", event.message).catch(() => undefined) : undefined;

async function reconcileClaim(ctx: ReconcileContext, claim: PersistentVolumeClaim): Promise<void> {
  const decision = syncClaim(claim, worldOf(ctx.listers));
  switch (decision.action) {
    case "bind":
      return bind(ctx, claim, decision.volume);
    case "annotate":
      await ctx.client.resource<PersistentVolumeClaim>(CLAIMS).update(claim.metadata!.namespace!, {
        ...claim, metadata: { ...claim.metadata, annotations: { ...annotations(claim), ...decision.annotations } },
      });
      await record(ctx, claim, decision.event);
      return;
    case "phase":
      await setClaimPhase(ctx, claim, decision.phase);
      await record(ctx, claim, decision.event);
  }
}

async function reconcileVolume(ctx: ReconcileContext, volume: PersistentVolume): Promise<void> {
  const decision = syncVolume(volume, worldOf(ctx.listers));
  switch (decision.action) {
    case "phase":
      await setVolumePhase(ctx, volume, decision.phase, decision.message);
      await record(ctx, volume, decision.event);
      return;
    case "unbind": {
      const { [ANN_BOUND_BY_CONTROLLER]: _bound, ...kept } = annotations(volume);
      const { claimRef: _ref, ...spec } = volume.spec ?? {};
      const unbound = await ctx.client.resource<PersistentVolume>(VOLUMES).update(undefined, { ...volume, metadata: { ...volume.metadata, annotations: kept }, spec });
      await setVolumePhase(ctx, unbound, "Available");
    }
  }
}

export const persistentVolumeBinderController: Controller = {
  name: "persistentvolume-binder-controller",
  watches: [
    { resource: CLAIMS, keysFor: (claim) => [keyOf(claim), ...((claim as PersistentVolumeClaim).spec?.volumeName ? [`/${(claim as PersistentVolumeClaim).spec!.volumeName}`] : [])] },
    {
      resource: VOLUMES,
      keysFor: (volume) => {
        const ref = (volume as PersistentVolume).spec?.claimRef;
        return [keyOf(volume), ...(ref?.name ? [`${ref.namespace ?? ""}/${ref.name}`] : [])];
      },
    },
    { resource: PODS, keysFor: (pod) => claimKeysOfPod(pod as Pod) },
    {
      resource: CLASSES,
      // A class that appears (or changes) is news to the claims still waiting for it.
      keysFor: (sc, listers) => listers.of<PersistentVolumeClaim>(CLAIMS).list()
        .filter((c) => !c.spec?.volumeName && claimClass(c) === sc.metadata?.name).map(keyOf),
    },
    { resource: NODES, keysFor: () => [], metadataOnly: true },
  ],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    try {
      if (namespace) {
        const claim = ctx.listers.of<PersistentVolumeClaim>(CLAIMS).get(namespace, name);
        if (claim) await reconcileClaim(ctx, claim);
      } else {
        const volume = ctx.listers.of<PersistentVolume>(VOLUMES).get(undefined, name);
        if (volume) await reconcileVolume(ctx, volume);
      }
    } catch (e) {
      // Deleted meanwhile: its own event brings the keys that still matter.
      if (!isNotFound(e)) throw e;
    }
  },
};

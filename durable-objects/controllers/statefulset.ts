// The StatefulSet controller (kube-controller-manager 1.30): pods `<set>-0` … `<set>-(replicas-1)`
// with stable hostnames under the governing Service and a PersistentVolumeClaim
// `<template>-<set>-<ordinal>` per volumeClaimTemplate. OrderedReady creates them one at a time,
// each once the one before is Running and Ready, and removes them from the highest ordinal down;
// Parallel does both at once. A new template is a ControllerRevision; RollingUpdate replaces pods
// from the highest ordinal down to the partition, one at a time, OnDelete only as pods are deleted.
// persistentVolumeClaimRetentionPolicy decides, through owner references, whether claims outlive
// the set (whenDeleted) and its scale-down (whenScaled).
import type { StatefulSet, StatefulSetStatus } from "kubernetes-types/apps/v1";
import type { PersistentVolumeClaim, Pod, PodTemplateSpec, Volume } from "kubernetes-types/core/v1";
import type { OwnerReference } from "kubernetes-types/meta/v1";
import { isAlreadyExists, isNotFound, type KubeObject } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { CONTROLLER_REVISION_HASH, CONTROLLER_REVISIONS, currentRevision, ownedRevisions, RevisionCollision, templateOf, truncateHistory } from "./controllerrevision.ts";
import { controllerRefOf, keyOf, selects, splitKey, type Controller, type ReconcileContext } from "./framework.ts";
import { claimPods, podCandidates, podOwnerKeys, type PodOwnerKind } from "./pod-claims.ts";
import { controllerRefTo, isPodAvailable, isPodReady, PODS, podFromTemplate } from "./replicaset.ts";

export const STATEFULSETS = builtin("apps/v1", "statefulsets");
export const PERSISTENT_VOLUME_CLAIMS = builtin("v1", "persistentvolumeclaims");

export const POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";
export const POD_INDEX_LABEL = "apps.kubernetes.io/pod-index";
/** The label on a StatefulSet's ControllerRevisions (apps.ControllerRevisionHashLabelKey). */
const REVISION_LABEL = "controller.kubernetes.io/hash";

/** The ordinal in a pod's name `<set>-<ordinal>`, if it is one of the set's. */
export function ordinalOf(set: StatefulSet, pod: Pod): number | undefined {
  const prefix = `${set.metadata!.name}-`;
  const name = pod.metadata?.name ?? "";
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
}

export const podName = (set: StatefulSet, ordinal: number) => `${set.metadata!.name}-${ordinal}`;

/** A StatefulSet's pods: those its selector matches that are named as its members (isMemberOf), adopted when orphaned. */
const STATEFUL_SET_PODS: PodOwnerKind<StatefulSet> = {
  resource: STATEFULSETS, apiVersion: "apps/v1", kind: "StatefulSet",
  selects: (set, pod) => ordinalOf(set, pod) !== undefined && selects(set.spec?.selector, pod.metadata?.labels),
};
export const claimName = (template: string, set: StatefulSet, ordinal: number) => `${template}-${podName(set, ordinal)}`;

/** The claims an ordinal's pod uses, one per volumeClaimTemplate (getPersistentVolumeClaims). */
export function claimsFor(set: StatefulSet, ordinal: number): PersistentVolumeClaim[] {
  return (set.spec?.volumeClaimTemplates ?? []).map((template) => ({
    apiVersion: "v1", kind: "PersistentVolumeClaim",
    metadata: {
      name: claimName(template.metadata!.name!, set, ordinal),
      namespace: set.metadata!.namespace,
      labels: { ...(template.metadata?.labels ?? {}), ...(set.spec?.selector?.matchLabels ?? {}) },
      ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
    },
    spec: structuredClone(template.spec ?? {}),
  }));
}

/** newVersionedStatefulSetPod: the template, identity, revision and claims of one ordinal. */
export function statefulPod(set: StatefulSet, ordinal: number, revision: string, template = set.spec!.template): Pod {
  const pod = podFromTemplate(template, set, controllerRefTo(set, "apps/v1", "StatefulSet"));
  const name = podName(set, ordinal);
  delete pod.metadata!.generateName;
  pod.metadata!.name = name;
  pod.metadata!.labels = { ...pod.metadata!.labels, [POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ordinal), [CONTROLLER_REVISION_HASH]: revision };
  pod.spec!.hostname = name;
  if (set.spec?.serviceName) pod.spec!.subdomain = set.spec.serviceName;
  const claims = (set.spec?.volumeClaimTemplates ?? []).map((t): Volume => ({ name: t.metadata!.name!, persistentVolumeClaim: { claimName: claimName(t.metadata!.name!, set, ordinal) } }));
  if (claims.length) pod.spec!.volumes = [...(pod.spec!.volumes ?? []).filter((v) => !claims.some((c) => c.name === v.name)), ...claims];
  return pod;
}

const isRunningAndReady = (pod: Pod) => pod.status?.phase === "Running" && isPodReady(pod);
const isTerminating = (pod: Pod) => !!pod.metadata?.deletionTimestamp;
const isFailed = (pod: Pod) => pod.status?.phase === "Failed";
const revisionOf = (pod: Pod) => pod.metadata?.labels?.[CONTROLLER_REVISION_HASH];

export interface StatefulPlan {
  /** Ordinals to create, in order. */
  create: number[];
  /** Pods to delete (failed, condemned, or replaced by the update), in order. */
  delete: Pod[];
}

/**
 * One step of the set's sync (updateStatefulSet): which ordinals to create and which pods to
 * delete now, given the pods by ordinal. OrderedReady stops at the first pod not Running and Ready.
 */
export function planStatefulSet(set: StatefulSet, pods: Map<number, Pod>, updateRevision: string): StatefulPlan {
  const plan: StatefulPlan = { create: [], delete: [] };
  const replicas = set.spec?.replicas ?? 1;
  const ordered = (set.spec?.podManagementPolicy ?? "OrderedReady") === "OrderedReady";
  const start = set.spec?.ordinals?.start ?? 0;
  const inRange = (o: number) => o >= start && o < start + replicas;
  // Failed pods are deleted and made again.
  for (const pod of pods.values()) if (isFailed(pod) && !isTerminating(pod)) plan.delete.push(pod);
  let blocked = false;
  for (let ordinal = start; ordinal < start + replicas; ordinal++) {
    const pod = pods.get(ordinal);
    if (!pod || (isFailed(pod) && !ordered)) {
      if (!pod) plan.create.push(ordinal);
      if (ordered) {
        blocked = true;
        break;
      }
      continue;
    }
    if (ordered && (isTerminating(pod) || !isRunningAndReady(pod))) {
      blocked = true;
      break;
    }
  }
  const condemned = [...pods.entries()].filter(([o]) => !inRange(o)).sort(([a], [b]) => b - a).map(([, p]) => p).filter((p) => !isTerminating(p));
  if (condemned.length && !blocked) {
    if (ordered) {
      // One at a time, highest first, and only once none is already terminating.
      if (![...pods.entries()].some(([o, p]) => isTerminating(p) && !inRange(o))) plan.delete.push(condemned[0]!);
    } else {
      plan.delete.push(...condemned);
    }
  }
  if (blocked || condemned.length || set.spec?.updateStrategy?.type === "OnDelete") return plan;
  // RollingUpdate: from the highest ordinal down to the partition, one unhealthy pod at a time.
  const partition = set.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  const unhealthy = [...pods.values()].some((p) => !isRunningAndReady(p) || isTerminating(p));
  if (unhealthy) return plan;
  for (let ordinal = start + replicas - 1; ordinal >= start + partition; ordinal--) {
    const pod = pods.get(ordinal);
    if (pod && revisionOf(pod) !== updateRevision) {
      plan.delete.push(pod);
      break;
    }
  }
  return plan;
}

/** The owner references a claim should have under the retention policy (updateClaimOwnerRefForSetAndPod). */
export function claimOwners(set: StatefulSet, claim: PersistentVolumeClaim, ordinal: number, pod: Pod | undefined): OwnerReference[] {
  const policy = set.spec?.persistentVolumeClaimRetentionPolicy;
  const setRef: OwnerReference = { apiVersion: "apps/v1", kind: "StatefulSet", name: set.metadata!.name!, uid: set.metadata!.uid! };
  const others = (claim.metadata?.ownerReferences ?? []).filter((r) => r.uid !== set.metadata!.uid && !(r.kind === "Pod" && r.name === pod?.metadata?.name));
  const owners = [...others];
  if (policy?.whenDeleted === "Delete") owners.push(setRef);
  const start = set.spec?.ordinals?.start ?? 0;
  const condemned = ordinal >= start + (set.spec?.replicas ?? 1);
  if (policy?.whenScaled === "Delete" && condemned && pod) owners.push({ apiVersion: "v1", kind: "Pod", name: pod.metadata!.name!, uid: pod.metadata!.uid! });
  return owners;
}

function statefulSetKeysFor(object: KubeObject): string[] {
  const ref = controllerRefOf(object);
  return ref?.kind === "StatefulSet" ? [`${object.metadata?.namespace ?? ""}/${ref.name}`] : [];
}

class StatefulSetSync {
  private readonly set: StatefulSet;
  private readonly ctx: ReconcileContext;
  private readonly namespace: string;
  private readonly pods;
  private readonly claims;

  constructor(set: StatefulSet, ctx: ReconcileContext) {
    this.set = set;
    this.ctx = ctx;
    this.namespace = set.metadata!.namespace!;
    this.pods = ctx.client.resource<Pod>(PODS);
    this.claims = ctx.client.resource<PersistentVolumeClaim>(PERSISTENT_VOLUME_CLAIMS);
  }

  private event(type: "Normal" | "Warning", reason: string, action: string, note: string): Promise<unknown> {
    return this.ctx.recorder.record(this.set, undefined, type, reason, action, note).catch(() => undefined);
  }

  /** createPersistentVolumeClaims: each missing claim of the ordinal, with kube's event wording. */
  async ensureClaims(ordinal: number): Promise<void> {
    const name = podName(this.set, ordinal);
    for (const claim of claimsFor(this.set, ordinal)) {
      try {
        await this.claims.get(this.namespace, claim.metadata!.name!);
        continue;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      claim.metadata!.ownerReferences = claimOwners(this.set, claim, ordinal, undefined);
      if (!claim.metadata!.ownerReferences.length) delete claim.metadata!.ownerReferences;
      try {
        await this.claims.create(this.namespace, claim);
        await this.event("Normal", "SuccessfulCreate", "Create", `create Claim ${claim.metadata!.name} Pod ${name} in StatefulSet ${this.set.metadata!.name} success`);
      } catch (e) {
        if (isAlreadyExists(e)) continue;
        await this.event("Warning", "FailedCreate", "Create", `create Claim ${claim.metadata!.name} for Pod ${name} in StatefulSet ${this.set.metadata!.name} failed error: ${(e as Error).message}`);
        throw e;
      }
    }
  }

  /** Keeps each existing claim's owner references as the retention policy says. */
  async updateClaimOwners(ordinal: number, pod: Pod | undefined): Promise<void> {
    const policy = this.set.spec?.persistentVolumeClaimRetentionPolicy;
    if ((policy?.whenDeleted ?? "Retain") === "Retain" && (policy?.whenScaled ?? "Retain") === "Retain") return;
    for (const wanted of claimsFor(this.set, ordinal)) {
      let claim: PersistentVolumeClaim;
      try {
        claim = await this.claims.get(this.namespace, wanted.metadata!.name!);
      } catch (e) {
        if (isNotFound(e)) continue;
        throw e;
      }
      const owners = claimOwners(this.set, claim, ordinal, pod);
      if (JSON.stringify(owners) === JSON.stringify(claim.metadata?.ownerReferences ?? [])) continue;
      await this.claims.update(this.namespace, { ...claim, metadata: { ...claim.metadata, ownerReferences: owners } });
    }
  }

  async createPod(ordinal: number, revision: string, template: PodTemplateSpec): Promise<void> {
    await this.ensureClaims(ordinal);
    const pod = statefulPod(this.set, ordinal, revision, template);
    try {
      await this.pods.create(this.namespace, pod);
    } catch (e) {
      if (isAlreadyExists(e)) return;
      await this.event("Warning", "FailedCreate", "Create", `create Pod ${pod.metadata!.name} in StatefulSet ${this.set.metadata!.name} failed error: ${(e as Error).message}`);
      throw e;
    }
    await this.event("Normal", "SuccessfulCreate", "Create", `create Pod ${pod.metadata!.name} in StatefulSet ${this.set.metadata!.name} successful`);
  }

  async deletePod(pod: Pod, ordinal: number | undefined): Promise<void> {
    if (ordinal !== undefined) await this.updateClaimOwners(ordinal, pod);
    try {
      await this.pods.delete(this.namespace, pod.metadata!.name!, { preconditions: { uid: pod.metadata!.uid } });
    } catch (e) {
      if (isNotFound(e)) return;
      await this.event("Warning", "FailedDelete", "Delete", `delete Pod ${pod.metadata!.name} in StatefulSet ${this.set.metadata!.name} failed error: ${(e as Error).message}`);
      throw e;
    }
    await this.event("Normal", "SuccessfulDelete", "Delete", `delete Pod ${pod.metadata!.name} in StatefulSet ${this.set.metadata!.name} successful`);
  }

  async run(): Promise<number | undefined> {
    const set = this.set;
    const now = this.ctx.now();
    const revisions = ownedRevisions(set, this.ctx);
    const { revision: update } = await currentRevision(set, "StatefulSet", REVISION_LABEL, revisions, this.ctx);
    const current = revisions.find((r) => r.metadata!.name === set.status?.currentRevision) ?? update;
    // A StatefulSet's pods carry their revision's name (a DaemonSet's only the hash).
    const updateName = update.metadata!.name!;
    const currentName = current.metadata!.name!;
    const pods = new Map<number, Pod>();
    for (const pod of await claimPods(set, podCandidates(set, this.ctx.listers), STATEFUL_SET_PODS, this.ctx)) {
      const ordinal = ordinalOf(set, pod);
      if (ordinal !== undefined) pods.set(ordinal, pod);
    }
    if (!set.metadata?.deletionTimestamp) {
      const plan = planStatefulSet(set, pods, updateName);
      const partition = set.spec?.updateStrategy?.type === "OnDelete" ? Number.MAX_SAFE_INTEGER : set.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
      const start = set.spec?.ordinals?.start ?? 0;
      for (const pod of plan.delete) await this.deletePod(pod, ordinalOf(set, pod));
      for (const ordinal of plan.create) {
        // Below the partition (or with OnDelete) a new pod keeps the current revision.
        const atCurrent = ordinal - start < partition && currentName !== updateName;
        await this.createPod(ordinal, atCurrent ? currentName : updateName, atCurrent ? templateOf(current) ?? set.spec!.template : set.spec!.template);
      }
      for (const [ordinal, pod] of pods) if (!plan.delete.includes(pod)) await this.updateClaimOwners(ordinal, pod);
      await truncateHistory(set, revisions, new Set([updateName, currentName, ...[...pods.values()].map((p) => revisionOf(p) ?? "")]), this.ctx);
    }
    const status = this.statusOf(pods, updateName, currentName, now);
    const before: Record<string, unknown> = { ...set.status };
    if (Object.entries(status).some(([k, v]) => (before[k] ?? 0) !== (v ?? 0))) {
      await this.ctx.client.resource<StatefulSet>(STATEFULSETS).updateStatus(this.namespace, { ...set, status });
    }
    const minReadySeconds = set.spec?.minReadySeconds ?? 0;
    return minReadySeconds > 0 && (status.readyReplicas ?? 0) > (status.availableReplicas ?? 0) ? minReadySeconds * 1000 : undefined;
  }

  private statusOf(pods: Map<number, Pod>, updateRevision: string, currentRevision: string, now: number): StatefulSetStatus {
    const set = this.set;
    const live = [...pods.values()].filter((p) => !isTerminating(p));
    const minReadySeconds = set.spec?.minReadySeconds ?? 0;
    const status: StatefulSetStatus = {
      observedGeneration: set.metadata?.generation,
      replicas: live.length,
      readyReplicas: live.filter(isRunningAndReady).length,
      availableReplicas: live.filter((p) => isRunningAndReady(p) && isPodAvailable(p, minReadySeconds, now)).length,
      currentReplicas: live.filter((p) => revisionOf(p) === currentRevision).length,
      updatedReplicas: live.filter((p) => revisionOf(p) === updateRevision).length,
      currentRevision,
      updateRevision,
      ...(set.status?.collisionCount ? { collisionCount: set.status.collisionCount } : {}),
    };
    // completeRollingUpdate: once every pod is updated and ready, the update is the current revision.
    const replicas = set.spec?.replicas ?? 1;
    if (set.spec?.updateStrategy?.type !== "OnDelete" && status.updatedReplicas === replicas && status.readyReplicas === replicas && status.replicas === replicas) {
      status.currentRevision = status.updateRevision;
      status.currentReplicas = status.updatedReplicas;
    }
    return status;
  }
}

export const statefulSetController: Controller = {
  name: "statefulset-controller",
  watches: [
    { resource: STATEFULSETS, keysFor: (set) => [keyOf(set)] },
    { resource: PODS, keysFor: (pod, listers) => podOwnerKeys(pod as Pod, listers, STATEFUL_SET_PODS) },
    { resource: CONTROLLER_REVISIONS, keysFor: statefulSetKeysFor },
  ],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const set = ctx.listers.of<StatefulSet>(STATEFULSETS).get(namespace, name);
    if (!set) return undefined;
    try {
      const requeueAfter = await new StatefulSetSync(set, ctx).run();
      return requeueAfter !== undefined ? { requeueAfter } : undefined;
    } catch (e) {
      if (!(e instanceof RevisionCollision)) throw e;
      const status = { ...set.status, collisionCount: (set.status?.collisionCount ?? 0) + 1 } as StatefulSetStatus;
      await ctx.client.resource<StatefulSet>(STATEFULSETS).updateStatus(namespace, { ...set, status });
      throw e;
    }
  },
};

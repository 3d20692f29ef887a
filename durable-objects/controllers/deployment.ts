// The Deployment controller (kube-controller-manager 1.30, the basics): one ReplicaSet per pod
// template, told apart by the `pod-template-hash` label; a rolling update scales the new ReplicaSet
// up and the old ones down within maxSurge and maxUnavailable, Recreate scales the old ones to zero
// first; revisions in `deployment.kubernetes.io/revision`; old ReplicaSets beyond
// revisionHistoryLimit deleted; status and the Progressing and Available conditions that
// `kubectl rollout status` reads.
import type { Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet } from "kubernetes-types/apps/v1";
import type { PodTemplateSpec } from "kubernetes-types/core/v1";
import type { KubeObject } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { kubeTime } from "../../lib/k8s/time.ts";
import { controllerRefOf, keyOf, selects, splitKey, type Controller, type Listers, type ReconcileContext, type ReconcileResult } from "./framework.ts";
import { controllerRefTo, REPLICASETS } from "./replicaset.ts";

export const DEPLOYMENTS = builtin("apps/v1", "deployments");

export const POD_TEMPLATE_HASH = "pod-template-hash";
export const REVISION = "deployment.kubernetes.io/revision";
const DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS = "deployment.kubernetes.io/max-replicas";
const CHANGE_CAUSE = "kubernetes.io/change-cause";
/** Annotations of the Deployment that are not copied to its ReplicaSets (deploymentutil.skipCopyAnnotation). */
const NOT_COPIED = new Set([REVISION, DESIRED_REPLICAS, MAX_REPLICAS, "kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision-history"]);

/** JSON with object keys in sorted order, so equal templates print alike. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** rand.SafeEncodeString: digits and vowels replaced so a hash never spells words. */
const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
function safeEncode(text: string): string {
  return [...text].map((c) => SAFE_ALPHABET[c.charCodeAt(0) % SAFE_ALPHABET.length]).join("");
}

/**
 * The pod-template-hash: FNV-32a over the template's canonical JSON (and the collision count), safe
 * encoded as kube encodes its own. kube hashes a deep-hash-object printing of the Go struct
 * instead, so the values differ from kube's for the same template; they are as stable.
 */
export function podTemplateHash(template: PodTemplateSpec | undefined, collisionCount?: number): string {
  let hash = 0x811c9dc5;
  const bytes = new TextEncoder().encode(canonical(template ?? {}) + (collisionCount ? String(collisionCount) : ""));
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return safeEncode(String(hash));
}

function withoutHash(template: PodTemplateSpec | undefined): PodTemplateSpec {
  const copy = structuredClone(template ?? {});
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[POD_TEMPLATE_HASH];
    if (Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
  }
  return copy;
}

/** deploymentutil.EqualIgnoreHash. */
function sameTemplate(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  return canonical(withoutHash(a)) === canonical(withoutHash(b));
}

function revisionOf(rs: ReplicaSet): number {
  return Number(rs.metadata?.annotations?.[REVISION] ?? 0) || 0;
}

/** intstr.GetScaledValueFromIntOrPercent. */
function scaled(value: number | string | undefined, total: number, roundUp: boolean, fallback: string): number {
  const v = value ?? fallback;
  if (typeof v === "number") return v;
  const percent = Number(v.replace(/%$/, ""));
  return roundUp ? Math.ceil((percent * total) / 100) : Math.floor((percent * total) / 100);
}

/** deploymentutil.ResolveFenceposts: maxSurge rounds up, maxUnavailable down, and both zero means one unavailable. */
function fenceposts(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  const replicas = d.spec?.replicas ?? 1;
  const rolling = d.spec?.strategy?.rollingUpdate;
  const maxSurge = scaled(rolling?.maxSurge, replicas, true, "25%");
  let maxUnavailable = scaled(rolling?.maxUnavailable, replicas, false, "25%");
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

const byCreation = (a: ReplicaSet, b: ReplicaSet) =>
  (Date.parse(a.metadata?.creationTimestamp ?? "") || 0) - (Date.parse(b.metadata?.creationTimestamp ?? "") || 0) || (a.metadata!.name! < b.metadata!.name! ? -1 : 1);

const specReplicas = (sets: ReplicaSet[]) => sets.reduce((n, rs) => n + (rs.spec?.replicas ?? 0), 0);
const statusSum = (sets: ReplicaSet[], field: "replicas" | "readyReplicas" | "availableReplicas") => sets.reduce((n, rs) => n + (rs.status?.[field] ?? 0), 0);

function deploymentKeysFor(object: KubeObject, listers: Listers): string[] {
  const rs = object as ReplicaSet;
  const ref = controllerRefOf(rs);
  const namespace = rs.metadata?.namespace ?? "";
  if (ref) return ref.kind === "Deployment" ? [`${namespace}/${ref.name}`] : [];
  return listers.of<Deployment>(DEPLOYMENTS).list(namespace).filter((d) => selects(d.spec?.selector, rs.metadata?.labels)).map(keyOf);
}

class Sync {
  private readonly d: Deployment;
  private readonly ctx: ReconcileContext;
  private readonly sets;
  private readonly namespace: string;
  /** Set when this sync created or scaled a ReplicaSet: the rollout is moving. */
  progressed = false;
  createdNew = false;

  constructor(d: Deployment, ctx: ReconcileContext) {
    this.d = d;
    this.ctx = ctx;
    this.sets = ctx.client.resource<ReplicaSet>(REPLICASETS);
    this.namespace = d.metadata!.namespace!;
  }

  /** The ReplicaSets this Deployment controls, adopting orphans its selector matches. */
  async claim(): Promise<ReplicaSet[]> {
    const uid = this.d.metadata!.uid!;
    const owned: ReplicaSet[] = [];
    for (const rs of this.ctx.listers.of<ReplicaSet>(REPLICASETS).list(this.namespace)) {
      const ref = controllerRefOf(rs);
      if (ref) {
        if (ref.uid === uid) owned.push(rs);
        continue;
      }
      if (this.d.metadata?.deletionTimestamp || rs.metadata?.deletionTimestamp || !selects(this.d.spec?.selector, rs.metadata?.labels)) continue;
      const owners = [...(rs.metadata?.ownerReferences ?? []), controllerRefTo(this.d, "apps/v1", "Deployment")];
      owned.push(await this.sets.patch(this.namespace, rs.metadata!.name!, { metadata: { uid: rs.metadata!.uid, resourceVersion: rs.metadata!.resourceVersion, ownerReferences: owners } }, "merge"));
    }
    return owned;
  }

  /** The ReplicaSet of the current template, created if there is none (with the next revision). */
  async newReplicaSet(all: ReplicaSet[], old: ReplicaSet[], replicas: number): Promise<ReplicaSet> {
    const maxOldRevision = Math.max(0, ...old.map(revisionOf));
    const revision = String(maxOldRevision + 1);
    const existing = all.find((rs) => sameTemplate(rs.spec?.template, this.d.spec?.template));
    if (existing) {
      const annotations = this.replicaSetAnnotations(existing, revision);
      if (annotations) return this.sets.update(this.namespace, { ...existing, metadata: { ...existing.metadata, annotations } });
      return existing;
    }
    const hash = podTemplateHash(this.d.spec?.template, this.d.status?.collisionCount);
    const template = structuredClone(this.d.spec!.template!);
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [POD_TEMPLATE_HASH]: hash } };
    const selector = structuredClone(this.d.spec!.selector);
    selector.matchLabels = { ...selector.matchLabels, [POD_TEMPLATE_HASH]: hash };
    const fresh: ReplicaSet = {
      apiVersion: "apps/v1", kind: "ReplicaSet",
      metadata: {
        name: `${this.d.metadata!.name}-${hash}`, namespace: this.namespace,
        labels: { ...template.metadata.labels },
        ownerReferences: [controllerRefTo(this.d, "apps/v1", "Deployment")],
      },
      spec: { replicas: 0, minReadySeconds: this.d.spec?.minReadySeconds ?? 0, selector, template },
    };
    fresh.metadata!.annotations = this.replicaSetAnnotations(fresh, revision) ?? {};
    fresh.spec!.replicas = replicas;
    fresh.metadata!.annotations[DESIRED_REPLICAS] = String(this.d.spec?.replicas ?? 1);
    fresh.metadata!.annotations[MAX_REPLICAS] = String((this.d.spec?.replicas ?? 1) + this.maxSurge());
    const created = await this.sets.create(this.namespace, fresh);
    this.createdNew = true;
    this.progressed = true;
    if (replicas > 0) await this.event("Normal", "ScalingReplicaSet", `Scaled up replica set ${created.metadata!.name} to ${replicas}`);
    return created;
  }

  /** The Deployment's annotations copied to the ReplicaSet, and the new revision; undefined if nothing changes. */
  private replicaSetAnnotations(rs: ReplicaSet, revision: string): Record<string, string> | undefined {
    const annotations = { ...rs.metadata?.annotations };
    let changed = false;
    for (const [k, v] of Object.entries(this.d.metadata?.annotations ?? {})) {
      if (NOT_COPIED.has(k) || annotations[k] === v) continue;
      annotations[k] = v;
      changed = true;
    }
    if (revisionOf(rs) < Number(revision)) {
      annotations[REVISION] = revision;
      changed = true;
    }
    return changed ? annotations : undefined;
  }

  private maxSurge(): number {
    return this.d.spec?.strategy?.type === "Recreate" ? 0 : fenceposts(this.d).maxSurge;
  }

  async scale(rs: ReplicaSet, replicas: number): Promise<ReplicaSet> {
    const current = rs.spec?.replicas ?? 0;
    const desired = String(this.d.spec?.replicas ?? 1);
    const max = String((this.d.spec?.replicas ?? 1) + this.maxSurge());
    const annotations = rs.metadata?.annotations ?? {};
    if (current === replicas && annotations[DESIRED_REPLICAS] === desired && annotations[MAX_REPLICAS] === max) return rs;
    const updated = await this.sets.update(this.namespace, {
      ...rs,
      metadata: { ...rs.metadata, annotations: { ...annotations, [DESIRED_REPLICAS]: desired, [MAX_REPLICAS]: max } },
      spec: { ...rs.spec!, replicas },
    });
    if (current !== replicas) {
      this.progressed = true;
      const direction = replicas > current ? "up" : "down";
      await this.event("Normal", "ScalingReplicaSet", `Scaled ${direction} replica set ${rs.metadata!.name} to ${replicas} from ${current}`);
    }
    return updated;
  }

  event(type: "Normal" | "Warning", reason: string, note: string): Promise<unknown> {
    return this.ctx.recorder.record(this.d, undefined, type, reason, "Scale", note).catch(() => undefined);
  }

  /** rolloutRolling: the new ReplicaSet up to what maxSurge allows, then the old ones down to what maxUnavailable allows. */
  async rolling(newRS: ReplicaSet, old: ReplicaSet[]): Promise<{ newRS: ReplicaSet; old: ReplicaSet[] }> {
    const replicas = this.d.spec?.replicas ?? 1;
    const { maxSurge, maxUnavailable } = fenceposts(this.d);
    const newReplicas = newRS.spec?.replicas ?? 0;
    if (newReplicas > replicas) {
      newRS = await this.scale(newRS, replicas);
    } else if (newReplicas < replicas) {
      const current = specReplicas([newRS, ...old]);
      const scaleUp = Math.min(replicas + maxSurge - current, replicas - newReplicas);
      if (scaleUp > 0) newRS = await this.scale(newRS, newReplicas + scaleUp);
    }
    const oldCount = specReplicas(old);
    if (oldCount === 0) return { newRS, old };
    const all = specReplicas([newRS, ...old]);
    const minAvailable = replicas - maxUnavailable;
    const newUnavailable = (newRS.spec?.replicas ?? 0) - (newRS.status?.availableReplicas ?? 0);
    let maxScaledDown = all - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return { newRS, old };
    old = [...old].sort(byCreation);
    // Unhealthy replicas of old sets go first: they serve nobody.
    for (let i = 0; i < old.length && maxScaledDown > 0; i++) {
      const rs = old[i]!;
      const unhealthy = (rs.spec?.replicas ?? 0) - (rs.status?.availableReplicas ?? 0);
      if ((rs.spec?.replicas ?? 0) === 0 || unhealthy <= 0) continue;
      const down = Math.min(maxScaledDown, unhealthy);
      old[i] = await this.scale(rs, (rs.spec?.replicas ?? 0) - down);
      maxScaledDown -= down;
    }
    const available = statusSum([newRS, ...old], "availableReplicas");
    let budget = Math.min(available - minAvailable, maxScaledDown);
    for (let i = 0; i < old.length && budget > 0; i++) {
      const rs = old[i]!;
      const down = Math.min(rs.spec?.replicas ?? 0, budget);
      if (down === 0) continue;
      old[i] = await this.scale(rs, (rs.spec?.replicas ?? 0) - down);
      budget -= down;
    }
    return { newRS, old };
  }

  /** rolloutRecreate: every old ReplicaSet to zero, and the new one scaled up once their pods are gone. */
  async recreate(newRS: ReplicaSet, old: ReplicaSet[]): Promise<{ newRS: ReplicaSet; old: ReplicaSet[] }> {
    old = await Promise.all(old.map((rs) => this.scale(rs, 0)));
    if (statusSum(old, "replicas") > 0) return { newRS, old };
    newRS = await this.scale(newRS, this.d.spec?.replicas ?? 1);
    return { newRS, old };
  }

  /** Old ReplicaSets with nothing left, beyond revisionHistoryLimit, oldest first. */
  async cleanup(old: ReplicaSet[]): Promise<void> {
    const limit = this.d.spec?.revisionHistoryLimit ?? 10;
    const idle = old.filter((rs) => (rs.spec?.replicas ?? 0) === 0 && (rs.status?.replicas ?? 0) === 0 && !rs.metadata?.deletionTimestamp).sort(byCreation);
    const excess = old.length - limit;
    for (const rs of idle.slice(0, Math.max(0, excess))) {
      await this.sets.delete(this.namespace, rs.metadata!.name!, { preconditions: { uid: rs.metadata!.uid } }).catch((e) => {
        if ((e as { code?: number })?.code !== 404) throw e;
      });
    }
  }
}

function condition(status: DeploymentStatus | undefined, next: DeploymentCondition, now: string, moved = false): DeploymentCondition {
  const existing = status?.conditions?.find((c) => c.type === next.type);
  const same = !moved && existing?.status === next.status && existing.reason === next.reason;
  // lastUpdateTime moves when the reason or message changes; lastTransitionTime only when the status does.
  const lastTransitionTime = existing?.status === next.status ? existing.lastTransitionTime : now;
  const lastUpdateTime = same && existing?.message === next.message ? existing.lastUpdateTime : now;
  return { ...next, lastUpdateTime, lastTransitionTime };
}

/** The status kube's syncRolloutStatus writes; answers it and how long until the progress deadline is due. */
function rolloutStatus(d: Deployment, all: ReplicaSet[], newRS: ReplicaSet | undefined, sync: Sync | undefined, nowMs: number): { status: DeploymentStatus; requeueAfter?: number } {
  const replicas = d.spec?.replicas ?? 1;
  const now = kubeTime(nowMs);
  const available = statusSum(all, "availableReplicas");
  const status: DeploymentStatus = {
    observedGeneration: d.metadata?.generation,
    replicas: statusSum(all, "replicas"),
    updatedReplicas: newRS?.status?.replicas ?? 0,
    readyReplicas: statusSum(all, "readyReplicas"),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, replicas - available),
    ...(d.status?.collisionCount !== undefined ? { collisionCount: d.status.collisionCount } : {}),
  };
  const maxUnavailable = d.spec?.strategy?.type === "Recreate" ? 0 : fenceposts(d).maxUnavailable;
  const availableCondition: DeploymentCondition = available >= replicas - maxUnavailable
    ? { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability." }
    : { type: "Available", status: "False", reason: "MinimumReplicasUnavailable", message: "Deployment does not have minimum availability." };
  const conditions = [condition(d.status, availableCondition, now)];
  const previous = d.status?.conditions?.find((c) => c.type === "Progressing");
  const name = newRS?.metadata?.name ?? "";
  const complete = newRS !== undefined && status.updatedReplicas === replicas && status.replicas === replicas && available === replicas;
  let progressing: DeploymentCondition | undefined;
  let requeueAfter: number | undefined;
  const deadline = d.spec?.progressDeadlineSeconds ?? 600;
  if (d.spec?.paused) {
    progressing = { type: "Progressing", status: "Unknown", reason: "DeploymentPaused", message: "Deployment is paused" };
  } else if (complete) {
    progressing = { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", message: `ReplicaSet "${name}" has successfully progressed.` };
  } else if (sync?.createdNew) {
    progressing = { type: "Progressing", status: "True", reason: "NewReplicaSetCreated", message: `Created new replica set "${name}"` };
  } else if (sync?.progressed || !previous || previous.reason === "NewReplicaSetAvailable" || previous.reason === "DeploymentPaused" || previous.reason === "DeploymentResumed") {
    progressing = { type: "Progressing", status: "True", reason: "ReplicaSetUpdated", message: `ReplicaSet "${name}" is progressing.` };
  } else if (previous.reason !== "ProgressDeadlineExceeded") {
    const since = Date.parse(previous.lastUpdateTime ?? "") || nowMs;
    if (since + deadline * 1000 <= nowMs) progressing = { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: `ReplicaSet "${name}" has timed out progressing.` };
    else requeueAfter = since + deadline * 1000 - nowMs + 1000;
  }
  conditions.push(progressing ? condition(d.status, progressing, now, sync?.progressed) : previous!);
  if (progressing && progressing.reason !== "ProgressDeadlineExceeded" && !complete && !d.spec?.paused) requeueAfter = deadline * 1000 + 1000;
  status.conditions = conditions;
  return { status, requeueAfter };
}

function statusChanged(a: DeploymentStatus | undefined, b: DeploymentStatus): boolean {
  return canonical({ ...a }) !== canonical(b);
}

export const deploymentController: Controller = {
  name: "deployment-controller",
  watches: [
    { resource: DEPLOYMENTS, keysFor: (d) => [keyOf(d)] },
    { resource: REPLICASETS, keysFor: deploymentKeysFor },
  ],
  async reconcile(key, ctx): Promise<ReconcileResult | void> {
    const [namespace, name] = splitKey(key);
    const d = ctx.listers.of<Deployment>(DEPLOYMENTS).get(namespace, name);
    if (!d || d.metadata?.deletionTimestamp) return;
    const sync = new Sync(d, ctx);
    const owned = await sync.claim();
    const existingNew = owned.find((rs) => sameTemplate(rs.spec?.template, d.spec?.template));
    let old = owned.filter((rs) => rs !== existingNew);
    let newRS: ReplicaSet | undefined = existingNew;
    if (!d.spec?.paused) {
      const replicas = d.spec?.replicas ?? 1;
      const recreate = d.spec?.strategy?.type === "Recreate";
      // A fresh ReplicaSet starts with what maxSurge leaves room for (Recreate: none until the old pods are gone).
      const { maxSurge } = fenceposts(d);
      const room = recreate ? 0 : Math.max(0, Math.min(replicas, replicas + maxSurge - specReplicas(old)));
      newRS = await sync.newReplicaSet(owned, old, existingNew ? existingNew.spec?.replicas ?? 0 : room);
      ({ newRS, old } = recreate ? await sync.recreate(newRS, old) : await sync.rolling(newRS, old));
      await sync.cleanup(old);
    }
    const revision = newRS ? newRS.metadata?.annotations?.[REVISION] : undefined;
    const deployments = ctx.client.resource<Deployment>(DEPLOYMENTS);
    let current = d;
    if (revision && d.metadata?.annotations?.[REVISION] !== revision) {
      const annotations: Record<string, string> = { ...d.metadata?.annotations, [REVISION]: revision };
      if (newRS?.metadata?.annotations?.[CHANGE_CAUSE]) annotations[CHANGE_CAUSE] = newRS.metadata.annotations[CHANGE_CAUSE];
      current = await deployments.update(namespace, { ...d, metadata: { ...d.metadata, annotations } });
    }
    const { status, requeueAfter } = rolloutStatus(current, [...(newRS ? [newRS] : []), ...old], newRS, sync, ctx.now());
    if (statusChanged(current.status, status)) await deployments.updateStatus(namespace, { ...current, status });
    return requeueAfter === undefined ? undefined : { requeueAfter };
  },
};

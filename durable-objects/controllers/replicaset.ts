// The ReplicaSet controller (kube-controller-manager 1.30): a ReplicaSet has exactly
// `spec.replicas` active pods that match its selector and that it owns. It adopts orphans that
// match, releases owned pods that no longer match, creates missing pods from the template in
// slow-start batches and deletes extras (unscheduled first, then not ready, then the newest), and
// reports what it counts in its status. The ReplicationController controller (replicationcontroller.ts)
// is this controller over v1 ReplicationControllers, as kube's ReplicationManager is.
import type { Pod, PodTemplateSpec } from "kubernetes-types/core/v1";
import type { ReplicaSet, ReplicaSetCondition, ReplicaSetStatus } from "kubernetes-types/apps/v1";
import type { OwnerReference } from "kubernetes-types/meta/v1";
import type { KubeObject } from "../../lib/client/index.ts";
import { builtin, type ResourceNames } from "../../lib/k8s/resources.ts";
import { kubeTime } from "../../lib/k8s/time.ts";
import { keyOf, selects, splitKey, type Controller, type ReconcileContext } from "./framework.ts";
import { claimPods, controllerRefTo, podCandidates, podOwnerKeys, type PodOwnerKind } from "./pod-claims.ts";

export { controllerRefTo } from "./pod-claims.ts";

export const REPLICASETS = builtin("apps/v1", "replicasets");
export const PODS = builtin("v1", "pods");

/** kube's burstReplicas: at most this many creates or deletes per sync. */
const BURST_REPLICAS = 500;

export function isPodActive(pod: Pod): boolean {
  return pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed" && !pod.metadata?.deletionTimestamp;
}

function readySince(pod: Pod): number | undefined {
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.status !== "True") return undefined;
  return ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : 0;
}

export function isPodReady(pod: Pod): boolean {
  return readySince(pod) !== undefined;
}

/** Ready for at least minReadySeconds (podutil.IsPodAvailable). */
export function isPodAvailable(pod: Pod, minReadySeconds: number, now: number): boolean {
  const since = readySince(pod);
  if (since === undefined) return false;
  return minReadySeconds === 0 || since + minReadySeconds * 1000 <= now;
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/** controller.ActivePods' order: the pods to delete first come first. */
export function deletionOrder(a: Pod, b: Pod): number {
  const assigned = (p: Pod) => (p.spec?.nodeName ? 1 : 0);
  if (assigned(a) !== assigned(b)) return assigned(a) - assigned(b);
  const phase = (p: Pod) => PHASE_RANK[p.status?.phase ?? "Pending"] ?? 0;
  if (phase(a) !== phase(b)) return phase(a) - phase(b);
  const ready = (p: Pod) => (isPodReady(p) ? 1 : 0);
  if (ready(a) !== ready(b)) return ready(a) - ready(b);
  // Ready for less time first.
  const sa = readySince(a), sb = readySince(b);
  if (sa !== undefined && sb !== undefined && sa !== sb) return sb - sa;
  const restarts = (p: Pod) => Math.max(0, ...(p.status?.containerStatuses ?? []).map((c) => c.restartCount ?? 0));
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  const created = (p: Pod) => Date.parse(p.metadata?.creationTimestamp ?? "") || 0;
  return created(b) - created(a);
}

/** The pod a template makes for its owner (controller.GetPodFromTemplate). */
export function podFromTemplate(template: PodTemplateSpec, owner: KubeObject, ref: OwnerReference): Pod {
  const metadata = template.metadata ?? {};
  return {
    apiVersion: "v1", kind: "Pod",
    metadata: {
      generateName: `${owner.metadata!.name}-`,
      ...(metadata.labels ? { labels: { ...metadata.labels } } : {}),
      ...(metadata.annotations ? { annotations: { ...metadata.annotations } } : {}),
      ...(metadata.finalizers ? { finalizers: [...metadata.finalizers] } : {}),
      ownerReferences: [ref],
    },
    spec: structuredClone(template.spec),
  };
}

/**
 * What the replica controller manages: ReplicaSets (apps/v1, a LabelSelector) or
 * ReplicationControllers (v1, an equality selector). Both have the same spec.replicas, template,
 * minReadySeconds and status fields, so one reconcile serves both.
 */
export interface ReplicatedKind {
  /** The controller's name, also its Events' reportingController. */
  name: string;
  resource: ResourceNames;
  apiVersion: string;
  kind: string;
  /** Whether the owner's selector selects these labels. */
  selects(owner: ReplicaSet, labels: Record<string, string> | undefined): boolean;
}

const REPLICA_SET_KIND: ReplicatedKind = {
  name: "replicaset-controller", resource: REPLICASETS, apiVersion: "apps/v1", kind: "ReplicaSet",
  selects: (rs, labels) => selects(rs.spec?.selector, labels),
};

/** Creates `count` pods in batches of 1, 2, 4…, stopping at the first batch with a failure; answers the first failure. */
async function slowStartCreate(count: number, create: () => Promise<void>): Promise<unknown> {
  let remaining = count;
  for (let batch = Math.min(remaining, 1); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, create));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) return failed.reason;
    remaining -= batch;
  }
  return undefined;
}

async function manageReplicas(rs: ReplicaSet, pods: Pod[], of: ReplicatedKind, ctx: ReconcileContext): Promise<unknown> {
  const namespace = rs.metadata!.namespace!;
  const podClient = ctx.client.resource<Pod>(PODS);
  const diff = pods.length - (rs.spec?.replicas ?? 1);
  if (diff < 0) {
    const ref = controllerRefTo(rs, of.apiVersion, of.kind);
    return slowStartCreate(Math.min(-diff, BURST_REPLICAS), async () => {
      // Events are not waited for (the manager's flush is), so the next batch of creates need not wait for them.
      try {
        const pod = await podClient.create(namespace, podFromTemplate(rs.spec!.template!, rs, ref));
        void ctx.recorder.record(rs, undefined, "Normal", "SuccessfulCreate", "Create", `Created pod: ${pod.metadata!.name}`).catch(() => undefined);
      } catch (e) {
        void ctx.recorder.record(rs, undefined, "Warning", "FailedCreate", "Create", `Error creating: ${(e as Error).message}`).catch(() => undefined);
        throw e;
      }
    });
  }
  if (diff > 0) {
    const victims = [...pods].sort(deletionOrder).slice(0, Math.min(diff, BURST_REPLICAS));
    const results = await Promise.allSettled(victims.map(async (pod) => {
      try {
        await podClient.delete(namespace, pod.metadata!.name!, { preconditions: { uid: pod.metadata!.uid } });
      } catch (e) {
        if ((e as { code?: number })?.code === 404) return;
        void ctx.recorder.record(rs, undefined, "Warning", "FailedDelete", "Delete", `Error deleting: ${(e as Error).message}`).catch(() => undefined);
        throw e;
      }
      void ctx.recorder.record(rs, undefined, "Normal", "SuccessfulDelete", "Delete", `Deleted pod: ${pod.metadata!.name}`).catch(() => undefined);
    }));
    return results.find((r): r is PromiseRejectedResult => r.status === "rejected")?.reason;
  }
  return undefined;
}

function replicaFailure(status: ReplicaSetStatus | undefined, failure: unknown, now: number): ReplicaSetCondition[] | undefined {
  const others = (status?.conditions ?? []).filter((c) => c.type !== "ReplicaFailure");
  if (!failure) return others.length ? others : undefined;
  const existing = status?.conditions?.find((c) => c.type === "ReplicaFailure");
  const message = (failure as Error).message ?? String(failure);
  return [...others, { type: "ReplicaFailure", status: "True", reason: "FailedCreate", message, lastTransitionTime: existing?.lastTransitionTime ?? kubeTime(now) }];
}

/** The controller that keeps `spec.replicas` pods for each object of a replicated kind. */
export function replicaController(of: ReplicatedKind): Controller {
  const owners: PodOwnerKind<ReplicaSet> = { resource: of.resource, apiVersion: of.apiVersion, kind: of.kind, selects: (rs, pod) => of.selects(rs, pod.metadata?.labels) };
  return {
    name: of.name,
    watches: [
      { resource: of.resource, keysFor: (rs) => [keyOf(rs)] },
      { resource: PODS, keysFor: (pod, listers) => podOwnerKeys(pod as Pod, listers, owners, isPodActive) },
    ],
    async reconcile(key, ctx) {
      const [namespace, name] = splitKey(key);
      const cached = ctx.listers.of<ReplicaSet>(of.resource).get(namespace, name);
      // Gone: its pods are the garbage collector's.
      if (!cached) return;
      const rs = cached;
      const pods = await claimPods(rs, podCandidates(rs, ctx.listers).filter(isPodActive), owners, ctx);
      const failure = rs.metadata?.deletionTimestamp ? undefined : await manageReplicas(rs, pods, of, ctx);
      const now = ctx.now();
      const minReadySeconds = rs.spec?.minReadySeconds ?? 0;
      const templateLabels = rs.spec?.template?.metadata?.labels ?? {};
      const status: ReplicaSetStatus = {
        replicas: pods.length,
        fullyLabeledReplicas: pods.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata?.labels?.[k] === v)).length,
        readyReplicas: pods.filter(isPodReady).length,
        availableReplicas: pods.filter((p) => isPodAvailable(p, minReadySeconds, now)).length,
        observedGeneration: rs.metadata?.generation,
        conditions: replicaFailure(rs.status, failure, now),
      };
      if (!status.conditions) delete status.conditions;
      const before: Partial<ReplicaSetStatus> = rs.status ?? {};
      const changed = (["replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"] as const)
        .some((field) => (before[field] ?? 0) !== (status[field] ?? 0)) || JSON.stringify(before.conditions ?? []) !== JSON.stringify(status.conditions ?? []);
      if (changed) await ctx.client.resource<ReplicaSet>(of.resource).updateStatus(namespace, { ...rs, status });
      if (failure) throw failure;
      // Pods that are ready but not yet available for minReadySeconds: look again when they will be.
      if (minReadySeconds > 0 && (status.readyReplicas ?? 0) > (status.availableReplicas ?? 0)) return { requeueAfter: minReadySeconds * 1000 };
      return undefined;
    },
  };
}

export const replicaSetController = replicaController(REPLICA_SET_KIND);

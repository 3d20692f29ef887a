// The disruption controller (kube-controller-manager 1.30): a PodDisruptionBudget's status says how
// many of the pods it selects are healthy (Ready, not being deleted, not just evicted), how many
// must be (minAvailable, or the controllers' scale less maxUnavailable) and so how many evictions
// it allows now. The eviction subresource spends `disruptionsAllowed` and records the pod in
// `disruptedPods`; the controller forgets a recorded pod once it is gone or 2 minutes have passed.
// Its second queue (stalePodDisruptionController) turns a DisruptionTarget=True condition False on
// a pod that was marked for a disruption but still is not being deleted 2 minutes later.
import type { Deployment, ReplicaSet, StatefulSet } from "kubernetes-types/apps/v1";
import type { Pod, PodCondition, ReplicationController } from "kubernetes-types/core/v1";
import type { Condition } from "kubernetes-types/meta/v1";
import type { PodDisruptionBudget, PodDisruptionBudgetStatus } from "kubernetes-types/policy/v1";
import { isConflict, isNotFound, type KubeObject } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { formatLabelSelector, labelSelectorFromObject, type LabelSelectorObject } from "../../lib/k8s/selectors.ts";
import { kubeTime } from "../../lib/k8s/time.ts";
import { DEPLOYMENTS } from "./deployment.ts";
import { controllerRefOf, keyOf, selects, splitKey, type Controller, type Listers, type ReconcileContext } from "./framework.ts";
import { isPodReady, PODS, REPLICASETS } from "./replicaset.ts";
import { REPLICATION_CONTROLLERS } from "./replicationcontroller.ts";
import { getScale, resourceOfKind } from "./scale-targets.ts";

export const PDBS = builtin("policy/v1", "poddisruptionbudgets");
const STATEFULSETS = builtin("apps/v1", "statefulsets");

/** How long an evicted pod counts as disrupted before the controller stops waiting for its deletion. */
export const DELETION_TIMEOUT_MS = 2 * 60_000;

/** intstr.GetScaledValueFromIntOrPercent with rounding up, as both budget fields are scaled. */
export function scaledUp(value: number | string, total: number): number {
  if (typeof value === "number") return value;
  return Math.ceil((Number(value.replace(/%$/, "")) * total) / 100);
}

/** Whether the budget needs its pods' controllers' scale (maxUnavailable, or minAvailable as a percentage). */
export function needsScale(pdb: PodDisruptionBudget): boolean {
  return pdb.spec?.maxUnavailable !== undefined || typeof pdb.spec?.minAvailable === "string";
}

/** expectedPods and desiredHealthy (getExpectedPodCount): `scale` is the controllers' total when needsScale. */
export function expectedAndDesired(pdb: PodDisruptionBudget, podCount: number, scale: number): { expectedPods: number; desiredHealthy: number } {
  const { maxUnavailable, minAvailable } = pdb.spec ?? {};
  if (maxUnavailable !== undefined) return { expectedPods: scale, desiredHealthy: Math.max(0, scale - scaledUp(maxUnavailable, scale)) };
  if (typeof minAvailable === "number") return { expectedPods: podCount, desiredHealthy: minAvailable };
  if (typeof minAvailable === "string") return { expectedPods: scale, desiredHealthy: scaledUp(minAvailable, scale) };
  return { expectedPods: 0, desiredHealthy: 0 };
}

/** The recorded disruptions still awaited (buildDisruptedPodMap), and when the first of them expires. */
export function awaitedDisruptions(pods: Pod[], recorded: Record<string, string> | undefined, now: number): { disruptedPods: Record<string, string>; recheckAt?: number } {
  const disruptedPods: Record<string, string> = {};
  let recheckAt: number | undefined;
  for (const pod of pods) {
    const at = recorded?.[pod.metadata!.name!];
    if (pod.metadata?.deletionTimestamp || at === undefined) continue;
    const expires = Date.parse(at) + DELETION_TIMEOUT_MS;
    if (expires < now) continue;
    disruptedPods[pod.metadata!.name!] = at;
    recheckAt = Math.min(recheckAt ?? expires, expires);
  }
  return { disruptedPods, recheckAt };
}

/** Ready pods that are neither being deleted nor awaiting an eviction's deletion (countHealthyPods). */
export function countHealthy(pods: Pod[], disruptedPods: Record<string, string>): number {
  return pods.filter((p) => !p.metadata?.deletionTimestamp && disruptedPods[p.metadata!.name!] === undefined && isPodReady(p)).length;
}

/** An empty budget allows nothing: its first pods may appear before the controller has counted them. */
export function disruptionsAllowed(currentHealthy: number, desiredHealthy: number, expectedPods: number): number {
  return expectedPods <= 0 ? 0 : Math.max(0, currentHealthy - desiredHealthy);
}

/** meta.SetStatusCondition: the transition time moves only when the status does. */
export function setCondition(conditions: Condition[] | undefined, condition: Omit<Condition, "lastTransitionTime">, now: number): Condition[] {
  const existing = conditions?.find((c) => c.type === condition.type);
  const lastTransitionTime = existing && existing.status === condition.status ? existing.lastTransitionTime : kubeTime(now);
  const updated = { ...condition, lastTransitionTime };
  return existing ? conditions!.map((c) => (c === existing ? updated : c)) : [...(conditions ?? []), updated];
}

/** The DisruptionAllowed condition as the status's disruptionsAllowed implies it (pdbhelper.UpdateDisruptionAllowedCondition). */
export function disruptionAllowedCondition(status: PodDisruptionBudgetStatus, now: number): Condition[] {
  const allowed = status.disruptionsAllowed > 0;
  return setCondition(status.conditions, {
    type: "DisruptionAllowed", status: allowed ? "True" : "False", reason: allowed ? "SufficientPods" : "InsufficientPods",
    message: "", observedGeneration: status.observedGeneration,
  }, now);
}

function conditionsUpToDate(status: PodDisruptionBudgetStatus): boolean {
  const condition = status.conditions?.find((c) => c.type === "DisruptionAllowed");
  return !!condition && condition.observedGeneration === status.observedGeneration && (condition.status === "True") === (status.disruptionsAllowed > 0);
}

function selectedPods(pdb: PodDisruptionBudget, listers: Listers): Pod[] {
  let requirements;
  try {
    requirements = labelSelectorFromObject(pdb.spec?.selector as LabelSelectorObject | undefined);
  } catch {
    return [];
  }
  return requirements === "nothing" ? [] : listers.of<Pod>(PODS).list(pdb.metadata!.namespace!, requirements);
}

/** The scale of a pod's controller: its uid and replicas, or undefined when it has none that scales (the finders). */
async function controllerScale(pod: Pod, ctx: ReconcileContext): Promise<{ uid: string; replicas: number } | undefined> {
  const ref = controllerRefOf(pod)!;
  const namespace = pod.metadata!.namespace!;
  const owned = <T extends KubeObject>(object: T | undefined) => (object?.metadata?.uid === ref.uid ? object : undefined);
  if (ref.kind === "ReplicaSet" && ref.apiVersion.startsWith("apps/")) {
    const rs = owned(ctx.listers.of<ReplicaSet>(REPLICASETS).get(namespace, ref.name));
    const deploymentRef = rs && controllerRefOf(rs);
    if (deploymentRef?.kind === "Deployment") {
      const d = ctx.listers.of<Deployment>(DEPLOYMENTS).get(namespace, deploymentRef.name);
      return d?.metadata?.uid === deploymentRef.uid ? { uid: d.metadata!.uid!, replicas: d.spec?.replicas ?? 1 } : undefined;
    }
    return rs && { uid: ref.uid, replicas: rs.spec?.replicas ?? 1 };
  }
  if (ref.kind === "ReplicationController" && ref.apiVersion === "v1") {
    const rc = owned(ctx.listers.of<ReplicationController>(REPLICATION_CONTROLLERS).get(namespace, ref.name));
    return rc && { uid: ref.uid, replicas: rc.spec?.replicas ?? 1 };
  }
  if (ref.kind === "StatefulSet" && ref.apiVersion.startsWith("apps/")) {
    const set = owned(ctx.listers.of<StatefulSet>(STATEFULSETS).get(namespace, ref.name));
    return set && { uid: ref.uid, replicas: set.spec?.replicas ?? 1 };
  }
  // Any other kind with a scale subresource (a custom resource's /scale).
  const names = await resourceOfKind(ctx.client, ref.apiVersion, ref.kind).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
  if (!names) return undefined;
  const scale = await getScale(ctx.client, names, namespace, ref.name).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
  return scale?.metadata?.uid === ref.uid ? { uid: ref.uid, replicas: scale.spec?.replicas ?? 0 } : undefined;
}

/** The sum of the scales of the selected pods' controllers (getExpectedScale), and the pods without one. */
async function expectedScale(pods: Pod[], ctx: ReconcileContext): Promise<{ scale: number; unmanaged: string[] }> {
  const scales = new Map<string, number>();
  const unmanaged: string[] = [];
  for (const pod of pods) {
    const ref = controllerRefOf(pod);
    if (!ref) {
      unmanaged.push(pod.metadata!.name!);
      continue;
    }
    if (scales.has(ref.uid)) continue;
    const found = await controllerScale(pod, ctx);
    if (!found) throw new Error(`found no controllers for pod "${pod.metadata!.name}"`);
    scales.set(found.uid, found.replicas);
  }
  return { scale: [...scales.values()].reduce((a, b) => a + b, 0), unmanaged };
}

function sameDisrupted(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const before = a ?? {};
  return Object.keys(before).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => before[k] === v);
}

/** The budget with disruptionsAllowed 0 and why (failSafe): a budget the controller cannot compute protects its pods. */
async function failSafe(pdb: PodDisruptionBudget, error: Error, ctx: ReconcileContext): Promise<void> {
  const status: PodDisruptionBudgetStatus = { ...pdb.status!, disruptionsAllowed: 0 };
  status.conditions = setCondition(pdb.status?.conditions, {
    type: "DisruptionAllowed", status: "False", reason: "SyncFailed", message: error.message, observedGeneration: pdb.status?.observedGeneration,
  }, ctx.now());
  await ctx.client.resource<PodDisruptionBudget>(PDBS).updateStatus(pdb.metadata!.namespace!, { ...pdb, status });
}

async function sync(pdb: PodDisruptionBudget, ctx: ReconcileContext): Promise<number | undefined> {
  const pods = selectedPods(pdb, ctx.listers);
  if (pods.length === 0) await ctx.recorder.record(pdb, undefined, "Normal", "NoPods", "", "No matching pods found").catch(() => undefined);
  let scale = 0;
  if (needsScale(pdb)) {
    try {
      const found = await expectedScale(pods, ctx);
      scale = found.scale;
      if (found.unmanaged.length) {
        const selector = labelSelectorFromObject(pdb.spec?.selector as LabelSelectorObject | undefined);
        await ctx.recorder.record(pdb, undefined, "Warning", "UnmanagedPods", "",
          `Pods selected by this PodDisruptionBudget (selector: ${selector === "nothing" ? "<none>" : formatLabelSelector(selector)}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.`).catch(() => undefined);
      }
    } catch (e) {
      await ctx.recorder.record(pdb, undefined, "Warning", "CalculateExpectedPodCountFailed", "", `Failed to calculate the number of expected pods: ${(e as Error).message}`).catch(() => undefined);
      throw e;
    }
  }
  const now = ctx.now();
  const { expectedPods, desiredHealthy } = expectedAndDesired(pdb, pods.length, scale);
  const { disruptedPods, recheckAt } = awaitedDisruptions(pods, pdb.status?.disruptedPods, now);
  const currentHealthy = countHealthy(pods, disruptedPods);
  const allowed = disruptionsAllowed(currentHealthy, desiredHealthy, expectedPods);
  const before = pdb.status;
  const generation = pdb.metadata?.generation ?? 1;
  const upToDate = before && before.currentHealthy === currentHealthy && before.desiredHealthy === desiredHealthy && before.expectedPods === expectedPods &&
    before.disruptionsAllowed === allowed && sameDisrupted(before.disruptedPods, disruptedPods) && before.observedGeneration === generation && conditionsUpToDate(before);
  if (!upToDate) {
    const status: PodDisruptionBudgetStatus = {
      currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed: allowed, observedGeneration: generation, conditions: before?.conditions,
      ...(Object.keys(disruptedPods).length ? { disruptedPods } : {}),
    };
    status.conditions = disruptionAllowedCondition(status, now);
    await ctx.client.resource<PodDisruptionBudget>(PDBS).updateStatus(pdb.metadata!.namespace!, { ...pdb, status });
  }
  return recheckAt === undefined ? undefined : Math.max(0, recheckAt - now);
}

/** How long a pod may carry DisruptionTarget=True without being deleted before the mark is taken back. */
export const STALE_POD_DISRUPTION_MS = 2 * 60_000;

/**
 * nonTerminatingPodHasStaleDisruptionCondition: the DisruptionTarget=True condition of a pod that is
 * neither being deleted nor finished. The kubelet's own mark (TerminationByKubelet) never goes stale.
 */
export function disruptionMark(pod: Pod): PodCondition | undefined {
  const condition = pod.status?.conditions?.find((c) => c.type === "DisruptionTarget");
  if (pod.metadata?.deletionTimestamp || !condition || condition.status !== "True" || condition.reason === "TerminationByKubelet") return undefined;
  return pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed" ? undefined : condition;
}

/** How long until a disruption mark is stale (0: it is). */
export function staleInMs(mark: PodCondition, now: number): number {
  return Math.max(0, (Date.parse(mark.lastTransitionTime ?? "") || 0) + STALE_POD_DISRUPTION_MS - now);
}

export const stalePodDisruptionController: Controller = {
  name: "stale-pod-disruption",
  watches: [{ resource: PODS, keysFor: (pod) => (disruptionMark(pod as Pod) ? [keyOf(pod)] : []) }],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const pod = ctx.listers.of<Pod>(PODS).get(namespace, name);
    const mark = pod && disruptionMark(pod);
    if (!mark) return undefined;
    const wait = staleInMs(mark, ctx.now());
    if (wait > 0) return { requeueAfter: wait };
    // The condition's reason and message stay: only its status and transition time move.
    await ctx.client.resource<Pod>(PODS).patch(namespace, name, {
      metadata: { resourceVersion: pod.metadata!.resourceVersion },
      status: { conditions: [{ type: "DisruptionTarget", status: "False", lastTransitionTime: kubeTime(ctx.now()) }] },
    }, "strategic", { subresource: "status" });
    return undefined;
  },
};

/** The budgets whose selector selects a pod. */
function budgetsOf(object: KubeObject, listers: Listers): string[] {
  const pod = object as Pod;
  return listers.of<PodDisruptionBudget>(PDBS).list(pod.metadata?.namespace ?? "")
    .filter((pdb) => selects(pdb.spec?.selector, pod.metadata?.labels)).map(keyOf);
}

const none = () => [];

export const disruptionController: Controller = {
  name: "disruption-controller",
  watches: [
    { resource: PDBS, keysFor: (pdb) => [keyOf(pdb)] },
    { resource: PODS, keysFor: budgetsOf },
    // Read for the scale of the pods' controllers, as kube's listers are.
    { resource: REPLICASETS, keysFor: none },
    { resource: DEPLOYMENTS, keysFor: none },
    { resource: REPLICATION_CONTROLLERS, keysFor: none },
    { resource: STATEFULSETS, keysFor: none },
  ],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const pdb = ctx.listers.of<PodDisruptionBudget>(PDBS).get(namespace, name);
    if (!pdb) return;
    try {
      const recheck = await sync(pdb, ctx);
      return recheck === undefined ? undefined : { requeueAfter: recheck };
    } catch (e) {
      // A conflict is retried as it is; anything else leaves the budget allowing nothing, and why,
      // until a change to it or its pods is synced again.
      if (isConflict(e)) throw e;
      await failSafe(pdb, e as Error, ctx);
      return undefined;
    }
  },
};

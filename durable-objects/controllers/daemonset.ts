// The DaemonSet controller (kube-controller-manager 1.30): one pod per eligible node — a node its
// nodeName, nodeSelector and required node affinity allow and whose NoSchedule/NoExecute taints
// its pods tolerate (with the tolerations kube gives every daemon pod) — pinned to that node by
// node affinity on `metadata.name` for the scheduler to bind. A new template is rolled out node by
// node within maxUnavailable (or maxSurge, a new pod beside the old until it is available), or
// only as pods are deleted (OnDelete); each template is a ControllerRevision for rollout undo.
import type { DaemonSet, DaemonSetStatus } from "kubernetes-types/apps/v1";
import type { Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration } from "kubernetes-types/core/v1";
import { isNotFound, type KubeObject } from "../../lib/client/index.ts";
import { labelSelectorFromObject, matchesLabels, type LabelSelectorObject } from "../../lib/k8s/selectors.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { CONTROLLER_REVISION_HASH, CONTROLLER_REVISIONS, currentRevision, ownedRevisions, RevisionCollision, truncateHistory } from "./controllerrevision.ts";
import { controllerRefOf, keyOf, selects, splitKey, type Controller, type ReconcileContext } from "./framework.ts";
import { claimPods, podCandidates, podOwnerKeys, type PodOwnerKind } from "./pod-claims.ts";
import { controllerRefTo, isPodAvailable, isPodReady, PODS, podFromTemplate } from "./replicaset.ts";

export const DAEMONSETS = builtin("apps/v1", "daemonsets");
/** A DaemonSet's pods: those its selector matches, adopted when orphaned. */
const DAEMON_SET_PODS: PodOwnerKind<DaemonSet> = { resource: DAEMONSETS, apiVersion: "apps/v1", kind: "DaemonSet", selects: (ds, pod) => selects(ds.spec?.selector, pod.metadata?.labels) };
export const NODES = builtin("v1", "nodes");

/** The deprecated label kube still sets: the DaemonSet's generation when the pod was made. */
const POD_TEMPLATE_GENERATION = "pod-template-generation";

/** util.AddOrUpdateDaemonPodTolerations: what every daemon pod tolerates. */
export function daemonPodTolerations(ds: DaemonSet): Toleration[] {
  const tolerations: Toleration[] = [
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
    { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
    { key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/pid-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
  ];
  if (ds.spec?.template?.spec?.hostNetwork) tolerations.push({ key: "node.kubernetes.io/network-unavailable", operator: "Exists", effect: "NoSchedule" });
  const own = ds.spec?.template?.spec?.tolerations ?? [];
  // A toleration the template already has for the same key and effect is kept as written.
  return [...own, ...tolerations.filter((t) => !own.some((o) => o.key === t.key && o.effect === t.effect))];
}

/** v1helper.ToleratesTaint. */
function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  if (toleration.operator === "Exists") return true;
  return (toleration.operator ?? "Equal") === "Equal" && (toleration.value ?? "") === (taint.value ?? "");
}

function untolerated(node: Node, tolerations: Toleration[], effects: string[]): Taint | undefined {
  return (node.spec?.taints ?? []).find((taint) => effects.includes(taint.effect) && !tolerations.some((t) => tolerates(t, taint)));
}

function requirementMatches(requirement: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case "In": return value !== undefined && values.includes(value);
    case "NotIn": return value === undefined || !values.includes(value);
    case "Exists": return value !== undefined;
    case "DoesNotExist": return value === undefined;
    case "Gt": return value !== undefined && /^-?\d+$/.test(value) && Number(value) > Number(values[0]);
    case "Lt": return value !== undefined && /^-?\d+$/.test(value) && Number(value) < Number(values[0]);
    default: return false;
  }
}

function termMatches(term: NodeSelectorTerm, node: Node): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (!expressions.length && !fields.length) return false;
  return expressions.every((r) => requirementMatches(r, node.metadata?.labels?.[r.key]))
    && fields.every((r) => r.key === "metadata.name" && requirementMatches(r, node.metadata?.name));
}

/** The node selector and required node affinity allow the node. */
export function fitsNodeAffinity(ds: DaemonSet, node: Node): boolean {
  const spec = ds.spec?.template?.spec;
  const selector = spec?.nodeSelector ?? {};
  if (!matchesLabels(labelSelectorFromObject({ matchLabels: selector } as LabelSelectorObject), node.metadata?.labels)) return false;
  const terms = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  return terms === undefined || terms.some((term) => termMatches(term, node));
}

/**
 * NodeShouldRunDaemonPod: whether a daemon pod should be started on the node, and whether one
 * already there may stay (an untolerated NoSchedule taint stops new pods only).
 */
export function nodeShouldRunDaemonPod(node: Node, ds: DaemonSet): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const nodeName = ds.spec?.template?.spec?.nodeName;
  if ((nodeName && nodeName !== node.metadata?.name) || !fitsNodeAffinity(ds, node)) return { shouldRun: false, shouldContinueRunning: false };
  const tolerations = daemonPodTolerations(ds);
  if (untolerated(node, tolerations, ["NoSchedule", "NoExecute"])) {
    return { shouldRun: false, shouldContinueRunning: !untolerated(node, tolerations, ["NoExecute"]) };
  }
  return { shouldRun: true, shouldContinueRunning: true };
}

/** The node a daemon pod is for: where it runs, or where its node affinity pins it. */
export function targetNodeOf(pod: Pod): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const term of terms) {
    const field = term.matchFields?.find((f) => f.key === "metadata.name" && f.operator === "In" && f.values?.length === 1);
    if (field) return field.values![0];
  }
  return undefined;
}

/** The pod for one node: the template, the revision hash, the daemon tolerations and the node pin. */
export function daemonPod(ds: DaemonSet, nodeName: string, hash: string): Pod {
  const pod = podFromTemplate(ds.spec!.template, ds, controllerRefTo(ds, "apps/v1", "DaemonSet"));
  pod.metadata!.labels = { ...pod.metadata!.labels, [CONTROLLER_REVISION_HASH]: hash, [POD_TEMPLATE_GENERATION]: String(ds.metadata?.generation ?? 1) };
  pod.spec!.tolerations = daemonPodTolerations(ds);
  // ReplaceDaemonSetPodNodeNameNodeAffinity: the node's name is the whole required affinity.
  pod.spec!.affinity = {
    ...pod.spec!.affinity,
    nodeAffinity: {
      ...pod.spec!.affinity?.nodeAffinity,
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [nodeName] }] }] },
    },
  };
  return pod;
}

/** intstr.GetScaledValueFromIntOrPercent, rounding up as the DaemonSet's budgets do. */
export function scaledUp(value: number | string | undefined, total: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === "number") return value;
  return Math.ceil((Number(value.replace(/%$/, "")) * total) / 100);
}

const created = (p: Pod) => Date.parse(p.metadata?.creationTimestamp ?? "") || 0;
const byAge = (a: Pod, b: Pod) => created(a) - created(b) || (a.metadata!.name! < b.metadata!.name! ? -1 : 1);

export interface NodePlan {
  create: string[];
  delete: Pod[];
  /** When a failed pod's back-off ends. */
  retryAfter?: number;
}

/**
 * What the DaemonSet's pods need on each node (manage and rollingUpdate in one): pods for eligible
 * nodes that lack one, deletions where a pod may not stay, failed pods, extras, unscheduled pods
 * pinned to nodes that are gone, and the next step of a rolling update.
 */
export function planNodes(ds: DaemonSet, nodes: Node[], podsByNode: Map<string, Pod[]>, hash: string, now: number, failedPodBackoff: (node: string) => number = () => 0): NodePlan {
  const plan: NodePlan = { create: [], delete: [] };
  const minReadySeconds = ds.spec?.minReadySeconds ?? 0;
  const available = (p: Pod) => isPodAvailable(p, minReadySeconds, now);
  const isNew = (p: Pod) => p.metadata?.labels?.[CONTROLLER_REVISION_HASH] === hash;
  const rolling = ds.spec?.updateStrategy?.type !== "OnDelete";
  const eligible = nodes.filter((n) => nodeShouldRunDaemonPod(n, ds).shouldRun);
  const maxSurge = rolling ? scaledUp(ds.spec?.updateStrategy?.rollingUpdate?.maxSurge, eligible.length, 0) : 0;
  const maxUnavailable = rolling ? (maxSurge > 0 ? 0 : Math.max(1, scaledUp(ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable, eligible.length, 1))) : 0;
  let unavailable = 0;
  let surging = 0;
  const replaceable: Pod[] = [];
  const surgeCandidates: string[] = [];

  for (const node of nodes) {
    const name = node.metadata!.name!;
    const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds);
    const all = podsByNode.get(name) ?? [];
    const pods = all.filter((p) => !p.metadata?.deletionTimestamp);
    if (!shouldContinueRunning) {
      plan.delete.push(...pods);
      continue;
    }
    // A pod is made only where there is none, not even one terminating or failed.
    if (shouldRun && all.length === 0) {
      plan.create.push(name);
      unavailable++;
      continue;
    }
    const failed = pods.filter((p) => p.status?.phase === "Failed");
    // Failed pods are killed (and so replaced) no faster than the back-off, not to fight a kubelet that rejects them.
    const wait = failed.length ? failedPodBackoff(name) : 0;
    if (wait > 0) plan.retryAfter = Math.min(plan.retryAfter ?? wait, wait);
    else plan.delete.push(...failed);
    const running = pods.filter((p) => p.status?.phase !== "Failed").sort(byAge);
    if (running.length === 0) {
      if (shouldRun) unavailable++;
      continue;
    }
    const newPods = running.filter(isNew);
    const oldPods = running.filter((p) => !isNew(p));
    // Surge allows one old and one new pod on a node; otherwise only the oldest stays.
    const keep = maxSurge > 0 ? [oldPods[0], newPods[newPods.length - 1]].filter((p): p is Pod => !!p) : [running[0]!];
    plan.delete.push(...running.filter((p) => !keep.includes(p)));
    if (!shouldRun || !rolling) continue;
    const oldPod = keep.find((p) => !isNew(p));
    const newPod = keep.find(isNew);
    if (oldPod && newPod) {
      surging++;
      if (available(newPod)) plan.delete.push(oldPod);
      else unavailable++;
    } else if (oldPod) {
      if (!available(oldPod)) {
        // An old pod that is not available can go at once: it costs no availability.
        unavailable++;
        if (maxSurge > 0) plan.delete.push(oldPod);
        else replaceable.push(oldPod);
      } else if (maxSurge > 0) surgeCandidates.push(name);
      else replaceable.push(oldPod);
    } else if (newPod && !available(newPod)) {
      unavailable++;
    }
  }
  if (rolling && maxSurge > 0) plan.create.push(...surgeCandidates.slice(0, Math.max(0, maxSurge - surging)));
  if (rolling && maxSurge === 0) {
    const notAvailable = replaceable.filter((p) => !available(p));
    const budget = Math.max(0, maxUnavailable - unavailable);
    plan.delete.push(...notAvailable, ...replaceable.filter(available).slice(0, budget));
  }
  // Unscheduled pods pinned to nodes that no longer exist never schedule, and PodGC skips them.
  const known = new Set(nodes.map((n) => n.metadata!.name!));
  for (const [name, pods] of podsByNode) {
    if (!known.has(name)) plan.delete.push(...pods.filter((p) => !p.spec?.nodeName && !p.metadata?.deletionTimestamp));
  }
  return plan;
}

/** kube's failedPodsBackoff: 1 s doubling to 15 min per DaemonSet and node, kept in memory as kube keeps it. */
const FAILED_POD_BACKOFF_MS = 1_000;
const FAILED_POD_BACKOFF_MAX_MS = 15 * 60_000;
const failedPodBackoffs = new Map<string, { delay: number; until: number }>();

function failedPodBackoffLeft(key: string, now: number): number {
  return Math.max(0, (failedPodBackoffs.get(key)?.until ?? 0) - now);
}

function failedPodBackoffNext(key: string, now: number): void {
  const previous = failedPodBackoffs.get(key);
  // A back-off that ended long ago starts again from the first step.
  const delay = previous && now - previous.until < 2 * FAILED_POD_BACKOFF_MAX_MS ? Math.min(previous.delay * 2, FAILED_POD_BACKOFF_MAX_MS) : FAILED_POD_BACKOFF_MS;
  failedPodBackoffs.set(key, { delay, until: now + delay });
}

function daemonSetKeysFor(object: KubeObject): string[] {
  const ref = controllerRefOf(object);
  return ref?.kind === "DaemonSet" ? [`${object.metadata?.namespace ?? ""}/${ref.name}`] : [];
}

function statusOf(ds: DaemonSet, nodes: Node[], podsByNode: Map<string, Pod[]>, hash: string, now: number): DaemonSetStatus {
  const minReadySeconds = ds.spec?.minReadySeconds ?? 0;
  const status: DaemonSetStatus = {
    currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0,
    updatedNumberScheduled: 0, numberAvailable: 0, numberUnavailable: 0, observedGeneration: ds.metadata?.generation,
    ...(ds.status?.collisionCount ? { collisionCount: ds.status.collisionCount } : {}),
  };
  for (const node of nodes) {
    const pods = (podsByNode.get(node.metadata!.name!) ?? []).filter((p) => !p.metadata?.deletionTimestamp);
    const { shouldRun } = nodeShouldRunDaemonPod(node, ds);
    if (!shouldRun) {
      if (pods.length) status.numberMisscheduled++;
      continue;
    }
    status.desiredNumberScheduled++;
    if (!pods.length) continue;
    status.currentNumberScheduled++;
    const pod = [...pods].sort(byAge)[0]!;
    if (isPodReady(pod)) status.numberReady++;
    if (isPodAvailable(pod, minReadySeconds, now)) status.numberAvailable!++;
    if (pods.some((p) => p.metadata?.labels?.[CONTROLLER_REVISION_HASH] === hash)) status.updatedNumberScheduled!++;
  }
  status.numberUnavailable = status.desiredNumberScheduled - status.numberAvailable!;
  return status;
}

async function syncDaemonSet(ds: DaemonSet, ctx: ReconcileContext): Promise<number | undefined> {
  const namespace = ds.metadata!.namespace!;
  const podClient = ctx.client.resource<Pod>(PODS);
  const now = ctx.now();
  const revisions = ownedRevisions(ds, ctx);
  const { hash } = await currentRevision(ds, "DaemonSet", CONTROLLER_REVISION_HASH, revisions, ctx);
  const nodes = ctx.listers.of<Node>(NODES).list();
  const podsByNode = new Map<string, Pod[]>();
  for (const pod of await claimPods(ds, podCandidates(ds, ctx.listers), DAEMON_SET_PODS, ctx)) {
    const node = targetNodeOf(pod);
    if (node) podsByNode.set(node, [...(podsByNode.get(node) ?? []), pod]);
  }
  const event = (type: "Normal" | "Warning", reason: string, action: string, note: string) =>
    ctx.recorder.record(ds, undefined, type, reason, action, note).catch(() => undefined);
  let retryAfter: number | undefined;
  if (!ds.metadata?.deletionTimestamp) {
    const backoffKey = (node: string) => `${ds.metadata!.uid}/${node}`;
    const plan = planNodes(ds, nodes, podsByNode, hash, now, (node) => failedPodBackoffLeft(backoffKey(node), now));
    retryAfter = plan.retryAfter;
    await Promise.all(plan.delete.map(async (pod) => {
      if (pod.status?.phase === "Failed") {
        failedPodBackoffNext(backoffKey(targetNodeOf(pod) ?? ""), now);
        await event("Warning", "FailedDaemonPod", "Delete", `Found failed daemon pod ${namespace}/${pod.metadata!.name} on node ${targetNodeOf(pod)}, will try to kill it`);
      }
      try {
        await podClient.delete(namespace, pod.metadata!.name!, { preconditions: { uid: pod.metadata!.uid } });
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      await event("Normal", "SuccessfulDelete", "Delete", `Deleted pod: ${pod.metadata!.name}`);
    }));
    await Promise.all(plan.create.map(async (node) => {
      try {
        const pod = await podClient.create(namespace, daemonPod(ds, node, hash));
        await event("Normal", "SuccessfulCreate", "Create", `Created pod: ${pod.metadata!.name}`);
      } catch (e) {
        await event("Warning", "FailedCreate", "Create", `Error creating: ${(e as Error).message}`);
        throw e;
      }
    }));
    const liveHashes = [hash, ...[...podsByNode.values()].flat().map((p) => p.metadata?.labels?.[CONTROLLER_REVISION_HASH] ?? "")];
    await truncateHistory(ds, revisions, new Set(liveHashes.map((h) => `${ds.metadata!.name}-${h}`)), ctx);
  }
  const status = statusOf(ds, nodes, podsByNode, hash, now);
  const before: Record<string, unknown> = { ...ds.status };
  if (Object.entries(status).some(([k, v]) => (before[k] ?? 0) !== (v ?? 0))) {
    await ctx.client.resource<DaemonSet>(DAEMONSETS).updateStatus(namespace, { ...ds, status });
  }
  const minReadySeconds = ds.spec?.minReadySeconds ?? 0;
  const becomingAvailable = minReadySeconds > 0 && (status.numberReady ?? 0) > (status.numberAvailable ?? 0) ? minReadySeconds * 1000 : undefined;
  const after = [retryAfter, becomingAvailable].filter((t): t is number => t !== undefined);
  return after.length ? Math.min(...after) : undefined;
}

export const daemonSetController: Controller = {
  name: "daemonset-controller",
  watches: [
    { resource: DAEMONSETS, keysFor: (ds) => [keyOf(ds)] },
    { resource: PODS, keysFor: (pod, listers) => podOwnerKeys(pod as Pod, listers, DAEMON_SET_PODS) },
    { resource: CONTROLLER_REVISIONS, keysFor: daemonSetKeysFor },
    // Any node change may change where every DaemonSet runs.
    { resource: NODES, keysFor: (_node, listers) => listers.of<DaemonSet>(DAEMONSETS).list().map(keyOf) },
  ],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const ds = ctx.listers.of<DaemonSet>(DAEMONSETS).get(namespace, name);
    if (!ds) return undefined;
    try {
      const requeueAfter = await syncDaemonSet(ds, ctx);
      return requeueAfter !== undefined ? { requeueAfter } : undefined;
    } catch (e) {
      if (!(e instanceof RevisionCollision)) throw e;
      const status = { ...ds.status, collisionCount: (ds.status?.collisionCount ?? 0) + 1 } as DaemonSetStatus;
      await ctx.client.resource<DaemonSet>(DAEMONSETS).updateStatus(namespace, { ...ds, status });
      throw e;
    }
  },
};

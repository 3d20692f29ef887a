// PodGC (kube-controller-manager 1.30's pod-garbage-collector): force-deletes the pods no kubelet
// will ever finish — pods bound to a node that no longer exists (first marked Failed with the
// DisruptionTarget condition "PodGC: node no longer exists"), terminating pods that were never
// scheduled, terminating pods on a NotReady node tainted node.kubernetes.io/out-of-service — and,
// when more terminated pods exist than --terminated-pod-gc-threshold, the oldest of them (evicted
// ones first). Pods are looked at when they or their node change, not on kube's 20 s timer.
import type { Node, Pod, PodCondition, PodStatus } from "kubernetes-types/core/v1";
import { kubeTime } from "../../lib/k8s/time.ts";
import { keyOf, NODE_NAME_INDEX, splitKey, type Controller, type Listers, type ReconcileContext } from "./framework.ts";
import { NODES } from "./node-ipam.ts";
import { PODS, readyCondition } from "./node-lifecycle.ts";

/** The key that compares the number of terminated pods with the threshold. */
export const TERMINATED_KEY = "/terminated-pods";
export const TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service";

export const isTerminated = (pod: Pod): boolean => pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
const isTerminating = (pod: Pod): boolean => !!pod.metadata?.deletionTimestamp;

export const isOutOfService = (node: Node): boolean =>
  readyCondition(node)?.status !== "True" && (node.spec?.taints ?? []).some((t) => t.key === TAINT_OUT_OF_SERVICE);

export type Verdict = { reason: "orphaned" | "unscheduled-terminating" | "terminating-out-of-service"; condition?: Omit<PodCondition, "lastTransitionTime"> } | undefined;

const ORPHANED: Omit<PodCondition, "lastTransitionTime"> = { type: "DisruptionTarget", status: "True", reason: "DeletionByPodGC", message: "PodGC: node no longer exists" };

/** Why PodGC deletes this pod, given its node as the cache has it (undefined: no such node). */
export function podGcVerdict(pod: Pod, node: Node | undefined): Verdict {
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) return isTerminating(pod) ? { reason: "unscheduled-terminating" } : undefined;
  if (!node) return { reason: "orphaned", condition: ORPHANED };
  if (isTerminating(pod) && isOutOfService(node)) return { reason: "terminating-out-of-service" };
  return undefined;
}

/** byEvictionAndCreationTimestamp: evicted pods first, then the oldest, then by name. */
export function gcOrder(a: Pod, b: Pod): number {
  const evicted = (p: Pod) => (p.status?.phase === "Failed" && p.status?.reason === "Evicted" ? 0 : 1);
  return evicted(a) - evicted(b)
    || (a.metadata?.creationTimestamp ?? "").localeCompare(b.metadata?.creationTimestamp ?? "")
    || (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? "");
}

/** The terminated pods to delete so that at most `threshold` remain (0: none, as kube treats it). */
export function terminatedOverThreshold(pods: Pod[], threshold: number): Pod[] {
  if (threshold <= 0) return [];
  const terminated = pods.filter(isTerminated);
  if (terminated.length <= threshold) return [];
  return terminated.sort(gcOrder).slice(0, terminated.length - threshold);
}

/** markFailedAndDeletePodWithCondition: Failed first (no kubelet will say so), then deleted with no grace. */
async function forceDelete(pod: Pod, condition: Omit<PodCondition, "lastTransitionTime"> | undefined, ctx: ReconcileContext): Promise<void> {
  const pods = ctx.client.resource<Pod>(PODS);
  const { namespace, name, uid } = pod.metadata!;
  try {
    if (!isTerminated(pod)) {
      const status: PodStatus = { phase: "Failed", ...(condition ? { conditions: [{ ...condition, lastTransitionTime: kubeTime(ctx.now()) }] } : {}) };
      await pods.patch(namespace, name!, { metadata: { uid }, status }, "strategic", { subresource: "status" });
    }
    await pods.delete(namespace, name!, { gracePeriodSeconds: 0, preconditions: { uid } });
  } catch (e) {
    if ((e as { code?: number })?.code !== 404) throw e;
  }
}

/** A node the cache lacks may be one it has not seen yet: only the API's 404 makes a pod an orphan. */
async function nodeIsGone(name: string, ctx: ReconcileContext): Promise<boolean> {
  try {
    await ctx.client.resource<Node>(NODES).get(undefined, name);
    return false;
  } catch (e) {
    if ((e as { code?: number })?.code === 404) return true;
    throw e;
  }
}

/** The key that looks at the pods bound to one node missing from the cache, as kube's PodGC checks such nodes. */
const ORPHANS_ON = "/node/";

function podKeys(object: unknown, listers: Listers): string[] {
  const pod = object as Pod;
  const nodeName = pod.spec?.nodeName;
  const verdict = podGcVerdict(pod, nodeName ? listers.of<Node>(NODES).get(undefined, nodeName) : undefined);
  // One key per missing node, not per pod: on a first list pods may be cached before their nodes,
  // and 150,000 pods would each be queued as an orphan.
  const keys = verdict?.reason === "orphaned" ? [`${ORPHANS_ON}${nodeName}`] : verdict ? [keyOf(pod)] : [];
  return [...(isTerminated(pod) ? [TERMINATED_KEY] : []), ...keys];
}

/** A deleted node orphans its pods; an out-of-service one strands its terminating pods. */
function podKeysForNode(object: unknown, listers: Listers): string[] {
  const name = (object as Node).metadata!.name!;
  const node = listers.of<Node>(NODES).get(undefined, name);
  if (node && !isOutOfService(node)) return [];
  return listers.of<Pod>(PODS).byIndex(NODE_NAME_INDEX, name).filter((p) => podGcVerdict(p, node)).map(keyOf);
}

export const podGcController: Controller = {
  name: "pod-garbage-collector",
  watches: [
    { resource: PODS, keysFor: podKeys },
    { resource: NODES, keysFor: podKeysForNode },
  ],
  async reconcile(key, ctx) {
    if (key === TERMINATED_KEY) {
      // Only what ordering and deleting read of each terminated pod is kept: the walk goes over every pod.
      const terminated: Pod[] = [];
      ctx.listers.of<Pod>(PODS).each((pod) => {
        if (!isTerminated(pod)) return;
        const { namespace, name, uid, creationTimestamp } = pod.metadata!;
        terminated.push({ metadata: { namespace, name, uid, creationTimestamp }, status: { phase: pod.status!.phase, reason: pod.status!.reason } });
      });
      const victims = terminatedOverThreshold(terminated, ctx.settings.terminatedPodGcThreshold);
      const results = await Promise.allSettled(victims.map((pod) => forceDelete(pod, undefined, ctx)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      return;
    }
    if (key.startsWith(ORPHANS_ON)) {
      const nodeName = key.slice(ORPHANS_ON.length);
      if (ctx.listers.of<Node>(NODES).get(undefined, nodeName) || !(await nodeIsGone(nodeName, ctx))) return;
      const orphans = ctx.listers.of<Pod>(PODS).byIndex(NODE_NAME_INDEX, nodeName).filter((pod) => podGcVerdict(pod, undefined)?.reason === "orphaned");
      const results = await Promise.allSettled(orphans.map((pod) => forceDelete(pod, ORPHANED, ctx)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      return;
    }
    const [namespace, name] = splitKey(key);
    const pod = ctx.listers.of<Pod>(PODS).get(namespace, name);
    if (!pod) return;
    const nodeName = pod.spec?.nodeName;
    const verdict = podGcVerdict(pod, nodeName ? ctx.listers.of<Node>(NODES).get(undefined, nodeName) : undefined);
    if (!verdict) return;
    if (verdict.reason === "orphaned" && !(await nodeIsGone(nodeName!, ctx))) return;
    await forceDelete(pod, verdict.condition, ctx);
  },
};

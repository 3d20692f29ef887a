// The taint eviction controller (kube-controller-manager 1.30's taint-eviction-controller): a pod
// on a node with NoExecute taints it does not tolerate is deleted at once; one that tolerates them
// all is deleted when the shortest tolerationSeconds among the tolerations it uses has passed
// (counted from when the taints were added, or from when it landed on the node if later), and never
// if none of them has tolerationSeconds. Before deleting, the pod gets the DisruptionTarget
// condition and a TaintManagerEviction Event, as kube's does.
import type { Node, Pod, PodCondition, Taint, Toleration } from "kubernetes-types/core/v1";
import { kubeTime } from "../../lib/k8s/time.ts";
import { keyOf, NODE_NAME_INDEX, splitKey, type Controller, type Listers } from "./framework.ts";
import { NODES } from "./node-ipam.ts";
import { PODS } from "./node-lifecycle.ts";

/** core/v1 Toleration.ToleratesTaint. */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? "Equal") {
    case "Equal":
      return (toleration.value ?? "") === (taint.value ?? "");
    case "Exists":
      return true;
    default:
      return false;
  }
}

const noExecuteTaints = (node: Node | undefined) => (node?.spec?.taints ?? []).filter((t) => t.effect === "NoExecute");

const time = (text: string | undefined): number | undefined => {
  const parsed = text ? Date.parse(text) : NaN;
  return Number.isNaN(parsed) ? undefined : parsed;
};

/** When the pod came onto its node: its PodScheduled transition, else its creation. */
function landedAt(pod: Pod): number {
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "True");
  return time(scheduled?.lastTransitionTime) ?? time(pod.metadata?.creationTimestamp) ?? 0;
}

/**
 * When a pod on a node with these NoExecute taints is to be deleted: `now` if some taint is not
 * tolerated, undefined if it is tolerated forever (GetMatchingTolerations, getMinTolerationTime).
 */
export function evictionTime(pod: Pod, taints: Taint[], now: number): number | undefined {
  if (taints.length === 0) return undefined;
  const tolerations = pod.spec?.tolerations ?? [];
  const used: Toleration[] = [];
  for (const taint of taints) {
    const toleration = tolerations.find((t) => toleratesTaint(t, taint));
    if (!toleration) return now;
    used.push(toleration);
  }
  const bounded = used.filter((t) => t.tolerationSeconds !== undefined && t.tolerationSeconds !== null).map((t) => Math.max(0, t.tolerationSeconds!));
  if (bounded.length === 0) return undefined;
  // A taint without timeAdded counts from when the pod landed.
  const taintedSince = Math.min(...taints.map((t) => time(t.timeAdded) ?? 0));
  return Math.max(taintedSince, landedAt(pod)) + Math.min(...bounded) * 1000;
}

const DISRUPTION_TARGET: Omit<PodCondition, "lastTransitionTime"> = {
  type: "DisruptionTarget", status: "True", reason: "DeletionByTaintManager", message: "Taint manager: deleting due to NoExecute taint",
};

/** The pods on a node with NoExecute taints (before or after the change) are looked at again. */
function podKeysForNode(object: unknown, listers: Listers): string[] {
  const node = object as Node;
  if (noExecuteTaints(node).length === 0) return [];
  return listers.of<Pod>(PODS).byIndex(NODE_NAME_INDEX, node.metadata!.name!).map(keyOf);
}

function podKeys(object: unknown, listers: Listers): string[] {
  const pod = object as Pod;
  const nodeName = pod.spec?.nodeName;
  if (!nodeName || pod.metadata?.deletionTimestamp) return [];
  return noExecuteTaints(listers.of<Node>(NODES).get(undefined, nodeName)).length ? [keyOf(pod)] : [];
}

export const taintEvictionController: Controller = {
  name: "taint-eviction-controller",
  watches: [
    { resource: NODES, keysFor: podKeysForNode },
    { resource: PODS, keysFor: podKeys },
  ],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const pod = ctx.listers.of<Pod>(PODS).get(namespace, name);
    if (!pod?.spec?.nodeName || pod.metadata?.deletionTimestamp) return undefined;
    const taints = noExecuteTaints(ctx.listers.of<Node>(NODES).get(undefined, pod.spec.nodeName));
    const now = ctx.now();
    const at = evictionTime(pod, taints, now);
    if (at === undefined) return undefined;
    if (at > now) return { requeueAfter: at - now };

    const pods = ctx.client.resource<Pod>(PODS);
    await ctx.recorder.record({ apiVersion: "v1", kind: "Pod", namespace, name, uid: pod.metadata?.uid }, undefined, "Normal", "TaintManagerEviction", "Delete", `Marking for deletion Pod ${namespace}/${name}`).catch(() => undefined);
    try {
      if (!pod.status?.conditions?.some((c) => c.type === "DisruptionTarget" && c.status === "True")) {
        await pods.patch(namespace, name, { metadata: { uid: pod.metadata?.uid }, status: { conditions: [{ ...DISRUPTION_TARGET, lastTransitionTime: kubeTime(now) }] } }, "strategic", { subresource: "status" });
      }
      await pods.delete(namespace, name, { preconditions: { uid: pod.metadata?.uid } });
    } catch (e) {
      if ((e as { code?: number })?.code !== 404) throw e;
    }
    return undefined;
  },
};

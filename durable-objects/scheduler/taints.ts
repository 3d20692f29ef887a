// Taints and tolerations as core/v1 helpers match them (Toleration.ToleratesTaint,
// FindMatchingUntoleratedTaint): shared by TaintToleration, NodeUnschedulable, PodTopologySpread's
// nodeTaintsPolicy and the queue's pre-check of a new node.
import type { Taint, Toleration } from "./projection.ts";

function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect !== "" && toleration.effect !== taint.effect) return false;
  if (toleration.key !== "" && toleration.key !== taint.key) return false;
  switch (toleration.operator) {
    case "":
    case "Equal":
      return toleration.value === taint.value;
    case "Exists":
      return true;
    default:
      return false;
  }
}

export function tolerationsTolerateTaint(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => toleratesTaint(t, taint));
}

/** Taints that keep a pod off a node: NoSchedule and NoExecute (DoNotScheduleTaintsFilterFunc). */
export const doNotSchedule = (taint: Taint): boolean => taint.effect === "NoSchedule" || taint.effect === "NoExecute";

/** The first taint, in the node's order, that `filter` selects and no toleration tolerates. */
export function findUntoleratedTaint(taints: readonly Taint[], tolerations: readonly Toleration[], filter: (taint: Taint) => boolean): Taint | undefined {
  for (const taint of taints) {
    if (filter(taint) && !tolerationsTolerateTaint(tolerations, taint)) return taint;
  }
  return undefined;
}

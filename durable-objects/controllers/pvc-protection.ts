// The pvc-protection controller (kube-controller-manager 1.30): a PersistentVolumeClaim being
// deleted keeps its `kubernetes.io/pvc-protection` finalizer, and so stays Terminating, while a
// scheduled pod in its namespace uses it (by claimName, or as the pod's generic ephemeral volume);
// once none does, the finalizer goes and the claim with it. Claims made without the finalizer get it.
// "No pod uses it" is confirmed by a live list of the namespace's pods, never the cache alone.
import type { PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1";
import { PVC_PROTECTION_FINALIZER } from "../../lib/k8s/storage.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { keyOf, splitKey, type Controller, type Listers } from "./framework.ts";
import { isDeletionCandidate, needsFinalizer, setFinalizer } from "./storage-protection.ts";

const CLAIMS = builtin("v1", "persistentvolumeclaims");
const PODS = builtin("v1", "pods");

/** Deleted with no grace after its kubelet finished, or force-deleted: only waiting to be collected. */
const isShutDown = (pod: Pod) => !!pod.metadata?.deletionTimestamp && pod.metadata.deletionGracePeriodSeconds === 0;

/** The claims a pod's volumes name: claimName, and `<pod>-<volume>` for generic ephemeral volumes. */
export function claimsOf(pod: Pod): string[] {
  return (pod.spec?.volumes ?? []).flatMap((v) => {
    if (v.persistentVolumeClaim) return [v.persistentVolumeClaim.claimName];
    if (v.ephemeral) return [`${pod.metadata?.name}-${v.name}`];
    return [];
  });
}

/**
 * Whether this pod holds the claim: only a scheduled pod can (the kubelet refuses to start one on a
 * terminating claim); an ephemeral claim counts only if the pod owns it and is not shut down.
 */
export function podUsesClaim(pod: Pod, claim: PersistentVolumeClaim): boolean {
  if (!pod.spec?.nodeName || pod.metadata?.namespace !== claim.metadata?.namespace) return false;
  return (pod.spec.volumes ?? []).some((v) => {
    if (v.persistentVolumeClaim) return v.persistentVolumeClaim.claimName === claim.metadata?.name;
    if (!v.ephemeral || isShutDown(pod) || `${pod.metadata?.name}-${v.name}` !== claim.metadata?.name) return false;
    return claim.metadata?.ownerReferences?.some((ref) => ref.controller === true && ref.uid === pod.metadata?.uid) ?? false;
  });
}

/** A pod change matters only to the terminating claims it names (its going may free them). */
function terminatingClaimsOf(pod: Pod, listers: Listers): string[] {
  const namespace = pod.metadata?.namespace ?? "";
  return claimsOf(pod).filter((name) => {
    const claim = listers.of(CLAIMS).get(namespace, name);
    return claim && isDeletionCandidate(claim, PVC_PROTECTION_FINALIZER);
  }).map((name) => `${namespace}/${name}`);
}

export const pvcProtectionController: Controller = {
  name: "pvc-protection-controller",
  watches: [
    { resource: CLAIMS, keysFor: (claim) => (needsFinalizer(claim, PVC_PROTECTION_FINALIZER) || isDeletionCandidate(claim, PVC_PROTECTION_FINALIZER) ? [keyOf(claim)] : []) },
    { resource: PODS, keysFor: (pod, listers) => terminatingClaimsOf(pod as Pod, listers) },
  ],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const claim = ctx.listers.of<PersistentVolumeClaim>(CLAIMS).get(namespace, name);
    if (!claim) return;
    const api = ctx.client.resource(CLAIMS);
    if (isDeletionCandidate(claim, PVC_PROTECTION_FINALIZER)) {
      // The cache first (a user found there settles it), then the API: a pod may not be cached yet.
      if (ctx.listers.of<Pod>(PODS).list(namespace).some((pod) => podUsesClaim(pod, claim))) return;
      const live = await ctx.client.resource<Pod>(PODS).listAll(namespace);
      if (live.items.some((pod) => podUsesClaim(pod, claim))) return;
      await setFinalizer(api, claim, PVC_PROTECTION_FINALIZER, false);
    } else if (needsFinalizer(claim, PVC_PROTECTION_FINALIZER)) {
      await setFinalizer(api, claim, PVC_PROTECTION_FINALIZER, true);
    }
  },
};

// How a workload controller finds its pods (kube's PodControllerRefManager.ClaimPods): it keeps the
// pods it controls that its selector still matches, releases the ones it no longer matches, and
// adopts matching orphans, each write preconditioned on the pod's resourceVersion. Adoption
// re-reads the owner first (kube's canAdopt): an owner being deleted, or replaced by a namesake,
// adopts nothing.
import type { Pod } from "kubernetes-types/core/v1";
import type { OwnerReference } from "kubernetes-types/meta/v1";
import { isNotFound, type KubeObject } from "../../lib/client/index.ts";
import { builtin, type ResourceNames } from "../../lib/k8s/resources.ts";
import { controllerRefOf, keyOf, ORPHAN_INDEX, OWNER_INDEX, type Listers, type ReconcileContext } from "./framework.ts";

const PODS = builtin("v1", "pods");

export interface PodOwnerKind<T extends KubeObject = KubeObject> {
  resource: ResourceNames;
  apiVersion: string;
  kind: string;
  /** Whether this owner would have the pod: its selector (and, for a StatefulSet, the pod's name). */
  selects(owner: T, pod: Pod): boolean;
  /** A finalizer the owner's pods carry while it counts them (a Job's tracking finalizer): added on adoption, removed on release. */
  finalizer?: string;
}

/** The controller reference an owner puts on its pods. */
export function controllerRefTo(owner: KubeObject, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata!.name!, uid: owner.metadata!.uid!, controller: true, blockOwnerDeletion: true };
}

/** The keys of the owners a pod change concerns: its controller if of this kind, else (an orphan) every owner of the kind that selects it. */
export function podOwnerKeys<T extends KubeObject>(pod: Pod, listers: Listers, of: PodOwnerKind<T>, adoptable: (pod: Pod) => boolean = () => true): string[] {
  const ref = controllerRefOf(pod);
  const namespace = pod.metadata?.namespace ?? "";
  if (ref) return ref.kind === of.kind ? [`${namespace}/${ref.name}`] : [];
  if (pod.metadata?.deletionTimestamp || !adoptable(pod)) return [];
  return listers.of<T>(of.resource).list(namespace).filter((owner) => of.selects(owner, pod)).map(keyOf);
}

/** The owner's pods and the namespace's orphans: the only pods it may keep or adopt. */
export function podCandidates(owner: KubeObject, listers: Listers): Pod[] {
  const pods = listers.of<Pod>(PODS);
  const all = [...pods.byIndex(OWNER_INDEX, owner.metadata!.uid!), ...pods.byIndex(ORPHAN_INDEX, owner.metadata!.namespace ?? "")];
  return [...new Map(all.map((pod) => [pod.metadata!.uid, pod])).values()];
}

const ignoreGone = (e: unknown): undefined => {
  if (isNotFound(e)) return undefined;
  throw e;
};

/** Claims pods for the owner: answers those it controls after adoption and release. */
export async function claimPods<T extends KubeObject>(owner: T, candidates: Pod[], of: PodOwnerKind<T>, ctx: ReconcileContext): Promise<Pod[]> {
  const uid = owner.metadata!.uid!;
  const namespace = owner.metadata!.namespace!;
  const podClient = ctx.client.resource<Pod>(PODS);
  const deleting = !!owner.metadata?.deletionTimestamp;
  const write = (pod: Pod, ownerReferences: OwnerReference[], finalizers: string[] | undefined) => podClient.patch(namespace, pod.metadata!.name!, {
    metadata: { uid: pod.metadata!.uid, resourceVersion: pod.metadata!.resourceVersion, ownerReferences, ...(finalizers ? { finalizers } : {}) },
  }, "merge").catch(ignoreGone);
  let canAdopt: Promise<boolean> | undefined;
  const claimed: Pod[] = [];
  for (const pod of candidates) {
    const ref = controllerRefOf(pod);
    const matches = of.selects(owner, pod);
    if (ref) {
      if (ref.uid !== uid) continue;
      if (matches) claimed.push(pod);
      // An owner being deleted neither keeps nor lets go: its pods go with it.
      if (matches || deleting) continue;
      const finalizers = of.finalizer && pod.metadata?.finalizers?.includes(of.finalizer) ? pod.metadata.finalizers.filter((f) => f !== of.finalizer) : undefined;
      await write(pod, (pod.metadata?.ownerReferences ?? []).filter((o) => o.uid !== uid), finalizers);
      continue;
    }
    if (!matches || deleting || pod.metadata?.deletionTimestamp) continue;
    canAdopt ??= ctx.client.resource<T>(of.resource).get(namespace, owner.metadata!.name!).then(
      (fresh) => fresh.metadata?.uid === uid && !fresh.metadata?.deletionTimestamp,
      (e) => (isNotFound(e) ? false : Promise.reject(e)),
    );
    if (!(await canAdopt)) continue;
    const finalizers = of.finalizer && !pod.metadata?.finalizers?.includes(of.finalizer) ? [...(pod.metadata?.finalizers ?? []), of.finalizer] : undefined;
    const adopted = await write(pod, [...(pod.metadata?.ownerReferences ?? []), controllerRefTo(owner, of.apiVersion, of.kind)], finalizers);
    if (adopted) claimed.push(adopted);
  }
  return claimed;
}

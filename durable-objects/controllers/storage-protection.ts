// What the pvc-protection and pv-protection controllers share: whether an object is waiting for its
// protection finalizer to go, whether it still needs it, and the finalizer edit itself (a fresh
// read, updated with its resourceVersion as the precondition).
import { isNotFound, retryOnConflict, type KubeObject, type ResourceClient } from "../../lib/client/index.ts";

/** Being deleted, and held by this finalizer (kube's protectionutil.IsDeletionCandidate). */
export const isDeletionCandidate = (object: KubeObject, finalizer: string): boolean =>
  !!object.metadata?.deletionTimestamp && !!object.metadata.finalizers?.includes(finalizer);

/** Not being deleted, and without this finalizer (made before admission added it: NeedToAddFinalizer). */
export const needsFinalizer = (object: KubeObject, finalizer: string): boolean =>
  !object.metadata?.deletionTimestamp && !object.metadata?.finalizers?.includes(finalizer);

/** Adds or removes one finalizer on the object as it is now; nothing when it is gone or replaced. */
export function setFinalizer(api: ResourceClient<KubeObject>, object: KubeObject, finalizer: string, present: boolean): Promise<void> {
  const { namespace, name, uid } = object.metadata!;
  return retryOnConflict(async () => {
    const live = await api.get(namespace, name!);
    const finalizers = live.metadata?.finalizers ?? [];
    if (live.metadata?.uid !== uid || finalizers.includes(finalizer) === present) return;
    const next = present ? [...finalizers, finalizer] : finalizers.filter((f) => f !== finalizer);
    // An update of the object read, as kube's controllers write it (their roles grant update, not patch).
    await api.update(namespace, { ...live, metadata: { ...live.metadata, finalizers: next } });
  }).catch((e) => {
    if (!isNotFound(e)) throw e;
  });
}

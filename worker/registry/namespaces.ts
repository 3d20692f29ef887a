// Namespace lifecycle: deleting a namespace marks it Terminating (its declaration in core.ts says
// how); then everything in it is removed and the "kubernetes" finalizer dropped (namespaces/finalize),
// which lets the namespace go. Until the controllers exist, the apiserver does the namespace
// controller's part itself, after answering.
import type { KubeObject, ResourceDefinition } from "./types.ts";
import { RegistryStore } from "./store.ts";
import type { ObjectStorage } from "../storage/object-storage.ts";

/** Deletes the namespace's content, then finalizes it (the namespace controller's job in kube). */
export async function purgeNamespace(storage: ObjectStorage, namespaces: ResourceDefinition, served: ResourceDefinition[], name: string): Promise<void> {
  let left = 0;
  for (const def of served.filter((r) => r.namespaced)) {
    const gone = await new RegistryStore(def, storage).deleteCollection(name, {}, { gracePeriodSeconds: 0 });
    left += gone.items.filter((o: KubeObject) => o.metadata?.finalizers?.length).length;
  }
  if (left === 0) await finalizeNamespace(new RegistryStore(namespaces, storage), name, [], {});
}

/** namespaces/finalize: sets spec.finalizers; a terminating namespace with none left is deleted. */
export function finalizeNamespace(store: RegistryStore, name: string, finalizers: string[], options: { dryRun?: boolean; manager?: string }): Promise<KubeObject> {
  return store.guaranteedUpdate(undefined, name, { ...options, subresource: "finalize" }, (ns) => ({ ...ns, spec: { ...ns.spec, finalizers } }));
}

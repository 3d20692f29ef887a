// Namespace lifecycle: deleting a namespace marks it Terminating (its declaration in core.ts says
// how); the namespace controller (durable-objects/controllers/namespace.ts) then removes everything
// in it and drops the "kubernetes" finalizer through namespaces/finalize, which lets it go.
import type { KubeObject } from "./types.ts";
import type { RegistryStore } from "./store.ts";

/** namespaces/finalize: sets spec.finalizers; a terminating namespace with none left is deleted. */
export function finalizeNamespace(store: RegistryStore, name: string, finalizers: string[], options: { dryRun?: boolean; manager?: string }): Promise<KubeObject> {
  return store.guaranteedUpdate(undefined, name, { ...options, subresource: "finalize" }, (ns) => ({ ...ns, spec: { ...ns.spec, finalizers } }));
}

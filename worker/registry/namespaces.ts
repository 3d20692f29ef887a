// Namespace lifecycle: deleting a namespace marks it Terminating, removes everything in it, then
// removes the "kubernetes" finalizer (namespaces/finalize) and with it the namespace. Until the
// controllers exist, the apiserver does the namespace controller's part itself, after answering.
import { kubeTime } from "../../lib/k8s/time.ts";
import { apiErrors } from "../../lib/k8s/status.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { coreResources } from "./core.ts";
import { servedResources } from "../crd/custom-resources.ts";
import { RegistryStore } from "./store.ts";
import type { KubeObject } from "./types.ts";

const namespaceDef = coreResources.find((r) => r.resource === "namespaces")!;

export async function deleteNamespace(env: Env, name: string, dryRun: boolean, waitUntil: (p: Promise<unknown>) => void): Promise<KubeObject> {
  const store = new RegistryStore(namespaceDef, new ObjectStorage(env));
  const key = store.key(undefined, name);
  for (let attempt = 0; attempt < 10; attempt++) {
    const stored = await store.read(undefined, name);
    const ns = stored.object;
    if (ns.metadata.deletionTimestamp) return { ...ns, metadata: { ...ns.metadata, resourceVersion: String(stored.modRevision) } };
    if (["default", "kube-system", "kube-public"].includes(name)) {
      throw apiErrors.forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`);
    }
    ns.metadata.deletionTimestamp = kubeTime();
    ns.status = { ...ns.status, phase: "Terminating" };
    if (dryRun) return ns;
    const outcome = await store.storage.update(key, ns, stored.modRevision);
    if (outcome.ok) {
      waitUntil(purgeNamespace(env, name));
      return { ...ns, metadata: { ...ns.metadata, resourceVersion: String(outcome.revision) } };
    }
  }
  throw store.staleError(name);
}

/** Deletes the namespace's content, then finalizes it (the namespace controller's job in kube). */
export async function purgeNamespace(env: Env, name: string): Promise<void> {
  const storage = new ObjectStorage(env);
  let left = 0;
  for (const def of (await servedResources(env)).filter((r) => r.namespaced)) {
    const store = new RegistryStore(def, storage);
    const gone = await store.deleteCollection(name, {}, { gracePeriodSeconds: 0 });
    left += gone.items.filter((o: KubeObject) => o.metadata?.finalizers?.length).length;
  }
  if (left === 0) await finalizeNamespace(env, name, []);
}

/** namespaces/finalize: sets spec.finalizers; a terminating namespace with none left is deleted. */
export async function finalizeNamespace(env: Env, name: string, finalizers: string[]): Promise<KubeObject> {
  const store = new RegistryStore(namespaceDef, new ObjectStorage(env));
  const key = store.key(undefined, name);
  for (let attempt = 0; attempt < 10; attempt++) {
    const stored = await store.read(undefined, name);
    const ns = stored.object;
    ns.spec = { ...ns.spec, finalizers };
    const outcome = ns.metadata.deletionTimestamp && finalizers.length === 0
      ? await store.storage.delete(key, stored.modRevision)
      : await store.storage.update(key, ns, stored.modRevision);
    if (outcome.ok) return { ...ns, metadata: { ...ns.metadata, resourceVersion: String(outcome.revision) } };
  }
  throw store.staleError(name);
}

// What follows a successful write in this isolate: caches of configuration it wrote (RBAC policy,
// admission configuration, CRDs, checked tokens) are forgotten so it decides by the new state at
// once, and a deleted CRD's objects are cleaned up after the answer, again after each write to one
// of them while the CRD waits (a custom resource's own finalizer may hold it). (A terminating
// namespace is the namespace controller's.)
import { invalidateValidatingAdmissionPolicies } from "../admission/validating-admission-policy.ts";
import { invalidateWebhookConfigurations } from "../admission/webhooks.ts";
import { forgetCheckedTokens } from "../authn/service-account-tokens.ts";
import { invalidatePolicy } from "../authz/policy.ts";
import { customResources, finalizeCustomResourceDefinition, invalidateCustomResources } from "../crd/custom-resources.ts";
import type { KubeObject, ResourceDefinition } from "../registry/types.ts";

export interface Write {
  def: ResourceDefinition;
  method: string;
  /** What the write answered (the object, or for a delete the deleted or terminating one). */
  result?: KubeObject;
  dryRun: boolean;
}

/** By API group or resource: what this isolate forgets after writing there. */
const FORGET: { matches(def: ResourceDefinition, method: string): boolean; forget(): void }[] = [
  { matches: (def) => def.group === "rbac.authorization.k8s.io", forget: invalidatePolicy },
  {
    matches: (def) => def.group === "admissionregistration.k8s.io",
    forget() {
      invalidateValidatingAdmissionPolicies();
      invalidateWebhookConfigurations();
    },
  },
  { matches: (def) => def.group === "apiextensions.k8s.io" && def.resource === "customresourcedefinitions", forget: invalidateCustomResources },
  // Tokens bound to what is gone stop working at once here (elsewhere within the token cache's 10 s).
  ...(["serviceaccounts", "pods", "secrets", "nodes"] as const).map((resource) => ({
    matches: (def: ResourceDefinition, method: string) => method === "DELETE" && def.group === "" && def.resource === resource,
    forget: () => forgetCheckedTokens(resource),
  })),
];

/** Runs after every write request, whether it succeeded or not (a failed write may have changed something first). */
export function afterWrite(env: Env, write: Write, waitUntil: (work: Promise<unknown>) => void): void {
  for (const entry of FORGET) if (entry.matches(write.def, write.method)) entry.forget();
  if (write.dryRun) return;
  if (write.method === "DELETE" && write.def.group === "apiextensions.k8s.io" && write.def.resource === "customresourcedefinitions") waitUntil(finalizeDeletedCustomResourceDefinitions(env));
  else if (write.def.custom && ["DELETE", "PUT", "PATCH"].includes(write.method)) waitUntil(finalizeIfTerminating(env, write.def.custom.crd));
}

/** The CRD of a custom resource just written, if it is being deleted: its cleanup may have waited for this object's finalizers. */
async function finalizeIfTerminating(env: Env, crdName: string): Promise<void> {
  const { crds } = await customResources(env);
  if (crds.some((c) => c.metadata?.name === crdName && c.metadata?.deletionTimestamp)) await finalizeCustomResourceDefinition(env, crdName);
}

async function finalizeDeletedCustomResourceDefinitions(env: Env): Promise<void> {
  const { crds } = await customResources(env, 0);
  for (const crd of crds.filter((c) => c.metadata?.deletionTimestamp)) await finalizeCustomResourceDefinition(env, crd.metadata!.name);
}

// The RBAC objects authorization decides by, read from the store as they are (aggregated
// ClusterRoles hold the rules the clusterrole-aggregation controller wrote). An isolate keeps what it read for a second,
// and reads again at once after it wrote an RBAC object itself (kube-apiserver follows them
// through an informer, with the same kind of short delay between servers).
import { IsolateCache } from "../../lib/isolate-cache.ts";
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from "kubernetes-types/rbac/v1";
import { ObjectStorage } from "../storage/object-storage.ts";
import type { RbacPolicy } from "./rbac.ts";
import { builtinStore } from "../registry/builtins.ts";

const FRESH_MS = 1000;

const cached = new IsolateCache<RbacPolicy>(FRESH_MS);

export function invalidatePolicy(): void {
  cached.invalidate();
}

export function loadPolicy(env: Env): Promise<RbacPolicy> {
  return cached.get(() => readPolicy(env));
}

async function readPolicy(env: Env): Promise<RbacPolicy> {
  const storage = new ObjectStorage(env);
  const read = async <T>(resource: string) => (await builtinStore(storage, "rbac.authorization.k8s.io/v1", resource).all()) as T[];
  const [roles, clusterRoles, roleBindings, clusterRoleBindings] = await Promise.all([
    read<Role>("roles"), read<ClusterRole>("clusterroles"), read<RoleBinding>("rolebindings"), read<ClusterRoleBinding>("clusterrolebindings"),
  ]);
  return { roles, clusterRoles, roleBindings, clusterRoleBindings };
}

// The RBAC objects authorization decides by, read from the store, with ClusterRole aggregation
// applied (kube's clusterrole-aggregation controller). An isolate keeps what it read for a second,
// and reads again at once after it wrote an RBAC object itself (kube-apiserver follows them
// through an informer, with the same kind of short delay between servers).
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from "kubernetes-types/rbac/v1";
import { ObjectStorage } from "../storage/object-storage.ts";
import { aggregateClusterRoles, type RbacPolicy } from "./rbac.ts";

const FRESH_MS = 1000;

let current: { value: Promise<RbacPolicy>; at: number } | undefined;

export function invalidatePolicy(): void {
  current = undefined;
}

export function loadPolicy(env: Env): Promise<RbacPolicy> {
  const now = Date.now();
  if (!current || now - current.at > FRESH_MS) {
    const value = readPolicy(env);
    current = { value, at: now };
    value.catch(() => {
      if (current?.value === value) current = undefined;
    });
  }
  return current.value;
}

async function readPolicy(env: Env): Promise<RbacPolicy> {
  const storage = new ObjectStorage(env);
  const read = async <T>(prefix: string) => (await storage.list(prefix, {})).items.map((stored) => stored.object as T);
  const [roles, clusterRoles, roleBindings, clusterRoleBindings] = await Promise.all([
    read<Role>("/registry/roles/"), read<ClusterRole>("/registry/clusterroles/"),
    read<RoleBinding>("/registry/rolebindings/"), read<ClusterRoleBinding>("/registry/clusterrolebindings/"),
  ]);
  return { roles, clusterRoles: aggregateClusterRoles(clusterRoles), roleBindings, clusterRoleBindings };
}

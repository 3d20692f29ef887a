// RBAC escalation prevention: no one grants what they do not hold. A Role or ClusterRole written by
// someone without its rules (or the escalate verb), or a binding to a role whose rules they lack
// (without the bind verb), is refused with kube's 403, as kube's RBAC storage refuses it.
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from "kubernetes-types/rbac/v1";
import type { RequestAttributes } from "../authz/attributes.ts";
import { loadPolicy } from "../authz/policy.ts";
import { checkBinding, checkRoleEscalation, SYSTEM_MASTERS } from "../authz/rbac.ts";
import type { AdmissionPlugin } from "./plugin.ts";

const RBAC_GROUP = "rbac.authorization.k8s.io";

export const rbacEscalation: AdmissionPlugin = {
  name: "RBACEscalation",
  async validate(a) {
    if (a.def.group !== RBAC_GROUP || !a.object || a.operation === "DELETE") return;
    if (a.user.groups.includes(SYSTEM_MASTERS)) return;
    const attributes: RequestAttributes = {
      user: a.user, verb: a.operation === "CREATE" ? "create" : "update", resourceRequest: true, apiGroup: RBAC_GROUP, apiVersion: a.def.version,
      resource: a.def.resource, namespace: a.namespace,
      // The escalate check is asked of the request's own name: none on create, as in kube.
      name: a.operation === "CREATE" ? undefined : a.object.metadata?.name, path: "",
    };
    const policy = await loadPolicy(a.env);
    const error = a.def.kind.endsWith("Binding")
      ? checkBinding(attributes, a.object as RoleBinding | ClusterRoleBinding, policy)
      : checkRoleEscalation(attributes, a.object as Role | ClusterRole, policy, a.oldObject as Role | ClusterRole | undefined);
    if (error) throw error;
  },
};

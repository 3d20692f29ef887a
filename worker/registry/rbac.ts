// rbac.authorization.k8s.io/v1: Roles, ClusterRoles and their bindings, declarations only (the
// authorizer that reads them is worker/authz/).
import { declare, type ResourceDefinition } from "./types.ts";

export const rbacResources: ResourceDefinition[] = ["roles", "rolebindings", "clusterroles", "clusterrolebindings"]
  .map((resource) => declare("rbac.authorization.k8s.io/v1", resource, { generation: false }));

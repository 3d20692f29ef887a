// The clusterrole-aggregation controller (kube-controller-manager 1.30): a ClusterRole with an
// aggregationRule holds, in its stored rules, the rules of every ClusterRole its selectors match
// (admin, edit and view gather the system:aggregate-to-* roles and whatever else is labelled so).
// Any ClusterRole's change may change what an aggregated one gathers, so each change looks at all
// of them; authorization reads the rules as stored.
import type { ClusterRole } from "kubernetes-types/rbac/v1";
import { isNotFound } from "../../lib/client/index.ts";
import { aggregateClusterRoles, sameRules } from "../../lib/k8s/clusterrole-aggregation.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { splitKey, type Controller, type Listers } from "./framework.ts";

const CLUSTER_ROLES = builtin("rbac.authorization.k8s.io/v1", "clusterroles");

/** Every aggregated ClusterRole, whichever role changed. */
function aggregatedRoleKeys(_changed: unknown, listers: Listers): string[] {
  return listers.of<ClusterRole>(CLUSTER_ROLES).list().filter((role) => role.aggregationRule).map((role) => `/${role.metadata!.name}`);
}

export const clusterRoleAggregationController: Controller = {
  name: "clusterrole-aggregation-controller",
  watches: [{ resource: CLUSTER_ROLES, keysFor: aggregatedRoleKeys }],
  async reconcile(key, ctx) {
    const [, name] = splitKey(key);
    const all = ctx.listers.of<ClusterRole>(CLUSTER_ROLES).list();
    const role = all.find((r) => r.metadata?.name === name);
    if (!role?.aggregationRule) return;
    // What the controller's repeated updates settle to, nested aggregation (admin ← edit ← view) included.
    const rules = aggregateClusterRoles(all).find((r) => r.metadata?.name === name)!.rules ?? [];
    if (sameRules(rules, role.rules ?? [])) return;
    await ctx.client.resource<ClusterRole>(CLUSTER_ROLES).update(undefined, { ...role, rules }).catch((e) => {
      // Gone, or changed meanwhile: its own event brings this key back.
      if (!isNotFound(e) && (e as { code?: number }).code !== 409) throw e;
    });
  },
};

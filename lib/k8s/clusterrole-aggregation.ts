// ClusterRole aggregation, as kube's clusterrole-aggregation controller computes it: a ClusterRole
// with an aggregationRule holds the rules of the ClusterRoles its selectors match. The controller
// (durable-objects/controllers/clusterrole-aggregation.ts) writes them; authorization reads them.
import type { ClusterRole, PolicyRule } from "kubernetes-types/rbac/v1";
import { type LabelSelectorObject, labelSelectorFromObject, matchesLabels } from "./selectors.ts";

function sameStrings(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Semantic equality: a missing list and an empty one are the same. */
function sameRule(a: PolicyRule, b: PolicyRule): boolean {
  return sameStrings(a.verbs, b.verbs) && sameStrings(a.apiGroups, b.apiGroups) && sameStrings(a.resources, b.resources) &&
    sameStrings(a.resourceNames, b.resourceNames) && sameStrings(a.nonResourceURLs, b.nonResourceURLs);
}

export const sameRules = (a: readonly PolicyRule[], b: readonly PolicyRule[]) => a.length === b.length && a.every((rule, i) => sameRule(rule, b[i]!));

function byName(a: ClusterRole, b: ClusterRole): number {
  const x = a.metadata?.name ?? "";
  const y = b.metadata?.name ?? "";
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The rules an aggregating role gathers now, or undefined when a selector is invalid (kube then leaves it be). */
function gatheredRules(role: ClusterRole, all: readonly ClusterRole[]): PolicyRule[] | undefined {
  const gathered: PolicyRule[] = [];
  for (const selector of role.aggregationRule?.clusterRoleSelectors ?? []) {
    let requirements: ReturnType<typeof labelSelectorFromObject>;
    try {
      requirements = labelSelectorFromObject(selector as LabelSelectorObject);
    } catch {
      return undefined;
    }
    const selected = all
      .filter((other) => other.metadata?.name !== role.metadata?.name && matchesLabels(requirements, other.metadata?.labels))
      .sort(byName);
    for (const other of selected) {
      for (const rule of other.rules ?? []) if (!gathered.some((g) => sameRule(g, rule))) gathered.push(rule);
    }
  }
  return gathered;
}

/**
 * ClusterRoles as kube's clusterrole-aggregation controller leaves them: each role with an
 * aggregationRule holds the union of the rules of the ClusterRoles its selectors match (by name,
 * without repeats). Aggregated roles may themselves be aggregated (admin gathers edit, which
 * gathers view), so this repeats until nothing changes. The input is not modified.
 */
export function aggregateClusterRoles(clusterRoles: readonly ClusterRole[]): ClusterRole[] {
  const roles = [...clusterRoles];
  // Each pass settles at least one more level of nesting; a cycle stops at the bound.
  for (let pass = 0; pass <= roles.length; pass++) {
    let changed = false;
    for (let i = 0; i < roles.length; i++) {
      const role = roles[i]!;
      if (!role.aggregationRule) continue;
      const rules = gatheredRules(role, roles);
      if (!rules || sameRules(rules, role.rules ?? [])) continue;
      roles[i] = { ...role, rules };
      changed = true;
    }
    if (!changed) break;
  }
  return roles;
}

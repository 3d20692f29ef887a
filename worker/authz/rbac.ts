// RBAC as kube-apiserver decides it, over plain rbac.authorization.k8s.io/v1 objects: the
// authorizer, the rules a user holds (SelfSubjectRulesReview), the 403 wording, the escalation and
// bind checks the Role/ClusterRole/…Binding storages run on writes (ClusterRole aggregation is a
// controller's: lib/k8s/clusterrole-aggregation.ts).
import type { NonResourceRule, ResourceRule, SubjectRulesReviewStatus } from "kubernetes-types/authorization/v1";
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject } from "kubernetes-types/rbac/v1";
import { ApiError, apiErrors, qualifiedResource } from "../../lib/k8s/status.ts";
import type { RequestAttributes, User } from "./attributes.ts";

export interface RbacPolicy {
  roles: Role[];
  clusterRoles: ClusterRole[];
  roleBindings: RoleBinding[];
  clusterRoleBindings: ClusterRoleBinding[];
}

export interface Decision {
  allowed: boolean;
  reason: string;
}

const RBAC_GROUP = "rbac.authorization.k8s.io";
/** Its members may do anything, whatever the policy: kube-apiserver's own loopback identity is one. */
export const SYSTEM_MASTERS = "system:masters";

/** The user name a ServiceAccount's tokens authenticate as. */
export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** Go's %q for the names, paths and verbs in kube's messages (they are printable text). */
const quote = (s: string) => JSON.stringify(s);
/** Go's %q of a []string: ["a" "b"]. */
const quoteList = (values: readonly string[] | undefined) => `[${(values ?? []).map(quote).join(" ")}]`;

// ---------------------------------------------------------------------------------------------
// Rules against a request

function verbMatches(rule: PolicyRule, verb: string): boolean {
  return rule.verbs.some((v) => v === "*" || v === verb);
}

function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  return (rule.apiGroups ?? []).some((g) => g === "*" || g === group);
}

/** "*", the exact "resource" or "resource/subresource", or "*\/subresource" for any resource's. */
function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  return (rule.resources ?? []).some((r) => r === "*" || r === combined || (subresource !== "" && r === `*/${subresource}`));
}

/** No resourceNames means every name; otherwise the request must name one of them. */
function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(name);
}

/** "*", the exact path, or a prefix ending in "*". */
function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  return (rule.nonResourceURLs ?? []).some((url) => url === "*" || url === path || (url.endsWith("*") && path.startsWith(url.replace(/\*+$/, ""))));
}

export function ruleAllows(attrs: RequestAttributes, rule: PolicyRule): boolean {
  if (!verbMatches(rule, attrs.verb)) return false;
  if (!attrs.resourceRequest) return nonResourceURLMatches(rule, attrs.path);
  return apiGroupMatches(rule, attrs.apiGroup ?? "") &&
    resourceMatches(rule, attrs.resource ?? "", attrs.subresource ?? "") &&
    resourceNameMatches(rule, attrs.name ?? "");
}

// ---------------------------------------------------------------------------------------------
// Which rules apply to a user

function subjectApplies(user: User, subject: Subject, bindingNamespace: string): boolean {
  switch (subject.kind) {
    case "User":
      return user.name === subject.name;
    case "Group":
      return user.groups.includes(subject.name);
    case "ServiceAccount": {
      // A RoleBinding may leave out its own namespace; a ClusterRoleBinding has none to lend.
      const namespace = subject.namespace || bindingNamespace;
      return namespace !== "" && user.name === serviceAccountUsername(namespace, subject.name);
    }
    default:
      return false;
  }
}

function describeSubject(subject: Subject, bindingNamespace: string): string {
  if (subject.kind === "ServiceAccount") return `ServiceAccount ${quote(`${subject.name}/${subject.namespace || bindingNamespace}`)}`;
  return `${subject.kind} ${quote(subject.name)}`;
}

/** A binding whose role could not be found, or whose roleRef names a kind RBAC lacks. */
interface UnresolvedRoleRef {
  roleRef: RoleRef;
}

/**
 * How a resolution failure reads: the authorizer reads roles from informer listers, whose errors
 * name the singular resource; the write-path checks read the registry, which names the plural.
 */
type ErrorNaming = "lister" | "registry";

function unresolvedMessage({ roleRef }: UnresolvedRoleRef, naming: ErrorNaming): string {
  if (roleRef.kind !== "Role" && roleRef.kind !== "ClusterRole") return `unsupported role reference kind: ${quote(roleRef.kind)}`;
  const resource = roleRef.kind.toLowerCase() + (naming === "registry" ? "s" : "");
  return `${resource}.${RBAC_GROUP} ${quote(roleRef.name)} not found`;
}

/** utilerrors.NewAggregate's text: one message alone, several deduplicated in brackets. */
function aggregateMessage(messages: readonly string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(", ")}]`;
}

function roleRefRules(roleRef: RoleRef, bindingNamespace: string, policy: RbacPolicy): PolicyRule[] | undefined {
  switch (roleRef.kind) {
    case "Role": {
      if (!bindingNamespace) return undefined;
      const role = policy.roles.find((r) => r.metadata?.namespace === bindingNamespace && r.metadata?.name === roleRef.name);
      return role && (role.rules ?? []);
    }
    case "ClusterRole": {
      const role = policy.clusterRoles.find((r) => r.metadata?.name === roleRef.name);
      return role && (role.rules ?? []);
    }
    default:
      return undefined;
  }
}

/** Called per rule with a lazy description of the binding that grants it; false stops the walk. */
type RuleVisitor = (rule: PolicyRule, source: () => string) => boolean;

/**
 * Walks the rules that apply to `user` in `namespace` ("" for cluster scope): every
 * ClusterRoleBinding's, then the RoleBindings' of that namespace. A RoleBinding to a ClusterRole
 * therefore grants its rules in the binding's namespace only.
 */
function visitRulesFor(user: User, namespace: string, policy: RbacPolicy, visit: RuleVisitor): UnresolvedRoleRef[] {
  const unresolved: UnresolvedRoleRef[] = [];
  for (const binding of policy.clusterRoleBindings) {
    const subject = binding.subjects?.find((s) => subjectApplies(user, s, ""));
    if (!subject) continue;
    const rules = roleRefRules(binding.roleRef, "", policy);
    if (!rules) {
      unresolved.push({ roleRef: binding.roleRef });
      continue;
    }
    const source = () =>
      `ClusterRoleBinding ${quote(binding.metadata?.name ?? "")} of ${binding.roleRef.kind} ${quote(binding.roleRef.name)} to ${describeSubject(subject, "")}`;
    for (const rule of rules) if (!visit(rule, source)) return unresolved;
  }
  if (!namespace) return unresolved;
  for (const binding of policy.roleBindings) {
    if (binding.metadata?.namespace !== namespace) continue;
    const subject = binding.subjects?.find((s) => subjectApplies(user, s, namespace));
    if (!subject) continue;
    const rules = roleRefRules(binding.roleRef, namespace, policy);
    if (!rules) {
      unresolved.push({ roleRef: binding.roleRef });
      continue;
    }
    const source = () =>
      `RoleBinding ${quote(`${binding.metadata?.name ?? ""}/${namespace}`)} of ${binding.roleRef.kind} ${quote(binding.roleRef.name)} to ${describeSubject(subject, namespace)}`;
    for (const rule of rules) if (!visit(rule, source)) return unresolved;
  }
  return unresolved;
}

function policyRulesFor(user: User, namespace: string, policy: RbacPolicy): { rules: PolicyRule[]; unresolved: UnresolvedRoleRef[] } {
  const rules: PolicyRule[] = [];
  const unresolved = visitRulesFor(user, namespace, policy, (rule) => {
    rules.push(rule);
    return true;
  });
  return { rules, unresolved };
}

// ---------------------------------------------------------------------------------------------
// Authorization

/**
 * Allowed when a rule bound to the user allows the request, with kube's reason naming the binding.
 * A denial's reason is empty unless some binding's role could not be resolved.
 */
export function authorize(attrs: RequestAttributes, policy: RbacPolicy): Decision {
  if (attrs.user.groups.includes(SYSTEM_MASTERS)) return { allowed: true, reason: "" };
  let reason: string | undefined;
  const unresolved = visitRulesFor(attrs.user, attrs.namespace ?? "", policy, (rule, source) => {
    if (!ruleAllows(attrs, rule)) return true;
    reason = `RBAC: allowed by ${source()}`;
    return false;
  });
  if (reason) return { allowed: true, reason };
  if (unresolved.length === 0) return { allowed: false, reason: "" };
  return { allowed: false, reason: `RBAC: ${aggregateMessage(unresolved.map((u) => unresolvedMessage(u, "lister")))}` };
}

/** kubernetes-types' ResourceRule lacks these two fields of authorization.k8s.io/v1's. */
export type ResourceRuleInfo = ResourceRule & { verbs: string[]; resources?: string[] };

export interface SubjectRules extends SubjectRulesReviewStatus {
  resourceRules: ResourceRuleInfo[];
}

/** What `user` may do in `namespace` ("" for cluster scope), as SelfSubjectRulesReview answers. */
export function rulesFor(user: User, namespace: string, policy: RbacPolicy): SubjectRules {
  const { rules, unresolved } = policyRulesFor(user, namespace, policy);
  const resourceRules: ResourceRuleInfo[] = [];
  const nonResourceRules: NonResourceRule[] = [];
  for (const rule of rules) {
    // Empty lists are left out, as kube's JSON omits them.
    if (rule.resources?.length) {
      const resourceRule: ResourceRuleInfo = { verbs: rule.verbs };
      if (rule.apiGroups?.length) resourceRule.apiGroups = rule.apiGroups;
      resourceRule.resources = rule.resources;
      if (rule.resourceNames?.length) resourceRule.resourceNames = rule.resourceNames;
      resourceRules.push(resourceRule);
    }
    if (rule.nonResourceURLs?.length) nonResourceRules.push({ verbs: rule.verbs, nonResourceURLs: rule.nonResourceURLs });
  }
  const status: SubjectRules = { resourceRules, nonResourceRules, incomplete: false };
  if (unresolved.length > 0) status.evaluationError = aggregateMessage(unresolved.map((u) => unresolvedMessage(u, "lister")));
  return status;
}

/** errors.NewForbidden's lead: `pods "web" is forbidden: `, `pods is forbidden: `, or `forbidden: `. */
function forbiddenLead(group: string, resource: string, name: string): string {
  if (!group && !resource) return "forbidden: ";
  const qualified = qualifiedResource(group, resource);
  return name ? `${qualified} ${quote(name)} is forbidden: ` : `${qualified} is forbidden: `;
}

/**
 * The message of kube-apiserver's 403 for a denied request, e.g.
 * `pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "default"`.
 * A non-empty authorizer `reason` follows after a colon, as kube appends it.
 */
export function deniedMessage(attrs: RequestAttributes, reason = ""): string {
  const user = quote(attrs.user.name);
  let detail: string;
  if (!attrs.resourceRequest) {
    detail = `User ${user} cannot ${attrs.verb} path ${quote(attrs.path)}`;
  } else {
    const resource = attrs.subresource ? `${attrs.resource ?? ""}/${attrs.subresource}` : (attrs.resource ?? "");
    const scope = attrs.namespace ? `in the namespace ${quote(attrs.namespace)}` : "at the cluster scope";
    detail = `User ${user} cannot ${attrs.verb} resource ${quote(resource)} in API group ${quote(attrs.apiGroup ?? "")} ${scope}`;
  }
  if (reason) detail += `: ${reason}`;
  return forbiddenLead(attrs.apiGroup ?? "", attrs.resource ?? "", attrs.name ?? "") + detail;
}

/** The 403 Status for a denied request, with kube's details (name, group, and the resource as kind). */
export function forbidden(attrs: RequestAttributes, reason = ""): ApiError {
  return new ApiError(403, "Forbidden", deniedMessage(attrs, reason), {
    name: attrs.name || undefined,
    group: attrs.apiGroup || undefined,
    kind: attrs.resource || undefined,
  });
}

// ---------------------------------------------------------------------------------------------
// Escalation: no one grants what they do not hold

/** One rule per verb × group × resource × name (and per verb × URL): each is covered whole or not at all. */
function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const atoms: PolicyRule[] = [];
  for (const group of rule.apiGroups ?? []) {
    for (const resource of rule.resources ?? []) {
      for (const verb of rule.verbs) {
        if (rule.resourceNames?.length) {
          for (const name of rule.resourceNames) atoms.push({ apiGroups: [group], resources: [resource], verbs: [verb], resourceNames: [name] });
        } else {
          atoms.push({ apiGroups: [group], resources: [resource], verbs: [verb] });
        }
      }
    }
  }
  for (const url of rule.nonResourceURLs ?? []) {
    for (const verb of rule.verbs) atoms.push({ nonResourceURLs: [url], verbs: [verb] });
  }
  return atoms;
}

const hasAll = (set: readonly string[] | undefined, wanted: readonly string[] | undefined) => (wanted ?? []).every((w) => (set ?? []).includes(w));

function resourcesCovered(owner: readonly string[] | undefined, wanted: readonly string[] | undefined): boolean {
  const held = owner ?? [];
  if (held.includes("*")) return true;
  return (wanted ?? []).every((resource) => {
    if (held.includes(resource)) return true;
    const slash = resource.indexOf("/");
    return slash >= 0 && held.includes(`*/${resource.slice(slash + 1)}`);
  });
}

function nonResourceURLsCovered(owner: readonly string[] | undefined, wanted: readonly string[] | undefined): boolean {
  return (wanted ?? []).every((path) =>
    (owner ?? []).some((held) => held === path || (held.endsWith("*") && path.startsWith(held.replace(/\*+$/, "")))));
}

/** Whether one owner rule grants all of an atomic rule (breakdownRule's). */
function ruleCovers(owner: PolicyRule, atom: PolicyRule): boolean {
  const verbs = owner.verbs.includes("*") || hasAll(owner.verbs, atom.verbs);
  const groups = (owner.apiGroups ?? []).includes("*") || hasAll(owner.apiGroups, atom.apiGroups);
  const ownerNames = owner.resourceNames ?? [];
  const names = ownerNames.length === 0 || (atom.resourceNames?.length ? hasAll(ownerNames, atom.resourceNames) : false);
  return verbs && groups && names && resourcesCovered(owner.resources, atom.resources) && nonResourceURLsCovered(owner.nonResourceURLs, atom.nonResourceURLs);
}

/** The atoms of `requested` that no rule of `owner` covers (kube's validation.Covers). */
export function uncoveredRules(owner: readonly PolicyRule[], requested: readonly PolicyRule[]): PolicyRule[] {
  return requested.flatMap(breakdownRule).filter((atom) => !owner.some((rule) => ruleCovers(rule, atom)));
}

/** Rules of one group and one resource and nothing else but verbs merge into one (kube's CompactRules). */
function compactRules(rules: readonly PolicyRule[]): PolicyRule[] {
  const compacted: PolicyRule[] = [];
  const simple = new Map<string, PolicyRule>();
  for (const rule of rules) {
    const isSimple = !rule.resourceNames?.length && !rule.nonResourceURLs?.length && rule.apiGroups?.length === 1 && rule.resources?.length === 1;
    if (!isSimple) {
      compacted.push(rule);
      continue;
    }
    const key = JSON.stringify([rule.apiGroups![0], rule.resources![0]]);
    const existing = simple.get(key);
    if (existing) existing.verbs.push(...rule.verbs);
    else simple.set(key, { apiGroups: [...rule.apiGroups!], resources: [...rule.resources!], verbs: [...rule.verbs] });
  }
  return [...compacted, ...simple.values()];
}

/** A rule as escalation messages print it: {APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}. */
export function compactRuleString(rule: PolicyRule): string {
  const parts: string[] = [];
  if (rule.apiGroups?.length) parts.push(`APIGroups:${quoteList(rule.apiGroups)}`);
  if (rule.resources?.length) parts.push(`Resources:${quoteList(rule.resources)}`);
  if (rule.nonResourceURLs?.length) parts.push(`NonResourceURLs:${quoteList(rule.nonResourceURLs)}`);
  if (rule.resourceNames?.length) parts.push(`ResourceNames:${quoteList(rule.resourceNames)}`);
  if (rule.verbs.length) parts.push(`Verbs:${quoteList(rule.verbs)}`);
  return `{${parts.join(", ")}}`;
}

/**
 * undefined when `ownerRules` grant everything `requestedRules` do; otherwise kube's explanation,
 * `user "x" (groups=[…]) is attempting to grant RBAC permissions not currently held:` and the
 * missing rules one a line, sorted. `resolutionErrors` are roles the owner's bindings name but
 * that could not be found.
 */
export function confirmNoEscalation(
  user: User,
  ownerRules: readonly PolicyRule[],
  requestedRules: readonly PolicyRule[],
  resolutionErrors: readonly string[] = [],
): string | undefined {
  const missing = uncoveredRules(ownerRules, requestedRules);
  if (missing.length === 0) return undefined;
  const descriptions = [...new Set(compactRules(missing).map(compactRuleString))].sort();
  let message = `user ${quote(user.name)} (groups=${quoteList(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${descriptions.join("\n")}`;
  if (resolutionErrors.length > 0) message += `; resolution errors: [${aggregateMessage(resolutionErrors)}]`;
  return message;
}

const FULL_AUTHORITY: PolicyRule[] = [
  { verbs: ["*"], apiGroups: ["*"], resources: ["*"] },
  { verbs: ["*"], nonResourceURLs: ["*"] },
];

/** confirmNoEscalation against what `user` holds in `namespace` under `policy`. */
function escalationMessage(user: User, namespace: string, requested: readonly PolicyRule[], policy: RbacPolicy): string | undefined {
  const { rules, unresolved } = policyRulesFor(user, namespace, policy);
  const errors = unresolved.length ? [aggregateMessage(unresolved.map((u) => unresolvedMessage(u, "registry")))] : [];
  return confirmNoEscalation(user, rules, requested, errors);
}

const hasAggregationRule = (role: Role | ClusterRole | undefined) =>
  !!role && "aggregationRule" in role && !!role.aggregationRule?.clusterRoleSelectors?.length;

/**
 * The check kube's Role and ClusterRole storages make on create and update (`attrs` are the write
 * request's, `oldRole` the stored object on update): system:masters and holders of the "escalate"
 * verb on the role pass; anyone else must already hold every rule the role grants, and only a
 * holder of everything may set or change an aggregationRule. Returns the 403 to answer, or
 * undefined to let the write through.
 */
export function checkRoleEscalation(attrs: RequestAttributes, role: Role | ClusterRole, policy: RbacPolicy, oldRole?: Role | ClusterRole): ApiError | undefined {
  const { user } = attrs;
  if (user.groups.includes(SYSTEM_MASTERS)) return undefined;
  const namespace = attrs.namespace ?? "";
  const resource = namespace ? "roles" : "clusterroles";
  // Asked of the request's own name: empty on create, so only an unrestricted "escalate" passes one.
  const escalate: RequestAttributes = {
    user, verb: "escalate", resourceRequest: true, apiGroup: RBAC_GROUP, resource, name: attrs.name, namespace: attrs.namespace, path: attrs.path,
  };
  if (authorize(escalate, policy).allowed) return undefined;

  const name = role.metadata?.name ?? "";
  const denied = escalationMessage(user, namespace, role.rules ?? [], policy);
  if (denied) return rbacForbidden(resource, name, denied);
  if (!namespace && (hasAggregationRule(role) || hasAggregationRule(oldRole)) && escalationMessage(user, namespace, FULL_AUTHORITY, policy)) {
    return rbacForbidden(resource, name, "must have cluster-admin privileges to use the aggregationRule");
  }
  return undefined;
}

/** errors.NewForbidden for an object of the RBAC group. */
function rbacForbidden(resource: string, name: string, message: string): ApiError {
  return new ApiError(403, "Forbidden", forbiddenLead(RBAC_GROUP, resource, name) + message, { name: name || undefined, group: RBAC_GROUP, kind: resource });
}

/**
 * The check kube's RoleBinding and ClusterRoleBinding storages make on create and update (`attrs`
 * are the write request's): system:masters passes, as does anyone allowed to "bind" the referenced
 * role (in the binding's namespace, or cluster-wide for a ClusterRoleBinding); anyone else must
 * already hold every rule of the role. A role that does not exist is a 404, as kube answers.
 */
export function checkBinding(attrs: RequestAttributes, binding: RoleBinding | ClusterRoleBinding, policy: RbacPolicy): ApiError | undefined {
  const { user } = attrs;
  if (user.groups.includes(SYSTEM_MASTERS)) return undefined;
  const namespace = attrs.namespace ?? "";
  const { roleRef } = binding;
  if (roleRef.kind === "Role" || roleRef.kind === "ClusterRole") {
    const bind: RequestAttributes = {
      user, verb: "bind", resourceRequest: true, apiGroup: roleRef.apiGroup, resource: roleRef.kind === "Role" ? "roles" : "clusterroles",
      name: roleRef.name, namespace: namespace || undefined, path: "",
    };
    if (authorize(bind, policy).allowed) return undefined;
  }
  const rules = roleRefRules(roleRef, namespace, policy);
  if (!rules) {
    if (roleRef.kind === "Role" || roleRef.kind === "ClusterRole") return apiErrors.notFound(RBAC_GROUP, roleRef.kind === "Role" ? "roles" : "clusterroles", roleRef.name);
    return apiErrors.internal(unresolvedMessage({ roleRef }, "registry"));
  }
  const denied = escalationMessage(user, namespace, rules, policy);
  if (!denied) return undefined;
  return rbacForbidden(namespace ? "rolebindings" : "clusterrolebindings", binding.metadata?.name ?? "", denied);
}

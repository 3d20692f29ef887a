// Which requests the audit log records and how much of them: kube-apiserver's audit.k8s.io/v1
// Policy (rules matched in order, the first match's level), from the AUDIT_POLICY setting or a
// default, with Secrets, ConfigMaps and token requests and reviews never recorded above Metadata.
import type { RequestAttributes } from "../authz/attributes.ts";

// kubernetes-types has no audit.k8s.io types (kube serves no audit API), so they are declared here.

/** How much of a request the log keeps, least first. */
export type AuditLevel = "None" | "Metadata" | "Request" | "RequestResponse";
export type AuditStage = "RequestReceived" | "ResponseStarted" | "ResponseComplete" | "Panic";

export interface GroupResources {
  group?: string;
  // "pods", "pods/log", "*", "*/log" (a subresource of any resource) or "pods/*".
  resources?: string[];
  resourceNames?: string[];
}

export interface PolicyRule {
  level: AuditLevel;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  namespaces?: string[];
  /** "/healthz", or a prefix ending in "*" ("/healthz*", "*"). */
  nonResourceURLs?: string[];
  omitStages?: AuditStage[];
  omitManagedFields?: boolean;
}

export interface Policy {
  apiVersion: "audit.k8s.io/v1";
  kind: "Policy";
  metadata?: { name?: string };
  rules: PolicyRule[];
  omitStages?: AuditStage[];
  omitManagedFields?: boolean;
}

/** What the policy asks of one request. */
export interface AuditDecision {
  level: AuditLevel;
  omitStages: AuditStage[];
  omitManagedFields: boolean;
}

const LEVELS: readonly AuditLevel[] = ["None", "Metadata", "Request", "RequestResponse"];
const STAGES: readonly AuditStage[] = ["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"];

export function levelAtLeast(level: AuditLevel, minimum: AuditLevel): boolean {
  return LEVELS.indexOf(level) >= LEVELS.indexOf(minimum);
}

/**
 * Used when AUDIT_POLICY is unset: who did what to which object, minus polling and health checks.
 * A node's heartbeats (its Lease renewed and its Node read every 10 s) are left out as kube's
 * reference policy (cluster/gce) leaves out nodes' reads of their Node: they are most of a large
 * cluster's requests (1,000 nodes: 200/s) and would fill the audit shard with nothing anyone asks about.
 */
export const DEFAULT_POLICY: Policy = {
  apiVersion: "audit.k8s.io/v1",
  kind: "Policy",
  omitStages: ["RequestReceived"],
  rules: [
    { level: "None", verbs: ["get", "list", "watch"], resources: [{ group: "", resources: ["events"] }, { group: "events.k8s.io", resources: ["events"] }] },
    { level: "None", userGroups: ["system:nodes"], verbs: ["get"], resources: [{ group: "", resources: ["nodes", "nodes/status"] }] },
    { level: "None", userGroups: ["system:nodes"], verbs: ["get", "update"], namespaces: ["kube-node-lease"], resources: [{ group: "coordination.k8s.io", resources: ["leases"] }] },
    { level: "None", nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version"] },
    { level: "Metadata" },
  ],
};

/**
 * Resources whose bodies carry credentials: Secrets, ConfigMaps (which often hold them anyway),
 * TokenRequests (serviceaccounts/token) and TokenReviews. Whatever the policy says, they are
 * recorded at Metadata at most.
 */
export function carriesSecrets(attrs: Omit<RequestAttributes, "user">): boolean {
  if (!attrs.resourceRequest) return false;
  const group = attrs.apiGroup ?? "";
  if (group === "") {
    return attrs.resource === "secrets" || attrs.resource === "configmaps" || (attrs.resource === "serviceaccounts" && attrs.subresource === "token");
  }
  return group === "authentication.k8s.io" && attrs.resource === "tokenreviews";
}

/** Policy.LevelAndStages as kube's policy checker answers it, then capped for credential-bearing resources. */
export function auditDecision(policy: Policy, attrs: RequestAttributes): AuditDecision {
  const rule = policy.rules.find((r) => ruleMatches(r, attrs));
  let level = rule?.level ?? "None";
  if (carriesSecrets(attrs) && levelAtLeast(level, "Request")) level = "Metadata";
  return {
    level,
    omitStages: [...new Set([...(policy.omitStages ?? []), ...(rule?.omitStages ?? [])])],
    omitManagedFields: rule?.omitManagedFields ?? policy.omitManagedFields ?? false,
  };
}

/**
 * The highest level any user could get for this request, before the user is known: whether the
 * request body must be kept in case the level turns out to need it.
 */
export function highestLevelForAnyUser(policy: Policy, attrs: Omit<RequestAttributes, "user">): AuditLevel {
  if (carriesSecrets(attrs)) return "Metadata";
  let highest: AuditLevel = "None";
  for (const rule of policy.rules) {
    if (!requestMatches(rule, attrs)) continue;
    if (levelAtLeast(rule.level, highest)) highest = rule.level;
    // A rule that names no users matches every user: no later rule can be reached.
    if (!rule.users?.length && !rule.userGroups?.length) break;
  }
  return highest;
}

function ruleMatches(rule: PolicyRule, attrs: RequestAttributes): boolean {
  if (rule.users?.length && !rule.users.includes(attrs.user.name)) return false;
  if (rule.userGroups?.length && !attrs.user.groups.some((g) => rule.userGroups!.includes(g))) return false;
  return requestMatches(rule, attrs);
}

/** Everything of ruleMatches but the user. */
function requestMatches(rule: PolicyRule, attrs: Omit<RequestAttributes, "user">): boolean {
  if (rule.verbs?.length && !rule.verbs.includes(attrs.verb)) return false;
  if (rule.namespaces?.length || rule.resources?.length) return resourceMatches(rule, attrs);
  if (rule.nonResourceURLs?.length) return !attrs.resourceRequest && rule.nonResourceURLs.some((spec) => pathMatches(attrs.path, spec));
  return true;
}

function pathMatches(path: string, spec: string): boolean {
  if (spec === "*" || spec === path) return true;
  return spec.endsWith("*") && path.startsWith(spec.slice(0, -1));
}

function resourceMatches(rule: PolicyRule, attrs: Omit<RequestAttributes, "user">): boolean {
  if (!attrs.resourceRequest) return false;
  // Cluster-scoped resources are in the namespace "".
  if (rule.namespaces?.length && !rule.namespaces.includes(attrs.namespace ?? "")) return false;
  if (!rule.resources?.length) return true;
  const group = attrs.apiGroup ?? "";
  const resource = attrs.resource ?? "";
  const subresource = attrs.subresource ?? "";
  const combined = subresource ? `${resource}/${subresource}` : resource;
  for (const gr of rule.resources) {
    if ((gr.group ?? "") !== group) continue;
    if (!gr.resources?.length) return true;
    if (gr.resourceNames?.length && !gr.resourceNames.includes(attrs.name ?? "")) continue;
    for (const res of gr.resources) {
      if (res === combined || res === "*") return true;
      if (subresource && res.startsWith("*/") && res.slice(2) === subresource) return true;
      if (res.endsWith("/*") && res.slice(0, -2) === resource) return true;
    }
  }
  return false;
}

/** Decodes and validates an audit.k8s.io/v1 Policy as kube's policy loader does; throws on the first error. */
export function parsePolicy(text: string): Policy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`audit policy is not JSON: ${(e as Error).message}`);
  }
  const policy = doc as Policy;
  if (!isObject(doc) || policy.kind !== "Policy" || policy.apiVersion !== "audit.k8s.io/v1") {
    throw new Error('audit policy must be {"apiVersion":"audit.k8s.io/v1","kind":"Policy",...}');
  }
  if (!Array.isArray(policy.rules)) throw new Error("audit policy: rules must be a list");
  checkStages(policy.omitStages, "omitStages");
  policy.rules.forEach((rule, i) => checkRule(rule, `rules[${i}]`));
  return policy;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkStrings(value: unknown, field: string): void {
  if (value !== undefined && (!Array.isArray(value) || value.some((v) => typeof v !== "string"))) {
    throw new Error(`audit policy: ${field} must be a list of strings`);
  }
}

function checkStages(value: unknown, field: string): void {
  checkStrings(value, field);
  for (const stage of (value as string[] | undefined) ?? []) {
    if (!STAGES.includes(stage as AuditStage)) throw new Error(`audit policy: ${field}: Unsupported value: "${stage}"`);
  }
}

function checkRule(rule: PolicyRule, field: string): void {
  if (!isObject(rule)) throw new Error(`audit policy: ${field} must be an object`);
  if (!LEVELS.includes(rule.level)) throw new Error(`audit policy: ${field}.level: Unsupported value: "${String(rule.level)}"`);
  for (const list of ["users", "userGroups", "verbs", "namespaces", "nonResourceURLs"] as const) checkStrings(rule[list], `${field}.${list}`);
  checkStages(rule.omitStages, `${field}.omitStages`);
  if (rule.nonResourceURLs?.length && (rule.resources?.length || rule.namespaces?.length)) {
    throw new Error(`audit policy: ${field}.nonResourceURLs: rules cannot apply to both regular resources and non-resource URLs`);
  }
  for (const url of rule.nonResourceURLs ?? []) {
    if (url === "*") continue;
    if (!url.startsWith("/")) throw new Error(`audit policy: ${field}.nonResourceURLs: Invalid value: "${url}": non-resource URL rules must begin with a '/' character`);
    if (url.slice(0, -1).includes("*")) throw new Error(`audit policy: ${field}.nonResourceURLs: Invalid value: "${url}": non-resource URL wildcards '*' must be the final character of the rule`);
  }
  if (rule.resources !== undefined && !Array.isArray(rule.resources)) throw new Error(`audit policy: ${field}.resources must be a list`);
  (rule.resources ?? []).forEach((entry: unknown, i) => {
    const at = `${field}.resources[${i}]`;
    if (!isObject(entry)) throw new Error(`audit policy: ${at} must be an object`);
    const gr = entry as GroupResources;
    if (gr.group !== undefined && typeof gr.group !== "string") throw new Error(`audit policy: ${at}.group must be a string`);
    checkStrings(gr.resources, `${at}.resources`);
    checkStrings(gr.resourceNames, `${at}.resourceNames`);
    if (gr.resourceNames?.length && !gr.resources?.length) {
      throw new Error(`audit policy: ${at}.resourceNames: Invalid value: using resourceNames requires at least one resource`);
    }
  });
}

let memo: { setting: string | undefined; policy: Policy } | undefined;

/**
 * The policy in force: AUDIT_POLICY, or the default when unset. A policy that does not load is
 * logged and the default is used, so a typo cannot switch auditing off.
 */
export function auditPolicy(setting: string | undefined): Policy {
  if (memo && memo.setting === setting) return memo.policy;
  let policy = DEFAULT_POLICY;
  if (setting?.trim()) {
    try {
      policy = parsePolicy(setting);
    } catch (e) {
      console.error(JSON.stringify({ level: "error", msg: "AUDIT_POLICY does not load; using the default audit policy", error: (e as Error).message }));
    }
  }
  memo = { setting, policy };
  return policy;
}

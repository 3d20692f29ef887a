// RBAC decisions, messages, escalation and bind checks, aggregation and the bootstrap policy, each
// checked against what kube-apiserver answers for the same policy and request.
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject } from "kubernetes-types/rbac/v1";
import { describe, expect, it } from "vitest";
import { type RequestAttributes, type User, requestAttributes } from "./attributes.ts";
import { bootstrapClusterRoleBindings, bootstrapClusterRoles } from "./bootstrap-policy.ts";
import { aggregateClusterRoles } from "../../lib/k8s/clusterrole-aggregation.ts";
import {
  type RbacPolicy, authorize, checkBinding, checkRoleEscalation, confirmNoEscalation, deniedMessage, forbidden,
  rulesFor, uncoveredRules,
} from "./rbac.ts";

const RBAC = "rbac.authorization.k8s.io";
const alice: User = { name: "alice", groups: ["system:authenticated"] };
const bob: User = { name: "bob", groups: ["devs", "system:authenticated"] };
const builder: User = { name: "system:serviceaccount:ci:builder", groups: ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"] };
const admin: User = { name: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] };

const role = (namespace: string, name: string, rules: PolicyRule[]): Role => ({ metadata: { namespace, name }, rules });
const clusterRole = (name: string, rules: PolicyRule[], labels?: Record<string, string>): ClusterRole => ({ metadata: { name, labels }, rules });
const userSubject = (name: string): Subject => ({ apiGroup: RBAC, kind: "User", name });
const groupSubject = (name: string): Subject => ({ apiGroup: RBAC, kind: "Group", name });
const roleBinding = (namespace: string, name: string, roleRef: { kind: "Role" | "ClusterRole"; name: string }, subjects: Subject[]): RoleBinding =>
  ({ metadata: { namespace, name }, roleRef: { apiGroup: RBAC, ...roleRef }, subjects });
const clusterRoleBinding = (name: string, roleName: string, subjects: Subject[]): ClusterRoleBinding =>
  ({ metadata: { name }, roleRef: { apiGroup: RBAC, kind: "ClusterRole", name: roleName }, subjects });

function policy(parts: Partial<RbacPolicy>): RbacPolicy {
  return { roles: [], clusterRoles: [], roleBindings: [], clusterRoleBindings: [], ...parts };
}

/** The bootstrap policy as a running cluster holds it, aggregated, plus `extra`. */
function defaultPolicy(extra: Partial<RbacPolicy> = {}): RbacPolicy {
  return {
    roles: extra.roles ?? [],
    roleBindings: extra.roleBindings ?? [],
    clusterRoles: aggregateClusterRoles([...bootstrapClusterRoles, ...(extra.clusterRoles ?? [])]),
    clusterRoleBindings: [...bootstrapClusterRoleBindings, ...(extra.clusterRoleBindings ?? [])],
  };
}

function request(user: User, method: string, path: string): RequestAttributes {
  return requestAttributes(method, new URL(path, "https://edgeplane.test"), user);
}

const can = (p: RbacPolicy, user: User, method: string, path: string) => authorize(request(user, method, path), p).allowed;

describe("rule matching", () => {
  /** One ClusterRole with `rule`, bound cluster-wide to alice. */
  const withRule = (rule: PolicyRule) =>
    policy({ clusterRoles: [clusterRole("r", [rule])], clusterRoleBindings: [clusterRoleBinding("b", "r", [userSubject("alice")])] });

  it("verbs, groups and resources match exactly or by *", () => {
    const p = withRule({ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] });
    expect(can(p, alice, "GET", "/api/v1/namespaces/a/pods")).toBe(true);
    expect(can(p, alice, "GET", "/api/v1/namespaces/a/pods/web")).toBe(true);
    expect(can(p, alice, "GET", "/api/v1/pods")).toBe(true);
    expect(can(p, alice, "GET", "/api/v1/namespaces/a/pods?watch=true")).toBe(false);
    expect(can(p, alice, "DELETE", "/api/v1/namespaces/a/pods/web")).toBe(false);
    expect(can(p, alice, "GET", "/api/v1/namespaces/a/services")).toBe(false);
    // The same resource name in another group is another resource.
    expect(can(p, alice, "GET", "/apis/example.com/v1/pods")).toBe(false);

    const any = withRule({ apiGroups: ["*"], resources: ["*"], verbs: ["*"] });
    expect(can(any, alice, "DELETE", "/apis/apps/v1/namespaces/a/deployments")).toBe(true);
    expect(can(any, alice, "POST", "/api/v1/namespaces/a/pods/web/exec")).toBe(true);
    // Resource rules never grant paths.
    expect(can(any, alice, "GET", "/metrics")).toBe(false);
  });

  it("a subresource is granted as resource/subresource or */subresource, never by the bare resource", () => {
    const pods = withRule({ apiGroups: [""], resources: ["pods"], verbs: ["*"] });
    expect(can(pods, alice, "POST", "/api/v1/namespaces/a/pods/web/exec")).toBe(false);
    expect(can(pods, alice, "GET", "/api/v1/namespaces/a/pods/web/log")).toBe(false);

    const exec = withRule({ apiGroups: [""], resources: ["pods/exec"], verbs: ["create"] });
    expect(can(exec, alice, "POST", "/api/v1/namespaces/a/pods/web/exec")).toBe(true);
    expect(can(exec, alice, "POST", "/api/v1/namespaces/a/pods/web/attach")).toBe(false);
    expect(can(exec, alice, "POST", "/api/v1/namespaces/a/pods")).toBe(false);

    const anyStatus = withRule({ apiGroups: ["*"], resources: ["*/status"], verbs: ["update"] });
    expect(can(anyStatus, alice, "PUT", "/api/v1/namespaces/a/pods/web/status")).toBe(true);
    expect(can(anyStatus, alice, "PUT", "/apis/apps/v1/namespaces/a/deployments/d/status")).toBe(true);
    expect(can(anyStatus, alice, "PUT", "/apis/apps/v1/namespaces/a/deployments/d/scale")).toBe(false);
    expect(can(anyStatus, alice, "PUT", "/apis/apps/v1/namespaces/a/deployments/d")).toBe(false);
  });

  it("resourceNames limit a rule to named objects, so never to a whole collection", () => {
    const p = withRule({ apiGroups: [""], resources: ["secrets"], resourceNames: ["token"], verbs: ["get", "list", "watch", "delete"] });
    expect(can(p, alice, "GET", "/api/v1/namespaces/a/secrets/token")).toBe(true);
    expect(can(p, alice, "GET", "/api/v1/namespaces/a/secrets/other")).toBe(false);
    expect(can(p, alice, "GET", "/api/v1/namespaces/a/secrets")).toBe(false);
    expect(can(p, alice, "DELETE", "/api/v1/namespaces/a/secrets")).toBe(false);
    expect(can(p, alice, "GET", "/api/v1/namespaces/a/secrets?watch=1&fieldSelector=metadata.name%3Dtoken")).toBe(true);
    expect(can(p, alice, "POST", "/api/v1/namespaces/a/secrets")).toBe(false);
  });

  it("nonResourceURLs match exactly, entirely (*), or by a prefix ending in *", () => {
    const p = withRule({ nonResourceURLs: ["/healthz", "/logs/*"], verbs: ["get"] });
    expect(can(p, alice, "GET", "/healthz")).toBe(true);
    expect(can(p, alice, "GET", "/healthz/etcd")).toBe(false);
    expect(can(p, alice, "GET", "/logs/")).toBe(true);
    expect(can(p, alice, "GET", "/logs/kube/a.log")).toBe(true);
    expect(can(p, alice, "GET", "/logs")).toBe(false);
    expect(can(p, alice, "POST", "/healthz")).toBe(false);
    const all = withRule({ nonResourceURLs: ["*"], verbs: ["*"] });
    expect(can(all, alice, "PUT", "/anything/at/all")).toBe(true);
    expect(can(all, alice, "GET", "/api/v1/pods")).toBe(false);
  });
});

describe("subjects", () => {
  const reader = clusterRole("pod-reader", [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }]);
  const list = (user: User, namespace = "ci") => can(p, user, "GET", `/api/v1/namespaces/${namespace}/pods`);
  let p: RbacPolicy;

  it("User matches the name, Group any of the user's groups", () => {
    p = policy({ clusterRoles: [reader], clusterRoleBindings: [clusterRoleBinding("b", "pod-reader", [userSubject("alice")])] });
    expect(list(alice)).toBe(true);
    expect(list(bob)).toBe(false);
    p = policy({ clusterRoles: [reader], clusterRoleBindings: [clusterRoleBinding("b", "pod-reader", [groupSubject("devs")])] });
    expect(list(alice)).toBe(false);
    expect(list(bob)).toBe(true);
  });

  it("ServiceAccount matches system:serviceaccount:<namespace>:<name>, defaulting the namespace to a RoleBinding's own", () => {
    const sa = (namespace?: string): Subject => ({ kind: "ServiceAccount", name: "builder", namespace });
    p = policy({ clusterRoles: [reader], clusterRoleBindings: [clusterRoleBinding("b", "pod-reader", [sa("ci")])] });
    expect(list(builder, "other")).toBe(true);
    p = policy({ clusterRoles: [reader], clusterRoleBindings: [clusterRoleBinding("b", "pod-reader", [sa("prod")])] });
    expect(list(builder)).toBe(false);
    // A ClusterRoleBinding has no namespace to lend.
    p = policy({ clusterRoles: [reader], clusterRoleBindings: [clusterRoleBinding("b", "pod-reader", [sa()])] });
    expect(list(builder)).toBe(false);
    p = policy({ clusterRoles: [reader], roleBindings: [roleBinding("ci", "b", { kind: "ClusterRole", name: "pod-reader" }, [sa()])] });
    expect(list(builder)).toBe(true);
    // A user named like the account is not the account's group members.
    expect(list({ name: "builder", groups: ["system:serviceaccounts:ci"] })).toBe(false);
  });

  it("the allowing binding is named in the reason, as kube names it", () => {
    p = policy({
      roles: [role("ci", "pods", [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }])],
      clusterRoles: [reader],
      roleBindings: [roleBinding("ci", "sa-pods", { kind: "Role", name: "pods" }, [{ kind: "ServiceAccount", name: "builder" }])],
      clusterRoleBindings: [clusterRoleBinding("devs-read", "pod-reader", [groupSubject("devs")])],
    });
    expect(authorize(request(builder, "GET", "/api/v1/namespaces/ci/pods"), p)).toEqual({
      allowed: true, reason: 'RBAC: allowed by RoleBinding "sa-pods/ci" of Role "pods" to ServiceAccount "builder/ci"',
    });
    expect(authorize(request(bob, "GET", "/api/v1/pods"), p)).toEqual({
      allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "devs-read" of ClusterRole "pod-reader" to Group "devs"',
    });
    expect(authorize(request(alice, "GET", "/api/v1/pods"), p)).toEqual({ allowed: false, reason: "" });
  });

  it("system:masters may do anything, with no policy at all", () => {
    const empty = policy({});
    for (const [method, path] of [["DELETE", "/api/v1/namespaces/kube-system"], ["POST", "/api/v1/namespaces/a/pods/x/exec"], ["GET", "/metrics"]] as const) {
      expect(authorize(request(admin, method, path), empty)).toEqual({ allowed: true, reason: "" });
    }
  });

  it("a binding to a missing role grants nothing, and says so in the denial's reason", () => {
    p = policy({
      roleBindings: [roleBinding("ci", "gone", { kind: "Role", name: "deleted" }, [userSubject("alice")])],
      clusterRoleBindings: [clusterRoleBinding("gone", "deleted-too", [userSubject("alice")])],
    });
    expect(authorize(request(alice, "GET", "/api/v1/namespaces/ci/pods"), p)).toEqual({
      allowed: false,
      reason: `RBAC: [clusterrole.${RBAC} "deleted-too" not found, role.${RBAC} "deleted" not found]`,
    });
    expect(authorize(request(alice, "GET", "/api/v1/pods"), p)).toEqual({ allowed: false, reason: `RBAC: clusterrole.${RBAC} "deleted-too" not found` });
  });
});

describe("namespaces", () => {
  it("a RoleBinding to the ClusterRole edit grants edit in the binding's namespace only", () => {
    const p = defaultPolicy({ roleBindings: [roleBinding("team-a", "alice-edit", { kind: "ClusterRole", name: "edit" }, [userSubject("alice")])] });
    expect(can(p, alice, "POST", "/apis/apps/v1/namespaces/team-a/deployments")).toBe(true);
    expect(can(p, alice, "DELETE", "/api/v1/namespaces/team-a/pods/web")).toBe(true);
    expect(can(p, alice, "GET", "/api/v1/namespaces/team-a/secrets/db")).toBe(true);
    expect(can(p, alice, "POST", "/api/v1/namespaces/team-a/pods/web/exec")).toBe(true);
    // The namespace object itself, read from inside it.
    expect(can(p, alice, "GET", "/api/v1/namespaces/team-a")).toBe(true);
    // edit leaves out RBAC and quota writes.
    expect(can(p, alice, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles")).toBe(false);
    expect(can(p, alice, "POST", "/api/v1/namespaces/team-a/resourcequotas")).toBe(false);
    // Nothing in another namespace, nothing across all of them, nothing cluster-scoped.
    expect(can(p, alice, "GET", "/api/v1/namespaces/team-b/pods")).toBe(false);
    expect(can(p, alice, "GET", "/api/v1/namespaces/team-b")).toBe(false);
    expect(can(p, alice, "GET", "/api/v1/pods")).toBe(false);
    expect(can(p, alice, "GET", "/api/v1/namespaces")).toBe(false);
    expect(can(p, alice, "GET", "/api/v1/nodes")).toBe(false);
  });

  it("a RoleBinding's Role is the one in its own namespace", () => {
    const rules = [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }];
    const p = policy({
      roles: [role("b", "reader", rules)],
      roleBindings: [roleBinding("a", "r", { kind: "Role", name: "reader" }, [userSubject("alice")])],
    });
    expect(can(p, alice, "GET", "/api/v1/namespaces/a/configmaps/x")).toBe(false);
    expect(can(p, alice, "GET", "/api/v1/namespaces/b/configmaps/x")).toBe(false);
  });
});

describe("rulesFor", () => {
  it("lists the resource and non-resource rules that apply in a namespace, as SelfSubjectRulesReview does", () => {
    const p = policy({
      roles: [role("ci", "deployer", [{ apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["api"], verbs: ["patch"] }])],
      clusterRoles: [clusterRole("probe", [{ nonResourceURLs: ["/healthz"], verbs: ["get"] }])],
      roleBindings: [
        roleBinding("ci", "d", { kind: "Role", name: "deployer" }, [userSubject("alice")]),
        roleBinding("ci", "gone", { kind: "Role", name: "missing" }, [userSubject("alice")]),
        roleBinding("other", "d", { kind: "Role", name: "deployer" }, [userSubject("alice")]),
      ],
      clusterRoleBindings: [clusterRoleBinding("probe", "probe", [groupSubject("system:authenticated")])],
    });
    expect(rulesFor(alice, "ci", p)).toEqual({
      resourceRules: [{ verbs: ["patch"], apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["api"] }],
      nonResourceRules: [{ verbs: ["get"], nonResourceURLs: ["/healthz"] }],
      incomplete: false,
      evaluationError: `role.${RBAC} "missing" not found`,
    });
    expect(rulesFor(alice, "", p)).toEqual({ resourceRules: [], nonResourceRules: [{ verbs: ["get"], nonResourceURLs: ["/healthz"] }], incomplete: false });
  });

  it("gives a default user the self-review and discovery rules", () => {
    const { resourceRules, nonResourceRules } = rulesFor(alice, "default", defaultPolicy());
    expect(resourceRules).toEqual([
      { verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"] },
      { verbs: ["create"], apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"] },
    ]);
    expect(nonResourceRules.flatMap((r) => r.nonResourceURLs)).toContain("/apis/*");
  });
});

describe("403 wording", () => {
  const denied = (user: User, method: string, path: string) => deniedMessage(request(user, method, path));

  it("is kube-apiserver's, for each shape of request", () => {
    expect(denied(alice, "GET", "/api/v1/namespaces/default/pods"))
      .toBe('pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"');
    expect(denied(alice, "GET", "/api/v1/namespaces/default/pods/web"))
      .toBe('pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "default"');
    expect(denied(alice, "POST", "/api/v1/namespaces/default/pods/web/exec"))
      .toBe('pods "web" is forbidden: User "alice" cannot create resource "pods/exec" in API group "" in the namespace "default"');
    expect(denied(alice, "GET", "/api/v1/nodes"))
      .toBe('nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope');
    expect(denied(alice, "DELETE", "/apis/apps/v1/namespaces/prod/deployments/api"))
      .toBe('deployments.apps "api" is forbidden: User "alice" cannot delete resource "deployments" in API group "apps" in the namespace "prod"');
    expect(denied(builder, "GET", "/apis/apps/v1/deployments?watch=true"))
      .toBe('deployments.apps is forbidden: User "system:serviceaccount:ci:builder" cannot watch resource "deployments" in API group "apps" at the cluster scope');
    expect(denied(alice, "GET", "/api/v1/namespaces/team-b"))
      .toBe('namespaces "team-b" is forbidden: User "alice" cannot get resource "namespaces" in API group "" in the namespace "team-b"');
    expect(denied(alice, "GET", "/metrics")).toBe('forbidden: User "alice" cannot get path "/metrics"');
    expect(denied({ name: "system:anonymous", groups: ["system:unauthenticated"] }, "GET", "/"))
      .toBe('forbidden: User "system:anonymous" cannot get path "/"');
  });

  it("appends the authorizer's reason after a colon", () => {
    expect(deniedMessage(request(alice, "GET", "/api/v1/namespaces/a/pods"), `RBAC: role.${RBAC} "x" not found`))
      .toBe(`pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "a": RBAC: role.${RBAC} "x" not found`);
  });

  it("comes as a Forbidden Status with the object's details", () => {
    expect(forbidden(request(alice, "GET", "/apis/apps/v1/namespaces/prod/deployments/api")).toStatus()).toEqual({
      kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure",
      message: 'deployments.apps "api" is forbidden: User "alice" cannot get resource "deployments" in API group "apps" in the namespace "prod"',
      reason: "Forbidden", details: { name: "api", group: "apps", kind: "deployments" }, code: 403,
    });
    expect(JSON.parse(JSON.stringify(forbidden(request(alice, "GET", "/metrics")).toStatus()))).toMatchObject({ details: {}, code: 403 });
  });
});

describe("escalation", () => {
  const podsRead = { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] };

  it("confirmNoEscalation names each missing permission, merged by resource and sorted", () => {
    const owner = [podsRead, { apiGroups: [""], resources: ["configmaps"], verbs: ["*"] }];
    expect(confirmNoEscalation(alice, owner, [{ apiGroups: [""], resources: ["pods", "configmaps"], verbs: ["get", "delete"] }])).toBe(
      'user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}',
    );
    expect(confirmNoEscalation(alice, owner, [
      { apiGroups: ["apps", ""], resources: ["secrets"], verbs: ["get", "watch"] },
      { apiGroups: [""], resources: ["pods"], resourceNames: ["web"], verbs: ["delete"] },
      { nonResourceURLs: ["/metrics"], verbs: ["get"] },
    ])).toBe(
      'user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
        '{APIGroups:[""], Resources:["pods"], ResourceNames:["web"], Verbs:["delete"]}\n' +
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "watch"]}\n' +
        '{APIGroups:["apps"], Resources:["secrets"], Verbs:["get" "watch"]}\n' +
        '{NonResourceURLs:["/metrics"], Verbs:["get"]}',
    );
    expect(confirmNoEscalation(alice, owner, [podsRead, { apiGroups: [""], resources: ["configmaps"], resourceNames: ["x"], verbs: ["patch"] }])).toBeUndefined();
  });

  it("coverage follows the authorizer's wildcards", () => {
    expect(uncoveredRules([{ apiGroups: ["*"], resources: ["*/status"], verbs: ["update"] }], [{ apiGroups: ["apps"], resources: ["deployments/status"], verbs: ["update"] }])).toEqual([]);
    expect(uncoveredRules([{ nonResourceURLs: ["/logs/*"], verbs: ["get"] }], [{ nonResourceURLs: ["/logs/a", "/logs*"], verbs: ["get"] }]))
      .toEqual([{ nonResourceURLs: ["/logs*"], verbs: ["get"] }]);
    // Holding some names never covers all names.
    expect(uncoveredRules([{ apiGroups: [""], resources: ["secrets"], resourceNames: ["a"], verbs: ["get"] }], [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }]))
      .toEqual([{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }]);
  });

  const teamAdmin = defaultPolicy({ roleBindings: [roleBinding("team-a", "alice-admin", { kind: "ClusterRole", name: "admin" }, [userSubject("alice")])] });
  const createRole = (user: User, namespace: string) => request(user, "POST", `/apis/${RBAC}/v1/namespaces/${namespace}/roles`);

  it("a namespace admin may create a Role within its own rights, not beyond them", () => {
    expect(checkRoleEscalation(createRole(alice, "team-a"), role("team-a", "pod-reader", [podsRead]), teamAdmin)).toBeUndefined();
    const error = checkRoleEscalation(createRole(alice, "team-a"), role("team-a", "quota", [{ apiGroups: [""], resources: ["resourcequotas"], verbs: ["create"] }]), teamAdmin);
    expect(error?.toStatus()).toMatchObject({
      code: 403, reason: "Forbidden", details: { name: "quota", group: RBAC, kind: "roles" },
      message: `roles.${RBAC} "quota" is forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n` +
        '{APIGroups:[""], Resources:["resourcequotas"], Verbs:["create"]}',
    });
    // Its rights in team-a are not rights in team-b.
    expect(checkRoleEscalation(createRole(alice, "team-b"), role("team-b", "pod-reader", [podsRead]), teamAdmin)?.code).toBe(403);
  });

  it("system:masters and holders of the escalate verb may grant anything", () => {
    const everything = role("team-a", "all", [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }]);
    expect(checkRoleEscalation(createRole(admin, "team-a"), everything, policy({}))).toBeUndefined();
    const escalator = defaultPolicy({
      clusterRoles: [clusterRole("role-escalator", [{ apiGroups: [RBAC], resources: ["roles"], verbs: ["escalate"] }])],
      roleBindings: [roleBinding("team-a", "esc", { kind: "ClusterRole", name: "role-escalator" }, [userSubject("bob")])],
    });
    expect(checkRoleEscalation(createRole(bob, "team-a"), everything, escalator)).toBeUndefined();
    expect(checkRoleEscalation(createRole(bob, "team-b"), everything, escalator)?.code).toBe(403);
  });

  it("setting or dropping an aggregationRule needs every permission there is", () => {
    const p = defaultPolicy({ clusterRoleBindings: [clusterRoleBinding("bob-roles", "bob-roles", [userSubject("bob")])], clusterRoles: [
      clusterRole("bob-roles", [{ apiGroups: [RBAC], resources: ["clusterroles"], verbs: ["create", "update"] }]),
    ] });
    const write = request(bob, "POST", `/apis/${RBAC}/v1/clusterroles`);
    const aggregated: ClusterRole = { metadata: { name: "agg" }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { team: "a" } }] } };
    expect(checkRoleEscalation(write, aggregated, p)?.message)
      .toBe(`clusterroles.${RBAC} "agg" is forbidden: must have cluster-admin privileges to use the aggregationRule`);
    const update = request(bob, "PUT", `/apis/${RBAC}/v1/clusterroles/agg`);
    expect(checkRoleEscalation(update, { metadata: { name: "agg" } }, p, aggregated)?.code).toBe(403);
    expect(checkRoleEscalation(update, { metadata: { name: "agg" } }, p)).toBeUndefined();
    expect(checkRoleEscalation(write, aggregated, policy({ ...p, clusterRoleBindings: [...p.clusterRoleBindings, clusterRoleBinding("bob-root", "cluster-admin", [userSubject("bob")])] }))).toBeUndefined();
  });
});

describe("bind", () => {
  const createBinding = (user: User, namespace: string) => request(user, "POST", `/apis/${RBAC}/v1/namespaces/${namespace}/rolebindings`);
  const teamAdmin = defaultPolicy({ roleBindings: [roleBinding("team-a", "alice-admin", { kind: "ClusterRole", name: "admin" }, [userSubject("alice")])] });

  it("a namespace admin may bind roles it holds, not cluster-admin", () => {
    const toEdit = roleBinding("team-a", "bob-edit", { kind: "ClusterRole", name: "edit" }, [userSubject("bob")]);
    expect(checkBinding(createBinding(alice, "team-a"), toEdit, teamAdmin)).toBeUndefined();
    const toRoot = roleBinding("team-a", "bob-root", { kind: "ClusterRole", name: "cluster-admin" }, [userSubject("bob")]);
    const error = checkBinding(createBinding(alice, "team-a"), toRoot, teamAdmin);
    expect(error?.code).toBe(403);
    expect(error?.message).toBe(
      `rolebindings.${RBAC} "bob-root" is forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n` +
        '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}',
    );
    // Nor may it bind what it holds into a namespace where it holds nothing.
    expect(checkBinding(createBinding(alice, "team-b"), { ...toEdit, metadata: { namespace: "team-b", name: "bob-edit" } }, teamAdmin)?.code).toBe(403);
  });

  it("the bind verb on a role allows binding it without holding it", () => {
    const p = defaultPolicy({
      clusterRoles: [clusterRole("binder", [{ apiGroups: [RBAC], resources: ["clusterroles"], resourceNames: ["cluster-admin"], verbs: ["bind"] }])],
      roleBindings: [roleBinding("team-a", "binder", { kind: "ClusterRole", name: "binder" }, [userSubject("alice")])],
    });
    const toRoot = roleBinding("team-a", "bob-root", { kind: "ClusterRole", name: "cluster-admin" }, [userSubject("bob")]);
    expect(checkBinding(createBinding(alice, "team-a"), toRoot, p)).toBeUndefined();
    expect(checkBinding(createBinding(alice, "team-a"), { ...toRoot, roleRef: { apiGroup: RBAC, kind: "ClusterRole", name: "admin" } }, p)?.code).toBe(403);
    // A ClusterRoleBinding needs bind at the cluster scope.
    const crb = clusterRoleBinding("bob-root", "cluster-admin", [userSubject("bob")]);
    expect(checkBinding(request(alice, "POST", `/apis/${RBAC}/v1/clusterrolebindings`), crb, p)?.message)
      .toMatch(new RegExp(`^clusterrolebindings\\.${RBAC.replace(/\./g, "\\.")} "bob-root" is forbidden: user "alice"`));
  });

  it("a binding to a role that does not exist is a 404 for those who may not bind it", () => {
    const toMissing = roleBinding("team-a", "x", { kind: "Role", name: "missing" }, [userSubject("bob")]);
    expect(checkBinding(createBinding(alice, "team-a"), toMissing, teamAdmin)?.toStatus()).toMatchObject({
      code: 404, reason: "NotFound", message: `roles.${RBAC} "missing" not found`,
    });
    expect(checkBinding(createBinding(admin, "team-a"), toMissing, teamAdmin)).toBeUndefined();
  });
});

describe("aggregateClusterRoles", () => {
  const read = (resource: string): PolicyRule => ({ apiGroups: ["example.com"], resources: [resource], verbs: ["get"] });

  it("gathers the rules of every matching ClusterRole by name, without repeats, through nested aggregation", () => {
    const roles: ClusterRole[] = [
      { metadata: { name: "outer" }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { to: "outer" } }] } },
      { metadata: { name: "inner", labels: { to: "outer" } }, aggregationRule: { clusterRoleSelectors: [{ matchExpressions: [{ key: "to", operator: "In", values: ["inner"] }] }] } },
      clusterRole("b-leaf", [read("b"), read("shared")], { to: "inner" }),
      clusterRole("a-leaf", [read("a"), read("shared")], { to: "inner" }),
      clusterRole("direct", [read("direct")], { to: "outer" }),
      clusterRole("unlabelled", [read("nope")]),
    ];
    const before = structuredClone(roles);
    const result = aggregateClusterRoles(roles);
    expect(roles).toEqual(before);
    const rulesOf = (name: string) => result.find((r) => r.metadata?.name === name)?.rules;
    expect(rulesOf("inner")).toEqual([read("a"), read("shared"), read("b")]);
    expect(rulesOf("outer")).toEqual([read("direct"), read("a"), read("shared"), read("b")]);
    expect(rulesOf("unlabelled")).toEqual([read("nope")]);
  });

  it("replaces whatever rules an aggregated role held before", () => {
    const result = aggregateClusterRoles([
      { metadata: { name: "agg" }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: "y" } }] }, rules: [read("stale")] },
    ]);
    expect(result[0]!.rules).toEqual([]);
  });

  it("fills admin, edit and view from the bootstrap roles and any role labelled to join them", () => {
    const crontabs: PolicyRule = { apiGroups: ["stable.example.com"], resources: ["crontabs"], verbs: ["get", "list", "watch"] };
    const roles = aggregateClusterRoles([...bootstrapClusterRoles, clusterRole("crontab-view", [crontabs], { "rbac.authorization.k8s.io/aggregate-to-view": "true" })]);
    const rulesOf = (name: string) => roles.find((r) => r.metadata?.name === name)!.rules!;
    const view = rulesOf("view");
    const edit = rulesOf("edit");
    const adminRules = rulesOf("admin");
    expect(view).toContainEqual(crontabs);
    expect(uncoveredRules(edit, view)).toEqual([]);
    expect(uncoveredRules(adminRules, edit)).toEqual([]);
    expect(uncoveredRules(view, [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }])).not.toEqual([]);
    expect(uncoveredRules(edit, [{ apiGroups: [RBAC], resources: ["rolebindings"], verbs: ["create"] }])).not.toEqual([]);
    expect(uncoveredRules(adminRules, [{ apiGroups: [RBAC], resources: ["rolebindings"], verbs: ["create"] }])).toEqual([]);
  });
});

describe("bootstrap policy", () => {
  const p = defaultPolicy();
  const anonymous: User = { name: "system:anonymous", groups: ["system:unauthenticated"] };

  it("marks every object as kube does", () => {
    for (const object of [...bootstrapClusterRoles, ...bootstrapClusterRoleBindings]) {
      expect(object.metadata?.labels?.["kubernetes.io/bootstrapping"]).toBe("rbac-defaults");
      expect(object.metadata?.annotations?.["rbac.authorization.kubernetes.io/autoupdate"]).toBe("true");
    }
    const binding = (name: string) => bootstrapClusterRoleBindings.find((b) => b.metadata?.name === name)!;
    expect(binding("cluster-admin").subjects).toEqual([{ apiGroup: RBAC, kind: "Group", name: "system:masters" }]);
    expect(binding("system:node").subjects).toBeUndefined();
    for (const b of bootstrapClusterRoleBindings) expect(bootstrapClusterRoles.map((r) => r.metadata?.name)).toContain(b.roleRef.name);
  });

  it("lets any authenticated user discover the API and review itself, and nothing more", () => {
    for (const path of ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/version/", "/openapi/v2", "/openapi/v3", "/openapi/v3/apis/apps/v1", "/healthz", "/livez", "/readyz"]) {
      expect(can(p, alice, "GET", path), path).toBe(true);
    }
    expect(can(p, alice, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")).toBe(true);
    expect(can(p, alice, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")).toBe(true);
    expect(can(p, alice, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews")).toBe(true);
    expect(can(p, alice, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews")).toBe(false);
    expect(can(p, alice, "GET", "/api/v1/namespaces/default/pods")).toBe(false);
    expect(can(p, alice, "GET", "/api/v1/namespaces/default")).toBe(false);
    expect(can(p, alice, "GET", "/metrics")).toBe(false);
    expect(can(p, alice, "GET", "/.well-known/openid-configuration")).toBe(false);
  });

  it("lets the unauthenticated see only health and version", () => {
    for (const path of ["/healthz", "/livez", "/readyz", "/version"]) expect(can(p, anonymous, "GET", path), path).toBe(true);
    for (const path of ["/api", "/apis", "/openapi/v2"]) expect(can(p, anonymous, "GET", path), path).toBe(false);
    expect(can(p, anonymous, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")).toBe(false);
  });

  it("gives service accounts the issuer discovery documents and the components their own roles", () => {
    expect(can(p, builder, "GET", "/.well-known/openid-configuration")).toBe(true);
    expect(can(p, builder, "GET", "/openid/v1/jwks")).toBe(true);
    const scheduler: User = { name: "system:kube-scheduler", groups: ["system:authenticated"] };
    expect(can(p, scheduler, "POST", "/api/v1/namespaces/a/pods/web/binding")).toBe(true);
    expect(can(p, scheduler, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler")).toBe(true);
    expect(can(p, scheduler, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager")).toBe(false);
    expect(can(p, scheduler, "PUT", "/api/v1/persistentvolumes/pv1")).toBe(true);
    expect(can(p, scheduler, "DELETE", "/api/v1/namespaces/a/pods/web")).toBe(true);
    expect(can(p, scheduler, "GET", "/api/v1/namespaces/a/secrets")).toBe(false);
    const controllers: User = { name: "system:kube-controller-manager", groups: ["system:authenticated"] };
    expect(can(p, controllers, "GET", "/apis/apps/v1/replicasets?watch=true")).toBe(true);
    expect(can(p, controllers, "POST", "/api/v1/namespaces/a/serviceaccounts/default/token")).toBe(true);
    // Its controllers' roles (system:controller:*) are bound to it too: one identity runs them all.
    expect(can(p, controllers, "DELETE", "/api/v1/namespaces/a/pods/web")).toBe(true);
    expect(can(p, controllers, "PUT", "/apis/apps/v1/namespaces/a/deployments/web/status")).toBe(true);
    expect(can(p, controllers, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")).toBe(false);
    // kube's pvc-protection and pv-protection controller roles: read, and update for the finalizer, nothing more.
    const pvcProtection: User = { name: "system:serviceaccount:kube-system:pvc-protection-controller", groups: ["system:serviceaccounts", "system:authenticated"] };
    expect(can(p, pvcProtection, "PUT", "/api/v1/namespaces/a/persistentvolumeclaims/data")).toBe(true);
    expect(can(p, pvcProtection, "GET", "/api/v1/namespaces/a/pods")).toBe(true);
    expect(can(p, pvcProtection, "DELETE", "/api/v1/namespaces/a/persistentvolumeclaims/data")).toBe(false);
    const pvProtection: User = { name: "system:serviceaccount:kube-system:pv-protection-controller", groups: ["system:serviceaccounts", "system:authenticated"] };
    expect(can(p, pvProtection, "PUT", "/api/v1/persistentvolumes/pv1")).toBe(true);
    expect(can(p, pvProtection, "PUT", "/api/v1/namespaces/a/persistentvolumeclaims/data")).toBe(false);
    // Nodes get nothing from RBAC: system:node is bound to no one.
    const node: User = { name: "system:node:n1", groups: ["system:nodes", "system:authenticated"] };
    expect(can(p, node, "GET", "/api/v1/nodes/n1")).toBe(false);
    expect(can(p, admin, "DELETE", "/api/v1/nodes/n1")).toBe(true);
  });
});

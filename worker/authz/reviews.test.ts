// The access reviews on their own: each review kind decides from the RBAC objects in the store,
// as `kubectl auth can-i` (SelfSubjectAccessReview), `can-i --list` (SelfSubjectRulesReview) and
// components asking for someone else (SubjectAccessReview, LocalSubjectAccessReview) see it.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../../lib/k8s/status.ts";
import { builtinStore } from "../registry/builtins.ts";
import type { KubeObject } from "../registry/types.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { invalidatePolicy } from "./policy.ts";
import { authorizationResources } from "./reviews.ts";

const review = (kind: string) => authorizationResources.find((def) => def.kind === kind)!.review!;
const ns = `reviews-${crypto.randomUUID().slice(0, 8)}`;
const alice = { name: "alice", uid: "alice-uid", groups: ["system:authenticated"] };

beforeAll(async () => {
  const storage = new ObjectStorage(env);
  await builtinStore(storage, "v1", "namespaces").create(undefined, { metadata: { name: ns } });
  await builtinStore(storage, "rbac.authorization.k8s.io/v1", "roles").create(ns, {
    metadata: { name: "pod-reader" }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }],
  });
  await builtinStore(storage, "rbac.authorization.k8s.io/v1", "rolebindings").create(ns, {
    metadata: { name: "alice-reads-pods" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
    subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "alice" }],
  });
  invalidatePolicy();
});

const access = (verb: string, resource: string, namespace = ns) => ({ spec: { resourceAttributes: { verb, resource, namespace } } });

describe("access reviews", () => {
  it("SelfSubjectAccessReview answers for the asking user, in the namespace the role binds", async () => {
    expect((await review("SelfSubjectAccessReview")(env, alice, access("list", "pods"))).status).toMatchObject({ allowed: true });
    expect((await review("SelfSubjectAccessReview")(env, alice, access("delete", "pods"))).status).toEqual({ allowed: false });
    expect((await review("SelfSubjectAccessReview")(env, alice, access("list", "pods", "default"))).status).toEqual({ allowed: false });
  });

  it("SubjectAccessReview answers for the user named in the spec, and needs one", async () => {
    const answer = await review("SubjectAccessReview")(env, alice, { spec: { user: "alice", resourceAttributes: { verb: "get", resource: "pods", namespace: ns } } });
    expect(answer).toMatchObject({ kind: "SubjectAccessReview", apiVersion: "authorization.k8s.io/v1", status: { allowed: true } });
    expect((await review("SubjectAccessReview")(env, alice, { spec: { user: "bob", resourceAttributes: { verb: "get", resource: "pods", namespace: ns } } })).status.allowed).toBe(false);
    const refused = await review("SubjectAccessReview")(env, alice, { spec: { resourceAttributes: { verb: "get", resource: "pods" } } }).catch((e) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ code: 422, reason: "Invalid", details: { causes: [{ field: "spec.user" }] } });
  });

  it("LocalSubjectAccessReview refuses a namespace other than its own", async () => {
    const body: KubeObject = { metadata: { namespace: ns }, spec: { user: "alice", resourceAttributes: { verb: "list", resource: "pods", namespace: "default" } } };
    await expect(review("LocalSubjectAccessReview")(env, alice, body)).rejects.toMatchObject({ code: 422, details: { causes: [{ field: "spec.resourceAttributes.namespace" }] } });
  });

  it("a review needs exactly one of resource and non-resource attributes", async () => {
    await expect(review("SelfSubjectAccessReview")(env, alice, { spec: {} })).rejects.toMatchObject({ code: 422, details: { causes: [{ field: "spec.resourceAttributes" }] } });
    const both = { spec: { resourceAttributes: { verb: "get" }, nonResourceAttributes: { verb: "get", path: "/healthz" } } };
    await expect(review("SelfSubjectAccessReview")(env, alice, both)).rejects.toMatchObject({ code: 422, details: { causes: [{ field: "spec.nonResourceAttributes" }] } });
  });

  it("SelfSubjectRulesReview lists what the user may do in a namespace; system:masters may do everything", async () => {
    const rules = await review("SelfSubjectRulesReview")(env, alice, { spec: { namespace: ns } });
    expect(rules.status.resourceRules).toContainEqual(expect.objectContaining({ resources: ["pods"], verbs: ["get", "list"] }));
    const admin = await review("SelfSubjectRulesReview")(env, { name: "admin", uid: "", groups: ["system:masters"] }, { spec: { namespace: ns } });
    expect(admin.status).toMatchObject({ resourceRules: [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }], incomplete: false });
  });
});

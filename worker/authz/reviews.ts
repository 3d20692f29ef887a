// authorization.k8s.io/v1: the access reviews (`kubectl auth can-i`, `can-i --list`, and other
// components asking on someone's behalf). Create-only; nothing is stored.
import { apiErrors } from "../../lib/k8s/status.ts";
import type { UserInfo } from "../context.ts";
import { declare, type KubeObject, type ResourceDefinition } from "../registry/types.ts";
import type { RequestAttributes, User } from "./attributes.ts";
import { loadPolicy } from "./policy.ts";
import { authorize, rulesFor, SYSTEM_MASTERS } from "./rbac.ts";

const GROUP = "authorization.k8s.io";

/** A review's spec as the attributes the authorizer decides on. */
function attributesOf(spec: Record<string, any> | undefined, user: User): RequestAttributes {
  const resource = spec?.resourceAttributes;
  const nonResource = spec?.nonResourceAttributes;
  if (resource && nonResource) throw apiErrors.invalid(GROUP, "SubjectAccessReview", "", [{ reason: "FieldValueInvalid", field: "spec.nonResourceAttributes", message: `Invalid value: "": cannot be specified in combination with resourceAttributes` }]);
  if (nonResource) return { user, verb: nonResource.verb ?? "", resourceRequest: false, path: nonResource.path ?? "" };
  if (!resource) throw apiErrors.invalid(GROUP, "SubjectAccessReview", "", [{ reason: "FieldValueRequired", field: "spec.resourceAttributes", message: "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified" }]);
  return {
    user, verb: resource.verb ?? "", resourceRequest: true, apiGroup: resource.group ?? "", apiVersion: resource.version,
    resource: resource.resource || undefined, subresource: resource.subresource || undefined, namespace: resource.namespace || undefined, name: resource.name || undefined, path: "",
  };
}

async function decide(env: Env, attrs: RequestAttributes) {
  if (attrs.user.groups.includes(SYSTEM_MASTERS)) return { allowed: true };
  const decision = authorize(attrs, await loadPolicy(env));
  return decision.allowed ? { allowed: true, reason: decision.reason } : { allowed: false, ...(decision.reason ? { reason: decision.reason } : {}) };
}

function answer(kind: string, body: KubeObject, status: Record<string, unknown>): KubeObject {
  return { kind, apiVersion: `${GROUP}/v1`, metadata: { ...(body.metadata?.namespace ? { namespace: body.metadata.namespace } : {}), creationTimestamp: null }, spec: body.spec ?? {}, status };
}

const review = (kind: string, resource: string, namespaced: boolean, run: (env: Env, user: UserInfo, body: KubeObject) => Promise<KubeObject>): ResourceDefinition =>
  declare(`${GROUP}/v1`, resource, { verbs: ["create"], review: run });

export const authorizationResources: ResourceDefinition[] = [
  review("SelfSubjectAccessReview", "selfsubjectaccessreviews", false, async (env, user, body) =>
    answer("SelfSubjectAccessReview", body, await decide(env, attributesOf(body.spec, user)))),
  review("SubjectAccessReview", "subjectaccessreviews", false, async (env, _user, body) => {
    const spec = body.spec ?? {};
    if (!spec.user && !spec.groups?.length) throw apiErrors.invalid(GROUP, "SubjectAccessReview", "", [{ reason: "FieldValueInvalid", field: "spec.user", message: `Invalid value: "": at least one of user or group must be specified` }]);
    return answer("SubjectAccessReview", body, await decide(env, attributesOf(spec, { name: spec.user ?? "", uid: spec.uid, groups: spec.groups ?? [] })));
  }),
  review("LocalSubjectAccessReview", "localsubjectaccessreviews", true, async (env, _user, body) => {
    const spec = body.spec ?? {};
    if (spec.resourceAttributes?.namespace && body.metadata?.namespace && spec.resourceAttributes.namespace !== body.metadata.namespace) {
      throw apiErrors.invalid(GROUP, "LocalSubjectAccessReview", "", [{ reason: "FieldValueInvalid", field: "spec.resourceAttributes.namespace", message: `Invalid value: "${spec.resourceAttributes.namespace}": must match metadata.namespace` }]);
    }
    return answer("LocalSubjectAccessReview", body, await decide(env, attributesOf(spec, { name: spec.user ?? "", uid: spec.uid, groups: spec.groups ?? [] })));
  }),
  review("SelfSubjectRulesReview", "selfsubjectrulesreviews", false, async (env, user, body) => {
    const namespace = body.spec?.namespace ?? "";
    if (user.groups.includes(SYSTEM_MASTERS)) {
      return answer("SelfSubjectRulesReview", body, {
        resourceRules: [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }], nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }], incomplete: false,
      });
    }
    return answer("SelfSubjectRulesReview", body, { ...rulesFor(user, namespace, await loadPolicy(env)) });
  }),
];

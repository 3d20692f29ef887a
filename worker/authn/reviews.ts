// authentication.k8s.io: SelfSubjectReview (`kubectl auth whoami`) and TokenReview (who a token
// proves to be, for webhooks and proxies). Both are create-only and store nothing.
import { authenticateToken } from "../auth.ts";
import type { UserInfo } from "../context.ts";
import { declare, type KubeObject, type ResourceDefinition } from "../registry/types.ts";
import { apiAudiences } from "./service-account-tokens.ts";

function userInfo(user: UserInfo) {
  return { username: user.name, uid: user.uid, groups: user.groups, ...(user.extra ? { extra: user.extra } : {}) };
}

/** kubectl 1.27 asks for v1alpha1 or v1beta1, later releases for v1. */
const selfSubjectReviews = (["v1", "v1beta1", "v1alpha1"] as const).map((version): ResourceDefinition => declare(`authentication.k8s.io/${version}`, "selfsubjectreviews", {
  verbs: ["create"],
  async review(_env, user) {
    return { kind: "SelfSubjectReview", apiVersion: `authentication.k8s.io/${version}`, metadata: { creationTimestamp: null }, status: { userInfo: userInfo(user) } };
  },
}));

const tokenReviews: ResourceDefinition = declare("authentication.k8s.io/v1", "tokenreviews", {
  verbs: ["create"],
  async review(env, _user, body: KubeObject) {
    const token = body.spec?.token;
    const wanted: string[] = Array.isArray(body.spec?.audiences) && body.spec.audiences.length ? body.spec.audiences : apiAudiences(env);
    const accepted = wanted.filter((a) => apiAudiences(env).includes(a));
    const user = typeof token === "string" && token && accepted.length ? await authenticateToken(env, token) : undefined;
    const status = user
      ? { authenticated: true, user: userInfo(user), audiences: accepted }
      : { authenticated: false, user: {}, error: "[invalid bearer token, token lookup failed]" };
    // The token itself is a secret: it does not go back in the answer.
    return { kind: "TokenReview", apiVersion: "authentication.k8s.io/v1", metadata: { creationTimestamp: null }, spec: { audiences: body.spec?.audiences }, status };
  },
});

export const authenticationResources: ResourceDefinition[] = [...selfSubjectReviews, tokenReviews];

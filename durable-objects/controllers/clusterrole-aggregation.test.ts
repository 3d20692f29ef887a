// The clusterrole-aggregation controller against the real apiserver: admin, edit and view store
// the rules they aggregate; a new role labelled aggregate-to-view reaches view and, through nesting,
// edit and admin; authorization reads the stored rules.
import type { ClusterRole } from "kubernetes-types/rbac/v1";
import { describe, expect, it } from "vitest";
import { rawApi, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { wakeControllerManager } from "./testing.ts";

const client = testClient();
const clusterRoles = client.resource<ClusterRole>(builtin("rbac.authorization.k8s.io/v1", "clusterroles"));

const wake = wakeControllerManager;

const mentions = (role: ClusterRole, resource: string) => (role.rules ?? []).some((r) => r.resources?.includes(resource));

describe("the clusterrole-aggregation controller", () => {
  it("writes what admin, edit and view aggregate into their rules, nested roles included, and RBAC decides by them", async () => {
    await wake();
    const view = await clusterRoles.get(undefined, "view");
    expect(mentions(view, "pods")).toBe(true);
    expect(mentions(await clusterRoles.get(undefined, "edit"), "secrets")).toBe(true);

    await clusterRoles.create(undefined, {
      metadata: { name: "gadgets-view", labels: { "rbac.authorization.k8s.io/aggregate-to-view": "true" } },
      rules: [{ apiGroups: ["example.com"], resources: ["gadgets"], verbs: ["get", "list"] }],
    });
    const user = `viewer-${crypto.randomUUID().slice(0, 6)}`;
    await client.resource(builtin("rbac.authorization.k8s.io/v1", "clusterrolebindings")).create(undefined, {
      metadata: { name: user }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" }, subjects: [{ kind: "User", name: user, apiGroup: "rbac.authorization.k8s.io" }],
    } as never);
    const canList = async () => (await rawApi("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
      spec: { user, resourceAttributes: { group: "example.com", resource: "gadgets", verb: "list" } },
    })).body.status.allowed;
    expect(await canList()).toBe(false);

    await wake();
    for (const name of ["view", "edit", "admin"]) expect(mentions(await clusterRoles.get(undefined, name), "gadgets")).toBe(true);
    expect(await canList()).toBe(true);
  });
});

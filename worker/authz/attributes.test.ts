// requestAttributes, table-driven: each row is a request and the RequestInfo kube-apiserver derives for it.
import { describe, expect, it } from "vitest";
import { type RequestAttributes, requestAttributes } from "./attributes.ts";

const alice = { name: "alice", groups: ["system:authenticated"] };

function attrs(method: string, target: string) {
  const { user, ...rest } = requestAttributes(method, new URL(target, "https://edgeplane.test"), alice);
  expect(user).toBe(alice);
  // Unset fields read as absent, so rows list only what kube sets.
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
}

type Row = [method: string, target: string, expected: Omit<RequestAttributes, "user" | "path" | "resourceRequest">];
const resource = (method: string, target: string, expected: Row[2]): Row => [method, target, expected];

describe("requestAttributes: resource requests", () => {
  const core = { apiGroup: "", apiVersion: "v1" };
  const apps = { apiGroup: "apps", apiVersion: "v1" };
  const rows: Row[] = [
    resource("GET", "/api/v1/pods", { ...core, verb: "list", resource: "pods" }),
    resource("GET", "/api/v1/namespaces/default/pods", { ...core, verb: "list", resource: "pods", namespace: "default" }),
    resource("GET", "/api/v1/namespaces/default/pods?watch=true", { ...core, verb: "watch", resource: "pods", namespace: "default" }),
    resource("GET", "/api/v1/namespaces/default/pods?watch=1", { ...core, verb: "watch", resource: "pods", namespace: "default" }),
    resource("GET", "/api/v1/namespaces/default/pods?watch=false", { ...core, verb: "list", resource: "pods", namespace: "default" }),
    resource("GET", "/api/v1/namespaces/default/pods?watch=0", { ...core, verb: "list", resource: "pods", namespace: "default" }),
    resource("GET", "/api/v1/namespaces/default/pods/web", { ...core, verb: "get", resource: "pods", namespace: "default", name: "web" }),
    resource("HEAD", "/api/v1/namespaces/default/pods/web", { ...core, verb: "get", resource: "pods", namespace: "default", name: "web" }),
    // A named object is a get even with watch=true: only collections are listed or watched.
    resource("GET", "/api/v1/namespaces/default/pods/web?watch=true", { ...core, verb: "get", resource: "pods", namespace: "default", name: "web" }),
    resource("POST", "/api/v1/namespaces/default/pods", { ...core, verb: "create", resource: "pods", namespace: "default" }),
    resource("PUT", "/api/v1/namespaces/default/pods/web", { ...core, verb: "update", resource: "pods", namespace: "default", name: "web" }),
    resource("PATCH", "/api/v1/namespaces/default/pods/web", { ...core, verb: "patch", resource: "pods", namespace: "default", name: "web" }),
    resource("DELETE", "/api/v1/namespaces/default/pods/web", { ...core, verb: "delete", resource: "pods", namespace: "default", name: "web" }),
    resource("DELETE", "/api/v1/namespaces/default/pods", { ...core, verb: "deletecollection", resource: "pods", namespace: "default" }),
    resource("OPTIONS", "/api/v1/namespaces/default/pods", { ...core, verb: "", resource: "pods", namespace: "default" }),
    // Subresources.
    resource("GET", "/api/v1/namespaces/default/pods/web/log", { ...core, verb: "get", resource: "pods", subresource: "log", namespace: "default", name: "web" }),
    resource("POST", "/api/v1/namespaces/default/pods/web/exec?command=ls", { ...core, verb: "create", resource: "pods", subresource: "exec", namespace: "default", name: "web" }),
    resource("PUT", "/apis/apps/v1/namespaces/prod/deployments/api/scale", { ...apps, verb: "update", resource: "deployments", subresource: "scale", namespace: "prod", name: "api" }),
    resource("GET", "/api/v1/namespaces/default/pods/web/proxy/a/b", { ...core, verb: "get", resource: "pods", subresource: "proxy", namespace: "default", name: "web" }),
    // Groups and cluster-scoped resources.
    resource("GET", "/apis/apps/v1/deployments", { ...apps, verb: "list", resource: "deployments" }),
    resource("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view", { apiGroup: "rbac.authorization.k8s.io", apiVersion: "v1", verb: "get", resource: "clusterroles", name: "view" }),
    resource("GET", "/api/v1/nodes/n1/status", { ...core, verb: "get", resource: "nodes", subresource: "status", name: "n1" }),
    resource("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", { apiGroup: "authorization.k8s.io", apiVersion: "v1", verb: "create", resource: "selfsubjectaccessreviews" }),
    // The namespace itself is in its own namespace.
    resource("GET", "/api/v1/namespaces", { ...core, verb: "list", resource: "namespaces" }),
    resource("POST", "/api/v1/namespaces", { ...core, verb: "create", resource: "namespaces" }),
    resource("GET", "/api/v1/namespaces/default", { ...core, verb: "get", resource: "namespaces", namespace: "default", name: "default" }),
    resource("DELETE", "/api/v1/namespaces/default", { ...core, verb: "delete", resource: "namespaces", namespace: "default", name: "default" }),
    resource("PUT", "/api/v1/namespaces/default/status", { ...core, verb: "update", resource: "namespaces", subresource: "status", namespace: "default", name: "default" }),
    resource("PUT", "/api/v1/namespaces/default/finalize", { ...core, verb: "update", resource: "namespaces", subresource: "finalize", namespace: "default", name: "default" }),
    // The deprecated verb-in-path forms.
    resource("GET", "/api/v1/watch/pods", { ...core, verb: "watch", resource: "pods" }),
    resource("GET", "/api/v1/watch/namespaces/default/pods/web", { ...core, verb: "watch", resource: "pods", namespace: "default", name: "web" }),
    resource("GET", "/api/v1/proxy/namespaces/default/pods/web/some/path", { ...core, verb: "proxy", resource: "pods", namespace: "default", name: "web" }),
    resource("GET", "/api/v1/watch", { ...core, verb: "watch" }),
    // A list or watch of one name (a field selector on metadata.name) names it, so resourceNames rules apply.
    resource("GET", "/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Dtoken", { ...core, verb: "list", resource: "secrets", namespace: "default", name: "token" }),
    resource("GET", "/api/v1/namespaces/default/secrets?watch=true&fieldSelector=metadata.name%3D%3Dtoken", { ...core, verb: "watch", resource: "secrets", namespace: "default", name: "token" }),
    resource("GET", "/api/v1/namespaces/default/secrets?fieldSelector=type%3Dx,metadata.name%3Dtoken", { ...core, verb: "list", resource: "secrets", namespace: "default", name: "token" }),
    resource("GET", "/api/v1/namespaces/default/secrets?fieldSelector=metadata.name!%3Dtoken", { ...core, verb: "list", resource: "secrets", namespace: "default" }),
    resource("GET", "/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Da%25b", { ...core, verb: "list", resource: "secrets", namespace: "default" }),
    // A parameter that fails to decode drops the name, as kube's ListOptions decoding does.
    resource("GET", "/api/v1/namespaces/default/secrets?limit=x&fieldSelector=metadata.name%3Dtoken", { ...core, verb: "list", resource: "secrets", namespace: "default" }),
    resource("GET", "/api/v1/namespaces/default/secrets?labelSelector=a%20in&fieldSelector=metadata.name%3Dtoken", { ...core, verb: "list", resource: "secrets", namespace: "default" }),
    resource("DELETE", "/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Dtoken", { ...core, verb: "deletecollection", resource: "secrets", namespace: "default" }),
    // Percent-escapes are decoded per segment, as the router decodes them.
    resource("GET", "/api/v1/namespaces/default/configmaps/a%3Ab", { ...core, verb: "get", resource: "configmaps", namespace: "default", name: "a:b" }),
    // An empty namespace segment means no namespace to kube: the router must refuse such paths.
    resource("GET", "/api/v1/namespaces//pods", { ...core, verb: "list", resource: "pods" }),
  ];
  for (const [method, target, expected] of rows) {
    it(`${method} ${target}`, () => {
      expect(attrs(method, target)).toEqual({ ...expected, resourceRequest: true, path: decodeURIComponent(new URL(target, "https://x").pathname) });
    });
  }
});

describe("requestAttributes: non-resource requests", () => {
  const rows: [method: string, target: string][] = [
    ["GET", "/healthz"],
    ["GET", "/livez"],
    ["GET", "/version"],
    ["GET", "/version/"],
    ["GET", "/api"],
    ["GET", "/api/v1"],
    ["GET", "/apis"],
    ["GET", "/apis/apps"],
    ["GET", "/apis/apps/v1"],
    ["GET", "/openapi/v2"],
    ["GET", "/openapi/v3/apis/apps/v1"],
    ["GET", "/.well-known/openid-configuration"],
    ["GET", "/metrics"],
    ["POST", "/healthz"],
    ["HEAD", "/"],
    // Three segments, but not under an API root.
    ["GET", "/logs/a/b"],
  ];
  for (const [method, target] of rows) {
    it(`${method} ${target}`, () => {
      expect(attrs(method, target)).toEqual({ verb: method.toLowerCase(), resourceRequest: false, path: target });
    });
  }
});

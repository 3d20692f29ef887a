// The service load balancer controller against the real apiserver: an opted-in LoadBalancer
// Service gets its edge hostname with kube's Ensuring/Ensured events, one without the opt-in stays
// pending, another loadBalancerClass's Service is left alone, and taking the opt-in away takes the
// hostname back. Also the names a request reaches a Service by.
import type { Service } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { freshNamespace, rawApi, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { edgeTargetOf, EXPOSE_ANNOTATION } from "./service-lb-names.ts";
import { wakeControllerManager } from "./testing.ts";

const client = testClient();
const services = client.resource<Service>(builtin("v1", "services"));

function lbService(name: string, annotations: Record<string, string> = {}, loadBalancerClass?: string): Service {
  return { metadata: { name, annotations }, spec: { type: "LoadBalancer", selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }], ...(loadBalancerClass ? { loadBalancerClass } : {}) } };
}

async function reasons(namespace: string, name: string): Promise<string[]> {
  const events = await rawApi("GET", `/api/v1/namespaces/${namespace}/events`);
  return (events.body.items as { reason: string; involvedObject: { name: string } }[]).filter((e) => e.involvedObject.name === name).map((e) => e.reason).sort();
}

describe("the service load balancer controller", () => {
  it("gives an opted-in LoadBalancer Service its hostname at the edge, with kube's events", async () => {
    const ns = await freshNamespace(client, "lb");
    await services.create(ns, lbService("web", { [EXPOSE_ANNOTATION]: "true" }));
    await wakeControllerManager();
    expect((await services.get(ns, "web")).status?.loadBalancer).toEqual({ ingress: [{ hostname: `web.${ns}.lb.localhost` }] });
    expect(await reasons(ns, "web")).toEqual(["EnsuredLoadBalancer", "EnsuringLoadBalancer"]);
  });

  it("leaves a LoadBalancer Service without the opt-in pending, and one of another class alone", async () => {
    const ns = await freshNamespace(client, "lb");
    await services.create(ns, lbService("plain"));
    await services.create(ns, lbService("other", { [EXPOSE_ANNOTATION]: "true" }, "example.com/metal"));
    await wakeControllerManager();
    expect((await services.get(ns, "plain")).status?.loadBalancer?.ingress).toBeUndefined();
    expect((await services.get(ns, "other")).status?.loadBalancer?.ingress).toBeUndefined();
    expect(await reasons(ns, "plain")).toEqual([]);
    expect(await reasons(ns, "other")).toEqual([]);
  });

  it("takes the hostname back when the opt-in goes", async () => {
    const ns = await freshNamespace(client, "lb");
    await services.create(ns, lbService("web", { [EXPOSE_ANNOTATION]: "true" }));
    await wakeControllerManager();
    await services.patch(ns, "web", { metadata: { annotations: { [EXPOSE_ANNOTATION]: null } } }, "merge");
    await wakeControllerManager();
    expect((await services.get(ns, "web")).status?.loadBalancer?.ingress).toBeUndefined();
    expect(await reasons(ns, "web")).toEqual(["DeletedLoadBalancer", "DeletingLoadBalancer", "EnsuredLoadBalancer", "EnsuringLoadBalancer"]);
  });
});

describe("the Service a request is for", () => {
  const domain = "lb.example.com";
  it.each([
    ["https://web.shop.lb.example.com/a?b=1", null, { namespace: "shop", name: "web", path: "/a?b=1" }],
    ["https://x/", "WEB.shop.lb.example.com:8443", { namespace: "shop", name: "web", path: "/" }],
    ["https://api.example.com/lb/shop/web/a/b?c", null, { namespace: "shop", name: "web", path: "/a/b?c", prefix: "/lb/shop/web" }],
    ["https://api.example.com/lb/shop/web", null, { namespace: "shop", name: "web", path: "/", prefix: "/lb/shop/web" }],
    ["https://api.example.com/api/v1/pods", null, undefined],
    ["https://lb.example.com/", null, undefined],
    ["https://a.b.c.lb.example.com/", null, undefined],
    ["https://api.example.com/lb/shop/", null, undefined],
    ["https://api.example.com/lb/Shop_1/web/", null, undefined],
  ])("%s (Host %s)", (url, host, target) => {
    expect(edgeTargetOf(new URL(url), host, domain)).toEqual(target);
  });
});

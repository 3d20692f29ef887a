// Components inside the deployment are known by the entrypoint they call: the scheduler's binding
// acts as system:kube-scheduler with kube's default RBAC for it, and nothing from outside can claim it.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshNamespace, rawApi, testClient } from "../../lib/client/testing.ts";

async function asComponent(binding: Fetcher, method: string, path: string, body?: unknown) {
  const res = await binding.fetch(`https://edgeplane.test${path}`, { method, headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() as any };
}

describe("system identities", () => {
  it("the scheduler's binding is system:kube-scheduler, with what its default role allows", async () => {
    expect((await asComponent(env.KUBE_SCHEDULER_API, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {})).body.status.userInfo)
      .toEqual({ username: "system:kube-scheduler", uid: "", groups: ["system:authenticated"] });
    const ns = await freshNamespace(testClient(), "identity");
    await rawApi("POST", `/api/v1/namespaces/${ns}/pods`, { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "busybox" }] } });
    expect((await asComponent(env.KUBE_SCHEDULER_API, "GET", `/api/v1/pods?fieldSelector=spec.nodeName%3D`)).status).toBe(200);
    // kube's system:kube-scheduler role may not delete namespaces or read secrets.
    expect((await asComponent(env.KUBE_SCHEDULER_API, "DELETE", `/api/v1/namespaces/${ns}`)).status).toBe(403);
    expect((await asComponent(env.KUBE_SCHEDULER_API, "GET", `/api/v1/namespaces/${ns}/secrets`)).status).toBe(403);
  });

  it("the controller manager's binding is system:kube-controller-manager", async () => {
    expect((await asComponent(env.KUBE_CONTROLLER_MANAGER_API, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {})).body.status.userInfo.username)
      .toBe("system:kube-controller-manager");
  });

  it("a request from outside cannot pass for a component", async () => {
    const res = await rawApi("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, { token: "system:kube-scheduler", headers: { "Impersonate-User": "system:kube-scheduler" } });
    expect(res.status).toBe(401);
  });
});

// Protobuf request bodies through the API: kubectl's own create bodies are stored as their JSON
// form, a body of another kind or a malformed one is a 400 with nothing stored.
/// <reference types="vite/client" />
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const AUTH = { Authorization: "Bearer test-admin-token" };
const PROTOBUF = "application/vnd.kubernetes.protobuf";
const fixtures = import.meta.glob<string>("../protobuf/fixtures/*.pb", { query: "?inline", import: "default", eager: true });

function fixture(name: string): Uint8Array {
  const url = fixtures[`../protobuf/fixtures/${name}.pb`]!;
  return Uint8Array.from(atob(url.slice(url.indexOf(",") + 1)), (c) => c.charCodeAt(0));
}

async function api(method: string, path: string, body?: Uint8Array | string, contentType = PROTOBUF) {
  const res = await exports.default.fetch(`https://edgeplane.test${path}`, { method, headers: { ...AUTH, "Content-Type": contentType, Accept: "application/json" }, body });
  return { status: res.status, body: await res.json() as Record<string, any> };
}

describe("protobuf request bodies", () => {
  it("creates kubectl's Deployment and ConfigMap from protobuf", async () => {
    // The fixtures name namespace "default"; the URL's namespace must match the body's.
    const created = await api("POST", "/apis/apps/v1/namespaces/default/deployments", fixture("deployment"));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ kind: "Deployment", metadata: { name: "web", namespace: "default" }, spec: { replicas: 2, template: { spec: { containers: [{ name: "nginx", image: "nginx:1.25" }] } } } });
    const got = await api("GET", "/apis/apps/v1/namespaces/default/deployments/web");
    expect(got.body.spec.replicas).toBe(2);
    expect((await api("POST", "/api/v1/namespaces/default/configmaps", fixture("configmap"))).body).toMatchObject({ data: { a: "1", b: "two" } });
  });

  it("refuses a body of another kind than the URL's with 400 and stores nothing", async () => {
    const res = await api("POST", "/api/v1/namespaces/default/secrets", fixture("configmap"));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ kind: "Status", reason: "BadRequest" });
    expect(res.body.message).toContain("does not match the URL's Secret in v1");
    expect((await api("GET", "/api/v1/namespaces/default/secrets/cfg")).status).toBe(404);
  });

  it("refuses malformed protobuf with 400", async () => {
    const truncated = fixture("serviceaccount").subarray(0, 30);
    for (const body of [truncated, new TextEncoder().encode('{"kind":"ServiceAccount"}')]) {
      const res = await api("POST", "/api/v1/namespaces/default/serviceaccounts", body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ kind: "Status", reason: "BadRequest" });
    }
    expect((await api("GET", "/api/v1/namespaces/default/serviceaccounts/robot")).status).toBe(404);
  });

  it("reads a protobuf DeleteOptions body", async () => {
    await api("POST", "/api/v1/namespaces/default/serviceaccounts", fixture("serviceaccount"));
    const uid = (await api("GET", "/api/v1/namespaces/default/serviceaccounts/robot")).body.metadata.uid as string;
    const text = (s: string) => [...new TextEncoder().encode(s)];
    const field = (n: number, payload: number[]) => [n * 8 + 2, payload.length, ...payload];
    const options = (u: string) => Uint8Array.from([0x6b, 0x38, 0x73, 0x00, ...field(1, [...field(1, text("v1")), ...field(2, text("DeleteOptions"))]), ...field(2, field(2, field(1, text(u))))]);
    const conflict = await api("DELETE", "/api/v1/namespaces/default/serviceaccounts/robot", options("not-the-uid"));
    expect(conflict.status).toBe(409);
    expect((await api("DELETE", "/api/v1/namespaces/default/serviceaccounts/robot", options(uid))).status).toBe(200);
  });
});

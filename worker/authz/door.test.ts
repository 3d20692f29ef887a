// The API's door: tokens only over TLS, per-identity rate limits (429 with Retry-After).
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../lib/k8s/status.ts";
import { takeRequest } from "./rate-limit.ts";

describe("the API's door", () => {
  it("refuses a bearer token sent without TLS to anything but loopback", async () => {
    const plain = await exports.default.fetch("http://edgeplane.example/api/v1/namespaces", { headers: { Authorization: "Bearer test-admin-token" } });
    expect(plain.status).toBe(401);
    expect(await plain.json()).toMatchObject({ kind: "Status", reason: "Unauthorized", message: "bearer tokens are accepted only over TLS" });
    const local = await exports.default.fetch("http://127.0.0.1/api/v1/namespaces", { headers: { Authorization: "Bearer test-admin-token" } });
    expect(local.status).toBe(200);
  });

  it("gives each user a token bucket, answers 429 with when to retry, and refills it", () => {
    const env = { RATE_LIMIT_QPS: "2", RATE_LIMIT_BURST: "3" } as unknown as Env;
    const alice = { name: "alice", uid: "", groups: ["system:authenticated"] };
    const bob = { name: "bob", uid: "", groups: ["system:authenticated"] };
    const t = 1_000_000;
    for (let i = 0; i < 3; i++) takeRequest(env, alice, t);
    let refused: unknown;
    try {
      takeRequest(env, alice, t);
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).toStatus()).toMatchObject({ code: 429, reason: "TooManyRequests", details: { retryAfterSeconds: 1 } });
    // Others keep their own budget; system:masters and system components are not held by a user's limit.
    takeRequest(env, bob, t);
    for (let i = 0; i < 50; i++) takeRequest(env, { name: "admin", uid: "", groups: ["system:masters"] }, t);
    for (let i = 0; i < 50; i++) takeRequest(env, { name: "system:node:n1", uid: "", groups: ["system:nodes"] }, t);
    // Half a second later alice has one request again.
    takeRequest(env, alice, t + 500);
    expect(() => takeRequest(env, alice, t + 500)).toThrow(ApiError);
  });
});

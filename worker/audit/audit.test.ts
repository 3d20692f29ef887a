// The audit log in workerd: policy matching, event building, the write to the audit shard with its
// lease (and expiry), reading through auditRoutes, and the middleware around the real API routes;
// no event may hold a bearer token or a Secret's data.
import { createExecutionContext, runDurableObjectAlarm, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import { fromUtf8, utf8 } from "../../lib/etcd/gateway-json.ts";
import { prefixEnd } from "../../lib/etcd/keys.ts";
import { parseShardMap, shardForKey } from "../../lib/shards.ts";
import { kubernetesApi } from "../apiserver/routes.ts";
import { ADMIN_USER } from "../auth.ts";
import { requestAttributes } from "../authz/attributes.ts";
import { requireAuthorizedUser } from "../authz/authorizer.ts";
import type { AppEnv, UserInfo } from "../context.ts";
import { AUDIT_PREFIX, auditKey, buildAuditEvent, microTime, parseMicroTime, recordAuditEvent, sourceIPs, type AuditEvent, type AuditedRequest } from "./log.ts";
import { auditMiddleware } from "./middleware.ts";
import { auditDecision, auditPolicy, DEFAULT_POLICY, highestLevelForAnyUser, parsePolicy, type Policy } from "./policy.ts";
import { auditRoutes } from "./routes.ts";

const ADMIN_TOKEN = "test-admin-token";
const ALICE: UserInfo = { name: "alice", uid: "u-alice", groups: ["dev", "system:authenticated"] };
const PASSWORD = "correct-horse-battery-staple";
const PASSWORD_B64 = btoa(PASSWORD);

type TestEnv = Env & { AUDIT_POLICY?: string; AUDIT_RETENTION_HOURS?: string };

/** A cluster of its own, so each test's audit shard starts empty. */
function clusterEnv(settings: Partial<TestEnv> = {}): TestEnv {
  return { ...env, CLUSTER_NAME: `audit-${crypto.randomUUID().slice(0, 8)}`, ...settings };
}

function shard(e: Env, name: string) {
  return e.STORE.get(e.STORE.idFromName(`${e.CLUSTER_NAME}/${name}`));
}

/** Every key and value a shard holds under /audit/. */
async function storedAudit(e: Env, name: string): Promise<{ key: string; value: string; lease: number }[]> {
  const res = await shard(e, name).range({ key: utf8(AUDIT_PREFIX), range_end: prefixEnd(utf8(AUDIT_PREFIX)) });
  if (!res.ok) throw new Error(res.error.message);
  return res.value.kvs.map((kv) => ({ key: fromUtf8(kv.key), value: fromUtf8(kv.value), lease: kv.lease }));
}

function attrs(method: string, path: string, user: UserInfo = ALICE) {
  return requestAttributes(method, new URL(`https://edgeplane.test${path}`), user);
}

function policy(rules: Policy["rules"], extra: Partial<Policy> = {}): Policy {
  return { apiVersion: "audit.k8s.io/v1", kind: "Policy", rules, ...extra };
}

function request(overrides: Partial<AuditedRequest> = {}): AuditedRequest {
  return {
    level: "Metadata",
    attributes: attrs("GET", "/api/v1/namespaces/default/pods/web"),
    requestURI: "/api/v1/namespaces/default/pods/web",
    user: ALICE,
    sourceIPs: ["203.0.113.7"],
    userAgent: "kubectl/v1.30.0",
    code: 200,
    receivedAt: Date.parse("2026-03-04T05:06:07.123Z"),
    completedAt: Date.parse("2026-03-04T05:06:07.456Z"),
    ...overrides,
  };
}

/** An app like the Worker's for reading the log: `user` stands in for the authentication middleware. */
function readerApp(user: UserInfo | undefined) {
  const app = new Hono<AppEnv>();
  app.use("*", async (c, next) => {
    if (user) c.set("user", user);
    await next();
  });
  app.route("/", auditRoutes);
  return app;
}

/** The log as `user` reads it; null: nobody authenticated. */
async function readEvents(e: Env, query = "", user: UserInfo | null = ADMIN_USER) {
  const res = await readerApp(user ?? undefined).request(`https://edgeplane.test/audit/v1/events${query}`, {}, e);
  return { status: res.status, body: (await res.json()) as any };
}

async function record(e: Env, event: AuditEvent): Promise<void> {
  const ctx = createExecutionContext();
  recordAuditEvent(e, event, (p) => ctx.waitUntil(p));
  await waitOnExecutionContext(ctx);
}

describe("audit policy", () => {
  it("by default records Metadata, except reads of events and health, readiness, liveness and version checks", () => {
    const level = (method: string, path: string) => auditDecision(DEFAULT_POLICY, attrs(method, path)).level;
    expect(level("GET", "/api/v1/namespaces/default/events")).toBe("None");
    expect(level("GET", "/api/v1/events?watch=true")).toBe("None");
    expect(level("GET", "/apis/events.k8s.io/v1/namespaces/default/events/e1")).toBe("None");
    expect(level("POST", "/api/v1/namespaces/default/events")).toBe("Metadata");
    for (const path of ["/healthz", "/healthz/etcd", "/readyz", "/readyz?verbose", "/livez", "/version"]) expect(level("GET", path)).toBe("None");
    expect(level("GET", "/versions")).toBe("Metadata");
    expect(level("GET", "/api/v1/namespaces/default/pods")).toBe("Metadata");
    expect(level("DELETE", "/apis/apps/v1/namespaces/default/deployments/web")).toBe("Metadata");
    expect(level("GET", "/openapi/v2")).toBe("Metadata");
  });

  it("by default leaves out a node's heartbeats (its Lease renewed, its Node read) but records its other requests", () => {
    const node: UserInfo = { name: "system:node:n1", uid: "", groups: ["system:nodes", "system:authenticated"] };
    const level = (method: string, path: string, user = node) => auditDecision(DEFAULT_POLICY, attrs(method, path, user)).level;
    expect(level("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1")).toBe("None");
    expect(level("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1")).toBe("None");
    expect(level("GET", "/api/v1/nodes/n1")).toBe("None");
    expect(level("GET", "/api/v1/nodes/n1/status")).toBe("None");
    // Its registration, status writes, pod status, Events and tokens stay in the log.
    expect(level("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")).toBe("Metadata");
    expect(level("DELETE", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1")).toBe("Metadata");
    expect(level("PATCH", "/api/v1/nodes/n1/status")).toBe("Metadata");
    expect(level("PATCH", "/api/v1/namespaces/default/pods/web/status")).toBe("Metadata");
    expect(level("POST", "/api/v1/namespaces/default/events")).toBe("Metadata");
    expect(level("POST", "/api/v1/namespaces/default/serviceaccounts/default/token")).toBe("Metadata");
    // Anyone else's reads and lease updates are recorded: a controller's leader election, a user reading a node.
    expect(level("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", ALICE)).toBe("Metadata");
    expect(level("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler", node)).toBe("Metadata");
    expect(level("GET", "/api/v1/nodes/n1", ALICE)).toBe("Metadata");
  });

  it("takes the first matching rule by user, group, verb, resource, subresource, name, namespace and URL", () => {
    const p = policy([
      { level: "None", users: ["system:kube-proxy"], verbs: ["watch"] },
      { level: "RequestResponse", userGroups: ["auditors"] },
      { level: "Request", resources: [{ group: "", resources: ["pods/log", "pods/status"] }] },
      { level: "None", resources: [{ group: "", resources: ["*/exec"] }] },
      { level: "RequestResponse", resources: [{ group: "apps", resources: ["deployments/*"] }] },
      { level: "Request", resources: [{ group: "", resources: ["configmaps"], resourceNames: ["cluster-info"] }] },
      { level: "RequestResponse", namespaces: ["kube-system"] },
      { level: "Request", namespaces: [""], verbs: ["create"] },
      { level: "None", nonResourceURLs: ["/metrics", "/debug/*"] },
      { level: "RequestResponse", resources: [{ group: "rbac.authorization.k8s.io" }] },
      { level: "Metadata", verbs: ["get", "list"] },
    ], { omitStages: ["RequestReceived"] });
    const level = (method: string, path: string, user: UserInfo = ALICE) => auditDecision(p, attrs(method, path, user)).level;
    const proxy: UserInfo = { name: "system:kube-proxy", uid: "", groups: [] };
    expect(level("GET", "/api/v1/services?watch=1", proxy)).toBe("None");
    expect(level("GET", "/api/v1/services", proxy)).toBe("Metadata");
    expect(level("GET", "/api/v1/services", { ...ALICE, groups: ["auditors"] })).toBe("RequestResponse");
    expect(level("GET", "/api/v1/namespaces/d/pods/web/log")).toBe("Request");
    expect(level("PUT", "/api/v1/namespaces/d/pods/web/status")).toBe("Request");
    expect(level("POST", "/api/v1/namespaces/d/pods/web/exec")).toBe("None");
    expect(level("POST", "/api/v1/namespaces/d/pods")).toBe("None"); // no rule matches: kube's default is None
    expect(level("PUT", "/apis/apps/v1/namespaces/d/deployments/web/scale")).toBe("RequestResponse");
    expect(level("PUT", "/apis/apps/v1/namespaces/d/deployments/web")).toBe("RequestResponse");
    expect(level("PUT", "/apis/apps/v1/namespaces/d/replicasets/web")).toBe("None");
    // resourceNames: only the named object (the cap below keeps configmaps at Metadata).
    expect(level("PUT", "/api/v1/namespaces/kube-public/configmaps/cluster-info")).toBe("Metadata");
    expect(level("PUT", "/api/v1/namespaces/kube-public/configmaps/other")).toBe("None");
    expect(level("DELETE", "/api/v1/namespaces/kube-system/pods/x")).toBe("RequestResponse");
    expect(level("POST", "/api/v1/namespaces")).toBe("Request"); // cluster-scoped: namespace ""
    expect(level("POST", "/api/v1/namespaces/d/services")).toBe("None");
    expect(level("GET", "/metrics")).toBe("None");
    expect(level("GET", "/debug/pprof")).toBe("None");
    expect(level("GET", "/debug")).toBe("Metadata");
    expect(level("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/x")).toBe("RequestResponse");
    expect(auditDecision(p, attrs("GET", "/api/v1/pods"))).toEqual({ level: "Metadata", omitStages: ["RequestReceived"], omitManagedFields: false });
  });

  it("merges omitStages of the policy and the rule; a rule's omitManagedFields wins over the policy's", () => {
    const p = policy([
      { level: "Request", verbs: ["create"], omitStages: ["ResponseComplete"], omitManagedFields: false },
      { level: "Request" },
    ], { omitStages: ["RequestReceived"], omitManagedFields: true });
    expect(auditDecision(p, attrs("POST", "/api/v1/namespaces"))).toEqual({ level: "Request", omitStages: ["RequestReceived", "ResponseComplete"], omitManagedFields: false });
    expect(auditDecision(p, attrs("GET", "/api/v1/namespaces"))).toEqual({ level: "Request", omitStages: ["RequestReceived"], omitManagedFields: true });
  });

  it("never records Secrets, ConfigMaps, TokenRequests or TokenReviews above Metadata, whatever the policy says", () => {
    const everything = policy([{ level: "RequestResponse" }]);
    const level = (method: string, path: string) => auditDecision(everything, attrs(method, path)).level;
    expect(level("POST", "/api/v1/namespaces/d/secrets")).toBe("Metadata");
    expect(level("GET", "/api/v1/secrets?watch=true")).toBe("Metadata");
    expect(level("GET", "/api/v1/watch/namespaces/d/secrets")).toBe("Metadata");
    expect(level("PATCH", "/api/v1/namespaces/d/configmaps/c")).toBe("Metadata");
    expect(level("POST", "/api/v1/namespaces/d/serviceaccounts/default/token")).toBe("Metadata");
    expect(level("POST", "/apis/authentication.k8s.io/v1/tokenreviews")).toBe("Metadata");
    expect(level("GET", "/api/v1/namespaces/d/serviceaccounts/default")).toBe("RequestResponse");
    expect(level("POST", "/api/v1/namespaces/d/pods")).toBe("RequestResponse");
    // The cap only lowers: a policy may still leave them out.
    expect(auditDecision(policy([{ level: "None", resources: [{ group: "", resources: ["secrets"] }] }]), attrs("GET", "/api/v1/secrets")).level).toBe("None");
  });

  it("before the user is known, answers the highest level any user could get", () => {
    const p = policy([
      { level: "RequestResponse", users: ["alice"] },
      { level: "None", userGroups: ["system:nodes"] },
      { level: "Metadata", verbs: ["get"] },
      { level: "Request" },
      { level: "RequestResponse", verbs: ["create"] },
    ]);
    const { user: _, ...request } = attrs("GET", "/api/v1/namespaces/d/pods/x");
    expect(highestLevelForAnyUser(p, request)).toBe("RequestResponse");
    const { user: __, ...create } = attrs("POST", "/api/v1/namespaces/d/pods");
    expect(highestLevelForAnyUser(policy(p.rules.slice(1)), create)).toBe("Request");
    expect(highestLevelForAnyUser(policy(p.rules.slice(1)), request)).toBe("Metadata");
    const { user: ___, ...secret } = attrs("POST", "/api/v1/namespaces/d/secrets");
    expect(highestLevelForAnyUser(p, secret)).toBe("Metadata");
  });

  it("validates a policy as kube's loader does, and falls back to the default for a bad AUDIT_POLICY", () => {
    const bad = [
      ["not json", /not JSON/],
      [JSON.stringify({ kind: "Policy", apiVersion: "audit.k8s.io/v1beta1", rules: [] }), /audit.k8s.io\/v1/],
      [JSON.stringify(policy([{ level: "Everything" as never }])), /rules\[0\]\.level: Unsupported value: "Everything"/],
      [JSON.stringify(policy([{ level: "None", nonResourceURLs: ["/x"], namespaces: ["a"] }])), /both regular resources and non-resource URLs/],
      [JSON.stringify(policy([{ level: "None", nonResourceURLs: ["healthz"] }])), /must begin with a '\/'/],
      [JSON.stringify(policy([{ level: "None", nonResourceURLs: ["/a*/b"] }])), /must be the final character/],
      [JSON.stringify(policy([{ level: "None", resources: [{ group: "", resourceNames: ["x"] }] }])), /requires at least one resource/],
      [JSON.stringify(policy([{ level: "None" }], { omitStages: ["Later" as never] })), /omitStages: Unsupported value: "Later"/],
    ] as const;
    for (const [text, error] of bad) expect(() => parsePolicy(text)).toThrow(error);
    const good = policy([{ level: "Request", verbs: ["create"] }]);
    expect(parsePolicy(JSON.stringify(good))).toEqual(good);

    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(auditPolicy("{")).toBe(DEFAULT_POLICY);
    expect(logged).toHaveBeenCalledOnce();
    logged.mockRestore();
    expect(auditPolicy(undefined)).toBe(DEFAULT_POLICY);
    expect(auditPolicy(JSON.stringify(good))).toEqual(good);
  });
});

describe("audit events", () => {
  it("carry who, what, when, where from and the response code in kube's shape", () => {
    const event = buildAuditEvent(request({ code: 200 }), "5b3a3c0e-0000-4000-8000-000000000001");
    expect(event).toEqual({
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level: "Metadata",
      auditID: "5b3a3c0e-0000-4000-8000-000000000001",
      stage: "ResponseComplete",
      requestURI: "/api/v1/namespaces/default/pods/web",
      verb: "get",
      user: { username: "alice", uid: "u-alice", groups: ["dev", "system:authenticated"] },
      sourceIPs: ["203.0.113.7"],
      userAgent: "kubectl/v1.30.0",
      objectRef: { resource: "pods", namespace: "default", name: "web", apiGroup: "", apiVersion: "v1" },
      responseStatus: { metadata: {}, code: 200 },
      requestReceivedTimestamp: "2026-03-04T05:06:07.123000Z",
      stageTimestamp: "2026-03-04T05:06:07.456000Z",
    });
    expect(buildAuditEvent(request()).auditID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("name subresources, impersonated users and failures; non-resource requests have no objectRef", () => {
    const scale = buildAuditEvent(request({
      attributes: attrs("PUT", "/apis/apps/v1/namespaces/d/deployments/web/scale"),
      impersonatedUser: { name: "bob", uid: "", groups: ["system:authenticated"] },
      code: 403,
      failure: { status: "Failure", reason: "Forbidden", message: 'deployments.apps "web" is forbidden' },
    }));
    expect(scale.objectRef).toEqual({ resource: "deployments", namespace: "d", name: "web", apiGroup: "apps", apiVersion: "v1", subresource: "scale" });
    expect(scale.verb).toBe("update");
    expect(scale.impersonatedUser).toEqual({ username: "bob", groups: ["system:authenticated"] });
    expect(scale.responseStatus).toEqual({ metadata: {}, code: 403, status: "Failure", reason: "Forbidden", message: 'deployments.apps "web" is forbidden' });
    const version = buildAuditEvent(request({ attributes: attrs("GET", "/version"), requestURI: "/version", user: undefined, code: 401 }));
    expect(version.objectRef).toBeUndefined();
    expect(version.user).toEqual({ username: "" });
    expect(version.responseStatus).toEqual({ metadata: {}, code: 401, status: "Failure" });
  });

  it("keep the request body from Request and the response body at RequestResponse only", () => {
    const body = { kind: "Pod", apiVersion: "v1", metadata: { name: "web", managedFields: [{ manager: "kubectl" }] } };
    const both = { requestObject: body, responseObject: { ...body, status: { phase: "Pending" } } };
    expect(buildAuditEvent(request({ level: "Metadata", ...both }))).not.toHaveProperty("requestObject");
    const atRequest = buildAuditEvent(request({ level: "Request", ...both }));
    expect(atRequest.requestObject).toEqual(body);
    expect(atRequest).not.toHaveProperty("responseObject");
    const full = buildAuditEvent(request({ level: "RequestResponse", ...both, omitManagedFields: true }));
    expect(full.requestObject).toEqual({ kind: "Pod", apiVersion: "v1", metadata: { name: "web" } });
    expect(full.responseObject).toMatchObject({ status: { phase: "Pending" } });
  });

  it("never hold a Secret's data, a token or the request's bearer token, wherever they appear", () => {
    const secret = { kind: "Secret", apiVersion: "v1", metadata: { name: "db" }, data: { password: PASSWORD_B64 }, stringData: { password: PASSWORD } };
    const event = buildAuditEvent(request({
      level: "RequestResponse",
      requestObject: { kind: "TokenReview", apiVersion: "authentication.k8s.io/v1", spec: { token: "eyJhbGciOi.review" } },
      responseObject: {
        kind: "List", apiVersion: "v1",
        items: [secret, { kind: "TokenRequest", apiVersion: "authentication.k8s.io/v1", status: { token: "eyJhbGciOi.issued", expirationTimestamp: "x" } }],
        metadata: { annotations: { note: `leaked ${ADMIN_TOKEN} here` } },
      },
      redact: [ADMIN_TOKEN],
    }));
    const text = JSON.stringify(event);
    for (const leak of [PASSWORD, PASSWORD_B64, "eyJhbGciOi", ADMIN_TOKEN]) expect(text).not.toContain(leak);
    expect((event.responseObject as any).items[0]).toEqual({ kind: "Secret", apiVersion: "v1", metadata: { name: "db" } });
    expect((event.responseObject as any).metadata.annotations.note).toBe("leaked [redacted] here");
  });

  it("lose their objects past 1 MiB, marked as kube's truncating backend marks them", () => {
    const big = { kind: "ConfigMapLike", data: { blob: "x".repeat(1100 * 1024) } };
    const event = buildAuditEvent(request({ level: "RequestResponse", requestObject: big, responseObject: big }));
    expect(event).not.toHaveProperty("requestObject");
    expect(event).not.toHaveProperty("responseObject");
    expect(event.annotations).toEqual({ "audit.k8s.io/truncated": "true" });
  });

  it("write times in microseconds and read RFC 3339 back; source IPs from Cloudflare or X-Forwarded-For", () => {
    expect(microTime(1_772_600_767_123_456)).toBe("2026-03-04T05:06:07.123456Z");
    expect(parseMicroTime("2026-03-04T05:06:07.123456Z")).toBe(1_772_600_767_123_456);
    expect(parseMicroTime("2026-03-04T06:06:07.5+01:00")).toBe(1_772_600_767_500_000);
    expect(parseMicroTime("2026-03-04T05:06:07Z")).toBe(1_772_600_767_000_000);
    expect(parseMicroTime("yesterday")).toBeUndefined();
    expect(sourceIPs(new Headers({ "CF-Connecting-IP": "198.51.100.1", "X-Forwarded-For": "10.0.0.1" }))).toEqual(["198.51.100.1"]);
    expect(sourceIPs(new Headers({ "X-Forwarded-For": "203.0.113.9, 10.0.0.1" }))).toEqual(["203.0.113.9", "10.0.0.1"]);
    expect(sourceIPs(new Headers())).toEqual([]);
  });
});

describe("the audit log in the store", () => {
  it("STORE_SHARDS gives /audit/ its own shard", () => {
    expect(shardForKey(parseShardMap(env.STORE_SHARDS), utf8("/audit/00001-x"))).toBe("audit");
  });

  it("writes events in waitUntil to the audit shard, under a lease of their hour, and reads them back oldest first", async () => {
    const e = clusterEnv();
    const now = Date.now();
    const events = [0, 1, 2].map((i) => buildAuditEvent(request({ receivedAt: now - 3000 + i * 1000, completedAt: now - 3000 + i * 1000 + 5, requestURI: `/api/v1/pods?i=${i}` })));
    for (const event of [events[2]!, events[0]!, events[1]!]) await record(e, event);

    const stored = await storedAudit(e, "audit");
    expect(stored.map((kv) => kv.key)).toEqual(events.map(auditKey));
    expect(stored[0]!.key).toMatch(/^\/audit\/\d{19}-[0-9a-f-]{36}$/);
    expect(await storedAudit(e, "main")).toEqual([]);

    // One lease for the hour, living the 168 h retention past the hour's end.
    const hourStart = Math.floor(now / 3_600_000) * 3600;
    const leased = stored.filter((kv) => kv.lease === hourStart);
    expect(leased.length).toBeGreaterThanOrEqual(2);
    const ttl = await shard(e, "audit").leaseTimeToLive({ ID: hourStart, keys: true });
    if (!ttl.ok) throw new Error(ttl.error.message);
    expect(ttl.value.grantedTTL).toBeGreaterThan(168 * 3600);
    expect(ttl.value.grantedTTL).toBeLessThanOrEqual(169 * 3600);

    const all = await readEvents(e);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {} });
    expect(all.body.items.map((i: AuditEvent) => i.requestURI)).toEqual(["/api/v1/pods?i=0", "/api/v1/pods?i=1", "/api/v1/pods?i=2"]);
    expect(all.body.items[0]).toEqual(events[0]);

    const since = await readEvents(e, `?since=${encodeURIComponent(events[1]!.requestReceivedTimestamp)}`);
    expect(since.body.items.map((i: AuditEvent) => i.auditID)).toEqual([events[1]!.auditID, events[2]!.auditID]);

    const first = await readEvents(e, "?limit=2");
    expect(first.body.items).toHaveLength(2);
    expect(first.body.metadata.continue).toBeTruthy();
    const rest = await readEvents(e, `?limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`);
    expect(rest.body.items.map((i: AuditEvent) => i.auditID)).toEqual([events[2]!.auditID]);
    expect(rest.body.metadata).toEqual({});
  });

  it("of requests that end close together are written in one transaction, from the first request's waitUntil", async () => {
    const e = clusterEnv();
    const now = Date.now();
    const contexts = [0, 1, 2].map(() => createExecutionContext());
    const events = contexts.map((ctx, i) => {
      const event = buildAuditEvent(request({ receivedAt: now + i, completedAt: now + i + 1, requestURI: `/api/v1/pods?batch=${i}` }));
      recordAuditEvent(e, event, (p) => ctx.waitUntil(p));
      return event;
    });
    // Only the first request's context is waited on: it writes the others' events too.
    await waitOnExecutionContext(contexts[0]!);
    const res = await shard(e, "audit").range({ key: utf8(AUDIT_PREFIX), range_end: prefixEnd(utf8(AUDIT_PREFIX)) });
    if (!res.ok) throw new Error(res.error.message);
    expect(res.value.kvs.map((kv) => fromUtf8(kv.key))).toEqual(events.map(auditKey));
    expect(new Set(res.value.kvs.map((kv) => kv.mod_revision)).size).toBe(1);
    expect(res.value.kvs.map((kv) => JSON.parse(fromUtf8(kv.value)))).toEqual(events);
    await Promise.all(contexts.slice(1).map((ctx) => waitOnExecutionContext(ctx)));
  });

  it("expire with their lease after AUDIT_RETENTION_HOURS", async () => {
    const e = clusterEnv({ AUDIT_RETENTION_HOURS: String(1 / 3600) });
    await record(e, buildAuditEvent(request({ receivedAt: Date.now(), completedAt: Date.now() })));
    expect((await readEvents(e)).body.items).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 2100));
    await runDurableObjectAlarm(shard(e, "audit"));
    expect((await readEvents(e)).body.items).toEqual([]);
    expect(await storedAudit(e, "audit")).toEqual([]);
    // A later event gets a new lease of its own.
    await record(e, buildAuditEvent(request({ receivedAt: Date.now(), completedAt: Date.now() })));
    expect((await readEvents(e)).body.items).toHaveLength(1);
  });

  it("a write that fails is logged, never thrown into the request", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const broken = clusterEnv({ STORE_SHARDS: "not a shard map" });
    await record(broken, buildAuditEvent(request()));
    expect(logged).toHaveBeenCalledWith(expect.stringContaining("audit event not recorded"));
    logged.mockRestore();
  });

  it("are read by cluster-admins only, with kube's Status for everyone else and for bad queries", async () => {
    const e = clusterEnv();
    expect(await readEvents(e, "", ALICE)).toEqual({
      status: 403,
      body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'forbidden: User "alice" cannot get path "/audit/v1/events"', reason: "Forbidden", details: {}, code: 403 },
    });
    expect((await readEvents(e, "", null)).body).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
    for (const query of ["?since=yesterday", "?limit=0", "?limit=x", "?limit=5001", "?continue=bm9wZQ=="]) {
      const res = await readEvents(e, query);
      expect(res.status, query).toBe(400);
      expect(res.body).toMatchObject({ kind: "Status", reason: "BadRequest" });
    }
  });
});

describe("the audit middleware around the API", () => {
  /** One cluster for these tests: the API bootstraps it once. */
  const cluster = `audit-api-${crypto.randomUUID().slice(0, 8)}`;

  function apiApp() {
    const app = new Hono<AppEnv>();
    app.use("*", auditMiddleware);
    app.route("/", kubernetesApi);
    return app;
  }

  async function call(e: Env, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const ctx = createExecutionContext();
    const res = await apiApp().request(`https://edgeplane.test${path}`, {
      method,
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json", "CF-Connecting-IP": "198.51.100.20", "User-Agent": "audit-test", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    }, e, ctx);
    const text = await res.text();
    await waitOnExecutionContext(ctx);
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /** The events of requests to `path` (query left out). */
  async function eventsFor(e: Env, path: string): Promise<AuditEvent[]> {
    const list = (await readEvents(e)).body as { items: AuditEvent[] };
    return list.items.filter((i) => i.requestURI.split("?")[0] === path);
  }

  it("records each request with its final code, the body at the levels that keep it, and answers as without it", async () => {
    const e: TestEnv = { ...env, CLUSTER_NAME: cluster, AUDIT_POLICY: JSON.stringify(policy([{ level: "RequestResponse" }])) };
    const name = `ns-${crypto.randomUUID().slice(0, 8)}`;
    const created = await call(e, "POST", "/api/v1/namespaces", { metadata: { name, labels: { team: "a" } } });
    expect(created.status).toBe(201);
    expect(created.body.metadata).toMatchObject({ name, labels: { team: "a" } });

    const [event] = await eventsFor(e, "/api/v1/namespaces");
    expect(event).toMatchObject({
      level: "RequestResponse", verb: "create", stage: "ResponseComplete",
      user: { username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] },
      sourceIPs: ["198.51.100.20"], userAgent: "audit-test",
      objectRef: { resource: "namespaces", apiGroup: "", apiVersion: "v1" },
      responseStatus: { metadata: {}, code: 201 },
      requestObject: { metadata: { name, labels: { team: "a" } } },
      responseObject: { kind: "Namespace", metadata: { name, uid: created.body.metadata.uid } },
    });
    expect(Date.parse(event!.stageTimestamp)).toBeGreaterThanOrEqual(Date.parse(event!.requestReceivedTimestamp));

    const missing = await call(e, "GET", `/api/v1/namespaces/${name}/pods/nowhere`);
    expect(missing.status).toBe(404);
    const [notFound] = await eventsFor(e, `/api/v1/namespaces/${name}/pods/nowhere`);
    expect(notFound!.responseStatus).toEqual({ metadata: {}, code: 404, status: "Failure", reason: "NotFound", message: 'pods "nowhere" not found' });
    expect(notFound!.objectRef).toEqual({ resource: "pods", namespace: name, name: "nowhere", apiGroup: "", apiVersion: "v1" });
  });

  it("records refusals: 401 with no user, 403 with the impersonator and whom they impersonated", async () => {
    const e: TestEnv = { ...env, CLUSTER_NAME: cluster };
    const anonymous = await call(e, "GET", "/api/v1/nodes", undefined, { Authorization: "Bearer not-a-token" });
    expect(anonymous.status).toBe(401);
    const [unauthorized] = await eventsFor(e, "/api/v1/nodes");
    expect(unauthorized).toMatchObject({ level: "Metadata", verb: "list", user: { username: "" }, responseStatus: { code: 401, reason: "Unauthorized" } });
    expect(JSON.stringify(unauthorized)).not.toContain("not-a-token");

    const refused = await call(e, "GET", "/api/v1/persistentvolumes", undefined, { "Impersonate-User": "alice" });
    expect(refused.status).toBe(403);
    const [forbidden] = await eventsFor(e, "/api/v1/persistentvolumes");
    expect(forbidden).toMatchObject({
      user: { username: "kubernetes-admin" },
      impersonatedUser: { username: "alice", groups: ["system:authenticated"] },
      responseStatus: { code: 403, status: "Failure", reason: "Forbidden", message: expect.stringContaining('User "alice" cannot list resource "persistentvolumes"') },
    });
  });

  it("keeps Secrets, ConfigMaps and tokens at Metadata and no credential in any event, even under a RequestResponse policy", async () => {
    const e: TestEnv = { ...env, CLUSTER_NAME: cluster, AUDIT_POLICY: JSON.stringify(policy([{ level: "RequestResponse" }])) };
    const ns = `sec-${crypto.randomUUID().slice(0, 8)}`;
    expect((await call(e, "POST", "/api/v1/namespaces", { metadata: { name: ns } })).status).toBe(201);
    // What the serviceaccount controller would make (the controller manager does not run here).
    expect((await call(e, "POST", `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "default" } })).status).toBe(201);
    const secret = await call(e, "POST", `/api/v1/namespaces/${ns}/secrets`, { metadata: { name: "db" }, data: { password: PASSWORD_B64 }, stringData: { user: PASSWORD } });
    expect(secret.status).toBe(201);
    expect((await call(e, "GET", `/api/v1/namespaces/${ns}/secrets/db`)).body.data.password).toBe(PASSWORD_B64);
    expect((await call(e, "POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "cfg" }, data: { token: PASSWORD } })).status).toBe(201);
    const token = await call(e, "POST", `/api/v1/namespaces/${ns}/serviceaccounts/default/token`, { spec: { audiences: [] } });
    expect(token.status).toBe(201);
    const review = await call(e, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", { spec: { token: token.body.status.token } });
    expect(review.status).toBe(201);

    const secretEvents = await eventsFor(e, `/api/v1/namespaces/${ns}/secrets`);
    expect(secretEvents.map((ev) => [ev.verb, ev.level])).toEqual([["create", "Metadata"]]);
    const readEvent = (await eventsFor(e, `/api/v1/namespaces/${ns}/secrets/db`))[0]!;
    expect([readEvent.verb, readEvent.level]).toEqual(["get", "Metadata"]);
    expect((await eventsFor(e, `/api/v1/namespaces/${ns}/configmaps`))[0]!.level).toBe("Metadata");
    expect((await eventsFor(e, `/api/v1/namespaces/${ns}/serviceaccounts/default/token`))[0]).toMatchObject({ level: "Metadata", objectRef: { resource: "serviceaccounts", subresource: "token" } });
    expect((await eventsFor(e, "/apis/authentication.k8s.io/v1/tokenreviews"))[0]!.level).toBe("Metadata");

    // Nothing in the audit shard holds a credential: not the admin's token, the issued token, or the data.
    const stored = (await storedAudit(e, "audit")).map((kv) => kv.value).join("\n");
    for (const leak of [ADMIN_TOKEN, token.body.status.token, PASSWORD, PASSWORD_B64]) expect(stored).not.toContain(leak);
    expect(await storedAudit(e, "main")).toEqual([]);
  });

  it("works mounted after authentication too, where the user is known before the handler", async () => {
    const e: TestEnv = { ...env, CLUSTER_NAME: cluster, AUDIT_POLICY: JSON.stringify(policy([{ level: "RequestResponse" }])) };
    const app = new Hono<AppEnv>();
    app.use("*", requireAuthorizedUser, auditMiddleware);
    app.post("/apis/example.com/v1/echoes", async (c) => c.json(await c.req.json(), 201));
    const ctx = createExecutionContext();
    const res = await app.request("https://edgeplane.test/apis/example.com/v1/echoes", {
      method: "POST", headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" }, body: JSON.stringify({ said: "hello" }),
    }, e, ctx);
    expect(await res.json()).toEqual({ said: "hello" });
    await waitOnExecutionContext(ctx);
    const [event] = await eventsFor(e, "/apis/example.com/v1/echoes");
    expect(event).toMatchObject({
      verb: "create", user: { username: "kubernetes-admin" }, objectRef: { resource: "echoes", apiGroup: "example.com" },
      requestObject: { said: "hello" }, responseObject: { said: "hello" }, responseStatus: { code: 201 },
    });
  });

  it("records a request once where two of its mounts match it", async () => {
    const e: TestEnv = { ...env, CLUSTER_NAME: cluster };
    const app = new Hono<AppEnv>();
    for (const path of ["/api", "/api/*"]) app.use(path, auditMiddleware);
    app.route("/", kubernetesApi);
    const ctx = createExecutionContext();
    const res = await app.request("https://edgeplane.test/api", { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } }, e, ctx);
    expect(res.status).toBe(200);
    await waitOnExecutionContext(ctx);
    expect(await eventsFor(e, "/api")).toHaveLength(1);
  });

  it("serves the log as the Worker mounts it: behind requireAuthorizedUser, its reads audited too", async () => {
    const e: TestEnv = { ...env, CLUSTER_NAME: cluster };
    const app = new Hono<AppEnv>();
    app.use("/audit/*", auditMiddleware, requireAuthorizedUser);
    app.route("/", auditRoutes);
    const read = async (headers: Record<string, string>) => {
      const ctx = createExecutionContext();
      const res = await app.request("https://edgeplane.test/audit/v1/events?limit=1", { headers }, e, ctx);
      await waitOnExecutionContext(ctx);
      return { status: res.status, body: (await res.json()) as any };
    };
    expect((await read({})).status).toBe(401);
    const refused = await read({ Authorization: `Bearer ${ADMIN_TOKEN}`, "Impersonate-User": "alice" });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe('forbidden: User "alice" cannot get path "/audit/v1/events"');
    const allowed = await read({ Authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(allowed.status).toBe(200);
    expect(allowed.body.kind).toBe("EventList");
    expect((await eventsFor(e, "/audit/v1/events")).map((ev) => ev.responseStatus.code)).toEqual([401, 403, 200]);
  });

  it("records nothing for what the policy leaves out", async () => {
    const e: TestEnv = { ...env, CLUSTER_NAME: cluster };
    expect((await call(e, "GET", "/api/v1/namespaces/default/events")).status).toBe(200);
    expect(await eventsFor(e, "/api/v1/namespaces/default/events")).toEqual([]);
  });
});

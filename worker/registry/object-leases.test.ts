// Events expire as kube-apiserver's do (--event-ttl): written under a store lease that events
// created close together share, gone from the API once it expires, renewed by every update.
import { createExecutionContext, runDurableObjectAlarm, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { utf8 } from "../../lib/etcd/gateway-json.ts";
import { until } from "../../test/support/until.ts";
import app from "../index.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { reuseSeconds } from "./object-leases.ts";

type Settings = Env & { EVENT_TTL_SECONDS?: string };

async function api(e: Settings, method: string, path: string, body?: unknown, contentType = "application/json") {
  const ctx = createExecutionContext();
  const res = await app.request(`https://edgeplane.test${path}`, {
    method, headers: { Authorization: "Bearer test-admin-token", "Content-Type": contentType }, body: body === undefined ? undefined : JSON.stringify(body),
  }, e, ctx);
  const answer = { status: res.status, body: (await res.json()) as any };
  await waitOnExecutionContext(ctx);
  return answer;
}

async function freshNamespace(e: Settings): Promise<string> {
  const name = `ttl-${crypto.randomUUID().slice(0, 8)}`;
  expect((await api(e, "POST", "/api/v1/namespaces", { metadata: { name } })).status).toBe(201);
  return name;
}

const coreEvent = (name: string) => ({
  metadata: { name }, involvedObject: { kind: "Pod", name: "web", namespace: "" }, reason: "Pulled", message: "pulled", type: "Normal", count: 1,
});
const eventsV1Event = (name: string) => ({
  apiVersion: "events.k8s.io/v1", kind: "Event", metadata: { name }, eventTime: "2026-12-07T21:00:00.000000Z",
  reportingController: "kubelet", reportingInstance: "node-1", action: "Started", reason: "Started", type: "Normal", regarding: { kind: "Pod", name: "web" },
});

/** The lease the store has the event's key under (0: none). */
async function leaseOf(e: Settings, namespace: string, name: string): Promise<number> {
  const key = `/registry/events/${namespace}/${name}`;
  const res = await new ObjectStorage(e).stub(key).range({ key: utf8(key) });
  if (!res.ok) throw new Error(res.error.message);
  return res.value.kvs[0]?.lease ?? 0;
}

describe("Event TTL", () => {
  it("an Event is gone from the API once its lease (EVENT_TTL_SECONDS) expires, core/v1 and events.k8s.io/v1 alike", async () => {
    const e: Settings = { ...env, EVENT_TTL_SECONDS: "2" };
    const ns = await freshNamespace(e);
    expect((await api(e, "POST", `/api/v1/namespaces/${ns}/events`, coreEvent("old"))).status).toBe(201);
    expect((await api(e, "POST", `/apis/events.k8s.io/v1/namespaces/${ns}/events`, eventsV1Event("older"))).status).toBe(201);
    // A ConfigMap written at the same time has no lease and stays.
    expect((await api(e, "POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "kept" } })).status).toBe(201);
    expect((await api(e, "GET", `/api/v1/namespaces/${ns}/events/old`)).status).toBe(200);
    const stub = new ObjectStorage(e).stub("/registry/events/");
    await until("the events to expire", async () => {
      // The store's alarm deletes expired leases' keys; run it now rather than wait for it to fire.
      await runDurableObjectAlarm(stub);
      const list = await api(e, "GET", `/api/v1/namespaces/${ns}/events`);
      return list.body.items.length === 0 ? list : undefined;
    }, { timeoutMs: 15_000 });
    expect((await api(e, "GET", `/apis/events.k8s.io/v1/namespaces/${ns}/events/older`)).status).toBe(404);
    expect((await api(e, "GET", `/api/v1/namespaces/${ns}/configmaps/kept`)).status).toBe(200);
  });

  it("Events created close together share one lease of the TTL plus kube's reuse window; an update keeps the Event under a lease", async () => {
    const e: Settings = { ...env, EVENT_TTL_SECONDS: "3600" };
    const ns = await freshNamespace(e);
    for (const name of ["a", "b"]) expect((await api(e, "POST", `/api/v1/namespaces/${ns}/events`, coreEvent(name))).status).toBe(201);
    expect((await api(e, "POST", `/apis/events.k8s.io/v1/namespaces/${ns}/events`, eventsV1Event("c"))).status).toBe(201);
    const leases = await Promise.all(["a", "b", "c"].map((name) => leaseOf(e, ns, name)));
    expect(leases[0]).not.toBe(0);
    expect(new Set(leases).size).toBe(1);
    const stub = new ObjectStorage(e).stub("/registry/events/");
    const ttl = await stub.leaseTimeToLive({ ID: leases[0]!, keys: true });
    if (!ttl.ok) throw new Error(ttl.error.message);
    expect(reuseSeconds(3600)).toBe(60);
    expect(ttl.value.grantedTTL).toBe(3660);
    expect(ttl.value.keys.map((k) => new TextDecoder().decode(k))).toEqual(expect.arrayContaining(["a", "b", "c"].map((n) => `/registry/events/${ns}/${n}`)));

    // A series count bump (as the event recorder patches it) is a write like any other: the Event stays leased.
    const patched = await api(e, "PATCH", `/apis/events.k8s.io/v1/namespaces/${ns}/events/c`, { series: { count: 2, lastObservedTime: "2026-12-07T21:00:05.000000Z" } }, "application/merge-patch+json");
    expect(patched.status).toBe(200);
    expect(await leaseOf(e, ns, "c")).not.toBe(0);
  });

  it("a lease the store has let go is replaced: the next Event is written under a new one", async () => {
    const e: Settings = { ...env, EVENT_TTL_SECONDS: "1200" };
    const ns = await freshNamespace(e);
    expect((await api(e, "POST", `/api/v1/namespaces/${ns}/events`, coreEvent("first"))).status).toBe(201);
    const first = await leaseOf(e, ns, "first");
    const stub = new ObjectStorage(e).stub("/registry/events/");
    const revoked = await stub.leaseRevoke(first);
    if (!revoked.ok) throw new Error(revoked.error.message);
    expect((await api(e, "GET", `/api/v1/namespaces/${ns}/events/first`)).status).toBe(404);
    expect((await api(e, "POST", `/api/v1/namespaces/${ns}/events`, coreEvent("second"))).status).toBe(201);
    const second = await leaseOf(e, ns, "second");
    expect(second).not.toBe(0);
    expect(second).not.toBe(first);
  });
});

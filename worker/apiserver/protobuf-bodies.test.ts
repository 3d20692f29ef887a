// Protobuf through the API: kubectl's own create bodies are stored as their JSON form, a body of
// another kind or a malformed one is a 400 with nothing stored; answers and watch events are
// protobuf when the Accept header asks for it, JSON for kinds without a message.
/// <reference types="vite/client" />
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { decodeKubernetesProtobuf } from "../protobuf/decode.ts";
import { encodeKubernetesProtobuf } from "../protobuf/encode.ts";
import { ProtoReader } from "../protobuf/wire.ts";
import { rawApi } from "../../lib/client/testing.ts";

const AUTH = { Authorization: "Bearer test-admin-token" };
const PROTOBUF = "application/vnd.kubernetes.protobuf";
/** What client-go's typed clients send. */
const PROTOBUF_FIRST = `${PROTOBUF}, application/json`;
const fixtures = import.meta.glob<string>("../protobuf/fixtures/*.pb", { query: "?inline", import: "default", eager: true });

function fixture(name: string): Uint8Array {
  const url = fixtures[`../protobuf/fixtures/${name}.pb`]!;
  return Uint8Array.from(atob(url.slice(url.indexOf(",") + 1)), (c) => c.charCodeAt(0));
}

const api = (method: string, path: string, body?: Uint8Array | string, contentType = PROTOBUF) => rawApi(method, path, body, { contentType, headers: { Accept: "application/json" } });

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
    // kubectl drain's DeleteOptions: gracePeriodSeconds 0.
    await api("POST", "/api/v1/namespaces/default/serviceaccounts", fixture("serviceaccount"));
    expect((await api("DELETE", "/api/v1/namespaces/default/serviceaccounts/robot", fixture("drain"))).status).toBe(200);
    expect((await api("GET", "/api/v1/namespaces/default/serviceaccounts/robot")).status).toBe(404);
  });
});

/** A request answered in protobuf: its status, Content-Type and decoded object. */
async function protobufApi(method: string, path: string, accept = PROTOBUF_FIRST, body?: Uint8Array) {
  const res = await exports.default.fetch(`https://edgeplane.test${path}`, { method, headers: { ...AUTH, "Content-Type": PROTOBUF, Accept: accept }, body });
  const contentType = res.headers.get("Content-Type");
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, contentType, object: contentType === PROTOBUF ? decodeKubernetesProtobuf(bytes).object as Record<string, any> : JSON.parse(new TextDecoder().decode(bytes)) };
}

/** The JSON answer less what protobuf cannot carry: Go value fields at their zero value. */
function withoutZeros(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutZeros);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => !(v === 0 || v === false || v === "")).map(([k, v]) => [k, withoutZeros(v)]));
}

/** Watch frames: a 4-byte big-endian length, then a WatchEvent{type, object: RawExtension{raw}}. */
async function protobufWatchEvents(res: Response, count: number): Promise<{ type: string; object: Record<string, any> }[]> {
  const reader = res.body!.getReader();
  const events: { type: string; object: Record<string, any> }[] = [];
  let buffered = new Uint8Array();
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered = Uint8Array.from([...buffered, ...value]);
    while (buffered.length >= 4) {
      const length = new DataView(buffered.buffer).getUint32(0);
      if (buffered.length < 4 + length) break;
      const event = new ProtoReader(buffered.subarray(4, 4 + length));
      let type = "";
      let raw = new Uint8Array();
      while (!event.done) {
        const { field } = event.tag();
        if (field === 1) type = event.string();
        else {
          const rawExtension = new ProtoReader(event.bytesField());
          rawExtension.tag();
          raw = rawExtension.bytesField().slice();
        }
      }
      events.push({ type, object: decodeKubernetesProtobuf(raw).object });
      buffered = buffered.slice(4 + length);
    }
  }
  await reader.cancel();
  return events;
}

describe("protobuf answers", () => {
  it("answers GET, LIST and create in protobuf that decodes to the JSON answer", async () => {
    // kubectl's Deployment under another name (the first test created "web").
    const { object: deployment } = decodeKubernetesProtobuf(fixture("deployment"));
    const body = encodeKubernetesProtobuf({ ...deployment, metadata: { ...deployment.metadata as object, name: "web-pb" } });
    const created = await protobufApi("POST", "/apis/apps/v1/namespaces/default/deployments", PROTOBUF_FIRST, body);
    expect([created.status, created.contentType]).toEqual([201, PROTOBUF]);
    expect(created.object).toMatchObject({ kind: "Deployment", apiVersion: "apps/v1", metadata: { name: "web-pb", namespace: "default" }, spec: { replicas: 2 } });
    const json = (await api("GET", "/apis/apps/v1/namespaces/default/deployments/web-pb")).body;
    const got = await protobufApi("GET", "/apis/apps/v1/namespaces/default/deployments/web-pb");
    expect(got.contentType).toBe(PROTOBUF);
    expect(got.object).toMatchObject(withoutZeros(json) as object);
    expect(got.object).toEqual(decodeKubernetesProtobuf(encodeKubernetesProtobuf(json)).object);
    expect(created.object).toEqual(got.object);

    await api("POST", "/api/v1/namespaces/default/configmaps", fixture("configmap"));
    const listJson = (await api("GET", "/api/v1/namespaces/default/configmaps")).body;
    const list = await protobufApi("GET", "/api/v1/namespaces/default/configmaps", PROTOBUF);
    expect(list.contentType).toBe(PROTOBUF);
    expect(list.object).toMatchObject({ kind: "ConfigMapList", apiVersion: "v1", metadata: { resourceVersion: listJson.metadata.resourceVersion } });
    expect(list.object.items).toMatchObject(listJson.items.map(({ kind: _k, apiVersion: _a, ...item }: Record<string, unknown>) => withoutZeros(item)));
  });

  it("answers partial metadata in protobuf, Tables in JSON", async () => {
    const partial = await protobufApi("GET", "/api/v1/namespaces", `${PROTOBUF};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json`);
    expect(partial.contentType).toBe(PROTOBUF);
    expect(partial.object.kind).toBe("PartialObjectMetadataList");
    expect(partial.object.items.map((i: any) => i.metadata.name)).toContain("default");
    const table = await protobufApi("GET", "/api/v1/namespaces", `${PROTOBUF};as=Table;g=meta.k8s.io;v=v1, application/json;as=Table;g=meta.k8s.io;v=v1, application/json`);
    expect([table.contentType, table.object.kind]).toEqual(["application/json", "Table"]);
  });

  it("answers JSON for kinds without a message, 406 when the client takes protobuf only; errors in protobuf only then", async () => {
    const crds = await protobufApi("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions");
    expect([crds.status, crds.contentType, crds.object.kind]).toEqual([200, "application/json", "CustomResourceDefinitionList"]);
    const refused = await protobufApi("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", PROTOBUF);
    expect([refused.status, refused.contentType]).toEqual([406, PROTOBUF]);
    expect(refused.object).toMatchObject({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotAcceptable", code: 406 });
    const missing = await protobufApi("GET", "/api/v1/namespaces/default/configmaps/absent", PROTOBUF);
    expect([missing.status, missing.contentType]).toEqual([404, PROTOBUF]);
    expect(missing.object).toMatchObject({ kind: "Status", reason: "NotFound", details: { name: "absent", kind: "configmaps" }, code: 404 });
    expect((await protobufApi("GET", "/api/v1/namespaces/default/configmaps/absent")).contentType).toBe("application/json");
  });

  it("streams a watch as length-framed protobuf WatchEvents", async () => {
    const path = "/api/v1/namespaces/default/serviceaccounts";
    const rv = (await api("GET", path)).body.metadata.resourceVersion;
    const res = await exports.default.fetch(`https://edgeplane.test${path}?watch=true&resourceVersion=${rv}`, { headers: { ...AUTH, Accept: `${PROTOBUF};stream=watch` } });
    expect(res.headers.get("Content-Type")).toBe(`${PROTOBUF};stream=watch`);
    await api("POST", path, fixture("serviceaccount"));
    await api("DELETE", `${path}/robot`);
    const events = await protobufWatchEvents(res, 2);
    expect(events.map((e) => `${e.type} ${e.object.kind} ${e.object.metadata.name}`)).toEqual(["ADDED ServiceAccount robot", "DELETED ServiceAccount robot"]);

    // A watch of one object, with client-go's Accept.
    const one = await exports.default.fetch("https://edgeplane.test/api/v1/namespaces/default?watch=true", { headers: { ...AUTH, Accept: PROTOBUF_FIRST } });
    expect(one.headers.get("Content-Type")).toBe(`${PROTOBUF};stream=watch`);
    expect((await protobufWatchEvents(one, 1)).map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(["ADDED default"]);
  });
});

// Encryption at rest in workerd: what the API answers, what the store holds, rotation, and the
// errors (none of which may carry a secret's data).
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { findResource } from "../registry/index.ts";
import { RegistryStore } from "../registry/store.ts";
import { ObjectStorage } from "./object-storage.ts";
import { rewriteRoutes } from "./rewrite.ts";
import { rawApi } from "../../lib/client/testing.ts";

const AUTH = { Authorization: "Bearer test-admin-token" };
/** The binding vitest.config.ts gives the tests, and a second key to rotate to. */
const TEST_KEY = "test-key:OGlX8zuKsmkCp0grd7Sd+X1cLsbEaVmgnHTgp5UILEM=";
const NEW_KEY = "new-key:3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=";
const rotated: Env = { ...env, ENCRYPTION_KEYS: `${NEW_KEY},${TEST_KEY}` };
const rotatedBack: Env = { ...env, ENCRYPTION_KEYS: `${TEST_KEY},${NEW_KEY}` };

/** What a secret holds in these tests: its base64 and decoded forms must never leave the API. */
const PASSWORD = "correct-horse-battery-staple";
const PASSWORD_B64 = btoa(PASSWORD);

const api = (method: string, path: string, body?: unknown) => rawApi(method, path, body);

async function gateway(path: string, body: unknown) {
  const res = await exports.default.fetch(`https://edgeplane.test/etcd/v3/kv/${path}`, { method: "POST", headers: AUTH, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return res.json<any>();
}

const toB64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromB64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** The value the store holds at `key`, as an etcd operator reads it. */
async function rawValue(key: string): Promise<Uint8Array> {
  const res = await gateway("range", { key: btoa(key) });
  return fromB64(res.kvs[0].value);
}

async function putRaw(key: string, value: Uint8Array): Promise<void> {
  await gateway("put", { key: btoa(key), value: toB64(value) });
}

const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);

function expectSealed(bytes: Uint8Array, keyName = "test-key") {
  const text = latin1(bytes);
  expect(text.startsWith(`k8s:enc:aesgcm:v1:${keyName}:`)).toBe(true);
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(PASSWORD_B64);
}

let namespaces = 0;
async function freshNamespace(): Promise<string> {
  const name = `enc${++namespaces}-${crypto.randomUUID().slice(0, 8)}`;
  expect((await api("POST", "/api/v1/namespaces", { metadata: { name } })).status).toBe(201);
  return name;
}

async function createSecret(ns: string, name: string) {
  const res = await api("POST", `/api/v1/namespaces/${ns}/secrets`, { metadata: { name }, data: { password: PASSWORD_B64 } });
  expect(res.status).toBe(201);
  return res.body;
}

/** Everything logged while `run` runs, so a test can show no secret reached the logs. */
async function logsDuring(run: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const capture = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
  for (const level of ["log", "info", "warn", "error", "debug"] as const) vi.spyOn(console, level).mockImplementation(capture);
  await run();
  return lines.join("\n");
}

afterEach(() => vi.restoreAllMocks());

function expectNoSecretIn(text: string) {
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(PASSWORD_B64);
}

describe("encryption at rest", () => {
  it("seals a Secret in the store and answers it as plaintext through the API", async () => {
    const ns = await freshNamespace();
    const list = await api("GET", `/api/v1/namespaces/${ns}/secrets`);
    const watch = await exports.default.fetch(`https://edgeplane.test/api/v1/namespaces/${ns}/secrets?watch=true&resourceVersion=${list.body.metadata.resourceVersion}`, { headers: AUTH });
    const events = watch.body!.pipeThrough(new TextDecoderStream()).getReader();

    const created = await createSecret(ns, "db");
    expect(created.data).toEqual({ password: PASSWORD_B64 });
    expect((await api("GET", `/api/v1/namespaces/${ns}/secrets/db`)).body.data).toEqual({ password: PASSWORD_B64 });
    expect((await api("GET", `/api/v1/namespaces/${ns}/secrets`)).body.items[0].data.password).toBe(PASSWORD_B64);
    let line = "";
    while (!line.includes("\n")) line += (await events.read()).value ?? "";
    await events.cancel();
    expect(JSON.parse(line.slice(0, line.indexOf("\n")))).toMatchObject({ type: "ADDED", object: { data: { password: PASSWORD_B64 } } });

    expectSealed(await rawValue(`/registry/secrets/${ns}/db`));
  });

  it("keeps ConfigMaps plaintext unless ENCRYPTED_RESOURCES names them", async () => {
    const ns = await freshNamespace();
    expect((await api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "plain" }, data: { k: PASSWORD } })).status).toBe(201);
    expect(JSON.parse(new TextDecoder().decode(await rawValue(`/registry/configmaps/${ns}/plain`))).data.k).toBe(PASSWORD);

    const configured = new ObjectStorage({ ...env, ENCRYPTED_RESOURCES: "secrets,configmaps" });
    const key = `/registry/configmaps/${ns}/sealed`;
    expect(await configured.create(key, { kind: "ConfigMap", metadata: { name: "sealed", namespace: ns }, data: { k: PASSWORD } })).toMatchObject({ ok: true });
    expectSealed(await rawValue(key));
    // Any isolate holding the key reads it, whatever its ENCRYPTED_RESOURCES says.
    expect((await api("GET", `/api/v1/namespaces/${ns}/configmaps/sealed`)).body.data.k).toBe(PASSWORD);
  });

  it("stays plaintext without ENCRYPTION_KEYS", async () => {
    const ns = await freshNamespace();
    const key = `/registry/secrets/${ns}/unkeyed`;
    const storage = new ObjectStorage({ ...env, ENCRYPTION_KEYS: undefined });
    await storage.create(key, { kind: "Secret", metadata: { name: "unkeyed", namespace: ns }, data: { password: PASSWORD_B64 } });
    expect(latin1(await rawValue(key))).toContain(PASSWORD_B64);
  });

  it("reads values written before encryption was configured, and seals them on update", async () => {
    const ns = await freshNamespace();
    const key = `/registry/secrets/${ns}/old`;
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "old", namespace: ns, uid: crypto.randomUUID(), creationTimestamp: "2024-01-01T00:00:00Z" }, type: "Opaque", data: { password: PASSWORD_B64 } };
    await putRaw(key, new TextEncoder().encode(JSON.stringify(secret)));

    const read = await api("GET", `/api/v1/namespaces/${ns}/secrets/old`);
    expect(read.body.data.password).toBe(PASSWORD_B64);
    const updated = await api("PUT", `/api/v1/namespaces/${ns}/secrets/old`, { ...read.body, metadata: { ...read.body.metadata, labels: { rotated: "yes" } } });
    expect(updated.status).toBe(200);
    expectSealed(await rawValue(key));
  });

  it("refuses a value copied to another key, saying why and nothing of the data", async () => {
    const ns = await freshNamespace();
    await createSecret(ns, "source");
    await createSecret(ns, "target");
    await putRaw(`/registry/secrets/${ns}/target`, await rawValue(`/registry/secrets/${ns}/source`));
    let res!: Awaited<ReturnType<typeof api>>;
    const logs = await logsDuring(async () => void (res = await api("GET", `/api/v1/namespaces/${ns}/secrets/target`)));
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ kind: "Status", reason: "InternalError", code: 500 });
    expect(res.body.message).toBe(`Internal error occurred: unable to transform key "/registry/secrets/${ns}/target": aesgcm key "test-key": message authentication failed (the value was altered, or was sealed for another key)`);
    expectNoSecretIn(res.text);
    expectNoSecretIn(logs);
  });

  it("refuses a tampered ciphertext with a 500 Status that carries no secret data", async () => {
    const ns = await freshNamespace();
    await createSecret(ns, "tampered");
    const key = `/registry/secrets/${ns}/tampered`;
    const sealed = await rawValue(key);
    sealed[sealed.length - 20]! ^= 1;
    await putRaw(key, sealed);
    let get!: Awaited<ReturnType<typeof api>>, list!: Awaited<ReturnType<typeof api>>;
    const logs = await logsDuring(async () => {
      get = await api("GET", `/api/v1/namespaces/${ns}/secrets/tampered`);
      list = await api("GET", `/api/v1/namespaces/${ns}/secrets`);
    });
    for (const res of [get, list]) {
      expect(res.status).toBe(500);
      expect(res.body.message).toContain("message authentication failed");
      expectNoSecretIn(res.text);
    }
    expectNoSecretIn(logs);
  });

  it("refuses a value sealed with a key it does not hold, and a bad ENCRYPTION_KEYS, without echoing key material", async () => {
    const ns = await freshNamespace();
    const key = `/registry/secrets/${ns}/elsewhere`;
    await new ObjectStorage({ ...env, ENCRYPTION_KEYS: NEW_KEY }).create(key, { kind: "Secret", metadata: { name: "elsewhere", namespace: ns }, data: { password: PASSWORD_B64 } });
    expectSealed(await rawValue(key), "new-key");
    const res = await api("GET", `/api/v1/namespaces/${ns}/secrets/elsewhere`);
    expect(res.status).toBe(500);
    expect(res.body.message).toContain(`sealed with the aesgcm key "new-key", which ENCRYPTION_KEYS does not hold`);
    expectNoSecretIn(res.text);

    const short = "short:" + btoa("sixteen bytes!!!");
    await expect(new ObjectStorage({ ...env, ENCRYPTION_KEYS: short }).get(key)).rejects.toThrow(/key "short" is 16 bytes, aesgcm keys are 32/);
    const bare = NEW_KEY.split(":")[1]!;
    const error = await new ObjectStorage({ ...env, ENCRYPTION_KEYS: bare }).get(key).catch((e: Error) => e);
    expect((error as Error).message).toContain("ENCRYPTION_KEYS entry 1 is not name:base64key");
    expect((error as Error).message).not.toContain(bare.slice(0, 8));
    await expect(new ObjectStorage({ ...env, ENCRYPTED_RESOURCES: "secret" }).get(key)).rejects.toThrow(/ENCRYPTED_RESOURCES names "secret", which is no stored resource/);
  });

  it("rotates: updates and the rewrite seal old-key and plaintext values with the first key", async () => {
    const ns = await freshNamespace();
    await createSecret(ns, "a");
    await createSecret(ns, "b");
    const plainKey = `/registry/secrets/${ns}/plain`;
    await putRaw(plainKey, new TextEncoder().encode(JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "plain", namespace: ns }, data: { password: PASSWORD_B64 } })));

    // An update through the registry store of an isolate with the new key first.
    const secrets = new RegistryStore(findResource("", "v1", "secrets")!, new ObjectStorage(rotated));
    await secrets.guaranteedUpdate(ns, "a", {}, (s) => ({ ...s, metadata: { ...s.metadata, labels: { touched: "yes" } } }));
    expectSealed(await rawValue(`/registry/secrets/${ns}/a`), "new-key");
    expectSealed(await rawValue(`/registry/secrets/${ns}/b`), "test-key");

    const rewrite = (e: Env, resource = "secrets", headers: Record<string, string> = AUTH) =>
      rewriteRoutes.request(`/rewrite?resource=${resource}`, { method: "POST", headers }, e);
    const res = await rewrite(rotated);
    expect(res.status).toBe(200);
    const counts = await res.json<any>();
    expect(counts).toMatchObject({ resource: "secrets", prefix: "/registry/secrets/" });
    expect(counts.rewritten).toBeGreaterThanOrEqual(2);
    expect(counts.objects).toBeGreaterThan(counts.rewritten);
    // The values earlier tests damaged are left as they are, and named (never their data).
    expect(counts.failed.map((f: { key: string }) => f.key)).toEqual(expect.arrayContaining([expect.stringMatching(/\/tampered$/), expect.stringMatching(/\/target$/)]));
    expectNoSecretIn(JSON.stringify(counts));
    for (const name of ["a", "b", "plain"]) expectSealed(await rawValue(`/registry/secrets/${ns}/${name}`), "new-key");
    expect((await secrets.get(ns, "plain")).data.password).toBe(PASSWORD_B64);
    expect((await (await rewrite(rotated)).json<any>()).rewritten).toBe(0);

    // Back to the tests' key, so the API (which holds only that one) reads every secret again.
    expect((await (await rewrite(rotatedBack)).json<any>()).rewritten).toBe(counts.objects - counts.failed.length);
    expectSealed(await rawValue(`/registry/secrets/${ns}/b`), "test-key");
    expect((await api("GET", `/api/v1/namespaces/${ns}/secrets/b`)).body.data.password).toBe(PASSWORD_B64);

    expect((await rewrite(env, "secrets", {})).status).toBe(401);
    const unknown = await rewrite(env, "secret");
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ kind: "Status", reason: "BadRequest", message: `"secret" is no stored resource` });
  });

  it("decrypts to plaintext when a resource is no longer encrypted and is rewritten", async () => {
    const ns = await freshNamespace();
    const configured = new ObjectStorage({ ...env, ENCRYPTED_RESOURCES: "secrets,configmaps" });
    const key = `/registry/configmaps/${ns}/was-sealed`;
    await configured.create(key, { kind: "ConfigMap", metadata: { name: "was-sealed", namespace: ns }, data: { k: PASSWORD } });
    expectSealed(await rawValue(key));
    const res = await rewriteRoutes.request("/rewrite?resource=configmaps", { method: "POST", headers: AUTH }, env);
    expect((await res.json<any>()).rewritten).toBeGreaterThanOrEqual(1);
    expect(latin1(await rawValue(key))).toContain(PASSWORD);
  });
});

// Webhook configurations in workerd: kube's defaults, and configurations refused at write time
// (service references, plain http off loopback, no v1 review version, bad timeouts, duplicate
// names); and a dry run refused before any call when a stored webhook has side effects.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../../lib/k8s/status.ts";
import { admissionregistrationResources } from "../registry/admissionregistration.ts";
import { findResource } from "../registry/index.ts";
import { RegistryStore } from "../registry/store.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { invalidateWebhookConfigurations, validatingAdmissionWebhook } from "./webhooks.ts";
import { rawApi } from "../../lib/client/testing.ts";

const VALIDATING = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations";
const MUTATING = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";

const api = (method: string, path: string, body?: unknown) => rawApi(method, path, body);

const suffix = () => crypto.randomUUID().slice(0, 6);
const created: string[] = [];

afterEach(async () => {
  for (const path of created.splice(0)) await api("DELETE", path);
  invalidateWebhookConfigurations();
});

function webhook(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "deny.example.com", admissionReviewVersions: ["v1"], sideEffects: "None",
    clientConfig: { url: "https://webhook.example.com/validate" },
    rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"] }],
    ...overrides,
  };
}

async function create(path: string, webhooks: Record<string, unknown>[]) {
  const name = `hooks-${suffix()}`;
  const res = await api("POST", path, { metadata: { name }, webhooks });
  if (res.status === 201) created.push(`${path}/${name}`);
  return res;
}

/** The causes of a 422, as "field: message". */
async function refused(path: string, webhooks: Record<string, unknown>[]): Promise<string[]> {
  const res = await create(path, webhooks);
  expect(res.status, JSON.stringify(res.body)).toBe(422);
  return res.body.details.causes.map((c: { field: string; message: string }) => `${c.field}: ${c.message}`);
}

describe("webhook configurations", () => {
  it("fills in kube's defaults", async () => {
    const mutating = await create(MUTATING, [webhook()]);
    expect(mutating.status, JSON.stringify(mutating.body)).toBe(201);
    expect(mutating.body.webhooks[0]).toMatchObject({
      failurePolicy: "Fail", matchPolicy: "Equivalent", namespaceSelector: {}, objectSelector: {}, timeoutSeconds: 10, reinvocationPolicy: "Never",
      rules: [{ scope: "*" }],
    });
    const validating = await create(VALIDATING, [webhook({ clientConfig: { url: "http://127.0.0.1:8443/validate" } })]);
    expect(validating.status, JSON.stringify(validating.body)).toBe(201);
    expect(validating.body.webhooks[0]).toMatchObject({ failurePolicy: "Fail", timeoutSeconds: 10 });
    expect(validating.body.webhooks[0].reinvocationPolicy).toBeUndefined();
  });

  it("refuses service references: the Worker has no cluster network", async () => {
    const causes = await refused(VALIDATING, [webhook({ clientConfig: { service: { name: "hook", namespace: "default" } } })]);
    expect(causes).toEqual(["webhooks[0].clientConfig.service: Forbidden: service references are not supported: this control plane has no cluster network; use url"]);
  });

  it("takes https anywhere and http only on loopback", async () => {
    for (const url of ["http://localhost:9443/", "http://[::1]:9443/x"]) expect((await create(MUTATING, [webhook({ clientConfig: { url } })])).status).toBe(201);
    const causes = await refused(MUTATING, [webhook({ clientConfig: { url: "http://webhook.example.com/mutate" } })]);
    expect(causes[0]).toMatch(/^webhooks\[0\]\.clientConfig\.url: Invalid value: "http": 'https' is the only allowed URL scheme/);
    expect(await refused(VALIDATING, [webhook({ clientConfig: { url: "https://user:pw@webhook.example.com/?a=b" } })])).toEqual([
      'webhooks[0].clientConfig.url: Invalid value: "": user information is not permitted in the URL',
      'webhooks[0].clientConfig.url: Invalid value: "a=b": query parameters are not permitted in the URL',
    ]);
    expect(await refused(VALIDATING, [webhook({ clientConfig: {} })])).toEqual(["webhooks[0].clientConfig: Required value: exactly one of url or service is required"]);
  });

  it("requires AdmissionReview v1 and sideEffects None or NoneOnDryRun", async () => {
    expect(await refused(VALIDATING, [webhook({ admissionReviewVersions: ["v1beta1"] })])).toEqual([
      'webhooks[0].admissionReviewVersions: Invalid value: ["v1beta1"]: must include at least one of v1',
    ]);
    expect(await refused(VALIDATING, [webhook({ admissionReviewVersions: [] })])).toEqual(["webhooks[0].admissionReviewVersions: Required value: must specify one of v1"]);
    expect(await refused(VALIDATING, [webhook({ sideEffects: "Some" })])).toEqual([
      'webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"',
    ]);
    expect(await refused(VALIDATING, [webhook({ sideEffects: undefined })])).toEqual(["webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun"]);
  });

  it("refuses timeouts outside 1..30 seconds", async () => {
    for (const timeoutSeconds of [0, 31]) {
      expect(await refused(MUTATING, [webhook({ timeoutSeconds })])).toEqual([`webhooks[0].timeoutSeconds: Invalid value: ${timeoutSeconds}: the timeout value must be between 1 and 30 seconds`]);
    }
  });

  it("requires fully qualified, unique names and compiling match conditions", async () => {
    expect(await refused(VALIDATING, [webhook(), webhook()])).toEqual(['webhooks[1].name: Duplicate value: "deny.example.com"']);
    expect(await refused(VALIDATING, [webhook({ name: "deny" })])).toEqual(['webhooks[0].name: Invalid value: "deny": should be a domain with at least three segments separated by dots']);
    const causes = await refused(VALIDATING, [webhook({ matchConditions: [{ name: "broken", expression: "object.metadata.name ==" }] })]);
    expect(causes[0]).toMatch(/^webhooks\[0\]\.matchConditions\[0\]\.expression: Invalid value: "object.metadata.name ==": compilation failed: /);
  });
});

describe("dry runs", () => {
  it("are refused before the call when a stored webhook may have side effects", async () => {
    // Validation no longer admits sideEffects Some; a stored one (as from an older apiserver) is still honoured.
    const def = admissionregistrationResources.find((d) => d.kind === "ValidatingWebhookConfiguration")!;
    const storage = new ObjectStorage(env);
    const name = `side-effects-${suffix()}`;
    const hook = { ...webhook({ name: "side-effects.example.com", sideEffects: "Some", clientConfig: { url: "https://webhook.invalid/" } }), failurePolicy: "Fail", namespaceSelector: {}, objectSelector: {} };
    await storage.create(new RegistryStore(def, storage).key(undefined, name), { apiVersion: "admissionregistration.k8s.io/v1", kind: def.kind, metadata: { name, uid: crypto.randomUUID() }, webhooks: [hook] });
    created.push(`${VALIDATING}/${name}`);
    invalidateWebhookConfigurations();
    const configmaps = findResource("", "v1", "configmaps")!;
    const attempt = Promise.resolve(validatingAdmissionWebhook.validate!({
      env, user: { name: "alice", uid: "u-1", groups: ["system:authenticated"] }, operation: "CREATE", def: configmaps, namespace: "default",
      object: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm", namespace: "default" } }, dryRun: true, warnings: [], reads: new Map(),
    }));
    const error = await attempt.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe(400);
    expect((error as ApiError).message).toBe('admission webhook "side-effects.example.com" does not support dry run');
  });
});

// Admission webhooks against a real control plane: a local webhook server (plain http on loopback,
// which the control plane allows there only) denies, patches, warns, stalls and answers garbage;
// the control plane calls it for the ConfigMaps its configurations select and answers as kube does.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { request } from "node:https";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { startControlPlane, type ControlPlane } from "../../scripts/dev-server.ts";

const VALIDATING = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations";
const MUTATING = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";

let hookServer: Server;
let hookUrl: string;
let plane: ControlPlane;
let dir: string;
/** The AdmissionReview requests the webhook server was sent, by path. */
const reviews = new Map<string, Record<string, any>[]>();

type Answer = { body: string } | { response: Record<string, unknown> };

/** What each path of the webhook server answers to a review. */
const HANDLERS: Record<string, (review: Record<string, any>) => Promise<Answer> | Answer> = {
  "/deny": (review) => review.request.object?.metadata?.labels?.deny === "true"
    ? { response: { allowed: false, status: { code: 403, message: "configmaps labelled deny are not allowed" } } }
    : { response: { allowed: true } },
  "/mutate": (review) => {
    const labels = review.request.object?.metadata?.labels;
    const patch = labels ? [{ op: "add", path: "/metadata/labels/mutated", value: "yes" }] : [{ op: "add", path: "/metadata/labels", value: { mutated: "yes" } }];
    return { response: { allowed: true, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(patch)).toString("base64") } };
  },
  "/slow": async () => {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return { response: { allowed: true } };
  },
  "/garbage": () => ({ body: "<html>not an AdmissionReview</html>" }),
  "/warn": () => ({ response: { allowed: true, warnings: ["configmaps here are watched", "second warning"] } }),
  "/record": () => ({ response: { allowed: true } }),
};

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

beforeAll(async () => {
  hookServer = createServer(async (req, res) => {
    const review = JSON.parse(await readBody(req));
    const path = req.url ?? "";
    reviews.set(path, [...(reviews.get(path) ?? []), review]);
    const answer = await HANDLERS[path]!(review);
    const body = "body" in answer ? answer.body
      : JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: review.request.uid, ...answer.response } });
    if (!res.destroyed) res.writeHead(200, { "Content-Type": "application/json" }).end(body);
  });
  await new Promise<void>((resolve) => hookServer.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), "edgeplane-webhooks-"));
  plane = await startControlPlane({ stateDir: join(dir, "state"), tlsDir: join(dir, "tls") });
});

afterAll(async () => {
  await plane?.stop();
  hookServer?.closeAllConnections();
  await new Promise((resolve) => hookServer?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  body: any;
  warnings: string[];
}

function api(method: string, path: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, plane.url);
    const req = request(url, {
      method, ca: plane.caPem, headers: { Authorization: `Bearer ${plane.token}`, "Content-Type": "application/json", Accept: "application/json" },
    }, async (res) => {
      const text = await readBody(res);
      // Each Warning header on its own (headers joins repeats with commas).
      const warnings = res.rawHeaders.filter((_, i) => i % 2 === 1 && res.rawHeaders[i - 1]!.toLowerCase() === "warning");
      resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, warnings });
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const suffix = () => Math.random().toString(36).slice(2, 8);
const created: string[] = [];

afterEach(async () => {
  for (const path of created.splice(0).reverse()) await api("DELETE", path);
});

/** A namespace of the test's own, labelled so only the test's webhooks select it. */
async function namespace(): Promise<string> {
  const name = `hooks-${suffix()}`;
  const res = await api("POST", "/api/v1/namespaces", { metadata: { name, labels: { "webhook-test": name } } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  created.push(`/api/v1/namespaces/${name}`);
  return name;
}

/** One configuration with one webhook on ConfigMap creates in the namespace `ns`. */
async function configuration(path: string, ns: string, hookPath: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const name = `${hookPath.slice(1)}.${ns}.example.com`;
  const res = await api("POST", path, {
    metadata: { name },
    webhooks: [{
      name, admissionReviewVersions: ["v1"], sideEffects: "None", clientConfig: { url: `${hookUrl}${hookPath}` },
      rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"] }],
      namespaceSelector: { matchLabels: { "webhook-test": ns } },
      ...overrides,
    }],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  created.push(`${path}/${name}`);
  return name;
}

function configMap(name: string, labels?: Record<string, string>) {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels }, data: { key: "value" } };
}

it("denies with the webhook's code and kube's words, and stores nothing", async () => {
  const ns = await namespace();
  const hook = await configuration(VALIDATING, ns, "/deny");
  const denied = await api("POST", `/api/v1/namespaces/${ns}/configmaps`, configMap("denied", { deny: "true" }));
  expect(denied.status).toBe(403);
  expect(denied.body.message).toBe(`admission webhook "${hook}" denied the request: configmaps labelled deny are not allowed`);
  expect((await api("GET", `/api/v1/namespaces/${ns}/configmaps/denied`)).status).toBe(404);
  expect((await api("POST", `/api/v1/namespaces/${ns}/configmaps`, configMap("allowed"))).status).toBe(201);
  // The review the webhook saw: AdmissionReview v1 with the request's attributes.
  // The root CA publisher's kube-root-ca.crt passes the webhook too, at its own pace: find ours.
  const review = reviews.get("/deny")!.filter((r) => r.request?.name === "allowed").at(-1)!;
  expect(review).toMatchObject({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" });
  expect(review.request).toMatchObject({
    kind: { group: "", version: "v1", kind: "ConfigMap" }, resource: { group: "", version: "v1", resource: "configmaps" },
    name: "allowed", namespace: ns, operation: "CREATE", object: { metadata: { name: "allowed" } }, oldObject: null, dryRun: false,
    options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1" },
  });
  expect(review.request.userInfo.username).toBeTruthy();
  expect(review.request.uid).toMatch(/^[0-9a-f-]{36}$/);
});

it("applies a mutating webhook's JSONPatch to the stored object", async () => {
  const ns = await namespace();
  await configuration(MUTATING, ns, "/mutate");
  const res = await api("POST", `/api/v1/namespaces/${ns}/configmaps`, configMap("patched", { app: "demo" }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.metadata.labels).toEqual({ app: "demo", mutated: "yes" });
  const stored = await api("GET", `/api/v1/namespaces/${ns}/configmaps/patched`);
  expect(stored.body.metadata.labels).toEqual({ app: "demo", mutated: "yes" });
});

it("calls only webhooks whose namespace and object selectors match", async () => {
  const ns = await namespace();
  const other = await namespace();
  await configuration(VALIDATING, ns, "/deny");
  // The other namespace is not selected: its labelled ConfigMaps pass.
  expect((await api("POST", `/api/v1/namespaces/${other}/configmaps`, configMap("elsewhere", { deny: "true" }))).status).toBe(201);
  // An object selector: only objects labelled checked=yes are sent.
  await configuration(VALIDATING, other, "/record", { objectSelector: { matchLabels: { checked: "yes" } } });
  const before = reviews.get("/record")?.length ?? 0;
  expect((await api("POST", `/api/v1/namespaces/${other}/configmaps`, configMap("unchecked"))).status).toBe(201);
  expect(reviews.get("/record")?.length ?? 0).toBe(before);
  expect((await api("POST", `/api/v1/namespaces/${other}/configmaps`, configMap("checked", { checked: "yes" }))).status).toBe(201);
  expect(reviews.get("/record")!.length).toBe(before + 1);
  expect(reviews.get("/record")!.at(-1)!.request.name).toBe("checked");
});

it("fails a request when a webhook times out with failurePolicy Fail, and passes it with Ignore", async () => {
  const ns = await namespace();
  const hook = await configuration(VALIDATING, ns, "/slow", { timeoutSeconds: 1, failurePolicy: "Fail" });
  const failed = await api("POST", `/api/v1/namespaces/${ns}/configmaps`, configMap("too-slow"));
  expect(failed.status).toBe(500);
  expect(failed.body.reason).toBe("InternalError");
  expect(failed.body.message).toContain(`Internal error occurred: failed calling webhook "${hook}": failed to call webhook: Post "${hookUrl}/slow": context deadline exceeded`);
  expect((await api("GET", `/api/v1/namespaces/${ns}/configmaps/too-slow`)).status).toBe(404);

  const lenient = await namespace();
  await configuration(VALIDATING, lenient, "/slow", { timeoutSeconds: 1, failurePolicy: "Ignore" });
  expect((await api("POST", `/api/v1/namespaces/${lenient}/configmaps`, configMap("ignored"))).status).toBe(201);
});

it("fails a request on a garbage answer with failurePolicy Fail", async () => {
  const ns = await namespace();
  const hook = await configuration(VALIDATING, ns, "/garbage");
  const failed = await api("POST", `/api/v1/namespaces/${ns}/configmaps`, configMap("garbled"));
  expect(failed.status).toBe(500);
  expect(failed.body.message).toBe(`Internal error occurred: failed calling webhook "${hook}": received invalid webhook response: the response is not JSON`);
});

it("passes a webhook's warnings on as Warning headers", async () => {
  const ns = await namespace();
  await configuration(VALIDATING, ns, "/warn");
  const res = await api("POST", `/api/v1/namespaces/${ns}/configmaps`, configMap("warned"));
  expect(res.status).toBe(201);
  expect(res.warnings).toEqual(['299 - "configmaps here are watched"', '299 - "second warning"']);
});

it("refuses webhooks with side effects, and sends dry runs to those without", async () => {
  const ns = await namespace();
  const sideEffects = await api("POST", VALIDATING, {
    metadata: { name: `side-effects-${ns}` },
    webhooks: [{ name: `side-effects.${ns}.example.com`, admissionReviewVersions: ["v1"], sideEffects: "Some", clientConfig: { url: `${hookUrl}/record` } }],
  });
  expect(sideEffects.status).toBe(422);
  expect(sideEffects.body.message).toContain('webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"');

  await configuration(VALIDATING, ns, "/record", { sideEffects: "NoneOnDryRun" });
  const dryRun = await api("POST", `/api/v1/namespaces/${ns}/configmaps?dryRun=All`, configMap("dry"));
  expect(dryRun.status, JSON.stringify(dryRun.body)).toBe(201);
  expect(reviews.get("/record")!.at(-1)!.request).toMatchObject({ name: "dry", dryRun: true, options: { dryRun: ["All"] } });
  expect((await api("GET", `/api/v1/namespaces/${ns}/configmaps/dry`)).status).toBe(404);
});

// The bad-input sweep of the security issue: thousands of generated hostile or malformed requests
// against a local control plane (forged and stale tokens, path traversal and odd encodings, huge
// headers and bodies, undecodable bodies, wrong content types, invalid patches and query
// parameters, methods a resource does not allow, malformed HTTP) — none may answer 5xx, answer
// an error that is not a Kubernetes Status, succeed without a valid credential, change the store,
// or let a Secret's value or a bearer token into an answer or a log line.
import { createHash, createHmac, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request, type RequestOptions } from "node:https";
import { connect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PROJECT_ROOT, startControlPlane, type ControlPlane } from "../../scripts/dev-server.ts";

/** BAD_INPUT_SEED=<n> replays a run: the same requests in the same order (tokens and keys aside). */
const SEED = Number(process.env.BAD_INPUT_SEED ?? 20_260_501);
/** Modest: two shared cores run wrangler, workerd and this client. */
const CONCURRENCY = 8;
const NS = "sweep";
/**
 * Where the requests aim that would delete something if mishandled: one such mistake then does not
 * change what the rest of the sweep tests in NS.
 */
const NS_DELETE = "sweep-delete";
const PUBLIC_PATHS = new Set(["/healthz", "/livez", "/readyz", "/version"]);
const MiB = 1024 * 1024;

type Headers = Record<string, string | string[]>;

type Category =
  | "tokens" | "paths" | "headers" | "oversized-bodies" | "invalid-bodies" | "content-types"
  | "patches" | "query" | "methods" | "malformed-http";

interface Probe {
  category: Category;
  /** What makes the request bad, without its random parts: failures are grouped by it. */
  variant: string;
  method: string;
  path: string;
  headers: Headers;
  body?: Buffer;
  /** Send the body chunked, without Content-Length. */
  chunked?: boolean;
  /** Hand-written bytes over a bare TLS socket instead of node:https. */
  raw?: Buffer;
  /** A watch may start: read the answer's beginning, then hang up. */
  stream?: boolean;
  /** Larger than HTTP servers must read: refusing the connection is an acceptable answer. */
  mayRefuse?: boolean;
  /** Carries no valid credential, so it must not succeed outside the public paths. */
  unauthenticated?: boolean;
  /** The admin writing the Secret: an accepted write answers with it, as kube's do. */
  adminWritesSecret?: boolean;
  /** The body holds the Secret's value: the answer may quote the sender's own bytes, no log may. */
  carriesSecret?: boolean;
}

interface Answer {
  status?: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The socket failed (or the server never answered) before a complete answer. */
  error?: string;
}

interface Violation {
  rule: string;
  probe: Probe;
  answer: Answer;
}

// ---- a seeded PRNG, so a failing request can be generated again ----

class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed;
  }
  /** mulberry32 */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  word(length: number, alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"): string {
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet[this.int(alphabet.length)];
    return out;
  }
  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
}

// ---- the control plane and its seeded state ----

let plane: ControlPlane;
let dir: string;
let port: number;
let agent: Agent;
let log = "";
const secretValue = randomBytes(24).toString("hex");
const secretForms = [secretValue, Buffer.from(secretValue).toString("base64"), Buffer.from(secretValue).toString("base64url")];
/** Every bearer token a request carried: none may reach the control plane's log. */
const tokensUsed = new Set<string>();
let robotToken: string;
let foreignAudienceToken: string;
let deletedAccountToken: string;
let continueToken: string;
let jwk: { kid: string; x: string; y: string; [k: string]: unknown };

const results: { probe: Probe; answer: Answer }[] = [];
const violations: Violation[] = [];
const refused: { probe: Probe; answer: Answer }[] = [];
let before: StoreDump;
let after: StoreDump;
let sweepSeconds = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgeplane-bad-input-"));
  // No scheduler: its own writes (conditions and Events on the sweep's pods) would blur "nothing changed".
  plane = await startControlPlane({ stateDir: join(dir, "state"), tlsDir: join(dir, "tls"), vars: { KUBE_SCHEDULER_ENABLED: "false" } });
  plane.process.stdout?.on("data", (d) => (log += d));
  plane.process.stderr?.on("data", (d) => (log += d));
  port = Number(new URL(plane.url).port);
  agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: plane.caPem });
  tokensUsed.add(plane.token);
  await seed();
  before = await settledDump();
  const probes = generate(new Rng(SEED));
  const started = Date.now();
  await sweep(probes);
  sweepSeconds = (Date.now() - started) / 1000;
  // Anything the sweep set off in the background (waitUntil) has had time to land.
  await new Promise((r) => setTimeout(r, 2000));
  after = await dump();
  report(probes);
}, 240_000);

afterAll(async () => {
  agent?.destroy();
  await plane?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---- HTTP ----

function send(probe: Probe, fresh = false): Promise<Answer> {
  if (probe.raw) return sendRaw(probe.raw);
  return new Promise((resolve) => {
    let settled = false;
    let status: number | undefined;
    let headers: Answer["headers"] = {};
    const chunks: Buffer[] = [];
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, headers, body: Buffer.concat(chunks), error });
    };
    const timer = setTimeout(() => {
      req.destroy();
      finish(status === undefined ? "no answer within 30 s" : "answer not finished within 30 s");
    }, 30_000);
    const requestHeaders: Headers = { ...probe.headers };
    if (probe.body && !probe.chunked) requestHeaders["content-length"] = String(probe.body.length);
    const options: RequestOptions = {
      host: "127.0.0.1", port, method: probe.method, path: probe.path, headers: requestHeaders,
      agent: fresh || probe.mayRefuse ? false : agent, ca: plane.caPem,
      // TLS names the server by the certificate, whatever Host header the probe sends.
      servername: "localhost",
    };
    let req: ReturnType<typeof request>;
    try {
      req = request(options, (res) => {
        status = res.statusCode;
        headers = res.headers;
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => finish());
        res.on("error", (e) => finish(e.message));
        if (probe.stream) setTimeout(() => { res.destroy(); finish(); }, 1500);
      });
    } catch (e) {
      clearTimeout(timer);
      throw new Error(`the client refused to send ${probe.category}/${probe.variant}: ${(e as Error).message}`);
    }
    req.on("error", (e: NodeJS.ErrnoException) => {
      // A keep-alive socket the server closed between two requests is the client's race, not an answer.
      if (!fresh && req.reusedSocket && status === undefined && e.code === "ECONNRESET" && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve(send(probe, true));
        return;
      }
      finish(`${e.code ?? ""} ${e.message}`.trim());
    });
    if (probe.body) req.end(probe.body);
    else req.end();
  });
}

/** One hand-written request over TLS; the answer is read until the server closes or 5 s pass. */
function sendRaw(bytes: Buffer): Promise<Answer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ host: "127.0.0.1", port, ca: plane.caPem }, () => socket.write(bytes));
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(chunks);
      const parsed = parseRawAnswer(data);
      resolve(parsed ?? { headers: {}, body: data, error: error ?? (data.length ? "unparseable answer" : "connection closed without an answer") });
    };
    const timer = setTimeout(() => finish("no answer within 5 s"), 5000);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      const parsed = parseRawAnswer(Buffer.concat(chunks));
      if (parsed?.complete) finish();
    });
    socket.on("end", () => finish());
    socket.on("error", (e: NodeJS.ErrnoException) => finish(`${e.code ?? ""} ${e.message}`.trim()));
  });
}

function parseRawAnswer(data: Buffer): (Answer & { complete: boolean }) | undefined {
  const end = data.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...lines] = data.subarray(0, end).toString("latin1").split("\r\n");
  const match = statusLine?.match(/^HTTP\/1\.[01] (\d{3})/);
  if (!match) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = data.subarray(end + 4);
  let complete = false;
  if (headers["transfer-encoding"]?.toLowerCase().includes("chunked")) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = body.indexOf("\r\n", at);
      if (lineEnd < 0) break;
      const size = parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
      if (!Number.isFinite(size)) break;
      if (size === 0) { complete = true; break; }
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    complete = body.length >= length;
    body = body.subarray(0, length);
  }
  return { status: Number(match[1]), headers, body, complete };
}

/** A legitimate admin (or robot) call while seeding: anything but success fails the test. */
async function call(method: string, path: string, body?: unknown, token = plane.token, contentType = "application/json"): Promise<any> {
  const answer = await send({
    category: "tokens", variant: "seed", method, path,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": contentType }) },
    body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
  });
  if (answer.error || answer.status === undefined || answer.status >= 300) {
    throw new Error(`${method} ${path}: ${answer.status ?? answer.error} ${answer.body.toString().slice(0, 500)}`);
  }
  return JSON.parse(answer.body.toString() || "{}");
}

async function status(path: string, token: string): Promise<number | undefined> {
  return (await send({ category: "tokens", variant: "seed", method: "GET", path, headers: { authorization: `Bearer ${token}` } })).status;
}

// ---- state ----

/** The audit log records every request by design: its events are scanned for leaks, not compared. */
const AUDIT_PREFIX = "/audit/";

interface StoreDump {
  /** Cluster state: key → mod_revision, the audit log left out. */
  keys: Map<string, string>;
  /** The audit log's events, as stored. */
  audit: string[];
}

/** The store shards wrangler.toml names (STORE_SHARDS), besides "main". */
function configuredShards(): string[] {
  const setting = /^STORE_SHARDS\s*=\s*"([^"]*)"/m.exec(readFileSync(join(PROJECT_ROOT, "wrangler.toml"), "utf8"))?.[1] ?? "";
  return setting.split(",").map((entry) => entry.split("=")[0]!.trim()).filter(Boolean);
}

/** Every key of every shard with its mod_revision, through the admin-only etcd gateway. */
async function dump(): Promise<StoreDump> {
  const keys = new Map<string, string>();
  const audit: string[] = [];
  for (const shard of ["main", ...configuredShards()]) {
    const range = await call("POST", `/etcd/shards/${shard}/v3/kv/range`, { key: "AA==", range_end: "AA==" });
    for (const kv of range.kvs ?? []) {
      const key = Buffer.from(kv.key, "base64").toString();
      if (key.startsWith(AUDIT_PREFIX)) audit.push(Buffer.from(kv.value ?? "", "base64").toString());
      else keys.set(key, String(kv.mod_revision));
    }
  }
  return { keys, audit };
}

/** A dump once two in a row agree: seeding may leave background writes behind. */
async function settledDump(): Promise<StoreDump> {
  let last = await dump();
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const next = await dump();
    if (storeChanges(last, next).length === 0) return next;
    last = next;
  }
  throw new Error("the store kept changing after seeding");
}

function configMap(name: string, data: Record<string, string> = { k: "v" }) {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data };
}

const POD = { apiVersion: "v1", kind: "Pod", metadata: { name: "web", labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "busybox" }] } };
const DEPLOYMENT = {
  apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" },
  spec: { replicas: 1, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "busybox" }] } } },
};

/**
 * A namespace with a Secret, a service account "robot" whose Role may read and write configmaps and
 * read pods and deployments (never secrets), tokens that must not work (another audience, a
 * deleted account's), and a second namespace, NS_DELETE, of objects that bad deletes aim at.
 */
async function seed(): Promise<void> {
  for (const name of [NS, NS_DELETE]) await call("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  const ns = `/api/v1/namespaces/${NS}`;
  await call("POST", `${ns}/secrets`, {
    apiVersion: "v1", kind: "Secret", metadata: { name: "vault" }, type: "Opaque", data: { password: Buffer.from(secretValue).toString("base64") },
  });
  for (const name of ["robot", "ghost"]) await call("POST", `${ns}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name } });
  await call("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
    apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "reader" },
    rules: [
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "create", "update", "patch"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"] },
    ],
  });
  await call("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
    apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "reader" },
    subjects: [{ kind: "ServiceAccount", name: "robot", namespace: NS }],
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "reader" },
  });
  for (const name of ["settings", "extra"]) await call("POST", `${ns}/configmaps`, configMap(name));
  for (const name of ["a", "b", "c"]) await call("POST", `/api/v1/namespaces/${NS_DELETE}/configmaps`, configMap(name));
  for (const namespace of [NS, NS_DELETE]) {
    await call("POST", `/api/v1/namespaces/${namespace}/pods`, POD);
    await call("POST", `/apis/apps/v1/namespaces/${namespace}/deployments`, DEPLOYMENT);
  }

  // A signature with "-" or "_" in it, so that its standard-base64 spelling is a different string.
  for (let i = 0; i < 20 && !/[-_]/.test(robotToken?.split(".")[2] ?? ""); i++) {
    robotToken = (await call("POST", `${ns}/serviceaccounts/robot/token`, { spec: {} })).status.token;
  }
  foreignAudienceToken = (await call("POST", `${ns}/serviceaccounts/robot/token`, { spec: { audiences: ["https://somewhere-else.example"] } })).status.token;
  deletedAccountToken = (await call("POST", `${ns}/serviceaccounts/ghost/token`, { spec: {} })).status.token;
  await call("DELETE", `${ns}/serviceaccounts/ghost`);
  tokensUsed.add(robotToken).add(foreignAudienceToken).add(deletedAccountToken);
  jwk = (await call("GET", "/openid/v1/jwks")).keys[0];
  continueToken = (await call("GET", `${ns}/configmaps?limit=1`, undefined, robotToken)).metadata.continue;

  // The sweep's premises: robot works where its Role says, the other two tokens nowhere.
  expect(await status(`${ns}/configmaps`, robotToken)).toBe(200);
  expect(await status(`${ns}/secrets/vault`, robotToken)).toBe(403);
  expect(await status(`${ns}/configmaps`, foreignAudienceToken)).toBe(401);
  expect(await status(`${ns}/configmaps`, deletedAccountToken)).toBe(401);
  expect(continueToken).toBeTruthy();
}

// ---- generated requests ----

const b64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const bearer = (token: string) => `Bearer ${token}`;

interface Target {
  method: string;
  path: string;
  body?: Buffer;
  contentType?: string;
  stream?: boolean;
}

/** Requests that would read or change something if the credential were accepted. */
function credentialTargets(): Target[] {
  const ns = `/api/v1/namespaces/${NS}`;
  return [
    { method: "GET", path: `${ns}/secrets/vault` },
    { method: "GET", path: `${ns}/secrets` },
    { method: "GET", path: "/api/v1/secrets" },
    { method: "GET", path: `${ns}/configmaps` },
    { method: "GET", path: `${ns}/secrets?watch=true`, stream: true },
    { method: "POST", path: `${ns}/configmaps`, body: json(configMap("forged")), contentType: "application/json" },
    { method: "PATCH", path: `${ns}/secrets/vault`, body: json({ metadata: { labels: { forged: "yes" } } }), contentType: "application/merge-patch+json" },
    { method: "DELETE", path: `${ns}/configmaps/settings` },
    { method: "POST", path: `${ns}/serviceaccounts/robot/token`, body: json({ spec: {} }), contentType: "application/json" },
    { method: "POST", path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", contentType: "application/json",
      body: json({ apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes: { verb: "get", resource: "secrets", namespace: NS } } }) },
    { method: "POST", path: "/apis/authentication.k8s.io/v1/selfsubjectreviews", body: json({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }), contentType: "application/json" },
    { method: "POST", path: "/etcd/v3/kv/range", body: json({ key: "AA==", range_end: "AA==" }), contentType: "application/json" },
    { method: "POST", path: "/etcd/v3/kv/put", body: json({ key: b64("/registry/configmaps/sweep/forged"), value: b64("{}") }), contentType: "application/json" },
    { method: "POST", path: "/etcd/shards/main/v3/kv/deleterange", body: json({ key: b64("/registry/secrets/sweep/vault") }), contentType: "application/json" },
    { method: "POST", path: "/admin/storage/rewrite?resource=secrets" },
    { method: "GET", path: "/audit/v1/events" },
    { method: "GET", path: "/api" },
    { method: "GET", path: "/apis/apps/v1" },
    { method: "GET", path: "/openapi/v2" },
    { method: "GET", path: "/openapi/v3" },
    { method: "GET", path: "/.well-known/openid-configuration" },
    { method: "GET", path: "/openid/v1/jwks" },
    { method: "GET", path: "/version" },
    { method: "GET", path: "/healthz" },
  ];
}

function b64(text: string): string {
  return Buffer.from(text).toString("base64");
}

/** Tokens that must not authenticate anyone: missing, malformed, forged, expired, for elsewhere. */
function forgedCredentials(rng: Rng): { variant: string; authorization?: string | string[] }[] {
  const [h, p, s] = robotToken.split(".") as [string, string, string];
  const header = JSON.parse(Buffer.from(h, "base64url").toString());
  const payload = JSON.parse(Buffer.from(p, "base64url").toString());
  const now = Math.floor(Date.now() / 1000);
  const unsigned = (hdr: object, pl: object) => `${b64url(JSON.stringify(hdr))}.${b64url(JSON.stringify(pl))}`;
  const withSignature = (hdr: object, pl: object, signature = s) => `${unsigned(hdr, pl)}.${signature}`;
  const es256 = (key: KeyObject, hdr: object, pl: object) => {
    const input = unsigned(hdr, pl);
    return `${input}.${b64url(sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }))}`;
  };
  const hs256 = (secret: string | Buffer, pl: object = payload, hdr: object = { ...header, alg: "HS256" }) => {
    const input = unsigned(hdr, pl);
    return `${input}.${b64url(createHmac("sha256", secret).update(input).digest())}`;
  };
  const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const strangerJwk = stranger.publicKey.export({ format: "jwk" });
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const rs256Input = unsigned({ ...header, alg: "RS256" }, payload);
  const rs256 = `${rs256Input}.${b64url(sign("sha256", Buffer.from(rs256Input), rsa.privateKey))}`;
  const publicPem = createPublicKey({ key: jwk as any, format: "jwk" }).export({ type: "spki", format: "pem" }).toString();
  const claims = payload["kubernetes.io"];
  const admin = plane.token;
  const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);

  const list: { variant: string; authorization?: string | string[] }[] = [
    { variant: "no Authorization header" },
    { variant: "empty Authorization", authorization: "" },
    { variant: "Bearer without token", authorization: "Bearer" },
    { variant: "Bearer and a space", authorization: "Bearer " },
    { variant: "Basic credentials", authorization: `Basic ${b64(`admin:${admin}`)}` },
    { variant: "other scheme", authorization: `Token ${admin}` },
    { variant: "two tokens in one header", authorization: `Bearer ${rng.word(20)} ${rng.word(20)}` },
    { variant: "two bad Authorization headers", authorization: [`Bearer ${rng.word(43)}`, `Bearer ${flip(robotToken, robotToken.length - 5)}`] },
    { variant: "admin token with a char more", authorization: bearer(`${admin}x`) },
    { variant: "admin token one char short", authorization: bearer(admin.slice(0, -1)) },
    { variant: "admin token with a char changed", authorization: bearer(flip(admin, 7)) },
    { variant: "admin token upper-cased", authorization: bearer(admin.toUpperCase() === admin ? `${admin}Z` : admin.toUpperCase()) },
    { variant: "admin token's SHA-256 (the stored digest)", authorization: bearer(sha256(admin)) },
    { variant: "admin token base64-encoded", authorization: bearer(b64(admin)) },
    { variant: "random opaque token", authorization: bearer(rng.word(43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")) },
    { variant: "bootstrap-token shaped", authorization: bearer(`${rng.word(6)}.${rng.word(16)}`) },
    { variant: "token for another audience", authorization: bearer(foreignAudienceToken) },
    { variant: "token of a deleted service account", authorization: bearer(deletedAccountToken) },
    { variant: "payload: another service account", authorization: bearer(withSignature(header, { ...payload, sub: "system:serviceaccount:kube-system:default", "kubernetes.io": { ...claims, namespace: "kube-system" } })) },
    { variant: "payload: expired", authorization: bearer(withSignature(header, { ...payload, exp: now - 3600, iat: now - 7200, nbf: now - 7200 })) },
    { variant: "payload: not yet valid", authorization: bearer(withSignature(header, { ...payload, nbf: now + 86_400 })) },
    { variant: "payload: other audience", authorization: bearer(withSignature(header, { ...payload, aud: ["https://somewhere-else.example"] })) },
    { variant: "payload: other issuer", authorization: bearer(withSignature(header, { ...payload, iss: "https://evil.example" })) },
    { variant: "payload: groups claim system:masters", authorization: bearer(withSignature(header, { ...payload, groups: ["system:masters"] })) },
    { variant: "payload: exp as string", authorization: bearer(withSignature(header, { ...payload, exp: "99999999999" })) },
    { variant: "payload: exp 1e308", authorization: bearer(withSignature(header, { ...payload, exp: 1e308 })) },
    { variant: "payload: not JSON", authorization: bearer(`${h}.${b64url("not json")}.${s}`) },
    { variant: "payload: JSON array", authorization: bearer(`${h}.${b64url("[1,2]")}.${s}`) },
    { variant: "payload: 100 KiB", authorization: bearer(withSignature(header, { ...payload, pad: rng.word(100 * 1024) })) },
    { variant: "header: not JSON", authorization: bearer(`${b64url("{alg")}.${p}.${s}`) },
    { variant: "alg none, no signature", authorization: bearer(`${unsigned({ alg: "none", typ: "JWT" }, payload)}.`) },
    { variant: "alg none, original signature", authorization: bearer(withSignature({ alg: "none", typ: "JWT" }, payload)) },
    { variant: "alg None, expired payload", authorization: bearer(`${unsigned({ alg: "None" }, { ...payload, exp: now - 10 })}.`) },
    { variant: "alg NONE, other account", authorization: bearer(`${unsigned({ alg: "NONE" }, { ...payload, "kubernetes.io": { ...claims, serviceaccount: { name: "default", uid: "x" } } })}.`) },
    { variant: "HS256 keyed with the public JWK", authorization: bearer(hs256(JSON.stringify(jwk))) },
    { variant: "HS256 keyed with the public PEM", authorization: bearer(hs256(publicPem)) },
    { variant: "HS256 keyed with x", authorization: bearer(hs256(Buffer.from(jwk.x, "base64url"))) },
    { variant: "HS256 keyed with nothing", authorization: bearer(hs256("")) },
    { variant: "HS256 keyed with kid", authorization: bearer(hs256(jwk.kid)) },
    { variant: "ES256 by a stranger's key", authorization: bearer(es256(stranger.privateKey, header, payload)) },
    { variant: "ES256 by a stranger's key, expired", authorization: bearer(es256(stranger.privateKey, header, { ...payload, exp: now - 60 })) },
    { variant: "ES256 by a stranger's key, embedded jwk", authorization: bearer(es256(stranger.privateKey, { alg: "ES256", jwk: strangerJwk }, payload)) },
    { variant: "ES256 by a stranger's key, jku", authorization: bearer(es256(stranger.privateKey, { alg: "ES256", kid: "x", jku: "https://evil.example/jwks" }, payload)) },
    { variant: "ES256 by a stranger's key, kid traversal", authorization: bearer(es256(stranger.privateKey, { alg: "ES256", kid: "../../../../dev/null" }, payload)) },
    { variant: "RS256 by a stranger's key", authorization: bearer(rs256) },
    { variant: "ES256 signature all zeros (r=s=0)", authorization: bearer(withSignature(header, payload, b64url(Buffer.alloc(64)))) },
    { variant: "ES256 signature r=s=n", authorization: bearer(withSignature(header, payload, b64url(Buffer.concat([P256_ORDER, P256_ORDER])))) },
    { variant: "signature truncated by one", authorization: bearer(robotToken.slice(0, -1)) },
    { variant: "signature halved", authorization: bearer(robotToken.slice(0, robotToken.length - Math.floor(s.length / 2))) },
    { variant: "signature removed", authorization: bearer(`${h}.${p}.`) },
    { variant: "signature a char changed", authorization: bearer(flip(robotToken, robotToken.length - 3)) },
    { variant: "signature DER-encoded", authorization: bearer(`${h}.${p}.${b64url(derSignature(Buffer.from(s, "base64url")))}`) },
    { variant: "two segments", authorization: bearer(`${h}.${p}`) },
    { variant: "four segments", authorization: bearer(`${robotToken}.${s}`) },
    { variant: "signature in standard base64", authorization: bearer(`${h}.${p}.${Buffer.from(s, "base64url").toString("base64")}`) },
    { variant: "header and payload in standard base64", authorization: bearer(`${Buffer.from(h, "base64url").toString("base64")}.${Buffer.from(p, "base64url").toString("base64")}.${s}`) },
    { variant: "non-base64 characters", authorization: bearer(`${h}.${p}!*.${s}`) },
    { variant: "eyJ garbage", authorization: bearer(`eyJ${rng.word(30)}.eyJ${rng.word(30)}.${rng.word(40)}`) },
    { variant: "token then garbage", authorization: `Bearer ${robotToken}, Bearer ${rng.word(10)}` },
    { variant: "lower-case scheme, forged", authorization: `bearer ${withSignature(header, { ...payload, exp: now - 1 })}` },
    { variant: "percent-encoded NUL inside token", authorization: `Bearer ${h}%00.${p}.${s}` },
  ];
  return list;
}

/** The order of P-256, for the r=s=n signature that broken ECDSA verifiers accept. */
const P256_ORDER = Buffer.from("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hex");

function derSignature(p1363: Buffer): Buffer {
  const int = (b: Buffer) => {
    let v = b;
    while (v.length > 1 && v[0] === 0) v = v.subarray(1);
    if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([int(p1363.subarray(0, 32)), int(p1363.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function generate(rng: Rng): Probe[] {
  const probes: Probe[] = [];
  const add = (probe: Probe) => probes.push(probe);
  tokenProbes(rng, 600, add);
  pathProbes(rng, 550, add);
  headerProbes(rng, 150, add);
  oversizedBodyProbes(rng, add);
  invalidBodyProbes(rng, 550, add);
  secretCarryingProbes(rng, 30, add);
  contentTypeProbes(rng, 200, add);
  patchProbes(rng, 450, add);
  queryProbes(rng, 350, add);
  methodProbes(rng, 200, add);
  malformedHttpProbes(rng, add);
  // Interleaved, so that no category's load or side effect lands on one stretch of time.
  for (let i = probes.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [probes[i], probes[j]] = [probes[j]!, probes[i]!];
  }
  return probes;
}

type Add = (probe: Probe) => void;

function withContentType(headers: Headers, target: { body?: Buffer; contentType?: string }): Headers {
  return target.contentType ? { ...headers, "content-type": target.contentType } : headers;
}

function tokenProbes(rng: Rng, count: number, add: Add): void {
  const credentials = forgedCredentials(rng);
  const targets = credentialTargets();
  for (const { authorization } of credentials) {
    for (const value of [authorization ?? []].flat()) if (value.length > 16) tokensUsed.add(value.replace(/^\S+\s+/, ""));
  }
  for (let i = 0; i < count; i++) {
    const credential = credentials[i % credentials.length]!;
    const target = rng.pick(targets);
    const headers: Headers = credential.authorization === undefined ? {} : { authorization: credential.authorization };
    add({
      category: "tokens", variant: credential.variant, method: target.method, path: target.path, headers: withContentType(headers, target),
      body: target.body, stream: target.stream, unauthenticated: true,
    });
  }
}

/** Ways to climb out of a path segment, spelled every way a decoder might honour. */
const DOT_DOTS = ["..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "%252e%252e", "%c0%ae%c0%ae", "%ef%bc%8e%ef%bc%8e", "..%00", "..;", "...", "....", ".%00."];
const SEPARATORS = ["/", "%2f", "%2F", "\\", "%5c", "%255c", "%252f", "//", "/./", ";/"];
/** Odd spellings appended to or replacing a segment; none can climb out of it. */
const ODD_SUFFIXES = [
  "%00", "%00.json", "%0d%0aX-Injected:%20yes", "%0a", "%ff", "%fe%ff", "%c0%80", "%", "%z", "%4", "%%41", "%u0041", "%25",
  "%2500", ";jsessionid=x", "%23", "%3f", "%20", "+", "\u00e9", "%e2%80%ae", "%ef%bb%bf", "%f0%9f%98%80", "%ed%a0%80", "%f8%88%80%80%80",
  "#fragment", "?", ".json", "/", "%09", "%7f", "~", "*", "%2a", "'", "\"", "<script>", "${jndi:ldap://x}",
];

function pathProbes(rng: Rng, count: number, add: Add): void {
  const ns = `/api/v1/namespaces/${NS}`;
  const climbs = (): string => {
    const dots = rng.pick(DOT_DOTS);
    const sep = rng.pick(SEPARATORS);
    switch (rng.int(8)) {
      case 0: return `${ns}/configmaps/${dots}${sep}secrets${sep}vault`;
      case 1: return `${ns}/configmaps/settings/${dots}${sep}${dots}${sep}secrets${sep}vault`;
      case 2: return `${ns}/configmaps/${dots}${sep}${dots}${sep}${dots}${sep}${dots}${sep}${dots}${sep}etcd${sep}v3${sep}kv${sep}range`;
      case 3: return `/api/v1/namespaces/${NS}${sep}${dots}${sep}kube-system/secrets`;
      case 4: return `/api/v1/namespaces/${dots}/namespaces/${NS}/secrets/vault`;
      case 5: return `${ns}/pods/web/${dots}${sep}${dots}${sep}secrets/vault`;
      case 6: return `/apis/apps/v1/namespaces/${NS}/deployments/web/${dots}${sep}${dots}${sep}${dots}${sep}${dots}${sep}api${sep}v1${sep}namespaces${sep}${NS}${sep}secrets`;
      default: return `${ns}/configmaps/${encodeURIComponent(`../secrets/vault`)}`;
    }
  };
  const ordinary = [
    `${ns}/configmaps/settings`, `${ns}/configmaps`, `${ns}/pods/web`, `${ns}/pods/web/status`, `/apis/apps/v1/namespaces/${NS}/deployments/web/scale`,
    `/api/v1/namespaces/${NS}`, "/api/v1", "/apis/apps/v1", "/openapi/v3/apis/apps/v1", "/openapi/v2", "/version", "/healthz", "/readyz",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/sweep/roles/reader", "/.well-known/openid-configuration",
  ];
  const sensitive = [`${ns}/secrets/vault`, `${ns}/secrets`, "/api/v1/secrets", "/api/v1/namespaces/kube-system/secrets", "/etcd/v3/kv/range"];
  const oddly = (base: string): { variant: string; path: string; mayRefuse?: boolean } => {
    const segments = base.split("/");
    const at = 1 + rng.int(segments.length - 1);
    switch (rng.int(7)) {
      case 0: {
        const suffix = rng.pick(ODD_SUFFIXES);
        segments[at] += suffix;
        return { variant: `segment + ${suffix}`, path: segments.join("/") };
      }
      case 1: {
        const length = rng.pick([256, 4096, 16_384, 65_536, 262_144]);
        segments[at] = rng.word(length);
        return { variant: `segment of ${length} chars`, path: segments.join("/"), mayRefuse: length > 8000 };
      }
      case 2: {
        const count = rng.pick([50, 1000, 5000]);
        return { variant: `${count} extra segments`, path: base + "/x".repeat(count), mayRefuse: count > 1000 };
      }
      case 3: {
        segments.splice(at, 0, "");
        return { variant: "empty segment", path: segments.join("/") + (rng.chance(0.3) ? "//" : "") };
      }
      case 4: {
        const word = rng.pick(["名前", "ｓｅｃｒｅｔｓ", "secrets\u200b", "\u202egnp", "😀", "Ω", "ǅ", "ﬁ"]);
        segments[at] = encodeURIComponent(word);
        return { variant: `unicode segment ${word}`, path: segments.join("/") };
      }
      case 5: {
        segments[at] = segments[at]!.toUpperCase();
        return { variant: "upper-cased segment", path: segments.join("/") };
      }
      default: {
        segments[at] = encodeURIComponent(encodeURIComponent(segments[at]!)).replace(/[a-z]/g, (c) => `%25${c.charCodeAt(0).toString(16)}`);
        return { variant: "double-encoded segment", path: segments.join("/") };
      }
    }
  };
  for (let i = 0; i < count; i++) {
    const who = rng.pick(["robot", "robot", "none", "admin"] as const);
    if (who === "admin") {
      // The admin may read anything, so its requests keep to ordinary paths and spellings that cannot climb.
      const { variant, path, mayRefuse } = oddly(rng.pick(ordinary));
      add({ category: "paths", variant: `admin, ${variant}`, method: "GET", path, headers: { authorization: bearer(plane.token) }, mayRefuse });
      continue;
    }
    const headers: Headers = who === "robot" ? { authorization: bearer(robotToken) } : {};
    const method = rng.pick(["GET", "GET", "GET", "DELETE", "PATCH"]);
    const body = method === "PATCH" ? json({ metadata: { labels: { climbed: "yes" } } }) : undefined;
    if (body) headers["content-type"] = "application/merge-patch+json";
    if (rng.chance(0.6)) {
      add({ category: "paths", variant: `${who}, climbing out`, method, path: climbs(), headers, body, unauthenticated: who === "none" });
    } else {
      const { variant, path, mayRefuse } = oddly(rng.pick([...ordinary, ...sensitive]));
      add({ category: "paths", variant: `${who}, ${variant}`, method, path, headers, body, mayRefuse, unauthenticated: who === "none" });
    }
  }
}

function headerProbes(rng: Rng, count: number, add: Add): void {
  const ns = `/api/v1/namespaces/${NS}`;
  const cm = json(configMap(`header-${rng.word(6)}`));
  const kinds: (() => Omit<Probe, "category">)[] = [
    () => {
      const size = rng.pick([4096, 8192, 16_384, 32_768, 65_536, 131_072, 1 * MiB]);
      return { variant: `one ${size}-byte header`, method: "GET", path: `${ns}/configmaps`, headers: { authorization: bearer(robotToken), "x-padding": rng.word(size) }, mayRefuse: size > 8000 };
    },
    () => {
      const n = rng.pick([50, 100, 200, 1000, 4000]);
      const headers: Headers = { authorization: bearer(robotToken) };
      for (let i = 0; i < n; i++) headers[`x-h-${i}`] = rng.word(16);
      return { variant: `${n} headers`, method: "GET", path: `${ns}/secrets/vault`, headers, mayRefuse: n >= 100 };
    },
    () => {
      const size = rng.pick([4096, 65_536, 1 * MiB]);
      const token = rng.word(size, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.");
      if (size <= 65_536) tokensUsed.add(token);
      return { variant: `${size}-byte bearer token`, method: "GET", path: `${ns}/secrets`, headers: { authorization: bearer(token) }, mayRefuse: size > 8000, unauthenticated: true };
    },
    () => ({ variant: "64 KiB cookie", method: "GET", path: `${ns}/configmaps`, headers: { authorization: bearer(robotToken), cookie: `session=${rng.word(65_536)}` }, mayRefuse: true }),
    () => ({ variant: "600-byte User-Agent on a dry-run create", method: "POST", path: `${ns}/configmaps?dryRun=All`, body: cm,
      headers: { authorization: bearer(plane.token), "content-type": "application/json", "user-agent": rng.word(600) } }),
    () => ({ variant: "Impersonate-Group without a user (admin)", method: "GET", path: `${ns}/configmaps`, headers: { authorization: bearer(plane.token), "impersonate-group": "system:masters" } }),
    () => ({ variant: "Impersonate-Group without a user (robot)", method: "GET", path: `${ns}/secrets/vault`, headers: { authorization: bearer(robotToken), "impersonate-group": "system:masters" } }),
    () => ({ variant: "Impersonate-Uid without a user", method: "GET", path: `${ns}/configmaps`, headers: { authorization: bearer(robotToken), "impersonate-uid": "0" } }),
    () => ({ variant: "robot impersonates the admin", method: "GET", path: `${ns}/secrets/vault`,
      headers: { authorization: bearer(robotToken), "impersonate-user": "kubernetes-admin", "impersonate-group": "system:masters" } }),
    () => ({ variant: "robot impersonates a controller", method: "GET", path: `${ns}/secrets/vault`, headers: { authorization: bearer(robotToken), "impersonate-user": "system:kube-controller-manager" } }),
    () => ({ variant: "admin impersonates nobody in particular", method: "GET", path: `${ns}/configmaps`,
      headers: { authorization: bearer(plane.token), "impersonate-user": rng.pick(["", " ", "system:serviceaccount::", "system:serviceaccount:a:b:c", rng.word(300), "\u00e9\u00e8"]) } }),
    () => ({ variant: "admin impersonates robot, reads a secret", method: "GET", path: `${ns}/secrets/vault`,
      headers: { authorization: bearer(plane.token), "impersonate-user": `system:serviceaccount:${NS}:robot` } }),
    () => ({ variant: "odd Impersonate-Extra", method: "GET", path: `${ns}/configmaps`,
      headers: { authorization: bearer(robotToken), "impersonate-user": "x", [`impersonate-extra-${rng.pick(["%zz", "a%2Fb", "scopes"])}`]: rng.word(20) } }),
    () => ({ variant: "garbage Accept", method: "GET", path: rng.pick([`${ns}/configmaps`, `${ns}/configmaps/settings`, "/api", "/apis", "/openapi/v2", "/openapi/v3"]),
      headers: { authorization: bearer(plane.token), accept: rng.pick([
        "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io", "*/*;q=abc", "text/html", "application/json;as=Bogus;g=meta.k8s.io;v=v1",
        "application/json;g=apidiscovery.k8s.io;v=v9;as=APIGroupDiscoveryList", ",,,;;;", "application/json;q=0", rng.word(9000), "image/png, */*;q=-1",
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf;q=x",
      ]) } }),
    () => ({ variant: "robot, garbage Accept on a secret", method: "GET", path: `${ns}/secrets/vault`, headers: { authorization: bearer(robotToken), accept: "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1" } }),
    () => ({ variant: "Content-Encoding with undecodable body", method: "POST", path: `${ns}/configmaps`, body: rng.bytes(64),
      headers: { authorization: bearer(rng.pick([plane.token, robotToken])), "content-type": "application/json", "content-encoding": rng.pick(["gzip", "br", "deflate", "zstd", "bogus"]) } }),
    () => ({ variant: "X-HTTP-Method-Override: DELETE", method: "GET", path: `/api/v1/namespaces/${NS_DELETE}/configmaps/c`,
      headers: { authorization: bearer(plane.token), "x-http-method-override": "DELETE", "x-http-method": "DELETE", "x-method-override": "DELETE" } }),
    () => ({ variant: "X-Original-URL toward a secret", method: "GET", path: `${ns}/configmaps/settings`,
      headers: { authorization: bearer(robotToken), "x-original-url": `${ns}/secrets/vault`, "x-rewrite-url": `${ns}/secrets/vault`, "x-forwarded-prefix": "/api/v1/secrets" } }),
    () => ({ variant: "odd Host", method: "GET", path: rng.pick([`${ns}/secrets/vault`, `${ns}/configmaps`, "/api"]),
      headers: { authorization: bearer(robotToken), host: rng.pick(["evil.example", "127.0.0.1:1", "[::1", "a..b", "localhost:99999", rng.word(5000), "\u00e9.example", "x@y"]) } }),
    () => ({ variant: "Latin-1 bytes in header values", method: "GET", path: `${ns}/configmaps`,
      headers: { authorization: bearer(robotToken), "x-latin": "\u00ff\u00fe\u0080", "user-agent": "kubectl\u00e9/v1.30" } }),
    () => ({ variant: "Forwarded identity headers", method: "GET", path: `${ns}/secrets/vault`,
      headers: { "x-remote-user": "kubernetes-admin", "x-remote-group": "system:masters", "x-forwarded-user": "admin", "x-forwarded-for": "127.0.0.1" }, unauthenticated: true }),
  ];
  for (let i = 0; i < count; i++) add({ category: "headers", ...rng.pick(kinds)() });
}

function oversizedBodyProbes(rng: Rng, add: Add): void {
  const ns = `/api/v1/namespaces/${NS}`;
  const bigConfigMap = (name: string, bytes: number, filler = "a") => json({ ...configMap(name), data: { big: filler.repeat(Math.ceil(bytes / Buffer.byteLength(filler))) } });
  const cases: [string, Target & { headers: Headers; chunked?: boolean }][] = [
    ["3 MiB + 1 create, Content-Length", { method: "POST", path: `${ns}/configmaps`, body: Buffer.concat([bigConfigMap("big", 3 * MiB - 60), Buffer.alloc(100, 32)]).subarray(0, 3 * MiB + 1), headers: {} }],
    ["4 MiB create, Content-Length", { method: "POST", path: `${ns}/configmaps`, body: bigConfigMap("big", 4 * MiB), headers: {} }],
    ["4 MiB create, chunked", { method: "POST", path: `${ns}/configmaps`, body: bigConfigMap("big", 4 * MiB), headers: {}, chunked: true }],
    ["16 MiB create, chunked", { method: "POST", path: `${ns}/configmaps`, body: bigConfigMap("big", 16 * MiB), headers: {}, chunked: true }],
    ["3.2 MiB of 2-byte characters in 1.6 M chars, chunked", { method: "POST", path: `${ns}/configmaps`, body: bigConfigMap("wide", 3.2 * MiB, "\u00e9"), headers: {}, chunked: true }],
    ["2 MiB configmap (over etcd's 1.5 MiB)", { method: "POST", path: `${ns}/configmaps`, body: bigConfigMap("two-mib", 2 * MiB), headers: {} }],
    ["1.2 MiB configmap (over kube's 1 MiB data limit)", { method: "POST", path: `${ns}/configmaps`, body: bigConfigMap("one-mib", 1.2 * MiB), headers: {} }],
    ["300 KiB annotation (over kube's 256 KiB)", { method: "POST", path: `${ns}/configmaps`,
      body: json({ ...configMap("annotated"), metadata: { name: "annotated", annotations: { big: "a".repeat(300 * 1024) } } }), headers: {} }],
    ["4 MiB replace", { method: "PUT", path: `${ns}/configmaps/settings`, body: bigConfigMap("settings", 4 * MiB), headers: {} }],
    ["2 MiB replace", { method: "PUT", path: `${ns}/configmaps/settings`, body: bigConfigMap("settings", 2 * MiB), headers: {} }],
    ["4 MiB merge patch, chunked", { method: "PATCH", path: `${ns}/configmaps/settings`, body: json({ data: { big: "a".repeat(4 * MiB) } }), contentType: "application/merge-patch+json", headers: {}, chunked: true }],
    ["4 MiB JSON patch", { method: "PATCH", path: `${ns}/configmaps/settings`, body: json([{ op: "add", path: "/data/big", value: "a".repeat(4 * MiB) }]), contentType: "application/json-patch+json", headers: {} }],
    ["2 MiB JSON patch", { method: "PATCH", path: `${ns}/configmaps/settings`, body: json([{ op: "add", path: "/data/big", value: "a".repeat(2 * MiB) }]), contentType: "application/json-patch+json", headers: {} }],
    ["4 MiB apply", { method: "PATCH", path: `${ns}/configmaps/settings?fieldManager=big`, body: bigConfigMap("settings", 4 * MiB), contentType: "application/apply-patch+yaml", headers: {} }],
    ["4 MiB protobuf", { method: "POST", path: `${ns}/configmaps`, body: Buffer.concat([PROTOBUF_MAGIC, rng.bytes(4 * MiB)]), contentType: "application/vnd.kubernetes.protobuf", headers: {} }],
    ["4 MiB token request", { method: "POST", path: `${ns}/serviceaccounts/robot/token`, body: json({ spec: { audiences: ["a".repeat(4 * MiB)] } }), headers: {} }],
    ["4 MiB access review", { method: "POST", path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
      body: json({ apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes: { verb: "a".repeat(4 * MiB) } } }), headers: {} }],
    ["4 MiB etcd put", { method: "POST", path: "/etcd/v3/kv/put", body: json({ key: b64("/registry/configmaps/sweep/big"), value: b64("a".repeat(4 * MiB)) }), headers: {} }],
    ["4 MiB delete options", { method: "DELETE", path: `${ns}/configmaps/does-not-exist`, body: json({ propagationPolicy: "a".repeat(4 * MiB) }), headers: {} }],
    ["4 MiB unauthenticated create", { method: "POST", path: `${ns}/configmaps`, body: bigConfigMap("big", 4 * MiB), headers: { authorization: "" } }],
  ];
  for (const [variant, t] of cases) {
    const token = t.headers.authorization === "" ? undefined : plane.token;
    const headers: Headers = { "content-type": t.contentType ?? "application/json", ...(token ? { authorization: bearer(token) } : {}) };
    if (t.chunked) headers["transfer-encoding"] = "chunked";
    // Refusing a body by its size, workerd answers without reading it and closes the connection, so
    // a client still writing may see EPIPE before the answer: a refusal at the socket.
    add({ category: "oversized-bodies", variant, method: t.method, path: t.path, headers, body: t.body, chunked: t.chunked, unauthenticated: !token, mayRefuse: true });
  }
}

const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** A length-delimited protobuf field. */
function field(number: number, bytes: Buffer): Buffer {
  return Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
}

/** runtime.Unknown: the envelope of every Kubernetes protobuf body. */
function unknown(apiVersion: string, kind: string, raw: Buffer): Buffer {
  return Buffer.concat([PROTOBUF_MAGIC, field(1, Buffer.concat([field(1, Buffer.from(apiVersion)), field(2, Buffer.from(kind))])), field(2, raw)]);
}

interface WriteTarget {
  method: "POST" | "PUT" | "DELETE";
  path: string;
  apiVersion: string;
  kind: string;
  /** The name the URL gives, for updates. */
  name?: string;
}

function writeTargets(): WriteTarget[] {
  const ns = `/api/v1/namespaces/${NS}`;
  const rbac = `/apis/rbac.authorization.k8s.io/v1`;
  return [
    { method: "POST", path: `${ns}/configmaps`, apiVersion: "v1", kind: "ConfigMap" },
    { method: "POST", path: `${ns}/pods`, apiVersion: "v1", kind: "Pod" },
    { method: "POST", path: `${ns}/secrets`, apiVersion: "v1", kind: "Secret" },
    { method: "POST", path: `${ns}/services`, apiVersion: "v1", kind: "Service" },
    { method: "POST", path: `/apis/apps/v1/namespaces/${NS}/deployments`, apiVersion: "apps/v1", kind: "Deployment" },
    { method: "POST", path: `${rbac}/namespaces/${NS}/roles`, apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role" },
    { method: "POST", path: `${rbac}/namespaces/${NS}/rolebindings`, apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding" },
    { method: "POST", path: `${rbac}/clusterrolebindings`, apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding" },
    { method: "POST", path: "/api/v1/namespaces", apiVersion: "v1", kind: "Namespace" },
    { method: "POST", path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition" },
    { method: "POST", path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview" },
    { method: "POST", path: "/apis/authorization.k8s.io/v1/subjectaccessreviews", apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview" },
    { method: "POST", path: "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview" },
    { method: "POST", path: "/apis/authentication.k8s.io/v1/tokenreviews", apiVersion: "authentication.k8s.io/v1", kind: "TokenReview" },
    { method: "POST", path: `${ns}/serviceaccounts/robot/token`, apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", name: "robot" },
    { method: "POST", path: `/api/v1/namespaces/${NS_DELETE}/pods/web/binding`, apiVersion: "v1", kind: "Binding", name: "web" },
    { method: "POST", path: `/api/v1/namespaces/${NS_DELETE}/pods/web/eviction`, apiVersion: "policy/v1", kind: "Eviction", name: "web" },
    { method: "PUT", path: `${ns}/configmaps/settings`, apiVersion: "v1", kind: "ConfigMap", name: "settings" },
    { method: "PUT", path: `${ns}/pods/web`, apiVersion: "v1", kind: "Pod", name: "web" },
    { method: "PUT", path: `${ns}/pods/web/status`, apiVersion: "v1", kind: "Pod", name: "web" },
    { method: "PUT", path: `/apis/apps/v1/namespaces/${NS}/deployments/web`, apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    { method: "PUT", path: `/apis/apps/v1/namespaces/${NS}/deployments/web/scale`, apiVersion: "autoscaling/v1", kind: "Scale", name: "web" },
    { method: "PUT", path: `/api/v1/namespaces/${NS}`, apiVersion: "v1", kind: "Namespace", name: NS },
    { method: "PUT", path: `/api/v1/namespaces/${NS}/finalize`, apiVersion: "v1", kind: "Namespace", name: NS },
    { method: "PUT", path: `${rbac}/namespaces/${NS}/roles/reader`, apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", name: "reader" },
    { method: "PUT", path: `${ns}/secrets/vault`, apiVersion: "v1", kind: "Secret", name: "vault" },
    { method: "DELETE", path: `/api/v1/namespaces/${NS_DELETE}/configmaps/a`, apiVersion: "meta.k8s.io/v1", kind: "DeleteOptions", name: "a" },
    { method: "DELETE", path: `/api/v1/namespaces/${NS_DELETE}/configmaps`, apiVersion: "meta.k8s.io/v1", kind: "DeleteOptions" },
  ];
}

/**
 * JSON that does not parse, or parses to something no write accepts. A patch may be `null` (a
 * strategic merge patch of nothing) or `[]` (a JSON patch of no operations): legitimate no-ops.
 */
function malformedJson(rng: Rng, valid: string, patch = false): { variant: string; body: Buffer } {
  const options: (() => { variant: string; body: Buffer })[] = [
    () => ({ variant: "truncated JSON", body: Buffer.from(valid.slice(0, 1 + rng.int(valid.length - 1))) }),
    () => ({ variant: "JSON with trailing garbage", body: Buffer.from(valid + rng.pick(["}", ",", "x", "{}", "\u0000", " //"])) }),
    () => ({ variant: "JSON scalar", body: Buffer.from(rng.pick([patch ? "false" : "null", "true", "1", "\"str\"", "1e999", "-0"])) }),
    () => ({ variant: "JSON array", body: Buffer.from(rng.pick([patch ? "[[]]" : "[]", "[{}]", `[${valid}]`])) }),
    () => ({ variant: "empty body", body: Buffer.alloc(0) }),
    () => ({ variant: "whitespace body", body: Buffer.from(" \n\t ") }),
    () => ({ variant: "JSON5-isms", body: Buffer.from(rng.pick(["{a:1}", "{'a':1}", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":0x10}", "{\"a\":1,}"])) }),
    () => ({ variant: "unclosed nesting 100k deep", body: Buffer.from("[".repeat(100_000)) }),
    () => ({ variant: "random bytes", body: rng.bytes(1 + rng.int(2000)) }),
    () => ({ variant: "invalid UTF-8 in a string", body: Buffer.concat([Buffer.from("{\"metadata\":{\"name\":\"x/"), Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from("\"}}")]) }),
    () => ({ variant: "UTF-16 encoded JSON", body: Buffer.from(`\ufeff${valid}`, "utf16le") }),
    () => ({ variant: "lone surrogate escape", body: Buffer.from("{\"metadata\":{\"name\":\"x/\\ud800\"}}") }),
    () => ({ variant: "bad escape", body: Buffer.from("{\"metadata\":{\"name\":\"\\x41\"}}") }),
  ];
  return rng.pick(options)();
}

/**
 * Names kube refuses for every kind: RBAC objects need only be path segments (no "/", "%", "." or
 * ".."), the others DNS subdomains or labels. A body that must fail names NOT_A_NAME.
 */
const NOT_A_NAME = "not/a-name";
const INVALID_SEGMENT_NAMES = ["../secrets", "a/b", ".", "..", "a%2fb", ""];
const INVALID_NAMES = [...INVALID_SEGMENT_NAMES, "Bad_Name!", "x".repeat(254), "名前", " x", "-x", "x\u0000"];

/** Well-formed JSON that no apiserver may accept for `target`. */
function invalidObject(rng: Rng, target: WriteTarget): { variant: string; body: Buffer } {
  const name = target.name ?? `bad-${rng.word(5)}`;
  const { apiVersion, kind } = target;
  const deep = (depth: number) => "{\"a\":".repeat(depth) + "1" + "}".repeat(depth);
  // kube clears a cluster-scoped object's namespace rather than refuse it.
  const namespaced = target.path.includes(`/namespaces/${NS}/`);
  const options: (() => { variant: string; value?: unknown; text?: string })[] = [
    () => ({ variant: "kind of another resource", value: { apiVersion, kind: kind === "Secret" ? "ConfigMap" : "Secret", metadata: { name } } }),
    () => ({ variant: "unknown apiVersion", value: { apiVersion: rng.pick(["v2", "apps/v0", "../v1", 7]), kind, metadata: { name } } }),
    () => ({ variant: "invalid name", value: { apiVersion, kind, metadata: { name: rng.pick(target.path.includes("/rbac.authorization.k8s.io/") ? INVALID_SEGMENT_NAMES : INVALID_NAMES) } } }),
    () => ({ variant: "name differs from the URL's", value: { apiVersion, kind, metadata: { name: target.name ? `${target.name}-other` : "" } } }),
    () => (namespaced
      ? { variant: "namespace differs from the URL's", value: { apiVersion, kind, metadata: { name, namespace: "kube-system" } } }
      : { variant: "name and namespace both wrong", value: { apiVersion, kind, metadata: { name: NOT_A_NAME, namespace: "kube-system" } } }),
    () => ({ variant: "metadata not an object", value: { apiVersion, kind, metadata: rng.pick(["x", [], 1, null, true]) } }),
    () => ({ variant: "type confusion", value: { apiVersion: 1, kind: {}, metadata: { name: ["x"], labels: "x", annotations: [1] }, spec: "x", data: 7 } }),
    () => ({ variant: "resourceVersion not a number", value: { apiVersion, kind, metadata: { name, resourceVersion: rng.pick(["abc", "-1", "1e9", "0x10", "99999999999999999999999"]) } } }),
    () => ({ variant: "labels not strings", value: { apiVersion, kind, metadata: { name, labels: { a: 1, "b/c/d": "x", "": "y" } } } }),
    () => ({ variant: "object nested 5000 deep, invalid name", text: `{"apiVersion":${JSON.stringify(apiVersion)},"kind":${JSON.stringify(kind)},"metadata":{"name":${JSON.stringify(NOT_A_NAME)}},"spec":${deep(5000)}}` }),
    () => ({ variant: "object nested 5000 deep in metadata", text: `{"apiVersion":${JSON.stringify(apiVersion)},"kind":${JSON.stringify(kind)},"metadata":{"name":${JSON.stringify(NOT_A_NAME)},"annotations":${deep(5000)}}}` }),
    () => ({ variant: "array of 200k elements, invalid name", text: `{"apiVersion":${JSON.stringify(apiVersion)},"kind":${JSON.stringify(kind)},"metadata":{"name":${JSON.stringify(NOT_A_NAME)},"finalizers":[${"1,".repeat(200_000)}1]}}` }),
    () => ({ variant: "__proto__ pollution, invalid name", text: `{"__proto__":{"admin":true,"namespace":"kube-system"},"constructor":{"prototype":{"x":1}},"apiVersion":${JSON.stringify(apiVersion)},"kind":${JSON.stringify(kind)},"metadata":{"name":${JSON.stringify(NOT_A_NAME)},"__proto__":{"name":"ok"}}}` }),
    () => ({ variant: "duplicate fields, the last invalid", text: `{"apiVersion":${JSON.stringify(apiVersion)},"kind":${JSON.stringify(kind)},"metadata":{"name":${JSON.stringify(name)}},"metadata":{"name":${JSON.stringify(NOT_A_NAME)}}}` }),
    () => ({ variant: "empty object", value: {} }),
    () => ({ variant: "spec without metadata", value: { spec: {} } }),
    () => ({ variant: "huge number", text: `{"apiVersion":${JSON.stringify(apiVersion)},"kind":${JSON.stringify(kind)},"metadata":{"name":${JSON.stringify(NOT_A_NAME)},"generation":1e999},"spec":{"replicas":1e400}}` }),
  ];
  const chosen = rng.pick(options)();
  return { variant: chosen.variant, body: chosen.text !== undefined ? Buffer.from(chosen.text) : json(chosen.value) };
}

function invalidDeleteOptions(rng: Rng): { variant: string; body: Buffer } {
  const options: [string, string][] = [
    ["truncated", "{\"propagationPolicy\":\"Backgr"], ["trailing garbage", "{}}"], ["null", "null"], ["a number", "1"], ["a string", "\"Orphan\""],
    ["an array", "[{}]"], ["JSON5", "{propagationPolicy:'Orphan'}"], ["unclosed nesting", "[".repeat(100_000)],
    ["unknown propagationPolicy", "{\"propagationPolicy\":\"Bogus\"}"], ["propagationPolicy a number", "{\"propagationPolicy\":7}"],
    ["gracePeriodSeconds a string", "{\"gracePeriodSeconds\":\"abc\"}"], ["unknown dryRun", "{\"dryRun\":[\"Bogus\"]}"],
    ["orphanDependents with propagationPolicy", "{\"orphanDependents\":true,\"propagationPolicy\":\"Foreground\"}"],
    ["precondition on another uid", "{\"preconditions\":{\"uid\":\"00000000-0000-0000-0000-000000000000\"}}"],
    ["precondition on a stale resourceVersion", "{\"preconditions\":{\"resourceVersion\":\"1\"}}"],
    ["kind of another resource", "{\"apiVersion\":\"v1\",\"kind\":\"Secret\"}"],
  ];
  const [variant, text] = rng.pick(options);
  return { variant: `DeleteOptions ${variant}`, body: Buffer.from(text) };
}

const MALFORMED_YAML = [
  "a: [", "{", ": :", "\t- x", "key: value\n  bad: indent: x", "!!python/object/apply:os.system ['id']", "--- !<tag:yaml.org,2002:js/function> 'function(){}'",
  "%YAML 9.9\n---\n{}", "---\na: 1\n---\nb: 2", "[".repeat(20_000), "<<: *undefined", "a: 1\na: 2", "? [a, b]\n: c", "- list\n- items",
  "null", "~", "'unterminated", "a: !!binary ###", "&a [*a]", `a: &a ["x","x","x","x","x","x","x","x","x"]\n${Array.from({ length: 12 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`).join("\n")}\nmetadata: {name: "not/a-name"}`,
];

function malformedProtobuf(rng: Rng, target: WriteTarget): { variant: string; body: Buffer } {
  const options: (() => { variant: string; body: Buffer })[] = [
    () => ({ variant: "protobuf: empty", body: Buffer.alloc(0) }),
    () => ({ variant: "protobuf: magic only", body: PROTOBUF_MAGIC }),
    () => ({ variant: "protobuf: magic and random bytes", body: Buffer.concat([PROTOBUF_MAGIC, rng.bytes(1 + rng.int(500))]) }),
    () => ({ variant: "protobuf: random bytes", body: rng.bytes(1 + rng.int(500)) }),
    () => ({ variant: "protobuf: JSON body", body: json(configMap("pb")) }),
    () => ({ variant: "protobuf: truncated varint", body: Buffer.concat([PROTOBUF_MAGIC, Buffer.from([0x0a]), Buffer.alloc(11, 0xff)]) }),
    () => ({ variant: "protobuf: length past the end", body: Buffer.concat([PROTOBUF_MAGIC, Buffer.from([0x0a]), varint(2 ** 31), Buffer.from("abc")]) }),
    () => ({ variant: "protobuf: wrong wire type", body: Buffer.concat([PROTOBUF_MAGIC, Buffer.from([0x0d, 1, 2, 3, 4, 0x0b, 0x0c])]) }),
    () => ({ variant: "protobuf: raw is garbage", body: unknown(target.apiVersion, target.kind, rng.bytes(64)) }),
    () => ({ variant: "protobuf: kind of another resource", body: unknown("v1", target.kind === "Secret" ? "ConfigMap" : "Secret", field(1, field(1, Buffer.from("pb-kind")))) }),
    () => ({ variant: "protobuf: invalid name", body: unknown(target.apiVersion, target.kind, field(1, field(1, Buffer.from(NOT_A_NAME)))) }),
    () => ({ variant: "protobuf: nested 10k deep", body: unknown(target.apiVersion, target.kind, Array.from({ length: 10_000 }).reduce<Buffer>((inner) => field(1, inner), Buffer.alloc(0))) }),
    () => ({ variant: "protobuf: content encoding gzip", body: Buffer.concat([unknown(target.apiVersion, target.kind, rng.bytes(16)), field(3, Buffer.from("gzip"))]) }),
  ];
  return rng.pick(options)();
}

function invalidBodyProbes(rng: Rng, count: number, add: Add): void {
  const targets = writeTargets();
  for (let i = 0; i < count; i++) {
    const target = rng.pick(targets);
    const admin = rng.chance(0.6);
    const valid = JSON.stringify({ apiVersion: target.apiVersion, kind: target.kind, metadata: { name: target.name ?? "x" }, data: { k: "v" } });
    const flavour = rng.int(10);
    let variant: string;
    let body: Buffer;
    let contentType: string | undefined;
    if (target.method === "DELETE") {
      // An empty body or {} is a legitimate delete; these are not.
      ({ variant, body } = invalidDeleteOptions(rng));
      contentType = "application/json";
    } else if (flavour < 4) {
      ({ variant, body } = malformedJson(rng, valid));
      contentType = rng.pick(["application/json", "application/json; charset=utf-8", undefined]);
    } else if (flavour < 6) {
      ({ variant, body } = invalidObject(rng, target));
      contentType = "application/json";
    } else if (flavour < 8) {
      const yaml = rng.pick(MALFORMED_YAML);
      variant = `YAML: ${yaml.split("\n")[0]!.slice(0, 30)}`;
      body = Buffer.from(yaml);
      contentType = "application/yaml";
    } else {
      ({ variant, body } = malformedProtobuf(rng, target));
      contentType = "application/vnd.kubernetes.protobuf";
    }
    const headers: Headers = { authorization: bearer(admin ? plane.token : robotToken) };
    if (contentType) headers["content-type"] = contentType;
    add({
      category: "invalid-bodies", variant: `${target.method} ${target.kind}: ${variant}`, method: target.method, path: target.path, headers, body,
      adminWritesSecret: admin && target.path.endsWith("/secrets/vault"),
    });
  }
}

/**
 * The admin's undecodable or invalid writes of a Secret, its value inside: decoders quote what
 * they choke on, and that quote must not reach the log (nor, with the body, the audit log).
 */
function secretCarryingProbes(rng: Rng, count: number, add: Add): void {
  const ns = `/api/v1/namespaces/${NS}`;
  const value = secretValue;
  const encoded = Buffer.from(secretValue).toString("base64");
  const head = `apiVersion: v1\nkind: Secret\nmetadata: {name: ${NOT_A_NAME}}\n`;
  const bodies: [string, string, string][] = [
    ["YAML that does not parse", "application/yaml", `${head}data: {password: ${encoded}}\nbad: [`],
    ["YAML with an unresolved tag", "application/yaml", `--- !<tag:yaml.org,2002:js/function> '${value}'`],
    ["YAML of an unknown version", "application/yaml", `%YAML 9.9\n---\n${head}stringData: {password: ${value}}`],
    ["YAML with a bad !!binary", "application/yaml", `${head}data: {password: !!binary '${value}!'}`],
    ["YAML with a duplicate key", "application/yaml", `${head}stringData: {password: ${value}, password: ${value}}`],
    ["JSON truncated after the value", "application/json", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"${NOT_A_NAME}"},"stringData":{"password":"${value}"`],
    ["JSON with the value unquoted", "application/json", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"${NOT_A_NAME}"},"stringData":{"password":${value}}}`],
    ["JSON with the value as data that is not base64", "application/json", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"${NOT_A_NAME}"},"data":{"password":"${value}!"}}`],
  ];
  const targets: [string, string][] = [["POST", `${ns}/secrets`], ["PUT", `${ns}/secrets/vault`]];
  for (let i = 0; i < count; i++) {
    const [variant, contentType, text] = rng.pick(bodies);
    const [method, path] = rng.pick(targets);
    add({
      category: "invalid-bodies", variant: `${method} Secret carrying its value: ${variant}`, method, path,
      headers: { authorization: bearer(plane.token), "content-type": contentType }, body: Buffer.from(text), carriesSecret: true,
    });
  }
}

/** Bodies a server would accept in the right media type, sent in wrong ones: they must be refused. */
function contentTypeProbes(rng: Rng, count: number, add: Add): void {
  const ns = `/api/v1/namespaces/${NS}`;
  const writeTypes = [
    "text/plain", "text/html", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream",
    "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml",
    "application/cbor", "image/png", "application/jsonx", "json", "application/javascript", "text/json", "application/x-yaml", "text/yaml",
    "application/vnd.kubernetes.protobuf", "application/vnd.kubernetes.protobuf;stream=watch", "application/json+protobuf", "application/*", "*",
  ];
  const patchTypes = [
    "application/json", "application/yaml", "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/vnd.kubernetes.protobuf", "application/apply-patch+json", "application/strategic-merge-patch+yaml", "", "*/*",
    "application/merge-patch+json-bogus", "application/json-patch+jsonx", "application/merge-patch", "merge-patch+json",
  ];
  for (let i = 0; i < count; i++) {
    const token = rng.pick([plane.token, robotToken]);
    const who = token === plane.token ? "admin" : "robot";
    switch (rng.int(3)) {
      case 0: {
        const type = rng.pick(writeTypes);
        add({ category: "content-types", variant: `${who} create as ${type}`, method: "POST", path: `${ns}/configmaps`,
          headers: { authorization: bearer(token), "content-type": type }, body: json(configMap(`ct-${i}`)) });
        break;
      }
      case 1: {
        const type = rng.pick(writeTypes);
        add({ category: "content-types", variant: `${who} replace as ${type}`, method: "PUT", path: `${ns}/configmaps/settings`,
          headers: { authorization: bearer(token), "content-type": type }, body: json(configMap("settings", { k: `changed-${i}` })) });
        break;
      }
      default: {
        const type = rng.pick(patchTypes);
        const headers: Headers = { authorization: bearer(token) };
        if (type) headers["content-type"] = type;
        add({ category: "content-types", variant: `${who} patch as ${type || "(none)"}`, method: "PATCH", path: `${ns}/configmaps/settings`,
          headers, body: json({ metadata: { labels: { patched: `p${i}` } } }) });
      }
    }
  }
}

interface PatchTarget {
  path: string;
  apiVersion: string;
  kind: string;
  name: string;
  admin: boolean;
}

function patchTargets(): PatchTarget[] {
  const ns = `/api/v1/namespaces/${NS}`;
  return [
    { path: `${ns}/configmaps/settings`, apiVersion: "v1", kind: "ConfigMap", name: "settings", admin: true },
    { path: `${ns}/configmaps/settings`, apiVersion: "v1", kind: "ConfigMap", name: "settings", admin: false },
    { path: `${ns}/pods/web`, apiVersion: "v1", kind: "Pod", name: "web", admin: true },
    { path: `${ns}/pods/web/status`, apiVersion: "v1", kind: "Pod", name: "web", admin: true },
    { path: `/apis/apps/v1/namespaces/${NS}/deployments/web`, apiVersion: "apps/v1", kind: "Deployment", name: "web", admin: true },
    { path: `/apis/apps/v1/namespaces/${NS}/deployments/web/scale`, apiVersion: "autoscaling/v1", kind: "Scale", name: "web", admin: true },
    { path: `/api/v1/namespaces/${NS}`, apiVersion: "v1", kind: "Namespace", name: NS, admin: true },
    { path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles/reader`, apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", name: "reader", admin: true },
    { path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles/reader`, apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", name: "reader", admin: false },
    { path: `${ns}/secrets/vault`, apiVersion: "v1", kind: "Secret", name: "vault", admin: true },
    { path: `${ns}/secrets/vault`, apiVersion: "v1", kind: "Secret", name: "vault", admin: false },
    { path: `${ns}/configmaps/absent`, apiVersion: "v1", kind: "ConfigMap", name: "absent", admin: true },
  ];
}

function patchProbes(rng: Rng, count: number, add: Add): void {
  const label = { op: "add", path: "/metadata/labels/patched", value: "yes" };
  const jsonPatches: [string, unknown][] = [
    ["not an array", { op: "add", path: "/metadata/labels/x", value: "1" }],
    ["array of scalars", [1, 2, "add"]],
    ["null operation", [null]],
    ["operation without op", [{ path: "/metadata/labels/x", value: "1" }]],
    ["unknown op", [{ op: "bogus", path: "/metadata/labels/x", value: "1" }]],
    ["op _get", [{ op: "_get", path: "/data" }]],
    ["path without slash", [{ op: "add", path: "metadata/labels/x", value: "1" }]],
    ["path missing", [{ op: "add", value: "1" }]],
    ["bad ~ escape", [{ op: "add", path: "/metadata/labels/a~2b", value: "1" }]],
    ["add without value", [{ op: "add", path: "/metadata/labels/x" }]],
    ["failing test, then a change", [{ op: "test", path: "/metadata/name", value: "zzz" }, label]],
    ["failing test of the secret's data, then a change", [{ op: "test", path: "/data/password", value: "guess" }, label]],
    ["replace a missing key", [{ op: "replace", path: "/metadata/labels/absent", value: "1" }]],
    ["remove a missing key", [{ op: "remove", path: "/spec/absent" }]],
    ["move from a missing key", [{ op: "move", from: "/metadata/absent", path: "/metadata/labels/x" }]],
    ["copy into a string", [{ op: "copy", from: "/metadata/name", path: "/metadata/name/x" }]],
    ["array index out of bounds", [{ op: "add", path: "/metadata/finalizers/99999", value: "x" }]],
    ["negative array index", [{ op: "add", path: "/metadata/finalizers/-1", value: "x" }]],
    ["leading-zero index", [{ op: "add", path: "/metadata/finalizers/01", value: "x" }]],
    ["rename", [{ op: "replace", path: "/metadata/name", value: "renamed" }]],
    ["change namespace", [{ op: "replace", path: "/metadata/namespace", value: "kube-system" }]],
    ["change kind", [{ op: "replace", path: "/kind", value: "Secret" }]],
    ["change uid", [{ op: "replace", path: "/metadata/uid", value: "00000000-0000-0000-0000-000000000000" }]],
    ["stale resourceVersion", [{ op: "replace", path: "/metadata/resourceVersion", value: "1" }, label]],
    ["resourceVersion not a number", [{ op: "replace", path: "/metadata/resourceVersion", value: "abc" }, label]],
    ["remove the root", [{ op: "remove", path: "" }]],
    ["replace the root with a string", [{ op: "replace", path: "", value: "x" }]],
    ["label value not a string", [{ op: "add", path: "/metadata/labels", value: { a: 1 } }]],
    ["10k failing operations", Array.from({ length: 10_000 }, (_, i) => ({ op: "remove", path: `/absent/${i}` }))],
    ["prototype path", [{ op: "add", path: "/__proto__/polluted", value: "yes" }, { op: "test", path: "/metadata/name", value: "zzz" }]],
  ];
  const mergePatches: [string, unknown][] = [
    ["string", "str"], ["number", 1], ["array", []], ["null", null],
    ["rename", { metadata: { name: "renamed" } }], ["change namespace", { metadata: { namespace: "kube-system" } }],
    ["change kind", { kind: "Secret" }], ["change apiVersion", { apiVersion: "v9" }], ["change uid", { metadata: { uid: "00000000-0000-0000-0000-000000000000" } }],
    ["resourceVersion not a number", { metadata: { resourceVersion: "abc", labels: { patched: "yes" } } }],
    ["stale resourceVersion", { metadata: { resourceVersion: "1", labels: { patched: "yes" } } }],
    ["label value not a string", { metadata: { labels: { a: 1 } } }], ["labels a string", { metadata: { labels: "x" } }],
    ["metadata null", { metadata: null }], ["invalid label key", { metadata: { labels: { "a/b/c": "x" } } }],
    ["data not a map of strings", { data: { k: { nested: true } } }],
    ["prototype pollution, then rename", JSON.parse("{\"__proto__\":{\"polluted\":\"yes\"},\"metadata\":{\"name\":\"renamed\"}}")],
  ];
  const strategicPatches: [string, unknown][] = [
    ["$patch bogus", { $patch: "bogus" }], ["$patch delete at the root", { $patch: "delete" }],
    ["list element without its merge key", { spec: { containers: [{ $patch: "delete" }] } }],
    ["containers a string", { spec: { containers: "x" } }],
    ["$setElementOrder not a list", { spec: { "$setElementOrder/containers": "x" } }],
    ["$deleteFromPrimitiveList not a list", { metadata: { "$deleteFromPrimitiveList/finalizers": "x" } }],
    ["$retainKeys not a list", { spec: { $retainKeys: "x" } }],
    ["$patch replace with a bad value", { metadata: { labels: { $patch: "replace", a: 1 } } }],
    ["rename", { metadata: { name: "renamed" } }], ["array", [1]], ["string", "x"],
  ];
  const applies: [string, (t: PatchTarget) => string, boolean][] = [
    ["without fieldManager", (t) => `apiVersion: ${t.apiVersion}\nkind: ${t.kind}\nmetadata:\n  name: ${t.name}\n  labels: {applied: "yes"}\n`, false],
    ["name differs from the URL's", (t) => `apiVersion: ${t.apiVersion}\nkind: ${t.kind}\nmetadata:\n  name: ${t.name}-other\n`, true],
    ["kind differs", (t) => `apiVersion: ${t.apiVersion}\nkind: Secret${t.kind === "Secret" ? "s" : ""}\nmetadata:\n  name: ${t.name}\n`, true],
    ["apiVersion differs", (t) => `apiVersion: v9\nkind: ${t.kind}\nmetadata:\n  name: ${t.name}\n`, true],
    ["not YAML", () => "a: [", true],
    ["a list", () => "- a\n- b", true],
    ["a scalar", () => "hello", true],
    ["labels not strings, invalid name", (t) => `apiVersion: ${t.apiVersion}\nkind: ${t.kind}\nmetadata:\n  name: ${NOT_A_NAME}\n  labels: {a: [1]}\n`, true],
  ];
  const targets = patchTargets();
  for (let i = 0; i < count; i++) {
    const target = rng.pick(targets);
    const headers: Headers = { authorization: bearer(target.admin ? plane.token : robotToken) };
    const who = target.admin ? "admin" : "robot";
    let path = target.path;
    let variant: string;
    let body: Buffer;
    switch (rng.int(5)) {
      case 0: {
        const [v, patch] = rng.pick(jsonPatches);
        headers["content-type"] = "application/json-patch+json";
        variant = `json-patch ${v}`;
        body = json(patch);
        break;
      }
      case 1: {
        const [v, patch] = rng.pick(mergePatches);
        headers["content-type"] = "application/merge-patch+json";
        variant = `merge-patch ${v}`;
        body = json(patch);
        break;
      }
      case 2: {
        const [v, patch] = rng.pick(strategicPatches);
        headers["content-type"] = "application/strategic-merge-patch+json";
        variant = `strategic-merge-patch ${v}`;
        body = json(patch);
        break;
      }
      case 3: {
        const [v, render, manager] = rng.pick(applies);
        headers["content-type"] = "application/apply-patch+yaml";
        variant = `apply ${v}`;
        body = Buffer.from(render(target));
        if (manager) path += `?fieldManager=${rng.pick(["sweep", "x".repeat(200), "%00", "a%2Fb"])}&force=${rng.pick(["true", "maybe", ""])}`;
        break;
      }
      default: {
        const type = rng.pick(["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"]);
        headers["content-type"] = type;
        const malformed = malformedJson(rng, "{\"metadata\":{\"labels\":{\"x\":\"1\"}}}", true);
        variant = `${type.split("/")[1]} ${malformed.variant}`;
        body = malformed.body;
        if (type.includes("apply")) path += "?fieldManager=sweep";
      }
    }
    add({ category: "patches", variant: `${who} ${target.kind}: ${variant}`, method: "PATCH", path, headers, body, adminWritesSecret: target.admin && target.kind === "Secret" });
  }
}

const BAD_LABEL_SELECTORS = ["!!!", "a in (", "(", "a notin", "=b", "a=(b", "x in (a,b", "a!", "a=b c", "a in (b))", "a,,=b", "!=", "a=b,!", "in", "a in b", "a==b==c"];
const BAD_FIELD_SELECTORS = ["=", "metadata.name", "(", "a==b==c", "metadata.name in (a)", "spec.unknown=x", "data.password=guess", "metadata.name=a=b", "!metadata.name", "metadata.name!", ",="];

function queryProbes(rng: Rng, count: number, add: Add): void {
  const ns = `/api/v1/namespaces/${NS}`;
  const continued = (token: object) => b64url(JSON.stringify(token));
  const original = JSON.parse(Buffer.from(continueToken, "base64url").toString());
  const params: (() => [string, string, boolean?])[] = [
    () => ["limit", rng.pick(["-1", "abc", "1e999", "0x10", "99999999999999999999", "1.5", "", "%201", "NaN", "-0"])],
    () => ["resourceVersion", rng.pick(["abc", "-1", "1e5", "99999999999999999999", "0x1", "%201", "1.0", "%00"])],
    () => ["resourceVersionMatch", rng.pick(["Exact", "NotOlderThan", "bogus", ""])],
    () => ["watch", rng.pick(["maybe", "yes", "TRUE", "2", "", "false"])],
    () => ["labelSelector", encodeURIComponent(rng.pick([...BAD_LABEL_SELECTORS, "a=" + rng.word(10_000), "名前=x"]))],
    () => ["fieldSelector", encodeURIComponent(rng.pick([...BAD_FIELD_SELECTORS, "metadata.name=" + rng.word(10_000)]))],
    () => ["timeoutSeconds", rng.pick(["99999999999", "-5", "abc", "1e308"])],
    () => ["continue", rng.pick([
      "garbage", "%%%", b64url("{}"), b64url("not json"), continued({ ...original, v: "other" }), continued({ ...original, rv: -1 }), continued({ ...original, rv: 1.5 }),
      continued({ ...original, rv: 99_999_999 }), continued({ ...original, rv: 1e300 }), continued({ ...original, rv: "1" }), continued({ ...original, start: "../../secrets/sweep/vault" }),
      continued({ ...original, start: "\u0000" }), continued({ ...original, start: "/../../../" }), continued({ ...original, start: rng.word(10_000) }), continued({ ...original, start: 7 }),
    ])],
    () => ["pretty", rng.pick(["maybe", "1", ""])],
    () => ["allowWatchBookmarks", rng.pick(["maybe", "1"])],
    () => ["sendInitialEvents", rng.pick(["true", "maybe"])],
    () => ["dryRun", rng.pick(["Maybe", "all", "All,All"])],
    () => ["fieldValidation", rng.pick(["Garbage", "strict", ""])],
    () => ["fieldManager", rng.pick(["x".repeat(200), "%00", ""])],
    () => ["limit", `1&limit=-1&limit=abc`],
  ];
  const listPaths = [`${ns}/configmaps`, "/api/v1/configmaps", `${ns}/pods`, `/apis/apps/v1/namespaces/${NS}/deployments`, "/api/v1/namespaces", `${ns}/events`, `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`];
  for (let i = 0; i < count; i++) {
    const roll = rng.int(10);
    const query = Array.from({ length: 1 + rng.int(3) }, () => rng.pick(params)()).map(([k, v]) => `${k}=${v}`).join("&");
    if (roll < 5) {
      // Reads: the admin's never of secrets, the robot's of anything (it may not read secrets).
      const admin = rng.chance(0.5);
      const path = admin ? rng.pick([...listPaths, `${ns}/configmaps/settings`]) : rng.pick([`${ns}/configmaps`, `${ns}/secrets`, "/api/v1/secrets", `${ns}/pods`, `${ns}/configmaps/settings`, `${ns}/secrets/vault`]);
      const watch = rng.chance(0.15);
      add({ category: "query", variant: `${admin ? "admin" : "robot"} read${watch ? ", watch" : ""} ?${query.replace(/=[^&]*/g, "")}`, method: "GET",
        path: `${path}?${watch ? "watch=true&" : ""}${query}`, headers: { authorization: bearer(admin ? plane.token : robotToken) }, stream: true });
    } else if (roll < 7) {
      const selector = rng.chance(0.5) ? `labelSelector=${encodeURIComponent(rng.pick(BAD_LABEL_SELECTORS))}` : `fieldSelector=${encodeURIComponent(rng.pick(BAD_FIELD_SELECTORS))}`;
      add({ category: "query", variant: `admin delete-collection, bad ${selector.split("=")[0]}`, method: "DELETE", path: `/api/v1/namespaces/${NS_DELETE}/configmaps?${selector}`,
        headers: { authorization: bearer(plane.token) } });
    } else if (roll < 8) {
      const param = rng.pick([`gracePeriodSeconds=${rng.pick(["abc", "-5", "1e99"])}`, `propagationPolicy=${rng.pick(["Bogus", "orphan"])}`, `dryRun=${rng.pick(["Maybe", "all"])}`]);
      add({ category: "query", variant: `admin delete, bad ${param.split("=")[0]}`, method: "DELETE", path: `/api/v1/namespaces/${NS_DELETE}/configmaps/b?${param}`,
        headers: { authorization: bearer(plane.token) } });
    } else {
      const param = rng.pick([`dryRun=${rng.pick(["Maybe", "all", "None"])}`, `fieldValidation=${rng.pick(["Garbage", "strict"])}`, `fieldManager=${"x".repeat(200)}`]);
      const admin = rng.chance(0.6);
      add({ category: "query", variant: `${admin ? "admin" : "robot"} create, bad ${param.split("=")[0]}`, method: "POST", path: `${ns}/configmaps?${param}`,
        headers: { authorization: bearer(admin ? plane.token : robotToken), "content-type": "application/json" }, body: json(configMap(`query-${i}`)) });
    }
  }
}

function methodProbes(rng: Rng, count: number, add: Add): void {
  const ns = `/api/v1/namespaces/${NS}`;
  const del = `/api/v1/namespaces/${NS_DELETE}`;
  const body = json(configMap("method"));
  const cases: [string, string, boolean][] = [
    // [method, path, may the admin send it]
    ["PUT", `${ns}/configmaps`, true], ["PATCH", `${ns}/configmaps`, true], ["POST", `${ns}/configmaps/settings`, true],
    ["DELETE", "/api", true], ["DELETE", "/apis", true], ["DELETE", "/api/v1", true], ["DELETE", "/apis/apps/v1", true], ["POST", "/api/v1", true],
    ["DELETE", "/version", true], ["POST", "/version", true], ["DELETE", "/healthz", true], ["PUT", "/readyz", true], ["POST", "/openapi/v2", true], ["DELETE", "/openapi/v3", true],
    ["POST", "/.well-known/openid-configuration", true], ["DELETE", "/openid/v1/jwks", true],
    ["GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", true], ["DELETE", "/apis/authentication.k8s.io/v1/tokenreviews", true],
    ["PUT", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/x", true],
    ["GET", `${ns}/serviceaccounts/robot/token`, true], ["PUT", `${ns}/serviceaccounts/robot/token`, true], ["DELETE", `${ns}/serviceaccounts/robot/token`, true],
    ["GET", `${ns}/pods/web/binding`, true], ["PUT", `${ns}/pods/web/binding`, true], ["DELETE", `${del}/pods/web/eviction`, true],
    ["POST", `${ns}/pods/web/status`, true], ["DELETE", `${del}/pods/web/status`, true], ["DELETE", `/apis/apps/v1/namespaces/${NS_DELETE}/deployments/web/status`, true],
    ["DELETE", `/apis/apps/v1/namespaces/${NS_DELETE}/deployments/web/scale`, true], ["POST", `/apis/apps/v1/namespaces/${NS}/deployments/web/scale`, true],
    ["DELETE", `${del}/status`, true], ["POST", `/api/v1/namespaces/${NS}/finalize`, true], ["DELETE", `${del}/finalize`, true],
    ["POST", `${ns}/pods/web/exec`, true], ["GET", `${ns}/pods/web/log`, true], ["POST", `${ns}/pods/web/portforward`, true], ["GET", `${ns}/pods/web/proxy/`, true],
    ["PUT", `${ns}/secrets/vault/status`, true], ["DELETE", `${del}/configmaps/c/status`, true],
    ["OPTIONS", `${ns}/configmaps`, true], ["TRACE", `${ns}/configmaps/settings`, true], ["PROPFIND", `${ns}/configmaps`, true], ["FOO", `${ns}/configmaps/settings`, true],
    ["LOCK", "/api/v1", true], ["MKCOL", `${ns}/configmaps/new`, true], ["HEAD", `${ns}/configmaps/settings`, true], ["get", `${ns}/configmaps/settings`, true],
    ["GET", "/etcd/v3/kv/range", true], ["PUT", "/etcd/v3/kv/put", true], ["DELETE", "/etcd/v3/kv/range", true],
    ["HEAD", `${ns}/secrets/vault`, false], ["TRACE", `${ns}/secrets/vault`, false], ["OPTIONS", `${ns}/secrets/vault`, false], ["POST", `${ns}/secrets/vault`, false],
    ["PUT", `${ns}/secrets`, false], ["DELETE", `${ns}/secrets/vault/status`, false],
  ];
  for (let i = 0; i < count; i++) {
    const [method, path, adminMay] = rng.pick(cases);
    const who = adminMay ? rng.pick(["admin", "robot", "none"] as const) : rng.pick(["robot", "none"] as const);
    const headers: Headers = who === "admin" ? { authorization: bearer(plane.token) } : who === "robot" ? { authorization: bearer(robotToken) } : {};
    const withPayload = ["PUT", "POST", "PATCH"].includes(method);
    if (withPayload) headers["content-type"] = method === "PATCH" ? "application/merge-patch+json" : "application/json";
    add({ category: "methods", variant: `${who} ${method} ${path.replace(ns, "{ns}")}`, method, path, headers, body: withPayload ? body : undefined, unauthenticated: who === "none" });
  }
}

/** Requests no HTTP client sends: written by hand, over a bare TLS socket. */
function malformedHttpProbes(rng: Rng, add: Add): void {
  const ns = `/api/v1/namespaces/${NS}`;
  const auth = `Authorization: Bearer ${robotToken}\r\n`;
  const admin = `Authorization: Bearer ${plane.token}\r\n`;
  // Invalid, so that a server which frames these requests as RFC 9112 allows still creates nothing.
  const cm = JSON.stringify(configMap("Smuggled!"));
  const cases: [string, string | Buffer][] = [
    ["space in the path", `GET ${ns}/secrets/ vault HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`],
    ["raw UTF-8 in the path", Buffer.concat([Buffer.from(`GET ${ns}/configmaps/`), Buffer.from("名前", "utf8"), Buffer.from(` HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`)])],
    ["NUL in the path", `GET ${ns}/configmaps/settings\u0000/../../secrets/vault HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`],
    ["CR in the path", `GET ${ns}/configmaps/settings\r/../../secrets/vault HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`],
    ["HTTP/0.9", `GET ${ns}/secrets/vault\r\n\r\n`],
    ["HTTP/2.0 on HTTP/1", `GET ${ns}/secrets/vault HTTP/2.0\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`],
    ["HTTP/1.1 without Host", `GET ${ns}/secrets/vault HTTP/1.1\r\n${auth}Connection: close\r\n\r\n`],
    ["unknown protocol", `GET ${ns}/secrets/vault HTTP/9.9\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`],
    ["absolute-form URL elsewhere", `GET https://evil.example${ns}/secrets/vault HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`],
    ["asterisk-form", `OPTIONS * HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`],
    ["asterisk-form GET", `GET * HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`],
    ["CONNECT", `CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n${auth}Connection: close\r\n\r\n`],
    ["relative path", `GET api/v1/namespaces HTTP/1.1\r\nHost: x\r\n${admin}Connection: close\r\n\r\n`],
    ["header without colon", `GET ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Broken header line\r\nConnection: close\r\n\r\n`],
    ["space before colon", `GET ${ns}/secrets/vault HTTP/1.1\r\nHost: x\r\nAuthorization : Bearer ${plane.token}\r\nConnection: close\r\n\r\n`],
    ["obs-fold continuation", `GET ${ns}/secrets/vault HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n ${robotToken}\r\nConnection: close\r\n\r\n`],
    ["NUL in a header", `GET ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}X-Nul: a\u0000b\r\nConnection: close\r\n\r\n`],
    ["bare LF line endings", `GET ${ns}/configmaps HTTP/1.1\nHost: x\n${auth.replace("\r\n", "\n")}Connection: close\n\n`],
    ["Content-Length and Transfer-Encoding", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${cm.length.toString(16)}\r\n${cm}\r\n0\r\n\r\n`],
    ["smuggled second request", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nDELETE ${ns}/configmaps/settings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ["two different Content-Lengths", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${cm.length}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n${cm}`],
    ["negative Content-Length", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: -1\r\nConnection: close\r\n\r\n${cm}`],
    ["Content-Length not a number", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n${cm}`],
    ["Content-Length 1e3", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 1e3\r\nConnection: close\r\n\r\n${cm}`],
    ["Content-Length 2^64", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 18446744073709551616\r\nConnection: close\r\n\r\n${cm}`],
    ["chunk size overflow", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nffffffffffffffffff\r\n${cm}\r\n0\r\n\r\n`],
    ["chunk size not hex", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n${cm}\r\n0\r\n\r\n`],
    ["unknown Transfer-Encoding", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n${cm.length.toString(16)}\r\n${cm}\r\n0\r\n\r\n`],
    ["chunked with a bad trailer", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\nAuthorization: Bearer ${plane.token}\r\nbroken\r\n\r\n`],
    ["lower-case method", `get ${ns}/secrets/vault HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`],
    ["method with a space", `GE T ${ns}/secrets/vault HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`],
    ["Expect: 100-continue, no body", `POST ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 0\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`],
    ["Expect: garbage", `GET ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Expect: 999-weird\r\nConnection: close\r\n\r\n`],
    ["Upgrade: websocket without a key", `GET ${ns}/configmaps?watch=true HTTP/1.1\r\nHost: x\r\n${auth}Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n`],
    ["Upgrade: h2c", `GET ${ns}/secrets/vault HTTP/1.1\r\nHost: x\r\n${auth}Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: Upgrade, HTTP2-Settings, close\r\n\r\n`],
    ["HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"],
    ["random bytes", rng.bytes(512)],
    ["request line of 100 KiB", `GET /${rng.word(100 * 1024)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ["10k empty lines first", `${"\r\n".repeat(10_000)}GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ["pipelined unauthenticated after authenticated", `GET ${ns}/configmaps HTTP/1.1\r\nHost: x\r\n${auth}\r\nGET ${ns}/secrets/vault HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
  ];
  for (const [variant, bytes] of cases) {
    const raw = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, "latin1");
    const method = /^([A-Za-z]+) /.exec(raw.toString("latin1", 0, 16))?.[1] ?? "RAW";
    add({ category: "malformed-http", variant, method, path: "-", headers: {}, raw, mayRefuse: true });
  }
}

// ---- the sweep and its checks ----

async function sweep(probes: Probe[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < probes.length) {
      const probe = probes[next++]!;
      const answer = await send(probe);
      results.push({ probe, answer });
      const found = check(probe, answer);
      if (found === "refused") refused.push({ probe, answer });
      else for (const rule of found) violations.push({ rule, probe, answer });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

function isStatus(body: any, code: number): boolean {
  return body?.kind === "Status" && body.apiVersion === "v1" && body.status === "Failure" && body.code === code && typeof body.message === "string";
}

/** etcd's gateway answers errors in etcd's own shape, as etcd clients expect. */
function isEtcdError(body: any): boolean {
  return typeof body?.code === "number" && typeof body.message === "string";
}

function normalizedPath(path: string): string {
  try {
    return new URL(path, "https://127.0.0.1").pathname;
  } catch {
    return path;
  }
}

/**
 * Answers made by the local dev runtime (workerd and Miniflare's entry worker, or wrangler dev's
 * proxy) to requests it cannot parse as HTTP at all (unknown methods, asterisk-form targets,
 * invalid Host ports; broken chunking only behind wrangler dev's proxy: workerd alone hands the
 * Worker the request and the body read fails) before any Worker code runs. Deployed,
 * Cloudflare's edge refuses these instead.
 */
function fromDevRuntime(answer: Answer): boolean {
  const contentType = String(answer.headers["content-type"] ?? "");
  const text = answer.body.toString("utf8");
  return (answer.status ?? 0) >= 500 && !contentType.includes("json")
    && /Unrecognized request method|^Internal Server Error|miniflare|Fetch API cannot load|Network connection lost/.test(text);
}

/** kube-apiserver's answer to a resourceVersion from the future: 504 Timeout "Too large resource version", which clients wait out. */
function isTooLargeResourceVersion(answer: Answer): boolean {
  if (answer.status !== 504) return false;
  try {
    const body = JSON.parse(answer.body.toString("utf8"));
    return body.kind === "Status" && body.reason === "Timeout" && String(body.message).startsWith("Too large resource version");
  } catch {
    return false;
  }
}

function check(probe: Probe, answer: Answer): string[] | "refused" {
  const found: string[] = [];
  if (answer.error && answer.status === undefined) return probe.mayRefuse ? "refused" : [`no answer (${answer.error})`];
  if (fromDevRuntime(answer)) return "refused";
  const code = answer.status!;
  if (code >= 500 && !isTooLargeResourceVersion(answer)) found.push(`answered ${code}`);
  const contentType = String(answer.headers["content-type"] ?? "");
  const text = answer.body.toString("utf8");
  if (code >= 400 && probe.method !== "HEAD" && (contentType.includes("json") || text.trimStart().startsWith("{"))) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      found.push("error body is not JSON");
    }
    const etcd = normalizedPath(probe.path).startsWith("/etcd/");
    if (body !== undefined && !isStatus(body, code) && !(etcd && isEtcdError(body))) found.push("error is not a Kubernetes Status");
  }
  if (probe.unauthenticated && code < 400 && !PUBLIC_PATHS.has(normalizedPath(probe.path))) found.push(`succeeded (${code}) without a valid credential`);
  const everything = `${JSON.stringify(answer.headers)}\n${answer.body.toString("latin1")}`;
  const mayHoldSecret = (probe.adminWritesSecret && code < 300) || probe.carriesSecret;
  if (!mayHoldSecret && secretForms.some((form) => everything.includes(form))) found.push("the Secret's value is in the answer");
  if ([plane.token, robotToken].some((token) => everything.includes(token))) found.push("a bearer token is in the answer");
  return found;
}

function describeProbe(probe: Probe): string {
  const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);
  if (probe.raw) return `raw: ${JSON.stringify(clip(probe.raw.toString("latin1"), 300))}`;
  const headers = Object.entries(probe.headers).map(([k, v]) => `${k}: ${clip(String(v), 80)}`).join("; ");
  const body = probe.body ? ` body(${probe.body.length} B${probe.chunked ? ", chunked" : ""}): ${JSON.stringify(clip(probe.body.toString("latin1"), 200))}` : "";
  return `${probe.method} ${clip(probe.path, 200)} [${clip(headers, 400)}]${body}`;
}

function describeAnswer(answer: Answer): string {
  const body = answer.body.toString("utf8");
  return `${answer.status ?? answer.error} ${JSON.stringify(body.length > 400 ? `${body.slice(0, 400)}…` : body)}`;
}

/** One line per distinct failure: its rule, what made the request bad, one example of each. */
function distinctViolations(): string[] {
  const seen = new Map<string, { count: number; example: Violation }>();
  for (const v of violations) {
    const key = `${v.rule} | ${v.probe.category}/${v.probe.variant} → ${v.answer.status ?? "-"}`;
    const entry = seen.get(key);
    if (entry) entry.count++;
    else seen.set(key, { count: 1, example: v });
  }
  return [...seen.entries()].map(([key, { count, example }]) => `${key} (×${count})\n    request: ${describeProbe(example.probe)}\n    answer:  ${describeAnswer(example.answer)}`);
}

function storeChanges(from: StoreDump, to: StoreDump): string[] {
  const changes: string[] = [];
  for (const [key, rev] of from.keys) {
    const now = to.keys.get(key);
    if (now === undefined) changes.push(`deleted ${key}`);
    else if (now !== rev) changes.push(`modified ${key} (mod_revision ${rev} → ${now})`);
  }
  for (const key of to.keys.keys()) if (!from.keys.has(key)) changes.push(`created ${key}`);
  return changes;
}

function report(probes: Probe[]): void {
  const byCategory = new Map<string, { sent: number; refused: number; violations: number; statuses: Map<number, number> }>();
  for (const probe of probes) {
    const entry = byCategory.get(probe.category) ?? { sent: 0, refused: 0, violations: 0, statuses: new Map() };
    entry.sent++;
    byCategory.set(probe.category, entry);
  }
  for (const { probe, answer } of results) {
    const s = byCategory.get(probe.category)!.statuses;
    if (answer.status !== undefined) s.set(answer.status, (s.get(answer.status) ?? 0) + 1);
  }
  for (const { probe } of refused) byCategory.get(probe.category)!.refused++;
  for (const { probe } of violations) byCategory.get(probe.category)!.violations++;
  const lines = [
    `bad-input sweep, seed ${SEED}: ${probes.length} requests in ${sweepSeconds.toFixed(1)} s; ` +
      `${log.length} bytes of control-plane log and ${after.audit.length} audit events scanned for leaks`,
  ];
  for (const [category, e] of byCategory) {
    const statuses = [...e.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(" ");
    lines.push(`  ${category.padEnd(17)} ${String(e.sent).padStart(5)} sent, ${e.refused} refused at the socket, ${e.violations} violations; ${statuses}`);
  }
  // Allowed in the answer (the sender's own bytes), but each is a quote a log could take up.
  const quoting = new Map<string, string>();
  for (const { probe, answer } of results) {
    if (probe.carriesSecret && secretForms.some((form) => answer.body.toString("latin1").includes(form))) {
      quoting.set(`${probe.variant} → ${answer.status}`, describeAnswer(answer));
    }
  }
  if (quoting.size) lines.push("answers quoting the Secret's value from the request:", ...[...quoting].map(([k, v]) => `  ${k}: ${v}`));
  const distinct = distinctViolations();
  if (distinct.length) lines.push(`distinct failures (${distinct.length}):`, ...distinct.map((d) => `  ${d}`));
  const changes = storeChanges(before, after);
  if (changes.length) {
    lines.push(`store changes (${changes.length}):`, ...changes.slice(0, 50).map((c) => `  ${c}`));
    // The suspects: every write the server accepted.
    const accepted = results.filter(({ probe, answer }) => answer.status !== undefined && answer.status < 300 && !["GET", "HEAD"].includes(probe.method)
      && !/reviews$|\/token$/.test(normalizedPath(probe.path)));
    lines.push(`writes answered 2xx (${accepted.length}):`, ...accepted.slice(0, 80).map(({ probe, answer }) => `  ${probe.category}/${probe.variant} → ${answer.status}\n    ${describeProbe(probe)}`));
  }
  console.log(lines.join("\n"));
}

// ---- verdicts ----

it("sends thousands of bad requests, every one answered or refused at the socket", () => {
  expect(results.length).toBeGreaterThanOrEqual(3000);
  expect(sweepSeconds).toBeLessThan(180);
});

it("answers none of them 5xx, errors as Kubernetes Status, nothing without a valid credential, no secret or token in any answer", () => {
  expect(distinctViolations()).toEqual([]);
});

it("changes nothing in the store", () => {
  expect(storeChanges(before, after)).toEqual([]);
});

/** What of the Secret's value and the bearer tokens used appears in `text`. */
function leaksIn(text: string): string[] {
  return [...secretForms.map((form) => ["the Secret's value", form] as const), ...[...tokensUsed].map((token) => ["a bearer token", token] as const)]
    .filter(([, value]) => text.includes(value))
    .map(([what, value]) => `${what}: ${value.slice(0, 40)}…`);
}

it("lets neither the Secret's value nor any bearer token into the control plane's log", () => {
  expect(leaksIn(log)).toEqual([]);
});

it("lets neither the Secret's value nor any bearer token into the audit log", () => {
  // Each leaking event by its request and the fields that hold the leak.
  const leaking = after.audit.flatMap((text) => {
    const leaks = leaksIn(text);
    if (!leaks.length) return [];
    const event = JSON.parse(text);
    const fields = Object.keys(event).filter((k) => leaksIn(JSON.stringify(event[k])).length);
    return [`${event.verb} ${String(event.requestURI).slice(0, 120)} → ${event.responseStatus?.code} (level ${event.level}; in ${fields.join(", ")}): ${leaks.join("; ")}`];
  });
  expect(leaking).toEqual([]);
});

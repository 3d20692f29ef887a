// The audit log: audit.k8s.io/v1 Events built from what a request did, kept in the store under
// /audit/<received micros>-<auditID> (their own shard when STORE_SHARDS names one), each attached
// to a lease of its hour so it expires after AUDIT_RETENTION_HOURS by itself.
import type { Status } from "kubernetes-types/meta/v1";
import { GrpcCode, type StoreResult } from "../../lib/etcd/errors.ts";
import { fromUtf8, utf8 } from "../../lib/etcd/gateway-json.ts";
import { prefixEnd } from "../../lib/etcd/keys.ts";
import { shardForKey, shardMapOf, storeObjectName } from "../../lib/shards.ts";
import type { RequestAttributes } from "../authz/attributes.ts";
import type { UserInfo } from "../context.ts";
import { storeShardId } from "../storage/store-ids.ts";
import type { AuditLevel } from "./policy.ts";

// kubernetes-types has no audit.k8s.io types (kube serves no audit API), so they are declared here.

export interface AuditUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface AuditObjectReference {
  resource?: string;
  namespace?: string;
  name?: string;
  apiGroup?: string;
  apiVersion?: string;
  subresource?: string;
}

export interface AuditEvent {
  kind: "Event";
  apiVersion: "audit.k8s.io/v1";
  level: AuditLevel;
  auditID: string;
  stage: "ResponseComplete";
  requestURI: string;
  verb: string;
  user: AuditUser;
  impersonatedUser?: AuditUser;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: AuditObjectReference;
  responseStatus: Status;
  requestObject?: unknown;
  responseObject?: unknown;
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

export interface AuditEventList {
  kind: "EventList";
  apiVersion: "audit.k8s.io/v1";
  metadata: { continue?: string };
  items: AuditEvent[];
}

/** What one request did, as the audit middleware saw it. */
export interface AuditedRequest {
  level: AuditLevel;
  /** The request's verb and object; their user is whom the request acted as. */
  attributes: RequestAttributes;
  requestURI: string;
  /** Who authenticated; undefined when nobody did. */
  user: UserInfo | undefined;
  /** Whom the request acted as, when it impersonated someone. */
  impersonatedUser?: UserInfo;
  sourceIPs: string[];
  userAgent?: string;
  code: number;
  /** The Status a failed request answered. */
  failure?: Pick<Status, "status" | "reason" | "message">;
  requestObject?: unknown;
  responseObject?: unknown;
  receivedAt: number;
  completedAt: number;
  omitManagedFields?: boolean;
  /** Strings that must not appear anywhere in the event: the request's bearer token. */
  redact?: string[];
}

export const AUDIT_PREFIX = "/audit/";
/** Events larger than this lose their request and response objects, as kube's truncating backend does. */
const MAX_EVENT_BYTES = 1024 * 1024;
const TRUNCATED_ANNOTATION = "audit.k8s.io/truncated";
const HOUR_MS = 3_600_000;
const DEFAULT_RETENTION_HOURS = 168;
/** The width of an int64 in decimal: keys sort by time as text. */
const MICROS_DIGITS = 19;

/** kube's audit timestamps: RFC 3339 with microseconds ("2006-01-02T15:04:05.000000Z"). */
export function microTime(micros: number): string {
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = String(micros % 1_000_000).padStart(6, "0");
  // toISOString is "YYYY-MM-DDTHH:MM:SS.sssZ" for every time a request can have; a request's two
  // times and the requests around it mostly fall in the same second.
  if (seconds !== lastSecond.seconds) lastSecond = { seconds, text: new Date(seconds * 1000).toISOString().slice(0, 19) };
  return `${lastSecond.text}.${fraction}Z`;
}

let lastSecond = { seconds: NaN, text: "" };

/** Microseconds since the epoch of an RFC 3339 time, or undefined if it is not one. */
export function parseMicroTime(text: string): number | undefined {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(text);
  if (!match) return undefined;
  const seconds = Date.parse(`${match[1]}${match[3]!.toUpperCase()}`);
  if (Number.isNaN(seconds)) return undefined;
  return seconds * 1000 + Number((match[2] ?? "").padEnd(6, "0").slice(0, 6));
}

function auditUser(user: UserInfo): AuditUser {
  return {
    username: user.name,
    ...(user.uid ? { uid: user.uid } : {}),
    groups: [...user.groups],
    ...(user.extra && Object.keys(user.extra).length ? { extra: user.extra } : {}),
  };
}

/** The request's client: Cloudflare's CF-Connecting-IP, else the X-Forwarded-For chain. */
export function sourceIPs(headers: Headers): string[] {
  const connecting = headers.get("CF-Connecting-IP")?.trim();
  if (connecting) return [connecting];
  return (headers.get("X-Forwarded-For") ?? "").split(",").map((ip) => ip.trim()).filter(Boolean);
}

/** Builds the ResponseComplete event of a request; bodies only at the levels that keep them. */
export function buildAuditEvent(request: AuditedRequest, auditID: string = crypto.randomUUID()): AuditEvent {
  const attrs = request.attributes;
  const responseStatus: Status = { metadata: {}, code: request.code };
  if (request.code >= 400) {
    responseStatus.status = request.failure?.status ?? "Failure";
    if (request.failure?.reason) responseStatus.reason = request.failure.reason;
    if (request.failure?.message) responseStatus.message = request.failure.message;
  }
  const event: AuditEvent = {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: request.level,
    auditID,
    stage: "ResponseComplete",
    requestURI: request.requestURI,
    verb: attrs.verb,
    user: request.user ? auditUser(request.user) : { username: "" },
    ...(request.impersonatedUser ? { impersonatedUser: auditUser(request.impersonatedUser) } : {}),
    ...(request.sourceIPs.length ? { sourceIPs: request.sourceIPs } : {}),
    ...(request.userAgent ? { userAgent: request.userAgent } : {}),
    responseStatus,
    requestReceivedTimestamp: microTime(request.receivedAt * 1000),
    stageTimestamp: microTime(request.completedAt * 1000),
  };
  if (attrs.resourceRequest) {
    event.objectRef = {
      ...(attrs.resource ? { resource: attrs.resource } : {}),
      ...(attrs.namespace ? { namespace: attrs.namespace } : {}),
      ...(attrs.name ? { name: attrs.name } : {}),
      apiGroup: attrs.apiGroup ?? "",
      ...(attrs.apiVersion ? { apiVersion: attrs.apiVersion } : {}),
      ...(attrs.subresource ? { subresource: attrs.subresource } : {}),
    };
  }
  const keep = (object: unknown) => withoutCredentials(object, request.omitManagedFields ?? false);
  if ((request.level === "Request" || request.level === "RequestResponse") && request.requestObject !== undefined) {
    event.requestObject = keep(request.requestObject);
  }
  if (request.level === "RequestResponse" && request.responseObject !== undefined) {
    event.responseObject = keep(request.responseObject);
  }
  const { event: built, text } = redacted(event, request.redact ?? []);
  made.set(built, { micros: request.receivedAt * 1000, text });
  return built;
}

/**
 * What building an event already worked out, so its write does neither again: when it was received
 * (its store key and lease) and its JSON (made once to look for secrets), unless that changed since.
 */
const made = new WeakMap<AuditEvent, { micros: number; text?: string }>();

/**
 * A copy of an object with every credential a Kubernetes object can carry removed: Secret data,
 * a TokenRequest's token, a TokenReview's token (also inside Lists); managedFields too if asked.
 */
function withoutCredentials(value: unknown, omitManagedFields: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutCredentials(v, omitManagedFields));
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = withoutCredentials(v, omitManagedFields);
  if (out.kind === "Secret") {
    delete out.data;
    delete out.stringData;
  }
  if (out.kind === "TokenRequest" && isRecord(out.status)) delete out.status.token;
  if (out.kind === "TokenReview" && isRecord(out.spec)) delete out.spec.token;
  if (omitManagedFields && isRecord(out.metadata)) delete out.metadata.managedFields;
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The event with each of `secrets` blanked wherever it occurs, and without bodies if too large; with its JSON when that still holds. */
function redacted(event: AuditEvent, secrets: string[]): { event: AuditEvent; text?: string } {
  let text = JSON.stringify(event);
  let changed = false;
  for (const secret of secrets) {
    if (secret && text.includes(secret)) {
      text = text.split(secret).join("[redacted]");
      changed = true;
    }
  }
  const result: AuditEvent = changed ? JSON.parse(text) : event;
  if (text.length > MAX_EVENT_BYTES && (result.requestObject !== undefined || result.responseObject !== undefined)) {
    delete result.requestObject;
    delete result.responseObject;
    result.annotations = { ...result.annotations, [TRUNCATED_ANNOTATION]: "true" };
    return { event: result };
  }
  return { event: result, text };
}

// ---- storage ----

export function auditKey(event: AuditEvent): string {
  return keyAt(parseMicroTime(event.requestReceivedTimestamp) ?? 0, event.auditID);
}

function keyAt(micros: number, auditID: string): string {
  return `${AUDIT_PREFIX}${String(micros).padStart(MICROS_DIGITS, "0")}-${auditID}`;
}

const AUDIT_PREFIX_BYTES = utf8(AUDIT_PREFIX);

function auditShard(env: Env): string {
  return shardForKey(shardMapOf(env.STORE_SHARDS), AUDIT_PREFIX_BYTES);
}

function auditStoreName(env: Env): string {
  return storeObjectName(env.CLUSTER_NAME, auditShard(env));
}

/** The audit shard's store (its id derived once per isolate, as every store shard's). */
function auditStore(env: Env) {
  return env.STORE.get(storeShardId(env.STORE, env.CLUSTER_NAME, auditShard(env)));
}

type AuditSettings = Env & { AUDIT_RETENTION_HOURS?: string };

function retentionMs(env: AuditSettings): number {
  const hours = Number(env.AUDIT_RETENTION_HOURS);
  return (env.AUDIT_RETENTION_HOURS && Number.isFinite(hours) && hours > 0 ? hours : DEFAULT_RETENTION_HOURS) * HOUR_MS;
}

/** The lease of the current time bucket, per audit store: granted once per bucket per isolate. */
const bucketLeases = new Map<string, number>();

/**
 * The lease for an event received at `receivedAt`: one per hour (or per retention period, when
 * that is shorter), living until the bucket's end plus the retention, so every event is kept at
 * least the retention and at most one bucket longer. Its ID is the bucket's start in seconds, so
 * isolates writing in the same hour share it.
 */
async function bucketLease(env: AuditSettings, store: ReturnType<typeof auditStore>, receivedAt: number): Promise<number> {
  const retention = retentionMs(env);
  const bucket = Math.min(HOUR_MS, Math.max(1000, retention));
  const start = receivedAt - (receivedAt % bucket);
  const id = Math.floor(start / 1000);
  const name = auditStoreName(env);
  if (bucketLeases.get(name) === id) return id;
  const ttl = Math.ceil((start + bucket + retention - Date.now()) / 1000);
  const granted = await store.leaseGrant({ TTL: Math.max(1, ttl), ID: id });
  if (!granted.ok && granted.error.code !== GrpcCode.FailedPrecondition) throw new Error(`audit lease: ${granted.error.message}`);
  bucketLeases.set(name, id);
  return id;
}

/**
 * Stores events in one store transaction, each under the lease of its bucket (granted again if it
 * expired since this isolate cached it).
 */
export async function writeAuditEvents(env: Env, events: AuditEvent[]): Promise<void> {
  const store = auditStore(env);
  const received = events.map((event) => made.get(event)?.micros ?? parseMicroTime(event.requestReceivedTimestamp) ?? 0);
  const values = events.map((event, i) => ({ key: utf8(keyAt(received[i]!, event.auditID)), value: utf8(made.get(event)?.text ?? JSON.stringify(event)) }));
  const put = async () => {
    const leases: number[] = [];
    for (const micros of received) leases.push(await bucketLease(env, store, Math.floor(micros / 1000)));
    return store.txn({ success: values.map((kv, i) => ({ request_put: { ...kv, lease: leases[i] } })) });
  };
  let result: StoreResult<unknown> = await put();
  if (!result.ok && result.error.code === GrpcCode.NotFound) {
    bucketLeases.delete(auditStoreName(env));
    result = await put();
  }
  if (!result.ok) throw new Error(`audit write: ${result.error.message}`);
}

/** At most this many events go in one transaction (etcd's --max-txn-ops). */
const MAX_BATCH = 128;
/** How long the first event of a batch waits for other requests' events to share its write. */
const BATCH_WINDOW_MS = 20;
/**
 * A write that was due this long ago and has not taken its events never will (its request's
 * context was torn down): the next event makes a new one, so no queue waits on it for ever.
 */
const STALLED_MS = 5_000;
/** Events recorded in this isolate and not yet taken by a write, per audit store, and since when a write is due. */
const pending = new Map<string, { events: AuditEvent[]; dueAt?: number }>();

/**
 * Writes an event (or the event a promise settles to) after the response: `waitUntil` is the
 * request's ExecutionContext.waitUntil. Events of requests that end close together share one
 * store transaction: the first event into an empty queue makes its request's waitUntil wait a
 * moment and then write everything queued by then; the events after it only join the queue (no
 * timer and no waitUntil of their own). Every event is thus written from the waitUntil of a request
 * that is still running, and no request awaits another's promise. A failure is logged, never
 * thrown into the request.
 */
export function recordAuditEvent(env: Env, event: AuditEvent | Promise<AuditEvent | undefined>, waitUntil: (promise: Promise<unknown>) => void): void {
  if (!(event instanceof Promise)) return queueAuditEvent(env, event, waitUntil);
  waitUntil(event.then(
    (built) => built && queueAuditEvent(env, built, waitUntil),
    (e) => logNotRecorded(1, e),
  ));
}

function queueAuditEvent(env: Env, event: AuditEvent, waitUntil: (promise: Promise<unknown>) => void): void {
  let name: string;
  try {
    name = auditStoreName(env);
  } catch (e) {
    return logNotRecorded(1, e);
  }
  let queue = pending.get(name);
  if (!queue) pending.set(name, (queue = { events: [] }));
  queue.events.push(event);
  const now = Date.now();
  if (queue.dueAt !== undefined && now - queue.dueAt < STALLED_MS) return;
  queue.dueAt = now;
  const batch = queue;
  waitUntil((async () => {
    // workerd's own timer: setTimeout goes through the Node.js compatibility layer, which cost more.
    await scheduler.wait(BATCH_WINDOW_MS);
    // What came after this point is the next write's: a write never waits for more than it took.
    const taken = batch.events.splice(0);
    if (batch.dueAt === now) batch.dueAt = undefined;
    for (let i = 0; i < taken.length; i += MAX_BATCH) {
      const part = taken.slice(i, i + MAX_BATCH);
      try {
        await writeAuditEvents(env, part);
      } catch (e) {
        logNotRecorded(part.length, e);
      }
    }
  })());
}

function logNotRecorded(events: number, e: unknown): void {
  console.error(JSON.stringify({ level: "error", msg: "audit event not recorded", events, error: (e as Error)?.message }));
}

const CONTINUE_KEY = /^\d{19}-[0-9a-f-]{36}$/;

/** Why a read of the log was refused: a `continue` token this log did not give out. */
export class AuditQueryError extends Error {}

/**
 * Events received at `sinceMicros` or later, oldest first, at most `limit`; `continueToken` (from a
 * previous answer) resumes after its last event.
 */
export async function listAuditEvents(env: Env, query: { sinceMicros?: number; limit: number; continueToken?: string }): Promise<AuditEventList> {
  let start = `${AUDIT_PREFIX}${String(query.sinceMicros ?? 0).padStart(MICROS_DIGITS, "0")}`;
  if (query.continueToken) {
    let last: string;
    try {
      last = atob(query.continueToken);
    } catch {
      throw new AuditQueryError("continue token is not valid");
    }
    if (!CONTINUE_KEY.test(last)) throw new AuditQueryError("continue token is not valid");
    start = `${AUDIT_PREFIX}${last}\0`;
  }
  const result = await auditStore(env).range({ key: utf8(start), range_end: prefixEnd(utf8(AUDIT_PREFIX)), limit: query.limit });
  if (!result.ok) throw new Error(`audit read: ${result.error.message}`);
  const kvs = result.value.kvs;
  const list: AuditEventList = { kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items: kvs.map((kv) => JSON.parse(fromUtf8(kv.value))) };
  if (result.value.more && kvs.length) list.metadata.continue = btoa(fromUtf8(kvs[kvs.length - 1]!.key).slice(AUDIT_PREFIX.length));
  return list;
}

// The audit filter: wraps the API routes, decides each request's level from the audit policy and,
// once the response is made, records its event in waitUntil. It reads a request body only when
// the level may keep it, and nothing it does can change or fail the response.
import type { Context, MiddlewareHandler } from "hono";
import { parse as parseYaml } from "yaml";
import { requestUrl } from "../apiserver/request-url.ts";
import { authenticate } from "../auth.ts";
import { requestAttributes, type RequestAttributes } from "../authz/attributes.ts";
import { impersonation } from "../authz/authorizer.ts";
import type { AppEnv, UserInfo } from "../context.ts";
import { decodeKubernetesProtobuf, PROTOBUF_MEDIA_TYPE } from "../protobuf/decode.ts";
import { buildAuditEvent, recordAuditEvent, sourceIPs, type AuditEvent } from "./log.ts";
import { auditDecision, auditPolicy, highestLevelForAnyUser, levelAtLeast, type AuditLevel } from "./policy.ts";
import { concatBytes } from "../../lib/bytes.ts";

/** Bodies past this size are not kept in events (the API refuses larger requests anyway). */
const MAX_BODY_BYTES = 3 * 1024 * 1024;

type AuditSettings = Env & { AUDIT_POLICY?: string };

const NOBODY: UserInfo = { name: "", uid: "", groups: [] };

/** Requests already being audited: hono runs a middleware once per matching mount ("/api" and "/api/*"). */
const audited = new WeakSet<Request>();

export const auditMiddleware: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (audited.has(c.req.raw)) return next();
  audited.add(c.req.raw);
  const receivedAt = Date.now();
  let before: { attrs: RequestAttributes; requestCopy?: Request } | undefined;
  try {
    before = beforeRequest(c);
  } catch (e) {
    logFailure(e);
  }
  await next();
  if (!before) return;
  try {
    const event = afterResponse(c, before.attrs, before.requestCopy, receivedAt);
    if (event) recordAuditEvent(c.env, event, waitUntilOf(c));
  } catch (e) {
    logFailure(e);
  }
};

/** The request as the policy sees it before the handler, and a copy of its body if the level may need it. */
function beforeRequest(c: Context<AppEnv>): { attrs: RequestAttributes; requestCopy?: Request } {
  const policy = auditPolicy((c.env as AuditSettings).AUDIT_POLICY);
  // Set only when this runs after authentication; an impersonator's own user is not known yet.
  const known = !c.req.header("Impersonate-User") ? (c.get("user") as UserInfo | undefined) : undefined;
  const attrs = requestAttributes(c.req.method, requestUrl(c.req.raw), known ?? NOBODY);
  const level = known ? auditDecision(policy, attrs).level : highestLevelForAnyUser(policy, attrs);
  const needsBody = levelAtLeast(level, "Request") && c.req.raw.body !== null && !c.req.raw.bodyUsed;
  return { attrs, requestCopy: needsBody ? c.req.raw.clone() : undefined };
}

/**
 * What must be taken from the response before it goes (a copy of its body when the event may keep
 * it or its failure Status), and the event: built at once when nothing is left to learn (the user
 * known, no body to read), else once the rest is known.
 */
function afterResponse(c: Context<AppEnv>, before: RequestAttributes, requestCopy: Request | undefined, receivedAt: number): AuditEvent | Promise<AuditEvent | undefined> | undefined {
  const policy = auditPolicy((c.env as AuditSettings).AUDIT_POLICY);
  const response = c.res;
  const actedAs = c.get("user") as UserInfo | undefined;
  const impersonating = !!c.req.header("Impersonate-User");
  const possible: AuditLevel = actedAs && !impersonating
    ? auditDecision(policy, { ...before, user: actedAs }).level
    : highestLevelForAnyUser(policy, before);
  if (possible === "None") {
    void requestCopy?.body?.cancel();
    return undefined;
  }
  const streamed = before.verb === "watch" || response.status === 101 || truthy(requestUrl(c.req.raw).searchParams.get("follow"));
  const wantBody = !streamed && response.body !== null && (response.status >= 400 || possible === "RequestResponse");
  const responseCopy = wantBody ? response.clone() : undefined;
  const completedAt = Date.now();

  // As in kube, the policy is asked about the authenticated user, not whom they impersonate;
  // a request refused before the user was set (401, 403) is attributed to its token's user.
  const finish = (authenticated: UserInfo | undefined, impersonated: UserInfo | undefined, requestObject: unknown, responseObject: unknown) => {
    const attrs: RequestAttributes = { ...before, user: authenticated ?? NOBODY };
    const decision = auditDecision(policy, attrs);
    const level = decision.level;
    if (level === "None" || decision.omitStages.includes("ResponseComplete")) return undefined;
    const failure = response.status >= 400 && isRecord(responseObject) && responseObject.kind === "Status" ? responseObject : undefined;
    return buildAuditEvent({
      level,
      attributes: attrs,
      requestURI: requestURI(requestUrl(c.req.raw)),
      user: authenticated,
      impersonatedUser: impersonated,
      sourceIPs: sourceIPs(c.req.raw.headers),
      userAgent: c.req.header("User-Agent"),
      code: response.status,
      failure: failure && { status: stringOf(failure.status), reason: stringOf(failure.reason), message: stringOf(failure.message) },
      requestObject: levelAtLeast(level, "Request") ? requestObject : undefined,
      responseObject: level === "RequestResponse" ? responseObject : undefined,
      receivedAt,
      completedAt,
      omitManagedFields: decision.omitManagedFields,
      redact: bearerTokens(c.req.raw.headers),
    });
  };
  if (actedAs && !impersonating && !requestCopy && !responseCopy) return finish(actedAs, undefined, undefined, undefined);

  return (async () => {
    const authenticated = actedAs && !impersonating ? actedAs : await authenticate(c);
    // Refused after impersonation succeeded (the impersonated user may not do this), the request
    // still acted as that user; impersonation() answers whether it would have succeeded.
    const impersonated = impersonating && authenticated ? (actedAs ?? (await impersonation(c, authenticated).catch(() => undefined))) : undefined;
    const decision = auditDecision(policy, { ...before, user: authenticated ?? NOBODY });
    if (decision.level === "None" || decision.omitStages.includes("ResponseComplete")) {
      void requestCopy?.body?.cancel();
      void responseCopy?.body?.cancel();
      return undefined;
    }
    let requestObject: unknown;
    if (requestCopy && levelAtLeast(decision.level, "Request")) requestObject = await bodyObject(requestCopy);
    else void requestCopy?.body?.cancel();
    const responseObject = responseCopy ? await bodyObject(responseCopy) : undefined;
    return finish(authenticated, impersonated, requestObject, responseObject);
  })();
}

/** kube's requestURI: the path and query as sent. */
function requestURI(url: URL): string {
  return url.pathname + url.search;
}

function truthy(value: string | null): boolean {
  return value !== null && value !== "0" && value.toLowerCase() !== "false";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The request's bearer token, which no event may contain. */
function bearerTokens(headers: Headers): string[] {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(headers.get("Authorization") ?? "")?.[1];
  return token ? [token] : [];
}

/** A request or response body as an object: JSON, YAML (apply patches) or Kubernetes protobuf; else undefined. */
async function bodyObject(message: Request | Response): Promise<unknown> {
  const type = (message.headers.get("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
  const json = type === "application/json" || type.endsWith("+json");
  const yaml = type === "application/yaml" || type.endsWith("+yaml");
  const protobuf = type === PROTOBUF_MEDIA_TYPE;
  if (!json && !yaml && !protobuf) {
    void message.body?.cancel();
    return undefined;
  }
  const bytes = await readCapped(message.body, MAX_BODY_BYTES);
  if (!bytes?.length) return undefined;
  try {
    if (protobuf) return decodeKubernetesProtobuf(bytes).object;
    const text = new TextDecoder().decode(bytes);
    return json ? JSON.parse(text) : parseYaml(text);
  } catch {
    return undefined;
  }
}

/** The whole stream, or undefined (and the stream cancelled) once it passes `max` bytes. */
async function readCapped(body: ReadableStream<Uint8Array> | null, max: number): Promise<Uint8Array | undefined> {
  if (!body) return undefined;
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}

/** The request's waitUntil; without an ExecutionContext (a bare app.request), the write just runs. */
function waitUntilOf(c: Context<AppEnv>): (promise: Promise<unknown>) => void {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return (promise) => void promise;
  }
}

function logFailure(e: unknown): void {
  console.error(JSON.stringify({ level: "error", msg: "audit middleware failed", error: (e as Error).message }));
}

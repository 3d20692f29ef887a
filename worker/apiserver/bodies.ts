// Request bodies as kube-apiserver reads them: within the size limit, UTF-8, JSON, YAML or
// protobuf, nesting bounded, and decode errors that never quote what the body carried (a Secret).
import type { Context } from "hono";
import { parse as parseYaml } from "yaml";
import { apiErrors, type StatusCause } from "../../lib/k8s/status.ts";
import { decodeDeleteOptions, decodeKubernetesProtobuf, PROTOBUF_MEDIA_TYPE, ProtobufError } from "../protobuf/decode.ts";
import type { DeleteOptions } from "../registry/store.ts";
import { groupVersion, type KubeObject, type ResourceDefinition } from "../registry/types.ts";

const MAX_BODY_BYTES = 3 * 1024 * 1024;

export async function readText(c: Context): Promise<string> {
  const bytes = await readBytes(c);
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw apiErrors.badRequest("the body of the request is not valid UTF-8");
  }
}

/** How deep a body may nest: far beyond any Kubernetes object, well within what recursion here can walk. */
const MAX_DEPTH = 500;

function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++; // backslash: skip the escaped character
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 123 || ch === 91) deepest = Math.max(deepest, ++depth);
    else if (ch === 125 || ch === 93) depth--;
  }
  return deepest;
}

export function parseBody(text: string, contentType: string): any {
  if (nestingDepth(text) > MAX_DEPTH) throw apiErrors.badRequest(`the body of the request could not be decoded: nesting deeper than ${MAX_DEPTH} levels`);
  try {
    // YAML errors quote the offending source line, which may be a secret: answer with the error's code and place only.
    if (contentType.includes("yaml")) return parseYaml(text, { prettyErrors: false, logLevel: "silent" });
    return JSON.parse(text);
  } catch (e) {
    const err = e as { name?: string; code?: string; linePos?: { line: number; col: number }[]; message?: string };
    const where = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : "";
    const what = err.code ? `${err.code}${where}` : e instanceof SyntaxError ? "invalid JSON" : (err.name ?? "error");
    throw apiErrors.badRequest(`the body of the request could not be decoded: ${what}`);
  }
}

/** ?limit=: a non-negative integer (kube's int64); anything else is a 400. */
export function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  if (!/^\d{1,18}$/.test(text)) throw apiErrors.badRequest(`limit: Invalid value: "${text}": must be a non-negative integer`);
  return Math.min(Number(text), 1_000_000_000);
}

export async function readObject(c: Context): Promise<KubeObject> {
  return (await readObjectAndText(c)).object;
}

/** The request's body as bytes, within the size limit. */
export async function readBytes(c: Context): Promise<Uint8Array> {
  const length = Number(c.req.header("Content-Length") ?? 0);
  if (length > MAX_BODY_BYTES) throw apiErrors.tooLarge();
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await c.req.arrayBuffer());
  } catch (e) {
    // The client's framing broke (bad chunk sizes or trailers): workerd hands the Worker such
    // requests, and only the body read tells.
    throw apiErrors.badRequest(`the body of the request could not be read: ${(e as Error).message}`);
  }
  if (bytes.length > MAX_BODY_BYTES) throw apiErrors.tooLarge();
  return bytes;
}

function decodeProtobuf<T>(decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof ProtobufError) throw apiErrors.badRequest(`the body of the request could not be decoded: ${e.message}`);
    throw e;
  }
}

/**
 * The request's object, and its JSON text (for the duplicate-field check) when it was JSON. A
 * protobuf body (kubectl 1.32+) must be of the URL's kind when `expected` is given.
 */
export async function readObjectAndText(c: Context, expected?: ResourceDefinition): Promise<{ object: KubeObject; text?: string }> {
  const contentType = (c.req.header("Content-Type") ?? "application/json").split(";")[0]!.trim();
  if (contentType === PROTOBUF_MEDIA_TYPE) {
    const bytes = await readBytes(c);
    const { apiVersion, kind, object } = decodeProtobuf(() => decodeKubernetesProtobuf(bytes));
    if (expected && (apiVersion !== groupVersion(expected) || kind !== expected.kind)) {
      throw apiErrors.badRequest(`the body's ${kind} in ${apiVersion} does not match the URL's ${expected.kind} in ${groupVersion(expected)}`);
    }
    return { object };
  }
  if (!["application/json", "application/yaml", "*/*", ""].includes(contentType)) {
    throw apiErrors.unsupportedMediaType(["application/json", "application/yaml", PROTOBUF_MEDIA_TYPE]);
  }
  const text = await readText(c);
  const body = parseBody(text, contentType);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw apiErrors.badRequest("the body of the request must be a JSON object");
  }
  return { object: body, text: contentType.includes("yaml") ? undefined : text };
}

/** DeleteOptions from the body, dry run if either the query or the body asks for it. */
export async function withBodyDryRun(c: Context, dryRun: boolean): Promise<DeleteOptions> {
  const options = await readDeleteOptions(c);
  return { ...options, dryRun: dryRun || !!options.dryRun };
}

export async function readDeleteOptions(c: Context): Promise<DeleteOptions> {
  const contentType = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim();
  let body: any;
  if (contentType === PROTOBUF_MEDIA_TYPE) {
    const bytes = await readBytes(c);
    body = bytes.length ? decodeProtobuf(() => decodeDeleteOptions(bytes)) : {};
  } else {
    const text = await readText(c);
    body = text.trim() ? parseBody(text, "application/json") : {};
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw apiErrors.badRequest("the body of the request must be a DeleteOptions object");
  if (body.kind !== undefined && body.kind !== "DeleteOptions") throw apiErrors.badRequest(`expected a DeleteOptions, got ${JSON.stringify(body.kind)}`);
  const query = c.req.query();
  const causes: StatusCause[] = [];
  let grace: unknown = body.gracePeriodSeconds;
  if (grace === undefined && query.gracePeriodSeconds !== undefined) grace = /^-?\d{1,12}$/.test(query.gracePeriodSeconds) ? Number(query.gracePeriodSeconds) : query.gracePeriodSeconds;
  if (grace !== undefined && grace !== null && !(Number.isInteger(grace) && (grace as number) >= 0 && (grace as number) < 1e12)) {
    causes.push({ reason: "FieldValueInvalid", field: "gracePeriodSeconds", message: `Invalid value: ${JSON.stringify(grace)}: must be a non-negative integer` });
  }
  const policy = body.propagationPolicy ?? query.propagationPolicy;
  if (policy !== undefined && policy !== null && !["Orphan", "Background", "Foreground"].includes(policy)) {
    causes.push({ reason: "FieldValueNotSupported", field: "propagationPolicy", message: `Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan"` });
  }
  if (body.orphanDependents !== undefined && body.orphanDependents !== null && policy) {
    causes.push({ reason: "FieldValueInvalid", field: "propagationPolicy", message: `Invalid value: ${JSON.stringify(policy)}: orphanDependents and deletionPropagation cannot be both set` });
  }
  const dryRun = body.dryRun;
  if (dryRun !== undefined && dryRun !== null && !(Array.isArray(dryRun) && dryRun.every((d: unknown) => d === "All"))) {
    causes.push({ reason: "FieldValueNotSupported", field: "dryRun", message: `Unsupported value: ${JSON.stringify(dryRun)}: supported values: "All"` });
  }
  const pre = body.preconditions;
  if (pre !== undefined && pre !== null && (typeof pre !== "object" || Array.isArray(pre))) causes.push({ reason: "FieldValueInvalid", field: "preconditions", message: "Invalid value: must be an object" });
  if (causes.length) throw apiErrors.invalid("meta.k8s.io", "DeleteOptions", "", causes);
  return {
    gracePeriodSeconds: grace === null ? undefined : (grace as number | undefined),
    propagationPolicy: policy ?? (body.orphanDependents === true ? "Orphan" : undefined),
    preconditions: pre ?? undefined,
    ...(Array.isArray(dryRun) && dryRun.includes("All") ? { dryRun: true } : {}),
  };
}

// Operator access to the store in etcd's own v3 JSON gateway protocol, for the cluster admin only:
// /etcd/v3/... routes each request to the shard holding its keys, /etcd/shards/<name>/v3/...
// addresses one shard. curl recipes and etcd HTTP clients work against either.
import { Hono, type Context } from "hono";
import { EtcdFailure, GrpcCode, httpStatusOf, type EtcdError, type StoreResult } from "../lib/etcd/errors.ts";
import {
  decodeCompactionRequest, decodeDeleteRangeRequest, decodeLeaseGrantRequest, decodeLeaseId, decodeLeaseTimeToLiveRequest,
  decodePutRequest, decodeRangeRequest, decodeTxnRequest, decodeWatchRequest, encodeResponse, headerIdentity, parseJsonBody,
  type HeaderIdentity,
} from "../lib/etcd/gateway-json.ts";
import { JsonObjectSplitter } from "../lib/etcd/json-stream.ts";
import type { Bytes, RequestOp, TxnRequest } from "../lib/etcd/messages.ts";
import { MAIN_SHARD, shardForRange, shardMapOf } from "../lib/shards.ts";
import { requireAdmin } from "./auth.ts";
import { etcdAdmin } from "./etcd-admin.ts";
import { storeShardId } from "./storage/store-ids.ts";
import type { AppEnv } from "./context.ts";

/** etcd refuses requests over 1.5 MiB; in JSON, base64 makes that about 2 MiB of text. */
const MAX_BODY_BYTES = 2.5 * 1024 * 1024;

type Json = Record<string, unknown>;
type Stub = DurableObjectStub<import("../durable-objects/store/index.ts").StoreShard>;
type KeySpan = [Bytes, Bytes | undefined];

function errorBody(error: EtcdError): Json {
  return { error: error.message, code: error.code, message: error.message };
}

function errorResponse(c: Context, error: EtcdError): Response {
  return c.json(errorBody(error), httpStatusOf(error.code) as 400);
}


/** The shard a request goes to: named in the path, else the one holding all of its keys. */
function chooseShard(c: Context<AppEnv>, spans: KeySpan[]): string {
  const named = c.req.param("shard");
  if (named) return named;
  const map = shardMapOf(c.env.STORE_SHARDS);
  if (spans.length === 1) {
    const only = shardForRange(map, spans[0]![0], spans[0]![1]);
    if (only !== undefined) return only;
  }
  const shards = new Set(spans.map(([key, end]) => shardForRange(map, key, end)));
  if (shards.size === 0) return MAIN_SHARD;
  const [only] = shards;
  if (shards.size > 1 || only === undefined) {
    throw new EtcdFailure(GrpcCode.InvalidArgument,
      "edgeplane: the request's keys span store shards; send it to /etcd/shards/<shard>/v3/... for each shard");
  }
  return only;
}

function storeStub(env: Env, shard: string): { stub: Stub; identity: HeaderIdentity } {
  const id = storeShardId(env.STORE, env.CLUSTER_NAME, shard);
  let identity = identities.get(id);
  if (!identity) identities.set(id, (identity = headerIdentity(id.toString())));
  return { stub: env.STORE.get(id), identity };
}

/** Each shard's header identity, by its (per-isolate) id: deriving it means printing the id. */
const identities = new WeakMap<DurableObjectId, HeaderIdentity>();

const JSON_HEADERS = { "Content-Type": "application/json" };

async function readBody(c: Context): Promise<Json> {
  const length = Number(c.req.header("Content-Length") ?? 0);
  if (length > MAX_BODY_BYTES) throw new EtcdFailure(GrpcCode.InvalidArgument, "etcdserver: request is too large");
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES) throw new EtcdFailure(GrpcCode.InvalidArgument, "etcdserver: request is too large");
  return parseJsonBody(text);
}

function txnSpans(req: TxnRequest): KeySpan[] {
  const spans: KeySpan[] = (req.compare ?? []).map((c) => [c.key, c.range_end]);
  const opSpans = (op: RequestOp): KeySpan[] => {
    if ("request_range" in op) return [[op.request_range.key, op.request_range.range_end]];
    if ("request_put" in op) return [[op.request_put.key, undefined]];
    if ("request_delete_range" in op) return [[op.request_delete_range.key, op.request_delete_range.range_end]];
    return txnSpans(op.request_txn);
  };
  for (const op of [...(req.success ?? []), ...(req.failure ?? [])]) spans.push(...opSpans(op));
  return spans;
}

/** One unary endpoint: decode, pick the shard, call the store, encode as etcd does. */
function unary<R>(
  decode: (body: Json) => R,
  spans: (req: R) => KeySpan[],
  call: (stub: Stub, req: R) => Promise<StoreResult<object>>,
  wrap?: "result",
) {
  return async (c: Context<AppEnv>) => {
    try {
      const req = decode(await readBody(c));
      const { stub, identity } = storeStub(c.env, chooseShard(c, spans(req)));
      const result = await call(stub, req);
      if (!result.ok) return errorResponse(c, result.error);
      const body = encodeResponse(result.value, identity);
      // etcd serves lease keep-alive as a stream: its one answer arrives wrapped in "result".
      return new Response(wrap ? JSON.stringify({ result: body }) + "\n" : JSON.stringify(body), { headers: JSON_HEADERS });
    } catch (e) {
      if (e instanceof EtcdFailure) return errorResponse(c, e);
      throw e;
    }
  };
}

const noKeys = (): KeySpan[] => [];

export const etcdGateway = new Hono<AppEnv>();

etcdGateway.use("*", requireAdmin((c, status) =>
  c.json(errorBody({
    code: status === 401 ? GrpcCode.Unauthenticated : GrpcCode.PermissionDenied,
    message: status === 401 ? "edgeplane: the etcd gateway needs the cluster admin's bearer token" : "edgeplane: the etcd gateway is for cluster admins only",
  }), status)));

etcdGateway.post("/v3/kv/range", unary(decodeRangeRequest, (r) => [[r.key, r.range_end]], (s, r) => s.range(r)));
etcdGateway.post("/v3/kv/put", unary(decodePutRequest, (r) => [[r.key, undefined]], (s, r) => s.put(r)));
etcdGateway.post("/v3/kv/deleterange", unary(decodeDeleteRangeRequest, (r) => [[r.key, r.range_end]], (s, r) => s.deleteRange(r)));
etcdGateway.post("/v3/kv/txn", unary(decodeTxnRequest, txnSpans, (s, r) => s.txn(r)));
etcdGateway.post("/v3/kv/compaction", unary(decodeCompactionRequest, noKeys, (s, r) => s.compact(r)));
etcdGateway.post("/v3/lease/grant", unary(decodeLeaseGrantRequest, noKeys, (s, r) => s.leaseGrant(r)));
for (const path of ["/v3/lease/revoke", "/v3/kv/lease/revoke"]) {
  etcdGateway.post(path, unary(decodeLeaseId, noKeys, (s, id) => s.leaseRevoke(id)));
}
etcdGateway.post("/v3/lease/keepalive", unary(decodeLeaseId, noKeys, (s, id) => s.leaseKeepAlive(id), "result"));
for (const path of ["/v3/lease/timetolive", "/v3/kv/lease/timetolive"]) {
  etcdGateway.post(path, unary(decodeLeaseTimeToLiveRequest, noKeys, (s, r) => s.leaseTimeToLive(r)));
}
for (const path of ["/v3/lease/leases", "/v3/kv/lease/leases"]) {
  etcdGateway.post(path, unary((b) => b, noKeys, (s) => s.leaseLeases()));
}
etcdGateway.post("/v3/watch", watch);
// edgeplane's own: the cluster's shards, snapshot export and restore (worker/etcd-admin.ts).
etcdGateway.route("/", etcdAdmin);
etcdGateway.all("*", (c) => c.json(errorBody({ code: GrpcCode.Unimplemented, message: `edgeplane: no etcd gateway method at ${c.req.path}` }), 404));

/**
 * /v3/watch: the request body is a stream of WatchRequests, the response a stream of
 * `{"result": WatchResponse}` lines. Both ride one WebSocket to the store shard, which
 * speaks the same lines; the stream ends when the store drops the socket (restart or
 * deploy) and clients resume from the last revision they saw.
 */
async function watch(c: Context<AppEnv>): Promise<Response> {
  const body = c.req.raw.body;
  if (!body) return errorResponse(c, { code: GrpcCode.InvalidArgument, message: "edgeplane: a watch needs a create_request in its body" });
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const splitter = new JsonObjectSplitter();
  const pending: string[] = [];
  let first: Json | undefined;
  // The first request decides the shard, so read until it is whole.
  try {
    while (!first) {
      const { value, done } = await reader.read();
      if (done) {
        const rest = splitter.rest();
        if (rest) pending.push(rest);
        if (!pending.length) return errorResponse(c, { code: GrpcCode.InvalidArgument, message: "edgeplane: a watch needs a create_request in its body" });
      } else pending.push(...splitter.push(value));
      if (pending.length) first = parseJsonBody(pending[0]!);
    }
    const request = decodeWatchRequest(first);
    const spans: KeySpan[] = "create_request" in request ? [[request.create_request.key, request.create_request.range_end]] : [];
    const { stub } = storeStub(c.env, chooseShard(c, spans));
    const upgrade = await stub.fetch("https://store/watch", { headers: { Upgrade: "websocket" } });
    const socket = upgrade.webSocket;
    if (!socket) return errorResponse(c, { code: GrpcCode.Unavailable, message: "edgeplane: the store refused the watch stream" });
    socket.accept();

    const encoder = new TextEncoder();
    const output = new TransformStream<Uint8Array, Uint8Array>();
    const writer = output.writable.getWriter();
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      void writer.close().catch(() => {});
      try { socket.close(1000, "watch stream ended"); } catch { /* already closed */ }
    };
    socket.addEventListener("message", (event) => {
      if (!closed) void writer.write(encoder.encode(`${event.data as string}\n`)).catch(finish);
    });
    socket.addEventListener("close", finish);
    socket.addEventListener("error", finish);
    for (const text of pending) socket.send(text);
    // Later requests (more creates, cancels, progress requests) follow as the client sends them.
    c.executionCtx.waitUntil((async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done || closed) break;
          for (const text of splitter.push(value)) socket.send(text);
        }
      } catch {
        finish();
      }
    })());
    // "identity" keeps Cloudflare from gzipping the stream, which would hold lines back in its buffer.
    return new Response(output.readable, { headers: { "Content-Type": "application/json", "Content-Encoding": "identity" } });
  } catch (e) {
    if (e instanceof EtcdFailure) return errorResponse(c, e);
    throw e;
  }
}

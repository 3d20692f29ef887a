// The apiserver's storage layer, the only code that calls the store: objects as JSON under
// kube-apiserver's /registry/... keys, optimistic concurrency on mod_revision, resourceVersion =
// store revision, watches over the store shard's WebSocket.
import type { EtcdError, StoreResult } from "../../lib/etcd/errors.ts";
import { fromBase64, fromUtf8, toBase64, utf8 } from "../../lib/etcd/gateway-json.ts";
import { prefixEnd } from "../../lib/etcd/keys.ts";
import type { KeyValue } from "../../lib/etcd/messages.ts";
import { shardForKey, shardMapOf, storeObjectName, type ShardMap } from "../../lib/shards.ts";
import { apiErrors } from "../apiserver/status.ts";


export interface StoredObject {
  key: string;
  object: Record<string, any>;
  modRevision: number;
}

export type WriteOutcome = { ok: true; revision: number } | { ok: false; current?: StoredObject };

export interface StorageEvent {
  type: "PUT" | "DELETE";
  key: string;
  revision: number;
  object?: Record<string, any>;
  prev?: Record<string, any>;
  created: boolean;
}

export class ObjectStorage {
  private readonly shards: ShardMap;

  constructor(readonly env: Env) {
    this.shards = shardMapOf(env.STORE_SHARDS);
  }

  /** Every key under one resource prefix lives in one shard, so a prefix picks the shard. */
  stub(key: string) {
    const shard = shardForKey(this.shards, utf8(key));
    return this.env.STORE.get(this.env.STORE.idFromName(storeObjectName(this.env.CLUSTER_NAME, shard)));
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const res = unwrap(await this.stub(key).range({ key: utf8(key) }));
    const kv = res.kvs[0];
    return kv ? decode(kv) : undefined;
  }

  async currentRevision(key: string): Promise<number> {
    return unwrap(await this.stub(key).range({ key: utf8(key), count_only: true })).header.revision;
  }

  /** Objects under `prefix` from `startKey` on, at `revision` (0: now), up to `limit` (0: all). */
  async list(prefix: string, options: { startKey?: string; limit?: number; revision?: number }) {
    const res = unwrap(await this.stub(prefix).range({
      key: utf8(options.startKey ?? prefix), range_end: prefixEnd(utf8(prefix)),
      limit: options.limit ?? 0, revision: options.revision ?? 0,
    }));
    const items = res.kvs.map(decode);
    return { items, revision: options.revision || res.header.revision, more: res.more, remaining: res.count - items.length };
  }

  async create(key: string, object: object): Promise<WriteOutcome> {
    const res = unwrap(await this.stub(key).txn({
      compare: [{ key: utf8(key), target: "CREATE", result: "EQUAL", create_revision: 0 }],
      success: [{ request_put: { key: utf8(key), value: utf8(JSON.stringify(object)) } }],
    }));
    return res.succeeded ? { ok: true, revision: res.header.revision } : { ok: false };
  }

  /** Writes `object` if the key still has `modRevision`; otherwise answers what is there now. */
  async update(key: string, object: object, modRevision: number): Promise<WriteOutcome> {
    const res = unwrap(await this.stub(key).txn({
      compare: [{ key: utf8(key), target: "MOD", result: "EQUAL", mod_revision: modRevision }],
      success: [{ request_put: { key: utf8(key), value: utf8(JSON.stringify(object)) } }],
      failure: [{ request_range: { key: utf8(key) } }],
    }));
    if (res.succeeded) return { ok: true, revision: res.header.revision };
    const range = res.responses[0] as { response_range: { kvs: KeyValue[] } } | undefined;
    const kv = range?.response_range.kvs[0];
    return { ok: false, current: kv ? decode(kv) : undefined };
  }

  async delete(key: string, modRevision: number): Promise<WriteOutcome> {
    const res = unwrap(await this.stub(key).txn({
      compare: [{ key: utf8(key), target: "MOD", result: "EQUAL", mod_revision: modRevision }],
      success: [{ request_delete_range: { key: utf8(key) } }],
      failure: [{ request_range: { key: utf8(key) } }],
    }));
    if (res.succeeded) return { ok: true, revision: res.header.revision };
    const range = res.responses[0] as { response_range: { kvs: KeyValue[] } } | undefined;
    const kv = range?.response_range.kvs[0];
    return { ok: false, current: kv ? decode(kv) : undefined };
  }

  /**
   * Events under `prefix` after `afterRevision`, as they commit. Ends when the store drops the
   * stream (restart) or `signal` aborts; throws an Expired ApiError when the revision is compacted.
   */
  async *watch(prefix: string, afterRevision: number, signal: AbortSignal, progressNotify = false): AsyncGenerator<StorageEvent | { type: "PROGRESS"; revision: number }> {
    const upgrade = await this.stub(prefix).fetch("https://store/watch", { headers: { Upgrade: "websocket" } });
    const ws = upgrade.webSocket;
    if (!ws) throw apiErrors.serviceUnavailable("the store refused the watch stream");
    ws.accept();
    const queue: string[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    const notify = () => { wake?.(); wake = undefined; };
    ws.addEventListener("message", (e) => { queue.push(e.data as string); notify(); });
    ws.addEventListener("close", () => { closed = true; notify(); });
    ws.addEventListener("error", () => { closed = true; notify(); });
    const onAbort = () => { closed = true; try { ws.close(1000, "watch ended"); } catch { /* closed */ } notify(); };
    signal.addEventListener("abort", onAbort);
    ws.send(JSON.stringify({ create_request: {
      key: toBase64(utf8(prefix)), range_end: toBase64(prefixEnd(utf8(prefix))),
      start_revision: String(afterRevision + 1), prev_kv: true, progress_notify: progressNotify,
    } }));
    try {
      for (;;) {
        while (queue.length) {
          const message = JSON.parse(queue.shift()!);
          const result = message.result;
          if (!result) throw apiErrors.internal(`watch failed: ${message.message ?? "unknown error"}`);
          if (result.compact_revision) {
            throw apiErrors.expired(`too old resource version: ${afterRevision} (${result.compact_revision})`);
          }
          if (result.canceled) return;
          if (result.created) continue;
          if (!result.events) {
            yield { type: "PROGRESS", revision: Number(result.header.revision) };
            continue;
          }
          for (const e of result.events) yield decodeEvent(e);
        }
        if (closed) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      try { ws.close(1000, "watch ended"); } catch { /* closed */ }
    }
  }
}

function decode(kv: KeyValue): StoredObject {
  return { key: fromUtf8(kv.key), object: JSON.parse(fromUtf8(kv.value)), modRevision: kv.mod_revision };
}

const fromB64 = (s: string | undefined) => (s ? fromUtf8(fromBase64(s, "key")) : "");

function decodeEvent(e: any): StorageEvent {
  const revision = Number(e.kv.mod_revision);
  const prev = e.prev_kv?.value ? JSON.parse(fromB64(e.prev_kv.value)) : undefined;
  if (e.type === "DELETE") return { type: "DELETE", key: fromB64(e.kv.key), revision, prev, created: false };
  return { type: "PUT", key: fromB64(e.kv.key), revision, object: JSON.parse(fromB64(e.kv.value)), prev, created: e.kv.version === "1" };
}

function unwrap<T>(result: StoreResult<T>): T {
  if (result.ok) return result.value;
  throw storeError(result.error);
}

function storeError(error: EtcdError) {
  if (error.message.includes("compacted")) return apiErrors.expired(`The resourceVersion for the provided list is too old.`);
  if (error.message.includes("future revision")) return apiErrors.timeout(`Too large resource version`);
  return apiErrors.internal(error.message);
}

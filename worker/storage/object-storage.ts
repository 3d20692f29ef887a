// The apiserver's storage layer, the only code that calls the store: objects as JSON under
// kube-apiserver's /registry/... keys (sealed with AES-GCM for the resources encrypted at rest),
// optimistic concurrency on mod_revision, resourceVersion = store revision, watches over the
// store shard's WebSocket (events as binary frames: no base64 or JSON between the two).
import { GrpcCode, type EtcdError, type StoreResult } from "../../lib/etcd/errors.ts";
import { fromUtf8, toBase64, utf8 } from "../../lib/etcd/gateway-json.ts";
import { prefixEnd } from "../../lib/etcd/keys.ts";
import type { Event, KeyValue, TxnResponse } from "../../lib/etcd/messages.ts";
import { decodeWatchFrame } from "../../lib/etcd/watch-frames.ts";
import { shardForKey, shardMapOf, type ShardMap } from "../../lib/shards.ts";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";
import { valueTransformer, type ValueTransformer } from "./encryption.ts";
import { prefixOfQualifiedResource } from "./keys.ts";
import { RecentValues } from "./recent-values.ts";
import { isPlainJson, type StoredTextFilter } from "./stored-text-filter.ts";
import { storeShardId } from "./store-ids.ts";

/** How many keys a rewrite reads from the store at a time. */
const REWRITE_PAGE = 256;

export interface StoredObject {
  key: string;
  object: Record<string, any>;
  modRevision: number;
}

export type WriteOutcome = { ok: true; revision: number } | { ok: false; current?: StoredObject };

/** A committed change under a watched prefix; its values are opened (decrypted, parsed) only when asked for. */
export interface StorageEvent {
  type: "PUT" | "DELETE";
  key: string;
  revision: number;
  /** Whether the store still had the value before. */
  hadPrev: boolean;
  created: boolean;
  /** The value written (a PUT's) and the value before (when the store still had it), as stored: sealed when encrypted at rest. */
  value?: Uint8Array;
  prevValue?: Uint8Array;
  /**
   * The object written, and the one before. `shared`: the caller only reads it, so an object
   * another watch stream of this isolate opened from the same bytes may be answered (never for
   * values sealed at rest).
   */
  object(shared?: boolean): Promise<Record<string, any> | undefined>;
  prev(shared?: boolean): Promise<Record<string, any> | undefined>;
}

/** What a storage watch yields: the events of one store response, in order, or a progress notice. */
export type StorageWatchItem = { type: "EVENTS"; events: StorageEvent[] } | { type: "PROGRESS"; revision: number };

/** Objects opened from watched values, shared by the isolate's watch streams (worker/storage/recent-values.ts). */
const openedValues = new RecentValues<Record<string, any>>();

export class ObjectStorage {
  private readonly shards: ShardMap;

  constructor(readonly env: Env) {
    this.shards = shardMapOf(env.STORE_SHARDS);
  }

  /** Every key under one resource prefix lives in one shard, so a prefix picks the shard. */
  stub(key: string) {
    const shard = shardForKey(this.shards, utf8(key));
    return this.env.STORE.get(storeShardId(this.env.STORE, this.env.CLUSTER_NAME, shard));
  }

  private transformer(): Promise<ValueTransformer> {
    return valueTransformer(this.env, (resource) => {
      const prefix = prefixOfQualifiedResource(resource);
      if (!prefix) throw apiErrors.internal(`encryption at rest is misconfigured: ENCRYPTED_RESOURCES names "${resource}", which is no stored resource`);
      return prefix;
    });
  }

  private async encode(key: string, object: object): Promise<Uint8Array> {
    return (await this.transformer()).toStorage(key, utf8(JSON.stringify(object)));
  }

  private async parse(key: string, value: Uint8Array): Promise<Record<string, any>> {
    const { plaintext } = await (await this.transformer()).fromStorage(key, value);
    try {
      return JSON.parse(fromUtf8(plaintext));
    } catch {
      // JSON.parse quotes the text it choked on, and that text may be a secret's.
      throw apiErrors.internal(`the value stored at "${key}" is not JSON`);
    }
  }

  private async decode(kv: KeyValue): Promise<StoredObject> {
    const key = fromUtf8(kv.key);
    return { key, object: await this.parse(key, kv.value), modRevision: kv.mod_revision };
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const res = unwrap(await this.stub(key).range({ key: utf8(key) }));
    const kv = res.kvs[0];
    return kv ? this.decode(kv) : undefined;
  }

  async currentRevision(key: string): Promise<number> {
    return unwrap(await this.stub(key).range({ key: utf8(key), count_only: true })).header.revision;
  }

  /**
   * Objects under `prefix` from `startKey` on, at `revision` (0: now), up to `limit` (0: all).
   * `filter` leaves out, in the store, the objects whose stored text the caller cannot want (they
   * are neither sent nor parsed; `limit` and `remaining` count only the others).
   */
  async list(prefix: string, options: { startKey?: string; limit?: number; revision?: number; filter?: StoredTextFilter }) {
    const res = unwrap(await this.stub(prefix).range({
      key: utf8(options.startKey ?? prefix), range_end: prefixEnd(utf8(prefix)),
      limit: options.limit ?? 0, revision: options.revision ?? 0,
      ...(options.filter ? { value_contains: [...options.filter.needles] } : {}),
    }));
    const items = await Promise.all(res.kvs.map((kv) => this.decode(kv)));
    return { items, revision: options.revision || res.header.revision, more: res.more, remaining: res.count - items.length };
  }

  /** `lease`: the key goes when the lease expires (an Event's TTL); a lease the store no longer has fails with LeaseNotFound. */
  async create(key: string, object: object, { lease }: { lease?: number } = {}): Promise<WriteOutcome> {
    const res = unwrap(await this.stub(key).txn({
      compare: [{ key: utf8(key), target: "CREATE", result: "EQUAL", create_revision: 0 }],
      success: [{ request_put: { key: utf8(key), value: await this.encode(key, object), ...(lease ? { lease } : {}) } }],
    }));
    return res.succeeded ? { ok: true, revision: res.header.revision } : { ok: false };
  }

  /** Writes `object` if the key still has `modRevision`; otherwise answers what is there now. */
  async update(key: string, object: object, modRevision: number, { lease }: { lease?: number } = {}): Promise<WriteOutcome> {
    const res = unwrap(await this.stub(key).txn({
      compare: [{ key: utf8(key), target: "MOD", result: "EQUAL", mod_revision: modRevision }],
      success: [{ request_put: { key: utf8(key), value: await this.encode(key, object), ...(lease ? { lease } : {}) } }],
      failure: [{ request_range: { key: utf8(key) } }],
    }));
    if (res.succeeded) return { ok: true, revision: res.header.revision };
    const range = res.responses[0] as { response_range: { kvs: KeyValue[] } } | undefined;
    const kv = range?.response_range.kvs[0];
    return { ok: false, current: kv ? await this.decode(kv) : undefined };
  }

  /** A new lease of `ttl` seconds in the shard that holds `key`; answers its ID. */
  async grantLease(key: string, ttl: number): Promise<number> {
    return unwrap(await this.stub(key).leaseGrant({ TTL: ttl, ID: 0 })).ID;
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
    return { ok: false, current: kv ? await this.decode(kv) : undefined };
  }

  /**
   * Events under `prefix` after `afterRevision`, as they commit, a store response at a time. Ends
   * when the store drops the stream (restart) or `signal` aborts; throws an Expired ApiError when
   * the revision is compacted. `filter` says from a value's stored text whether the watcher could
   * want it: the store does not send an event whose old and new values both say no (events whose
   * old value it no longer has are always sent). Without `prevOfPuts`, only deletes carry the value
   * before (a watcher with no selector needs to know what was deleted, not what an update replaced).
   */
  async *watch(prefix: string, afterRevision: number, signal: AbortSignal, { progressNotify = false, filter, prevOfPuts = true }: { progressNotify?: boolean; filter?: StoredTextFilter; prevOfPuts?: boolean } = {}): AsyncGenerator<StorageWatchItem> {
    const upgrade = await this.stub(prefix).fetch("https://store/watch?events=binary", { headers: { Upgrade: "websocket" } });
    const ws = upgrade.webSocket;
    if (!ws) throw apiErrors.serviceUnavailable("the store refused the watch stream");
    ws.accept();
    ws.binaryType = "arraybuffer"; // (a Blob by default, per the standard)
    const queue: (string | ArrayBuffer)[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    const notify = () => { wake?.(); wake = undefined; };
    ws.addEventListener("message", (e) => { queue.push(e.data as string | ArrayBuffer); notify(); });
    ws.addEventListener("close", () => { closed = true; notify(); });
    ws.addEventListener("error", () => { closed = true; notify(); });
    const onAbort = () => { closed = true; try { ws.close(1000, "watch ended"); } catch { /* closed */ } notify(); };
    signal.addEventListener("abort", onAbort);
    ws.send(JSON.stringify({ create_request: {
      key: toBase64(utf8(prefix)), range_end: toBase64(prefixEnd(utf8(prefix))),
      start_revision: String(afterRevision + 1), prev_kv: true, progress_notify: progressNotify,
      ...(prevOfPuts ? {} : { prev_kv_only_deletes: true }),
      ...(filter ? { value_contains: filter.needles } : {}),
    } }));
    try {
      for (;;) {
        while (queue.length) {
          const frame = queue.shift()!;
          if (typeof frame !== "string") {
            yield { type: "EVENTS", events: decodeWatchFrame(frame).events.map((event) => this.watchEvent(event)) };
            continue;
          }
          const message = JSON.parse(frame);
          const result = message.result;
          if (!result) throw apiErrors.internal(`watch failed: ${message.message ?? "unknown error"}`);
          if (result.compact_revision) {
            throw apiErrors.expired(`too old resource version: ${afterRevision} (${result.compact_revision})`);
          }
          if (result.canceled) return;
          if (result.created) continue;
          // Events come as binary frames: a text answer without any is a progress notification.
          yield { type: "PROGRESS", revision: Number(result.header.revision) };
        }
        if (closed) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      try { ws.close(1000, "watch ended"); } catch { /* closed */ }
    }
  }

  /** A watch event from the store, its values opened when first asked for. */
  private watchEvent(e: Event): StorageEvent {
    const key = fromUtf8(e.kv.key);
    const prev = e.prev_kv?.value.length ? e.prev_kv : undefined;
    const open = (kv: KeyValue | undefined, shared = false): Promise<Record<string, any> | undefined> => {
      if (!kv) return Promise.resolve(undefined);
      if (!shared || !isPlainJson(kv.value)) return this.parse(key, kv.value);
      const opened = openedValues.get(key, kv.mod_revision, kv.value);
      return opened ? Promise.resolve(opened) : this.parse(key, kv.value).then((object) => openedValues.set(key, kv.mod_revision, kv.value, object));
    };
    const put = e.type === "PUT";
    return {
      type: e.type, key, revision: e.kv.mod_revision, hadPrev: !!prev, created: put && e.kv.version === 1,
      ...(put ? { value: e.kv.value } : {}), ...(prev ? { prevValue: prev.value } : {}),
      object: (shared) => open(put ? e.kv : undefined, shared),
      prev: (shared) => open(prev, shared),
    };
  }

  /**
   * Rewrites every value under `prefix` that is not in the form a write gives it now (sealed with
   * the first key where encrypted, plaintext elsewhere), each only if its mod_revision still holds;
   * values are opened and sealed as bytes, never parsed. A value that cannot be opened is left as
   * it is and reported, so one damaged value does not hold up a key rotation.
   */
  async rewrite(prefix: string): Promise<{ objects: number; rewritten: number; failed: { key: string; message: string }[] }> {
    const transformer = await this.transformer();
    const stub = this.stub(prefix);
    const end = prefixEnd(utf8(prefix));
    let start = utf8(prefix);
    let objects = 0;
    let rewritten = 0;
    const failed: { key: string; message: string }[] = [];
    for (;;) {
      const page = unwrap(await stub.range({ key: start, range_end: end, limit: REWRITE_PAGE }));
      for (const kv of page.kvs) {
        objects++;
        const outcome = await this.rewriteValue(transformer, kv);
        if (outcome instanceof ApiError) failed.push({ key: fromUtf8(kv.key), message: outcome.message });
        else if (outcome) rewritten++;
      }
      const last = page.kvs.at(-1);
      if (!page.more || !last) break;
      start = new Uint8Array([...last.key, 0]);
    }
    return { objects, rewritten, failed };
  }

  /**
   * Seals one value anew (true) or finds it current (false); a write that wins the race leaves it as
   * that write made it. A value that cannot be opened answers why.
   */
  private async rewriteValue(transformer: ValueTransformer, kv: KeyValue): Promise<boolean | ApiError> {
    const key = fromUtf8(kv.key);
    let current: KeyValue | undefined = kv;
    for (let attempt = 0; current && attempt < 10; attempt++) {
      const opened = await transformer.fromStorage(key, current.value).catch((e: unknown) => {
        if (e instanceof ApiError) return e;
        throw e;
      });
      if (opened instanceof ApiError) return opened;
      const { plaintext, stale } = opened;
      if (!stale) return false;
      const res: TxnResponse = unwrap(await this.stub(key).txn({
        compare: [{ key: current.key, target: "MOD", result: "EQUAL", mod_revision: current.mod_revision }],
        success: [{ request_put: { key: current.key, value: await transformer.toStorage(key, plaintext), lease: current.lease } }],
        failure: [{ request_range: { key: current.key } }],
      }));
      if (res.succeeded) return true;
      current = (res.responses[0] as { response_range: { kvs: KeyValue[] } } | undefined)?.response_range.kvs[0];
    }
    if (current) throw apiErrors.serviceUnavailable(`"${key}" kept changing while it was being rewritten; run the rewrite again`);
    return false;
  }
}

function unwrap<T>(result: StoreResult<T>): T {
  if (result.ok) return result.value;
  throw storeError(result.error);
}

/** A write named a lease the store no longer has (it expired or was revoked). */
export class LeaseNotFound extends Error {}

function storeError(error: EtcdError) {
  if (error.code === GrpcCode.NotFound && error.message.includes("lease")) return new LeaseNotFound(error.message);
  if (error.message.includes("compacted")) return apiErrors.expired(`The resourceVersion for the provided list is too old.`);
  if (error.message.includes("future revision")) return apiErrors.timeout(`Too large resource version`);
  // etcd's value limit (1.5 MiB): the object is too large to store, not a server fault.
  if (error.message.includes("request is too large")) return new ApiError(413, "RequestEntityTooLarge", "Request entity too large: the object is larger than the store accepts (1.5 MiB)");
  return apiErrors.internal(error.message);
}

// Reads that cross store shards: edgeplane keeps some key prefixes in shards of their own, and the
// Worker refuses a range spanning several (each has its own revisions). etcdctl's `get / --prefix`
// spans them all, so the bridge reads the range from every shard and merges the answers as one
// etcd would: sorted, limited, counted, with the main shard's header.
import { MAIN_SHARD, parseShardMap, shardForRange, type ShardMap } from "../lib/shards.ts";
import type { Json } from "./gateway.ts";

export interface ShardLayout {
  /** Shard names, main first. */
  names: string[];
  map: ShardMap;
}

export function shardLayout(shards: { name: string; prefix?: string }[]): ShardLayout {
  return {
    names: shards.map((s) => s.name),
    map: parseShardMap(shards.filter((s) => s.prefix).map((s) => `${s.name}=${s.prefix}`).join(",")),
  };
}

const bytes = (base64: unknown): Buffer => Buffer.from(typeof base64 === "string" ? base64 : "", "base64");

/** True when the range [key, range_end) of a request (base64 fields) holds keys of more than one shard. */
export function spansShards(layout: ShardLayout, request: Json): boolean {
  if (layout.names.length < 2) return false;
  const end = request.range_end === undefined ? undefined : bytes(request.range_end);
  return shardForRange(layout.map, bytes(request.key), end) === undefined;
}

/** The one shard holding a request's keys (main when they span several: the Worker then refuses). */
export function shardForRequest(layout: ShardLayout, request: Json): string {
  const end = request.range_end === undefined ? undefined : bytes(request.range_end);
  return shardForRange(layout.map, bytes(request.key), end) ?? MAIN_SHARD;
}

const SORT_TARGET_FIELD: Record<string, string> = { VERSION: "version", CREATE: "create_revision", MOD: "mod_revision" };

function compareKeyValues(target: string): (a: Json, b: Json) => number {
  if (target === "KEY") return (a, b) => Buffer.compare(bytes(a.key), bytes(b.key));
  if (target === "VALUE") return (a, b) => Buffer.compare(bytes(a.value), bytes(b.value)) || Buffer.compare(bytes(a.key), bytes(b.key));
  const field = SORT_TARGET_FIELD[target]!;
  return (a, b) => Number(a[field] ?? 0) - Number(b[field] ?? 0) || Buffer.compare(bytes(a.key), bytes(b.key));
}

/**
 * One RangeResponse from each shard's answer to the same request (main's first). Each shard was
 * asked with the request's own limit, so the first `limit` of the merged keys are all there.
 */
export function mergeRangeResponses(request: Json, answers: Json[]): Json {
  const target = typeof request.sort_target === "string" ? request.sort_target : "KEY";
  // Without an order etcd answers in key order, or ascending by any other target it was given.
  const compare = compareKeyValues(target);
  const kvs = answers.flatMap((a) => (Array.isArray(a.kvs) ? (a.kvs as Json[]) : []));
  kvs.sort(request.sort_order === "DESCEND" ? (a, b) => compare(b, a) : compare);
  const limit = Number(request.limit ?? 0);
  const more = answers.some((a) => a.more === true) || (limit > 0 && kvs.length > limit);
  const count = answers.reduce((sum, a) => sum + Number(a.count ?? 0), 0);
  const merged: Json = { header: answers[0]?.header };
  const kept = limit > 0 ? kvs.slice(0, limit) : kvs;
  if (kept.length) merged.kvs = kept;
  if (more) merged.more = true;
  if (count) merged.count = String(count);
  return merged;
}

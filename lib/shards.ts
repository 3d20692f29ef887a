// Which store shard holds a key. The STORE_SHARDS setting names key prefixes that live in their
// own shard ("events=/registry/events/,leases=/registry/leases/"); every other key is in "main".
// A shard of a cluster is the Durable Object named "<cluster>/<shard>".
import { compareBytes, keyRange, prefixEnd } from "./etcd/keys.ts";

export const MAIN_SHARD = "main";

export interface ShardMap {
  /** Longest prefix first, so the first match is the most specific. */
  readonly prefixes: readonly { prefix: Uint8Array; shard: string }[];
}

const SHARD_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function parseShardMap(setting: string | undefined): ShardMap {
  const prefixes: { prefix: Uint8Array; shard: string }[] = [];
  for (const entry of (setting ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = entry.indexOf("=");
    const shard = entry.slice(0, eq).trim();
    const prefix = entry.slice(eq + 1).trim();
    if (eq < 1 || !SHARD_NAME.test(shard) || prefix === "") {
      throw new Error(`STORE_SHARDS entry ${JSON.stringify(entry)} is not "<shard-name>=<key-prefix>"`);
    }
    prefixes.push({ prefix: new TextEncoder().encode(prefix), shard });
  }
  prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  return { prefixes };
}

let memo: { setting: string | undefined; map: ShardMap } | undefined;

/** parseShardMap, remembered per isolate: the setting is read on every request. */
export function shardMapOf(setting: string | undefined): ShardMap {
  if (!memo || memo.setting !== setting) memo = { setting, map: parseShardMap(setting) };
  return memo.map;
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

export function shardForKey(map: ShardMap, key: Uint8Array): string {
  for (const { prefix, shard } of map.prefixes) if (startsWith(key, prefix)) return shard;
  return MAIN_SHARD;
}

/**
 * The one shard holding every key of [key, rangeEnd), or undefined when the range crosses shards
 * (a request over it must name a shard).
 */
export function shardForRange(map: ShardMap, key: Uint8Array, rangeEnd: Uint8Array | undefined): string | undefined {
  const shard = shardForKey(map, key);
  const range = keyRange(key, rangeEnd);
  if (range.end === undefined) return shard;
  const owner = map.prefixes.find((p) => p.shard === shard && startsWith(key, p.prefix));
  if (owner && (range.end === null || compareBytes(range.end, prefixEnd(owner.prefix)) > 0)) return undefined;
  for (const { prefix, shard: other } of map.prefixes) {
    if (other === shard) continue;
    const otherEnd = prefixEnd(prefix);
    const startsBeforeOtherEnds = otherEnd.length === 1 && otherEnd[0] === 0 ? true : compareBytes(key, otherEnd) < 0;
    const endsAfterOtherStarts = range.end === null || compareBytes(range.end, prefix) > 0;
    if (startsBeforeOtherEnds && endsAfterOtherStarts) return undefined;
  }
  return shard;
}

export function storeObjectName(cluster: string, shard: string): string {
  return `${cluster}/${shard}`;
}

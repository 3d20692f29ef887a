import { describe, expect, it } from "vitest";
import { MAIN_SHARD, parseShardMap, shardForKey, shardForRange, storeObjectName } from "./shards.ts";

const b = (s: string) => new TextEncoder().encode(s);
const NUL = new Uint8Array([0]);

describe("store shards", () => {
  it("puts everything in the main shard by default", () => {
    const map = parseShardMap("");
    expect(shardForKey(map, b("/registry/pods/default/x"))).toBe(MAIN_SHARD);
    expect(shardForRange(map, b("\0"), NUL)).toBe(MAIN_SHARD);
    expect(storeObjectName("prod", MAIN_SHARD)).toBe("prod/main");
  });

  const map = parseShardMap("events=/registry/events/, leases=/registry/leases/,events=/registry/events.k8s.io/,hot=/registry/leases/kube-node-lease/");

  it("maps a key to the shard of its longest configured prefix", () => {
    expect(shardForKey(map, b("/registry/events/default/e1"))).toBe("events");
    expect(shardForKey(map, b("/registry/events.k8s.io/x"))).toBe("events");
    expect(shardForKey(map, b("/registry/leases/kube-node-lease/n1"))).toBe("hot");
    expect(shardForKey(map, b("/registry/leases/default/l"))).toBe("leases");
    expect(shardForKey(map, b("/registry/pods/default/p"))).toBe(MAIN_SHARD);
  });

  it("knows when a range stays in one shard and when it crosses shards", () => {
    expect(shardForRange(map, b("/registry/events/"), b("/registry/events0"))).toBe("events");
    expect(shardForRange(map, b("/registry/pods/"), b("/registry/pods0"))).toBe(MAIN_SHARD);
    expect(shardForRange(map, b("/registry/"), b("/registry0"))).toBeUndefined();
    expect(shardForRange(map, b("/registry/events/a"), NUL)).toBeUndefined();
    expect(shardForRange(map, b("/registry/leases/"), b("/registry/leases0"))).toBeUndefined(); // holds the "hot" prefix
  });

  it("refuses malformed settings", () => {
    expect(() => parseShardMap("events")).toThrow(/STORE_SHARDS/);
    expect(() => parseShardMap("Bad_Name=/x/")).toThrow(/STORE_SHARDS/);
    expect(() => parseShardMap("events=")).toThrow(/STORE_SHARDS/);
  });
});

// Ranges across store shards: which requests span shards, and how shard answers merge.
import { describe, expect, it } from "vitest";
import { mergeRangeResponses, shardForRequest, shardLayout, spansShards } from "./shard-ranges.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64");
const kv = (key: string, mod: number, value = "v") => ({ key: b64(key), create_revision: String(mod), mod_revision: String(mod), version: "1", value: b64(value) });
const layout = shardLayout([{ name: "main" }, { name: "audit", prefix: "/audit/" }]);

describe("spansShards", () => {
  it("knows single keys, prefixes inside one shard and ranges over several", () => {
    expect(spansShards(layout, { key: b64("/registry/pods/a") })).toBe(false);
    expect(spansShards(layout, { key: b64("/registry/"), range_end: b64("/registry0") })).toBe(false);
    expect(spansShards(layout, { key: b64("/audit/"), range_end: b64("/audit0") })).toBe(false);
    expect(spansShards(layout, { key: b64("/"), range_end: b64("0") })).toBe(true);
    expect(spansShards(layout, { key: b64("\0"), range_end: b64("\0") })).toBe(true);
    expect(shardForRequest(layout, { key: b64("/audit/x") })).toBe("audit");
    expect(spansShards(shardLayout([{ name: "main" }]), { key: b64("/"), range_end: b64("0") })).toBe(false);
  });
});

describe("mergeRangeResponses", () => {
  const main = { header: { revision: "40" }, kvs: [kv("/a", 3, "z"), kv("/registry/x", 9, "a")], count: "2" };
  const audit = { header: { revision: "7" }, kvs: [kv("/audit/1", 5, "m")], count: "1" };

  it("merges in key order with main's header and the summed count", () => {
    const merged = mergeRangeResponses({ key: b64("/"), range_end: b64("0") }, [main, audit]);
    expect(merged).toEqual({ header: { revision: "40" }, kvs: [kv("/a", 3, "z"), kv("/audit/1", 5, "m"), kv("/registry/x", 9, "a")], count: "3" });
  });

  it("keeps the first `limit` keys and says there are more", () => {
    const merged = mergeRangeResponses({ key: b64("/"), range_end: b64("0"), limit: "2" }, [main, audit]);
    expect(merged.kvs).toEqual([kv("/a", 3, "z"), kv("/audit/1", 5, "m")]);
    expect(merged).toMatchObject({ more: true, count: "3" });
  });

  it("sorts by another target, ascending unless told to descend", () => {
    const by = (sort_target: string, sort_order?: string) =>
      (mergeRangeResponses({ key: b64("/"), range_end: b64("0"), sort_target, sort_order }, [main, audit]).kvs as { key: string }[]).map((k) => Buffer.from(k.key, "base64").toString());
    expect(by("MOD")).toEqual(["/a", "/audit/1", "/registry/x"]);
    expect(by("MOD", "DESCEND")).toEqual(["/registry/x", "/audit/1", "/a"]);
    expect(by("VALUE")).toEqual(["/registry/x", "/audit/1", "/a"]);
    expect(by("KEY", "DESCEND")).toEqual(["/registry/x", "/audit/1", "/a"]);
  });

  it("answers a count alone without keys", () => {
    expect(mergeRangeResponses({ key: b64("/"), range_end: b64("0"), count_only: true }, [{ header: main.header, count: "2" }, { header: audit.header, count: "1" }]))
      .toEqual({ header: { revision: "40" }, count: "3" });
  });
});

import { describe, expect, it } from "vitest";
import { IsolateCache, KeyedIsolateCache } from "./isolate-cache.ts";

describe("IsolateCache", () => {
  it("shares one read until it is older than freshMs or invalidated, and keeps no failed read", async () => {
    const cache = new IsolateCache<number>(60_000);
    let reads = 0;
    const load = async () => ++reads;
    expect(await cache.get(load)).toBe(1);
    expect(await cache.get(load)).toBe(1);
    expect(await cache.get(load, -1)).toBe(2);
    cache.invalidate();
    expect(await cache.get(load)).toBe(3);
    await expect(cache.get(() => Promise.reject(new Error("down")), -1)).rejects.toThrow("down");
    expect(await cache.get(load)).toBe(4);
  });

  it("never hands one request's read in flight to another: each reads for itself until a value is kept", async () => {
    const cache = new IsolateCache<string>(60_000);
    let releaseFirst!: (value: string) => void;
    const first = cache.get(() => new Promise<string>((resolve) => (releaseFirst = resolve)));
    // The first read is held open (in workerd: a store RPC of request A still under way).
    expect(await cache.get(async () => "second")).toBe("second");
    expect(await cache.get(async () => "third")).toBe("second");
    releaseFirst("first");
    expect(await first).toBe("first");
    // The older read finishing later does not replace the newer value.
    expect(await cache.get(async () => "fourth")).toBe("second");
  });

  it("serves a copy a little past fresh while another request reads a newer one, and only that long", async () => {
    let now = 0;
    const cache = new IsolateCache<string>(1_000, () => now);
    expect(await cache.get(async () => "v1")).toBe("v1");
    now = 1_500;
    let release!: (value: string) => void;
    const refresh = cache.get(() => new Promise<string>((resolve) => (release = resolve)));
    // The refresh is under way: others get the stale copy instead of a read each.
    expect(await cache.get(async () => "not read")).toBe("v1");
    // A caller asking for a younger copy than usual still reads for itself.
    expect(await cache.get(async () => "own", 0)).toBe("own");
    now = 6_501;
    // Too old even to bridge a refresh (the own read's copy is 5,001 ms old): read.
    expect(await cache.get(async () => "v3")).toBe("v3");
    release("v2");
    expect(await refresh).toBe("v2");
    now = 7_000;
    expect(await cache.get(async () => "not read")).toBe("v3");
    // With no read under way, a stale copy is never served.
    now = 7_600;
    expect(await cache.get(async () => "v4")).toBe("v4");
    cache.invalidate();
    let hold!: (value: string) => void;
    const afterWrite = cache.get(() => new Promise<string>((resolve) => (hold = resolve)));
    // After invalidate() there is no copy to bridge with: each request reads.
    expect(await cache.get(async () => "v5")).toBe("v5");
    hold("v6");
    await afterWrite;
  });

  it("keeps no value a read saw before invalidate()", async () => {
    const cache = new IsolateCache<string>(60_000);
    let release!: (value: string) => void;
    const stale = cache.get(() => new Promise<string>((resolve) => (release = resolve)));
    cache.invalidate();
    release("before");
    expect(await stale).toBe("before");
    expect(await cache.get(async () => "after")).toBe("after");
  });
});

describe("KeyedIsolateCache", () => {
  it("keeps a value per key, forgets one key or all of them", async () => {
    const cache = new KeyedIsolateCache<string>(60_000);
    let reads = 0;
    const load = (key: string) => async () => `${key}${++reads}`;
    expect(await cache.get("a", load("a"))).toBe("a1");
    expect(await cache.get("b", load("b"))).toBe("b2");
    expect(await cache.get("a", load("a"))).toBe("a1");
    cache.forget("a");
    expect(await cache.get("a", load("a"))).toBe("a3");
    expect(await cache.get("b", load("b"))).toBe("b2");
    cache.invalidate();
    expect(await cache.get("b", load("b"))).toBe("b4");
  });

  it("starts over rather than grow past maxKeys", async () => {
    const cache = new KeyedIsolateCache<number>(60_000, 2);
    let reads = 0;
    const load = async () => ++reads;
    await cache.get("a", load);
    await cache.get("b", load);
    await cache.get("c", load);
    expect(await cache.get("a", load)).toBe(4);
  });
});

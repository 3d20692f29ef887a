// The stored-text filter: finds needles in JSON as bytes and as base64 text at every offset, never
// rules out a value that holds them, and lets through values that are not plain JSON.
import { describe, expect, it } from "vitest";
import { toBase64 } from "../../lib/etcd/gateway-json.ts";
import { StoredTextFilter } from "./stored-text-filter.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("StoredTextFilter", () => {
  const filter = new StoredTextFilter(['"nodeName":"node-a"', '"app":"web"']);

  it("passes a value holding every needle and rules out one lacking any, at every offset, as bytes and as base64", () => {
    for (let pad = 0; pad < 6; pad++) {
      const filler = "x".repeat(pad);
      const holds = JSON.stringify({ f: filler, metadata: { labels: { app: "web" } }, spec: { nodeName: "node-a" } });
      const other = JSON.stringify({ f: filler, metadata: { labels: { app: "web" } }, spec: { nodeName: "node-b" } });
      const prefixOnly = JSON.stringify({ f: filler, metadata: { labels: { app: "web" } }, spec: { nodeName: "node-a2" } });
      expect(filter.bytes(bytes(holds))).toBe(true);
      expect(filter.base64(toBase64(bytes(holds)))).toBe(true);
      expect(filter.bytes(bytes(other))).toBe(false);
      expect(filter.base64(toBase64(bytes(other)))).toBe(false);
      // A longer value that starts with the needle's: the bytes test is exact; base64 may let it through.
      expect(filter.bytes(bytes(prefixOnly))).toBe(false);
    }
  });

  it("never rules out a value that holds the needles, wherever they fall", () => {
    for (let i = 0; i < 200; i++) {
      const object = { a: "y".repeat(i % 7), n: i, metadata: { name: `p-${i}`, labels: { app: "web", z: "q".repeat(i % 5) } }, spec: { nodeName: "node-a", x: "w".repeat(i % 3) } };
      const text = JSON.stringify(object);
      expect(filter.base64(toBase64(bytes(text)))).toBe(true);
      expect(filter.bytes(bytes(text))).toBe(true);
    }
  });

  it("lets through what is not plain JSON (a value sealed at rest)", () => {
    const sealed = bytes("k8s:enc:aesgcm:v1:key1:\u0001\u0002");
    expect(filter.bytes(sealed)).toBe(true);
    expect(filter.base64(toBase64(sealed))).toBe(true);
  });
});

// The stored-text filter: finds needles in JSON as the apiserver writes it, never rules out a value
// that holds them, and lets through values that are not plain JSON.
import { describe, expect, it } from "vitest";
import { StoredTextFilter } from "./stored-text-filter.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("StoredTextFilter", () => {
  const filter = new StoredTextFilter(['"nodeName":"node-a"', '"app":"web"']);

  it("passes a value holding every needle and rules out one lacking any", () => {
    const holds = JSON.stringify({ metadata: { labels: { app: "web" } }, spec: { nodeName: "node-a" } });
    const other = JSON.stringify({ metadata: { labels: { app: "web" } }, spec: { nodeName: "node-b" } });
    const prefixOnly = JSON.stringify({ metadata: { labels: { app: "web" } }, spec: { nodeName: "node-a2" } });
    const oneOnly = JSON.stringify({ metadata: { labels: { app: "db" } }, spec: { nodeName: "node-a" } });
    expect(filter.bytes(bytes(holds))).toBe(true);
    expect(filter.text(holds)).toBe(true);
    expect(filter.bytes(bytes(other))).toBe(false);
    expect(filter.bytes(bytes(prefixOnly))).toBe(false);
    expect(filter.bytes(bytes(oneOnly))).toBe(false);
    expect(filter.text(oneOnly)).toBe(false);
  });

  it("lets through what is not plain JSON (a value sealed at rest)", () => {
    expect(filter.bytes(bytes("k8s:enc:aesgcm:v1:key1:\u0001\u0002"))).toBe(true);
  });

  it("refuses needles too short to be a selector's text", () => {
    expect(() => new StoredTextFilter(['"a'])).toThrow(/at least 3 bytes/);
  });
});

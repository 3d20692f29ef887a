import { describe, expect, it } from "vitest";
import { applyMergePatch } from "./merge-patch.ts";
import { PatchError } from "./patch-error.ts";

describe("applyMergePatch", () => {
  // [name, original, patch, result]
  const cases: [string, object, unknown, object][] = [
    ["sets a new field", { a: 1 }, { b: 2 }, { a: 1, b: 2 }],
    ["replaces a scalar", { a: 1 }, { a: "x" }, { a: "x" }],
    ["null deletes", { a: 1, b: 2 }, { a: null }, { b: 2 }],
    ["null on a missing field does nothing", { a: 1 }, { z: null }, { a: 1 }],
    ["objects merge recursively", { m: { a: 1, b: { c: 1, d: 2 } } }, { m: { b: { c: null, e: 3 } } }, { m: { a: 1, b: { d: 2, e: 3 } } }],
    ["lists are replaced whole", { l: [1, 2, 3] }, { l: [4] }, { l: [4] }],
    ["lists of objects are replaced too", { c: [{ name: "a", image: "x" }, { name: "b" }] }, { c: [{ name: "a", image: "y" }] }, { c: [{ name: "a", image: "y" }] }],
    ["an object replaces a scalar", { a: 1 }, { a: { b: 1 } }, { a: { b: 1 } }],
    ["nulls inside a new object are dropped", {}, { a: { b: null, c: 1 } }, { a: { c: 1 } }],
    ["nulls inside a replacing list are kept (RFC 7386)", {}, { l: [{ a: null }, null] }, { l: [{ a: null }, null] }],
    ["an empty object changes nothing", { a: { b: 1 } }, { a: {} }, { a: { b: 1 } }],
    ["__proto__ is an ordinary field", {}, JSON.parse('{"__proto__": {"x": 1}}'), JSON.parse('{"__proto__": {"x": 1}}')],
    // kubectl patch --type=merge -p '{"metadata":{"labels":{"tier":null,"app":"web"}}}'
    ["kubectl label edit", { metadata: { name: "p", labels: { tier: "a", env: "b" } } }, { metadata: { labels: { tier: null, app: "web" } } },
      { metadata: { name: "p", labels: { env: "b", app: "web" } } }],
  ];
  for (const [name, original, patch, result] of cases) {
    it(name, () => {
      const before = structuredClone(original);
      const patched = applyMergePatch(original, patch);
      expect(patched).toEqual(result);
      expect(Object.getPrototypeOf(patched)).toBe(Object.prototype);
      expect(original).toEqual(before);
    });
  }

  for (const patch of [[{ a: 1 }], "x", 3]) {
    it(`answers 400 for a ${Array.isArray(patch) ? "list" : typeof patch} body`, () => {
      expect(() => applyMergePatch({}, patch)).toThrow(new PatchError(400, "BadRequest", "Invalid JSON Patch"));
    });
  }
});

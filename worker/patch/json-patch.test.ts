import { describe, expect, it } from "vitest";
import { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS } from "./json-patch.ts";
import { PatchError } from "./patch-error.ts";

const deployment = () => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", labels: { app: "web" } },
  spec: {
    replicas: 2,
    template: { spec: { containers: [{ name: "app", image: "nginx:1.25", args: ["-g", "daemon off;"] }] } },
  },
});

function patchError(run: () => unknown): PatchError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(PatchError);
    return e as PatchError;
  }
  throw new Error("expected a PatchError");
}

describe("applyJsonPatch", () => {
  const applies: [string, unknown[], (d: ReturnType<typeof deployment>) => void][] = [
    ["add a label", [{ op: "add", path: "/metadata/labels/tier", value: "front" }], (d) => void (d.metadata.labels = { app: "web", tier: "front" } as never)],
    ["replace replicas", [{ op: "replace", path: "/spec/replicas", value: 5 }], (d) => void (d.spec.replicas = 5)],
    ["remove a label", [{ op: "remove", path: "/metadata/labels/app" }], (d) => void (d.metadata.labels = {} as never)],
    ["append to a list", [{ op: "add", path: "/spec/template/spec/containers/0/args/-", value: "-q" }],
      (d) => void d.spec.template.spec.containers[0]!.args.push("-q")],
    ["replace an image by index", [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: "nginx:1.27" }],
      (d) => void (d.spec.template.spec.containers[0]!.image = "nginx:1.27")],
    ["a passing test then a replace", [{ op: "test", path: "/spec/replicas", value: 2 }, { op: "replace", path: "/spec/replicas", value: 3 }],
      (d) => void (d.spec.replicas = 3)],
    ["escaped keys", [{ op: "add", path: "/metadata/labels/example.com~1role", value: "x" }],
      (d) => void (d.metadata.labels = { app: "web", "example.com/role": "x" } as never)],
    ["move and copy", [{ op: "copy", from: "/metadata/labels/app", path: "/metadata/labels/copy" }, { op: "move", from: "/metadata/labels/app", path: "/metadata/labels/moved" }],
      (d) => void (d.metadata.labels = { copy: "web", moved: "web" } as never)],
    ["an empty patch", [], () => {}],
  ];
  for (const [name, patch, change] of applies) {
    it(name, () => {
      const original = deployment();
      const expected = deployment();
      change(expected);
      expect(applyJsonPatch(original, patch)).toEqual(expected);
      expect(original).toEqual(deployment());
    });
  }

  it("treats a null body as an empty patch, as Go decodes it", () => {
    expect(applyJsonPatch(deployment(), null)).toEqual(deployment());
  });

  const unprocessable: [string, unknown[], string][] = [
    ["a failing test", [{ op: "test", path: "/spec/replicas", value: 3 }, { op: "replace", path: "/spec/replicas", value: 4 }],
      "testing value /spec/replicas failed: test failed"],
    ["a test of a missing field", [{ op: "test", path: "/spec/paused", value: true }], "testing value /spec/paused failed: test failed"],
    ["add under a missing parent", [{ op: "add", path: "/metadata/annotations/a", value: "b" }],
      'add operation does not apply: doc is missing path: "/metadata/annotations/a": missing value'],
    ["remove a missing field", [{ op: "remove", path: "/metadata/labels/nope" }],
      'remove operation does not apply: doc is missing path: "/metadata/labels/nope": missing value'],
    ["replace a missing field", [{ op: "replace", path: "/spec/paused", value: true }],
      "replace operation does not apply: doc is missing key: /spec/paused: missing value"],
    ["move from a missing field", [{ op: "move", from: "/spec/nope", path: "/spec/x" }],
      "move operation does not apply: doc is missing from path: /spec/nope: missing value"],
    ["an unknown op", [{ op: "frobnicate", path: "/spec" }], "Unexpected kind: frobnicate"],
    ["a path without a leading slash", [{ op: "add", path: "invalid", value: 123 }],
      'add operation does not apply: doc is missing path: "invalid": missing value'],
    ["an index past the end", [{ op: "add", path: "/spec/template/spec/containers/0/args/9", value: "x" }],
      "error in add for path: '/spec/template/spec/containers/0/args/9': Unable to access invalid index: 9: invalid index referenced"],
  ];
  for (const [name, patch, detail] of unprocessable) {
    it(`answers 422 for ${name}`, () => {
      const original = deployment();
      const error = patchError(() => applyJsonPatch(original, patch));
      expect([error.code, error.reason, error.message, error.detail]).toEqual([
        422, "Invalid", "the server rejected our request due to an error in our request", detail,
      ]);
      expect(original).toEqual(deployment());
    });
  }

  const badRequests: [string, unknown, string][] = [
    ["an object body", { op: "add", path: "/a", value: 1 }, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"],
    ["a string body", "[]", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"],
    ["an operation that is not an object", [true], "json: cannot unmarshal bool into Go value of type jsonpatch.Operation"],
  ];
  for (const [name, patch, message] of badRequests) {
    it(`answers 400 for ${name}`, () => {
      const error = patchError(() => applyJsonPatch(deployment(), patch));
      expect([error.code, error.reason, error.message]).toEqual([400, "BadRequest", message]);
    });
  }

  it("refuses more operations than kube-apiserver accepts", () => {
    const patch = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({ op: "test", path: "/kind", value: "Deployment" }));
    const error = patchError(() => applyJsonPatch(deployment(), patch));
    expect([error.code, error.reason, error.message]).toEqual([413, "RequestEntityTooLarge", "The allowed maximum operations in a JSON patch is 10000, got 10001"]);
  });

  it("refuses a patch that leaves no object", () => {
    const error = patchError(() => applyJsonPatch(deployment(), [{ op: "replace", path: "", value: [1] }]));
    expect(error.code).toBe(422);
  });

  it("refuses to write through __proto__", () => {
    const error = patchError(() => applyJsonPatch({}, [{ op: "add", path: "/__proto__/polluted", value: true }]));
    expect(error.code).toBe(422);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

// application/json-patch+json (RFC 6902), applied by fast-json-patch; failures are answered as
// kube-apiserver does, with the wording of the Go library it uses kept as the detail.
import { applyPatch, JsonPatchError, type Operation } from "fast-json-patch";
import { PatchError } from "./patch-error.ts";

/** kube-apiserver refuses longer patches with 413. */
export const MAX_JSON_PATCH_OPERATIONS = 10_000;

/** Applies an RFC 6902 patch to a copy of `original`; `patch` is the parsed request body. */
export function applyJsonPatch(original: object, patch: unknown): Record<string, unknown> {
  // Go decodes a null body into an empty patch.
  if (patch === null) patch = [];
  if (!Array.isArray(patch)) throw PatchError.badRequest(`json: cannot unmarshal ${goJsonKind(patch)} into Go value of type jsonpatch.Patch`);
  const notAnObject = patch.find((op) => !isObject(op));
  if (notAnObject !== undefined) {
    throw PatchError.badRequest(`json: cannot unmarshal ${goJsonKind(notAnObject)} into Go value of type jsonpatch.Operation`);
  }
  // fast-json-patch also knows an internal "_get"; only RFC 6902's operations are patches.
  const unknown = (patch as { op?: unknown }[]).find((op) => !["add", "remove", "replace", "move", "copy", "test"].includes(op.op as string));
  if (unknown !== undefined) throw PatchError.unprocessable(`Unexpected kind: ${String(unknown.op)}`);
  if (patch.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new PatchError(413, "RequestEntityTooLarge", `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${patch.length}`);
  }
  let patched: unknown;
  try {
    patched = applyPatch(original, patch as Operation[], true, false).newDocument;
  } catch (error) {
    throw PatchError.unprocessable(describeFailure(error));
  }
  if (!isObject(patched)) throw PatchError.unprocessable("the patched document is not a JSON object");
  return patched;
}

/** The failure in the words of evanphx/json-patch, which kubectl users know from kube's logs. */
function describeFailure(error: unknown): string {
  if (!(error instanceof JsonPatchError)) return error instanceof Error ? error.message : String(error);
  const operation = (error.operation ?? {}) as { op?: unknown; path?: unknown; from?: unknown };
  const op = String(operation.op);
  const path = String(operation.path);
  switch (error.name) {
    case "TEST_OPERATION_FAILED":
      return `testing value ${path} failed: test failed`;
    case "OPERATION_OP_INVALID":
      return `Unexpected kind: ${op}`;
    case "OPERATION_PATH_CANNOT_ADD":
    case "OPERATION_PATH_INVALID":
      return `${op} operation does not apply: doc is missing path: "${path}": missing value`;
    case "OPERATION_PATH_UNRESOLVABLE":
      if (op === "test") return `testing value ${path} failed: test failed`;
      if (op === "replace") return `replace operation does not apply: doc is missing key: ${path}: missing value`;
      return `${op} operation does not apply: doc is missing path: "${path}": missing value`;
    case "OPERATION_FROM_REQUIRED":
      return `${op} operation failed to decode from: missing value`;
    case "OPERATION_FROM_UNRESOLVABLE":
      return `${op} operation does not apply: doc is missing from path: ${String(operation.from)}: missing value`;
    case "OPERATION_VALUE_REQUIRED":
    case "OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED":
      return `${op} operation does not apply: missing value`;
    case "OPERATION_PATH_ILLEGAL_ARRAY_INDEX":
    case "OPERATION_VALUE_OUT_OF_BOUNDS":
      return `error in ${op} for path: '${path}': Unable to access invalid index: ${path.slice(path.lastIndexOf("/") + 1)}: invalid index referenced`;
    default:
      return error.message;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** How Go's encoding/json names a JSON value it cannot decode into a type. */
function goJsonKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  if (typeof value === "boolean") return "bool";
  return typeof value === "object" ? "object" : typeof value;
}

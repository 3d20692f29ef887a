// application/merge-patch+json (RFC 7386): objects merge key by key, null deletes, and any other
// value (lists included) replaces what was there.
import { getField, isJsonObject, setField, type JsonObject } from "./json-value.ts";
import { PatchError } from "./patch-error.ts";

/** Applies a JSON merge patch to a copy of `original`; `patch` is the parsed request body. */
export function applyMergePatch(original: object, patch: unknown): JsonObject {
  // kube-apiserver's merge patch library only takes an object document as a patch.
  if (!isJsonObject(patch)) throw PatchError.badRequest("Invalid JSON Patch");
  return mergeInto(structuredClone(original), structuredClone(patch)) as JsonObject;
}

function mergeInto(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = isJsonObject(target) ? target : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else setField(result, key, mergeInto(getField(result, key), value));
  }
  return result;
}

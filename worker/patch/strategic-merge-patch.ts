// application/strategic-merge-patch+json as kube-apiserver applies it: a JSON merge patch whose
// lists follow the strategy each field declares (merged by a key, or replaced), plus the patch
// directives $patch, $retainKeys, $setElementOrder/<list> and $deleteFromPrimitiveList/<list>.
// Which field merges by which key comes from patch-meta.generated.json (scripts/gen-patch-meta.ts).
import patchMeta from "./patch-meta.generated.json" with { type: "json" };
import { getField, isJsonObject, setField, type JsonObject } from "./json-value.ts";
import { PatchError } from "./patch-error.ts";

interface FieldMeta {
  /** Definition name of the field's object type, or of its list's element type. */
  type?: string;
  /** Definition name of the values of a map field. */
  mapValues?: string;
  /** "merge", "replace", "retainKeys" or "merge,retainKeys". */
  patchStrategy?: string;
  patchMergeKey?: string;
}

const TYPES: Record<string, Record<string, FieldMeta>> = patchMeta.types;
const KINDS: Record<string, string> = patchMeta.kinds;

/** Where a value sits: in a named type, in a map whose values are of a named type, or nowhere known. */
type Schema = { type: string } | { mapValues: string } | undefined;

const PATCH = "$patch";
const RETAIN_KEYS = "$retainKeys";
const SET_ELEMENT_ORDER = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList";

/** Marks a patch value that does not survive into the object (a map carrying $patch). */
const DROPPED = Symbol("dropped");

/** The OpenAPI definition name of a built-in kind: ("apps/v1", "Deployment") → "io.k8s.api.apps.v1.Deployment". */
export function typeNameForKind(apiVersion: string, kind: string): string | undefined {
  const key = `${apiVersion}/${kind}`;
  return Object.hasOwn(KINDS, key) ? KINDS[key] : undefined;
}

/**
 * Whether kube knows the type's patch strategies: built-in kinds do, custom resources do not
 * (kube-apiserver answers 415 for a strategic merge patch to a custom resource).
 */
export function supportsStrategicMerge(typeName: string): boolean {
  return Object.hasOwn(TYPES, typeName);
}

/**
 * Applies a strategic merge patch to a copy of `original`, whose OpenAPI definition name is
 * `typeName` (e.g. "io.k8s.api.apps.v1.Deployment"). For a type without patch metadata every list
 * is replaced, which is JSON merge patch with the directives still honoured.
 */
export function applyStrategicMergePatch(original: object, patch: unknown, typeName: string): JsonObject {
  // Go decodes a null body into an empty patch.
  if (patch === null) return structuredClone(original) as JsonObject;
  if (!isJsonObject(patch)) throw PatchError.badRequest(`json: cannot unmarshal ${goJsonKind(patch)} into Go value of type map[string]interface {}`);
  return mergeObject(structuredClone(original) as JsonObject, structuredClone(patch), { type: typeName });
}

function fieldMeta(schema: Schema, key: string): FieldMeta | undefined {
  if (schema === undefined) return undefined;
  if ("mapValues" in schema) return { type: schema.mapValues };
  const fields = TYPES[schema.type];
  return fields && Object.hasOwn(fields, key) ? fields[key] : undefined;
}

function schemaOf(meta: FieldMeta | undefined): Schema {
  if (meta?.mapValues) return { mapValues: meta.mapValues };
  return meta?.type ? { type: meta.type } : undefined;
}

function hasStrategy(meta: FieldMeta | undefined, strategy: "merge" | "replace"): boolean {
  return meta?.patchStrategy?.split(",").includes(strategy) ?? false;
}

/** Merges `patch` into `original` (both owned by this call, so they are changed in place). */
function mergeObject(original: JsonObject, patch: JsonObject, schema: Schema): JsonObject {
  if (Object.hasOwn(patch, PATCH)) {
    const directive = patch[PATCH];
    if (directive === "delete") return {};
    // kube-apiserver rejects "$patch: merge" in a map; the design doc's meaning, merge as usual, is taken.
    if (directive !== "replace" && directive !== "merge") throw PatchError.internal(`unknown patch type: ${goValue(directive)} in map: ${goValue(patch)}`);
    delete patch[PATCH];
    if (directive === "replace") return literal(patch) as JsonObject;
  }
  applyRetainKeys(original, patch);
  applySetElementOrder(original, patch, schema);

  for (const [patchKey, patchValue] of Object.entries(patch)) {
    const deleteList = patchKey.startsWith(DELETE_FROM_PRIMITIVE_LIST);
    const key = deleteList ? directiveTarget(patchKey, DELETE_FROM_PRIMITIVE_LIST, "invalid patch format of primitive list") : patchKey;
    if (patchValue === null) {
      delete original[key];
      continue;
    }
    const current = getField(original, key);
    const meta = fieldMeta(schema, key);
    if (current === undefined || jsonKind(current) !== jsonKind(patchValue)) {
      // A new value (or one of another kind) is taken as written; a deletion list has nothing to delete from.
      if (Array.isArray(patchValue) && !hasStrategy(meta, "merge")) refuseItemDirectives(patchValue);
      if (!deleteList) setLiteral(original, key, patchValue);
      continue;
    }
    if (isJsonObject(current)) {
      const merged = hasStrategy(meta, "replace") ? literal(patchValue) : mergeObject(current, patchValue as JsonObject, schemaOf(meta));
      setField(original, key, merged);
    } else if (Array.isArray(current)) {
      setField(original, key, mergeListField(current, patchValue as unknown[], meta, deleteList));
    } else {
      setField(original, key, patchValue);
    }
  }
  return original;
}

/** `$retainKeys: [fields]` clears every field of the original that the list does not name. */
function applyRetainKeys(original: JsonObject, patch: JsonObject): void {
  if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
  const retained = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(retained)) throw PatchError.badRequest("invalid patch format of retainKeys");
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || key.startsWith(DELETE_FROM_PRIMITIVE_LIST) || key.startsWith(SET_ELEMENT_ORDER)) continue;
    if (!retained.includes(key)) throw PatchError.badRequest("invalid patch format of retainKeys");
  }
  for (const key of Object.keys(original)) {
    if (!retained.includes(key)) delete original[key];
  }
}

/**
 * `$setElementOrder/<list>: [...]` gives the final relative order of the list's items that the
 * patch names (by merge key, or by value for primitives); the patch's own list is merged first.
 */
function applySetElementOrder(original: JsonObject, patch: JsonObject, schema: Schema): void {
  for (const directiveKey of Object.keys(patch)) {
    if (!directiveKey.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[directiveKey];
    delete patch[directiveKey];
    if (!Array.isArray(order)) throw PatchError.internal(`expected a []interface {}, but received a ${goType(order)}`);
    const key = directiveTarget(directiveKey, SET_ELEMENT_ORDER, "invalid patch format of setElementOrder list");
    const current = getField(original, key);
    const patchList = getField(patch, key);
    for (const list of [current, patchList]) {
      if (list !== undefined && !Array.isArray(list)) throw PatchError.internal(`expected a []interface {}, but received a ${goType(list)}`);
    }
    if (current === undefined && patchList === undefined) continue;
    const meta = fieldMeta(schema, key);
    const mergeKey = meta?.patchMergeKey ?? "";
    if (patchList !== undefined) checkPatchFollowsOrder(patchList as unknown[], order, mergeKey);
    let merged: unknown[];
    if (patchList === undefined) merged = current as unknown[];
    else if (current === undefined) merged = literal(patchList) as unknown[];
    else merged = mergeListField(current as unknown[], patchList as unknown[], meta, false);
    setField(original, key, orderLikePatch(merged, order, (current ?? []) as unknown[], mergeKey));
    delete patch[key];
  }
}

/** The patch list must name its items in the order $setElementOrder gives (deletions aside). */
function checkPatchFollowsOrder(patchList: unknown[], order: unknown[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const items = mergeKey ? patchList.filter((item) => !isDeleteDirective(item)) : patchList;
  let i = 0;
  let j = 0;
  while (i < items.length && j < order.length) {
    if (isJsonObject(items[i]) && Object.hasOwn(items[i] as JsonObject, PATCH)) {
      i++;
      continue;
    }
    if (sameItem(items[i], order[j], mergeKey)) i++;
    j++;
  }
  if (i < items.length) {
    throw PatchError.internal(`the order in patch list:\n${goValue(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${goValue(order)}`);
  }
}

function mergeListField(current: unknown[], patchList: unknown[], meta: FieldMeta | undefined, deleteList: boolean): unknown[] {
  if (hasStrategy(meta, "merge")) return mergeList(current, patchList, meta?.patchMergeKey ?? "", schemaOf(meta), deleteList);
  // A list without the merge strategy is replaced. kube-apiserver would also store a deletion
  // list sent for such a list in its place; here the directive keeps its meaning and deletes.
  if (deleteList) return current.filter((item) => !patchList.includes(item));
  refuseItemDirectives(patchList);
  return literal(patchList) as unknown[];
}

/** A "$patch" item means something only in a list merged by key; in any other list it is an error, not data. */
function refuseItemDirectives(list: unknown[]): void {
  if (list.some((item) => isJsonObject(item) && Object.hasOwn(item, PATCH))) {
    throw PatchError.badRequest("$patch directives in a list apply only to lists merged by a key");
  }
}

/** A list with the merge strategy: a set of primitives, or maps merged by `mergeKey`. */
function mergeList(original: unknown[], patch: unknown[], mergeKey: string, elementSchema: Schema, deleteList: boolean): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind(original, patch);
  if (kind !== "object") {
    if (deleteList) return original.filter((item) => !patch.includes(item));
    const merged: unknown[] = [];
    for (const item of [...original, ...patch]) if (!merged.includes(item)) merged.push(item);
    return orderLikePatch(merged, patch, original, "");
  }
  if (!mergeKey) throw PatchError.internal("cannot merge lists without merge key for type struct");

  let base = original;
  let items: JsonObject[] = [];
  let replace = false;
  for (const item of patch as JsonObject[]) {
    if (!Object.hasOwn(item, PATCH)) {
      items.push(item);
      continue;
    }
    const directive = item[PATCH];
    if (directive === "delete") {
      const keyValue = mergeKeyOf(item, mergeKey);
      base = base.filter((element) => !matchesKey(element, mergeKey, keyValue));
    } else if (directive === "replace") {
      replace = true;
    } else if (directive === "merge") {
      throw PatchError.internal("merging lists cannot yet be specified in the patch");
    } else {
      throw PatchError.internal(`unknown patch type: ${goValue(directive)} in map: ${goValue(item)}`);
    }
  }
  if (replace) {
    // "$patch: replace" as an item: the list becomes the patch's other items.
    base = literal(items) as JsonObject[];
    items = [];
  }

  const merged = [...base];
  for (const item of items) {
    const keyValue = mergeKeyOf(item, mergeKey);
    const index = merged.findIndex((element) => matchesKey(element, mergeKey, keyValue));
    if (index >= 0) merged[index] = mergeObject(merged[index] as JsonObject, item, elementSchema);
    else merged.push(literal(item));
  }
  return orderLikePatch(merged, items, base, mergeKey);
}

/**
 * kube's order for a merged list: the items the patch names keep the patch's order, the others
 * keep the original's, and the two are interleaved where the original orders them both.
 */
function orderLikePatch(merged: unknown[], patchOrder: unknown[], serverOrder: unknown[], mergeKey: string): unknown[] {
  const fromPatch: unknown[] = [];
  const serverOnly: unknown[] = [];
  for (const item of merged) (indexIn(patchOrder, item, mergeKey) >= 0 ? fromPatch : serverOnly).push(item);
  const byIndexIn = (order: unknown[]) => (a: unknown, b: unknown) => indexIn(order, a, mergeKey) - indexIn(order, b, mergeKey);
  fromPatch.sort(byIndexIn(patchOrder));
  serverOnly.sort(byIndexIn(serverOrder));

  const ordered: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < fromPatch.length) {
    if (j >= fromPatch.length) {
      ordered.push(serverOnly[i++]);
    } else if (i >= serverOnly.length) {
      ordered.push(fromPatch[j++]);
    } else {
      const left = indexIn(serverOrder, serverOnly[i], mergeKey);
      const right = indexIn(serverOrder, fromPatch[j], mergeKey);
      ordered.push(left >= 0 && right >= 0 && left < right ? serverOnly[i++] : fromPatch[j++]);
    }
  }
  return ordered;
}

function indexIn(list: unknown[], item: unknown, mergeKey: string): number {
  if (!mergeKey) return list.indexOf(item);
  const keyValue = mergeKeyOf(item, mergeKey);
  return list.findIndex((element) => matchesKey(element, mergeKey, keyValue));
}

function sameItem(a: unknown, b: unknown, mergeKey: string): boolean {
  return mergeKey ? mergeKeyOf(a, mergeKey) === mergeKeyOf(b, mergeKey) : a === b;
}

function mergeKeyOf(item: unknown, mergeKey: string): unknown {
  if (!isJsonObject(item)) throw PatchError.internal(`expected a map[string]interface {}, but received a ${goType(item)}`);
  if (!Object.hasOwn(item, mergeKey)) throw PatchError.internal(`map: ${goValue(item)} does not contain declared merge key: ${mergeKey}`);
  return item[mergeKey];
}

function matchesKey(element: unknown, mergeKey: string, keyValue: unknown): boolean {
  if (!isJsonObject(element)) throw PatchError.internal(`expected a map[string]interface {}, but received a ${goType(element)}`);
  return Object.hasOwn(element, mergeKey) && element[mergeKey] === keyValue;
}

function isDeleteDirective(item: unknown): boolean {
  if (!isJsonObject(item)) throw PatchError.internal(`expected a map[string]interface {}, but received a ${goType(item)}`);
  return item[PATCH] === "delete";
}

/** The one kind every element of the lists shares; kube merges no list of lists or of mixed kinds. */
function elementKind(...lists: unknown[][]): string {
  let kind: string | undefined;
  for (const item of lists.flat()) {
    const itemKind = jsonKind(item);
    if (itemKind === "array") throw PatchError.unprocessable("lists of lists are not supported");
    if (kind !== undefined && itemKind !== kind) throw PatchError.internal(`list element types are not identical: ${goValue(lists)}`);
    kind = itemKind;
  }
  return kind!;
}

/** "$setElementOrder/containers" → "containers". */
function directiveTarget(key: string, prefix: string, badFormat: string): string {
  const slash = key.indexOf("/");
  if (slash < 0 || key.slice(0, slash) !== prefix) throw PatchError.badRequest(badFormat);
  return key.slice(slash + 1);
}

function setLiteral(object: JsonObject, key: string, patchValue: unknown): void {
  const value = literal(patchValue);
  if (value === DROPPED) delete object[key];
  else setField(object, key, value);
}

/**
 * A patch value taken as written, in the shape kube stores it: maps carrying $patch are dropped,
 * null fields are left out, and no directive key remains.
 */
function literal(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(literal).filter((item) => item !== DROPPED);
  if (!isJsonObject(value)) return value;
  if (Object.hasOwn(value, PATCH)) return DROPPED;
  const result: JsonObject = {};
  for (const [key, field] of Object.entries(value)) {
    if (field === null || isDirectiveKey(key)) continue;
    const kept = literal(field);
    if (kept !== DROPPED) setField(result, key, kept);
  }
  return result;
}

function isDirectiveKey(key: string): boolean {
  return key === RETAIN_KEYS || key.startsWith(`${SET_ELEMENT_ORDER}/`) || key.startsWith(`${DELETE_FROM_PRIMITIVE_LIST}/`);
}

function jsonKind(value: unknown): "object" | "array" | "string" | "number" | "boolean" | "null" {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value as "object" | "string" | "number" | "boolean";
}

/** How Go's encoding/json names a JSON value it cannot decode into a type. */
function goJsonKind(value: unknown): string {
  const kind = jsonKind(value);
  return kind === "boolean" ? "bool" : kind;
}

/** Go's reflect type name for a decoded JSON value, as kube's error messages print it. */
function goType(value: unknown): string {
  switch (jsonKind(value)) {
    case "object": return "map[string]interface {}";
    case "array": return "[]interface {}";
    case "number": return Number.isInteger(value) ? "int64" : "float64";
    case "boolean": return "bool";
    case "null": return "<nil>";
    default: return "string";
  }
}

/** A decoded JSON value as Go's %v prints it (maps with sorted keys), for kube-worded errors. */
function goValue(value: unknown): string {
  if (value === null || value === undefined) return "<nil>";
  if (Array.isArray(value)) return `[${value.map(goValue).join(" ")}]`;
  if (isJsonObject(value)) return `map[${Object.keys(value).sort().map((key) => `${key}:${goValue(value[key])}`).join(" ")}]`;
  return String(value);
}

/**
 * What the patch metadata says of `field` in type `typeName`: the type of its value (or list
 * element), and the key its list items are merged by. Server-side apply walks objects with it.
 */
export function patchFieldMeta(typeName: string | undefined, field: string): { type?: string; mergeKey?: string } {
  const meta = fieldMeta(typeName ? { type: typeName } : undefined, field);
  return {
    type: meta?.type ?? meta?.mapValues,
    mergeKey: hasStrategy(meta, "merge") && meta?.patchMergeKey ? meta.patchMergeKey : undefined,
  };
}

// Server-side apply (PATCH application/apply-patch+yaml): the applied configuration is merged into
// the object; each manager owns the fields it applied (managedFields, operation Apply); a field
// another manager owns with a different value is a conflict unless forced; fields a manager stops
// applying are removed when no one else owns them. Lists whose items the API merges by a key
// (containers by name, ports by containerPort, …) are owned item by item; other lists whole.
import { kubeTime } from "../../lib/k8s/time.ts";
import { ApiError } from "../../lib/k8s/status.ts";
import { patchFieldMeta } from "../patch/strategic-merge-patch.ts";
import type { KubeObject } from "../registry/types.ts";

/** A FieldsV1 set: "f:<field>", "k:<key JSON>" for a keyed list item, "." for the item itself. */
export type FieldSet = { [path: string]: FieldSet };

type Json = unknown;
type Obj = Record<string, Json>;

const isObject = (v: Json): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Metadata fields no manager owns. */
const UNOWNED_METADATA = new Set(["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "name", "namespace"]);

function itemKey(item: Json, mergeKey: string): string | undefined {
  if (!isObject(item) || item[mergeKey] === undefined) return undefined;
  return `k:${JSON.stringify({ [mergeKey]: item[mergeKey] })}`;
}

/** The fields `value` sets, typed by `typeName` where the patch metadata knows the type. */
export function fieldSetOf(value: Json, typeName: string | undefined, topLevel = false): FieldSet {
  if (!isObject(value)) return {};
  const set: FieldSet = {};
  for (const [key, child] of Object.entries(value)) {
    if (topLevel && (key === "apiVersion" || key === "kind" || key === "status")) continue;
    if (topLevel && key === "metadata") {
      const meta: FieldSet = {};
      for (const [mk, mv] of Object.entries(isObject(child) ? child : {})) {
        if (!UNOWNED_METADATA.has(mk)) meta[`f:${mk}`] = fieldSetOf(mv, undefined);
      }
      if (Object.keys(meta).length) set["f:metadata"] = meta;
      continue;
    }
    const { type, mergeKey } = patchFieldMeta(typeName, key);
    if (Array.isArray(child) && mergeKey) {
      const items: FieldSet = {};
      for (const item of child) {
        const k = itemKey(item, mergeKey);
        if (k) items[k] = { ".": {}, ...fieldSetOf(item, type) };
      }
      set[`f:${key}`] = items;
    } else {
      set[`f:${key}`] = isObject(child) ? fieldSetOf(child, type) : {};
    }
  }
  return set;
}

/** Every leaf path of a set (a leaf owns its whole value). */
function leaves(set: FieldSet, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [k, child] of Object.entries(set)) {
    if (k === ".") continue;
    const path = [...prefix, k];
    const inner = Object.keys(child).filter((c) => c !== ".");
    if (inner.length === 0) out.push(path);
    else out.push(...leaves(child, path));
  }
  return out;
}

/** The outermost paths of `before` that `after` no longer has: a dropped field or list item, whole. */
function dropped(before: FieldSet, after: FieldSet, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [k, child] of Object.entries(before)) {
    if (k === ".") continue;
    const path = [...prefix, k];
    if (!(k in after)) out.push(path);
    else out.push(...dropped(child, after[k]!, path));
  }
  return out;
}

function has(set: FieldSet, path: string[]): boolean {
  let node: FieldSet | undefined = set;
  for (const step of path) {
    node = node?.[step];
    if (!node) return false;
  }
  return true;
}

function subtract(set: FieldSet, path: string[]): void {
  if (path.length === 0) return;
  const [head, ...rest] = path as [string, ...string[]];
  if (!set[head]) return;
  if (rest.length === 0) delete set[head];
  else {
    subtract(set[head], rest);
    if (Object.keys(set[head]).filter((k) => k !== ".").length === 0 && !(head.startsWith("k:") && set[head]["."])) delete set[head];
  }
}

/** The value a path names in an object, or undefined. */
function valueAt(object: Json, path: string[]): Json {
  let node: Json = object;
  for (const step of path) {
    if (step.startsWith("f:")) node = isObject(node) ? node[step.slice(2)] : undefined;
    else if (step.startsWith("k:")) {
      const key = JSON.parse(step.slice(2)) as Obj;
      const [name, wanted] = Object.entries(key)[0]!;
      node = Array.isArray(node) ? node.find((item) => isObject(item) && JSON.stringify(item[name]) === JSON.stringify(wanted)) : undefined;
    } else return undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

/** Removes the value a path names from an object. */
function removeAt(object: Json, path: string[]): void {
  const parent = valueAt(object, path.slice(0, -1));
  const last = path.at(-1)!;
  if (last.startsWith("f:") && isObject(parent)) delete parent[last.slice(2)];
  else if (last.startsWith("k:")) {
    const grand = valueAt(object, path.slice(0, -2));
    const listField = path.at(-2)!;
    const list = isObject(grand) ? grand[listField.slice(2)] : undefined;
    if (Array.isArray(list)) {
      const [name, wanted] = Object.entries(JSON.parse(last.slice(2)) as Obj)[0]!;
      const at = list.findIndex((item) => isObject(item) && JSON.stringify(item[name]) === JSON.stringify(wanted));
      if (at >= 0) list.splice(at, 1);
    }
  }
}

/** Applied values over the current object: maps merge, keyed lists merge by key, the rest replaces. */
export function mergeApplied(current: Json, applied: Json, typeName: string | undefined): Json {
  if (!isObject(current) || !isObject(applied)) return structuredClone(applied);
  const out: Obj = { ...current };
  for (const [key, value] of Object.entries(applied)) {
    const { type, mergeKey } = patchFieldMeta(typeName, key);
    const before = current[key];
    if (Array.isArray(value) && Array.isArray(before) && mergeKey) {
      const merged = [...before];
      for (const item of value) {
        const at = merged.findIndex((b) => isObject(b) && isObject(item) && JSON.stringify(b[mergeKey]) === JSON.stringify(item[mergeKey]));
        if (at >= 0) merged[at] = mergeApplied(merged[at], item, type);
        else merged.push(structuredClone(item));
      }
      out[key] = merged;
    } else {
      out[key] = isObject(value) && isObject(before) ? mergeApplied(before, value, type) : structuredClone(value);
    }
  }
  return out;
}

interface ManagedEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: FieldSet;
  subresource?: string;
}

function pathText(path: string[]): string {
  return path.map((step) => (step.startsWith("f:") ? `.${step.slice(2)}` : `[${step.slice(2).replace(/^\{"(\w+)":/, "$1=").replace(/\}$/, "")}]`)).join("");
}

/**
 * Applies `applied` (already parsed) by `manager` over `current` (undefined: the object does not
 * exist yet). Returns the new object with its managedFields, or throws a 409 listing conflicts.
 */
export function serverSideApply(current: KubeObject | undefined, applied: KubeObject, manager: string, force: boolean, typeName: string | undefined, apiVersion: string): KubeObject {
  const appliedSet = fieldSetOf(applied, typeName, true);
  const entries: ManagedEntry[] = structuredClone(current?.metadata?.managedFields ?? []);
  const mine = entries.find((e) => e.manager === manager && e.operation === "Apply");
  const others = entries.filter((e) => e !== mine);

  // Conflicts: a field someone else manages whose value this apply would change.
  const conflicts: { manager: string; apiVersion?: string; path: string[] }[] = [];
  for (const path of leaves(appliedSet)) {
    const changes = JSON.stringify(valueAt(current, path)) !== JSON.stringify(valueAt(applied, path));
    if (!current || !changes) continue;
    for (const other of others) {
      if (other.manager !== manager && has(other.fieldsV1 ?? {}, path)) conflicts.push({ manager: other.manager, apiVersion: other.apiVersion, path });
    }
  }
  if (conflicts.length && !force) {
    const causes = conflicts.map((c) => ({ reason: "FieldManagerConflict", message: `conflict with "${c.manager}"${c.apiVersion ? ` using ${c.apiVersion}` : ""}`, field: pathText(c.path) }));
    const message = conflicts.length === 1
      ? `Apply failed with 1 conflict: ${causes[0]!.message}: ${causes[0]!.field}`
      : `Apply failed with ${conflicts.length} conflicts: ${causes.map((c) => `${c.message}: ${c.field}`).join("\n")}`;
    throw new ApiError(409, "Conflict", message, { causes });
  }
  // Forced: the applier takes the conflicting fields from their managers.
  for (const c of conflicts) {
    for (const other of others) if (other.manager === c.manager) subtract(other.fieldsV1 ?? {}, c.path);
  }

  let result = current ? (mergeApplied(current, applied, typeName) as KubeObject) : structuredClone(applied);
  // Fields (or keyed list items) this manager applied before but no longer does, and that no one
  // else manages any part of, go away.
  for (const path of dropped(mine?.fieldsV1 ?? {}, appliedSet)) {
    if (others.some((o) => has(o.fieldsV1 ?? {}, path))) continue;
    removeAt(result, path);
  }
  result = { ...result, metadata: { ...result.metadata } };
  // An apply that changes nothing of what its manager owns keeps the entry's time, so it is a no-op.
  const sameFields = mine && JSON.stringify(mine.fieldsV1) === JSON.stringify(appliedSet);
  const now = sameFields && mine.time ? mine.time : kubeTime();
  const kept = others.filter((e) => Object.keys(e.fieldsV1 ?? {}).length);
  result.metadata!.managedFields = [...kept, { manager, operation: "Apply", apiVersion, time: now, fieldsType: "FieldsV1", fieldsV1: appliedSet }];
  return result;
}

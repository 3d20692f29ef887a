// metadata.managedFields for non-apply writes: each write's manager (the fieldManager query
// parameter, else the User-Agent's product) becomes the owner of the fields it set or changed, in
// kube's FieldsV1 form ("f:<field>"); the others lose them. Lists are owned whole until server-side
// apply brings their merge keys.
import { kubeTime } from "../../lib/k8s/time.ts";
import { deepEqual } from "./deep-equal.ts";
import type { KubeObject } from "./types.ts";

type FieldSet = Record<string, any>;

/** Fields no manager owns, as in kube. */
const UNOWNED_METADATA = new Set(["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"]);

/** kube's default manager name: the User-Agent up to its first "/", at most 128 characters. */
export function managerFromUserAgent(userAgent: string | undefined): string {
  return (userAgent ?? "unknown").split("/")[0]!.slice(0, 128) || "unknown";
}

function fieldsOf(value: unknown, topLevel = false): FieldSet {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return {};
  const set: FieldSet = {};
  for (const [key, child] of Object.entries(value)) {
    if (topLevel && (key === "apiVersion" || key === "kind")) continue;
    if (topLevel && key === "metadata") {
      const meta: FieldSet = {};
      for (const [mk, mv] of Object.entries(child ?? {})) {
        if (!UNOWNED_METADATA.has(mk) && mk !== "name" && mk !== "namespace") meta[`f:${mk}`] = fieldsOf(mv);
      }
      if (Object.keys(meta).length) set["f:metadata"] = meta;
      continue;
    }
    set[`f:${key}`] = fieldsOf(child);
  }
  return set;
}

/** The fields of `next` that differ from `previous` (all of them on create). */
function changedFields(previous: unknown, next: unknown, topLevel = false): FieldSet {
  const all = fieldsOf(next, topLevel);
  if (previous === undefined) return all;
  const changed: FieldSet = {};
  for (const [f, sub] of Object.entries(all)) {
    const key = f.slice(2);
    const before = topLevel && key === "metadata" ? previous && (previous as any).metadata : (previous as any)?.[key];
    const after = topLevel && key === "metadata" ? (next as any).metadata : (next as any)[key];
    if (deepEqual(before, after)) continue;
    const isObject = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
    changed[f] = isObject(before) && isObject(after) ? (topLevel && key === "metadata" ? metadataChanges(before, after) : changedFields(before, after)) : sub;
  }
  return changed;
}

function metadataChanges(before: any, after: any): FieldSet {
  const changed: FieldSet = {};
  for (const [k, v] of Object.entries(after)) {
    if (UNOWNED_METADATA.has(k) || k === "name" || k === "namespace") continue;
    if (!deepEqual(before[k], v)) changed[`f:${k}`] = typeof v === "object" && v && !Array.isArray(v) && before[k] && typeof before[k] === "object" ? changedFields(before[k], v) : fieldsOf(v);
  }
  return changed;
}

function merge(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? merge(out[k], v) : v;
  return out;
}

/** Removes from `owned` every leaf that `taken` claims. */
function subtract(owned: FieldSet, taken: FieldSet): FieldSet {
  const out: FieldSet = {};
  for (const [k, v] of Object.entries(owned)) {
    if (!(k in taken)) out[k] = v;
    else if (Object.keys(taken[k]).length && Object.keys(v).length) {
      const rest = subtract(v, taken[k]);
      if (Object.keys(rest).length) out[k] = rest;
    }
  }
  return out;
}


/**
 * The managedFields an update starts from, as kube decides: `[{}]` in the request resets them,
 * well-formed entries in the request replace them, and anything else (none, or malformed, as from
 * clients that know nothing of managedFields) keeps the live object's.
 */
export function managedFieldsFromRequest(requested: unknown, live: any[] | undefined): any[] | undefined {
  if (!Array.isArray(requested) || !requested.length) return live;
  if (requested.length === 1 && requested[0] && typeof requested[0] === "object" && !Object.keys(requested[0]).length) return [];
  const wellFormed = requested.every((e) => e && typeof e === "object" && typeof e.manager === "string"
    && (e.operation === "Apply" || e.operation === "Update") && (e.fieldsType === undefined || e.fieldsType === "FieldsV1")
    && (e.fieldsV1 === undefined || (typeof e.fieldsV1 === "object" && e.fieldsV1 !== null && !Array.isArray(e.fieldsV1))));
  return wellFormed ? structuredClone(requested) : live;
}

/** Records a write by `manager` on `next` (previous undefined for a create). */
export function recordUpdate(next: KubeObject, previous: KubeObject | undefined, manager: string, subresource?: string): void {
  const changed = changedFields(previous, next, true);
  const entries: any[] = (previous?.metadata?.managedFields ?? []).map((e: any) => ({ ...e }));
  if (!Object.keys(changed).length) {
    next.metadata!.managedFields = entries.length ? entries : undefined;
    if (!entries.length) delete next.metadata!.managedFields;
    return;
  }
  const apiVersion = next.apiVersion;
  const kept = entries
    .filter((e) => !(e.manager === manager && e.operation === "Update" && e.apiVersion === apiVersion && (e.subresource ?? undefined) === subresource))
    .map((e) => ({ ...e, fieldsV1: subtract(e.fieldsV1 ?? {}, changed) }))
    .filter((e) => Object.keys(e.fieldsV1).length);
  const mine = entries.find((e) => e.manager === manager && e.operation === "Update" && e.apiVersion === apiVersion && (e.subresource ?? undefined) === subresource);
  const entry: Record<string, unknown> = {
    manager, operation: "Update", apiVersion, time: kubeTime(), fieldsType: "FieldsV1", fieldsV1: merge(mine?.fieldsV1 ?? {}, changed),
  };
  if (subresource) entry.subresource = subresource;
  next.metadata!.managedFields = [...kept, entry];
}

// fieldValidation=Strict|Warn|Ignore: fields the kind's schema does not know, and keys given twice
// in the JSON body, are an error (Strict), a Warning header (Warn, the default) or nothing
// (Ignore). Unlike kube we keep unknown fields of built-in kinds: our schemas are Kubernetes 1.27's,
// and a field a newer release added must not be lost. Custom resources prune theirs, as in kube.
import type { Context } from "hono";
import { openAPISchemas } from "../openapi/documents.ts";
import type { KubeObject, ResourceDefinition } from "../registry/types.ts";
import { apiErrors } from "../../lib/k8s/status.ts";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export function parseFieldValidation(value: string | undefined): FieldValidation {
  if (value === undefined || value === "") return "Warn";
  if (value === "Strict" || value === "Warn" || value === "Ignore") return value;
  throw apiErrors.badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got ${JSON.stringify(value)}`);
}

type Schema = Record<string, any>;

let byKind: Promise<Map<string, { schemas: Record<string, Schema>; root: Schema }>> | undefined;

async function rootSchema(def: ResourceDefinition): Promise<{ schemas: Record<string, Schema>; root: Schema } | undefined> {
  byKind ??= openAPISchemas().then((schemas) => {
    const map = new Map<string, { schemas: Record<string, Schema>; root: Schema }>();
    for (const schema of Object.values(schemas)) {
      for (const gvk of (schema["x-kubernetes-group-version-kind"] as { group: string; version: string; kind: string }[] | undefined) ?? []) {
        map.set(`${gvk.group}/${gvk.version}/${gvk.kind}`, { schemas, root: schema });
      }
    }
    return map;
  });
  return (await byKind).get(`${def.group}/${def.version}/${def.kind}`);
}

function resolve(schema: Schema | undefined, schemas: Record<string, Schema>): Schema | undefined {
  let s = schema;
  for (let depth = 0; s && depth < 8; depth++) {
    const ref = s.$ref ?? (s.allOf?.length === 1 ? s.allOf[0].$ref : undefined);
    if (!ref) return s;
    s = schemas[String(ref).slice(String(ref).lastIndexOf("/") + 1)];
  }
  return s;
}

/** Collects the paths of fields in `value` that the schema does not know. */
function findUnknown(value: unknown, schema: Schema | undefined, schemas: Record<string, Schema>, path: string, found: string[]): void {
  const s = resolve(schema, schemas);
  if (!s || s["x-kubernetes-preserve-unknown-fields"] || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    if (s.items) value.forEach((item, i) => findUnknown(item, s.items, schemas, `${path}[${i}]`, found));
    return;
  }
  const object = value as Record<string, unknown>;
  if (s.properties) {
    for (const key of Object.keys(object)) {
      const child = path ? `${path}.${key}` : key;
      if (key in s.properties) findUnknown(object[key], s.properties[key], schemas, child, found);
      else found.push(child);
    }
  } else if (s.additionalProperties && typeof s.additionalProperties === "object") {
    for (const [key, child] of Object.entries(object)) findUnknown(child, s.additionalProperties, schemas, `${path}.${key}`, found);
  }
}

/** Keys given twice in one JSON object of `text`, as dotted paths. */
export function duplicateFields(text: string): string[] {
  const found: string[] = [];
  const stack: { keys: Set<string>; path: string; expectKey: boolean; lastKey?: string; index: number; array: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack.at(-1);
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (top && !top.array && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) found.push(top.path ? `${top.path}.${key}` : key);
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      const path = !top ? "" : top.array ? `${top.path}[${top.index}]` : top.path ? `${top.path}.${top.lastKey}` : top.lastKey ?? "";
      stack.push({ keys: new Set(), path, expectKey: c === "{", index: 0, array: c === "[" });
    } else if (c === "}" || c === "]") {
      stack.pop();
    } else if (c === "," && top) {
      if (top.array) top.index++;
      else top.expectKey = true;
    }
  }
  return found;
}

/**
 * Checks `object` (parsed from `text`, when the body was the object itself) per
 * `mode`; returns the warnings to send. Strict throws a 400 listing every problem.
 */
export async function validateFields(def: ResourceDefinition, object: KubeObject, mode: FieldValidation, text?: string): Promise<string[]> {
  const unknown: string[] = [];
  if (def.unknownFields) unknown.push(...def.unknownFields(object));
  else {
    const root = await rootSchema(def);
    if (root) findUnknown(object, root.root, root.schemas, "", unknown);
  }
  // Top-level fields a built-in kind does not have are dropped, as kube's decoding drops them (deeper
  // ones are kept: our schemas are 1.27's, and a newer release's field must not be lost).
  if (!def.unknownFields) for (const path of unknown) if (!/[.[]/.test(path)) delete object[path];
  if (mode === "Ignore") return [];
  const problems = [
    ...(text ? duplicateFields(text).map((path) => `duplicate field "${path}"`) : []),
    ...unknown.map((path) => `unknown field "${path}"`),
  ];
  if (mode === "Strict" && problems.length) {
    throw apiErrors.badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: strict decoding error: ${problems.join(", ")}`);
  }
  return problems;
}

/** Adds each warning as its own `Warning: 299 - "…"` header, as kube-apiserver does. */
export function warningHeaders(c: Context, warnings: string[]): void {
  for (const warning of warnings) c.header("Warning", `299 - ${JSON.stringify(warning)}`, { append: true });
}

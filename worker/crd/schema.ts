// A custom resource's structural schema (a CRD version's openAPIV3Schema) at work: pruning unknown
// fields, filling in defaults and validating, with kube-apiserver's wording of each error. The
// JSON-Schema keywords are checked by @cfworker/json-schema (no code generation, so it runs in
// workerd); the Kubernetes extensions are translated into plain JSON Schema first.
import { Validator, type OutputUnit, type Schema as JsonSchema } from "@cfworker/json-schema";
import type { StatusCause } from "../../lib/k8s/status.ts";

/** A JSONSchemaProps node as a CRD carries it. */
export type SchemaProps = Record<string, any>;

/** Formats kube-apiserver checks that mean the same here; the rest (int32, byte, duration…) are not checked. */
const CHECKED_FORMATS = new Set(["date", "date-time", "email", "hostname", "ipv4", "ipv6", "uuid"]);

/** The keys of an embedded resource (and of the root) that are always kept. */
const RESOURCE_KEYS = ["apiVersion", "kind", "metadata"];

/** OpenAPI 3.0 schema with Kubernetes extensions → JSON Schema draft 4 (whose exclusiveMinimum is OpenAPI's). */
function toJsonSchema(schema: SchemaProps): JsonSchema {
  const out: Record<string, any> = {};
  for (const [key, value] of Object.entries(schema)) {
    switch (key) {
      case "properties": case "patternProperties": case "definitions":
        out[key] = Object.fromEntries(Object.entries(value as Record<string, SchemaProps>).map(([k, v]) => [k, toJsonSchema(v)]));
        break;
      case "items":
        out.items = Array.isArray(value) ? value.map(toJsonSchema) : toJsonSchema(value);
        break;
      case "additionalProperties": case "not":
        out[key] = typeof value === "object" ? toJsonSchema(value) : value;
        break;
      case "allOf": case "anyOf": case "oneOf":
        out[key] = (value as SchemaProps[]).map(toJsonSchema);
        break;
      case "format":
        if (CHECKED_FORMATS.has(value)) out.format = value;
        break;
      case "type": case "required": case "enum": case "pattern": case "minimum": case "maximum": case "exclusiveMinimum": case "exclusiveMaximum":
      case "minLength": case "maxLength": case "minItems": case "maxItems": case "uniqueItems": case "multipleOf": case "minProperties": case "maxProperties":
        out[key] = value;
        break;
      default:
        // description, default, nullable, example, x-kubernetes-*: not validation keywords.
        break;
    }
  }
  if (schema["x-kubernetes-int-or-string"]) {
    delete out.type;
    if (!out.anyOf) out.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  if (schema.nullable && typeof out.type === "string") out.type = [out.type, "null"];
  if (schema.nullable && out.enum) out.enum = [...out.enum, null];
  if (schema["x-kubernetes-embedded-resource"]) out.required = [...new Set([...(out.required ?? []), "apiVersion", "kind"])];
  return out as JsonSchema;
}

export class StructuralSchema {
  private readonly validator: Validator;

  constructor(readonly root: SchemaProps) {
    this.validator = new Validator(toJsonSchema(root), "4", false);
  }

  /** Removes what the schema does not know (and nulls it does not allow); returns the unknown fields' paths. */
  prune(object: Record<string, any>): string[] {
    const dropped: string[] = [];
    pruneNode(object, this.root, "", dropped, true);
    return dropped;
  }

  /** The paths prune() would remove, leaving the object as it is. */
  unknownFields(object: Record<string, any>): string[] {
    return this.prune(structuredClone(object));
  }

  /** Sets each absent field that has a default, as kube-apiserver does on write and on read. */
  applyDefaults(object: unknown): void {
    defaultNode(object, this.root);
  }

  /** The schema's errors for an object, as Kubernetes field errors. */
  validate(input: Record<string, any>): StatusCause[] {
    // As it would be stored: JSON has no undefined, which the validator refuses.
    const object = JSON.parse(JSON.stringify(input));
    const result = this.validator.validate(object);
    if (result.valid) return [];
    const causes: StatusCause[] = [];
    const seen = new Set<string>();
    for (const error of result.errors) {
      const cause = describe(error, object, this.root);
      if (!cause) continue;
      const key = `${cause.field}\u0000${cause.message}`;
      if (!seen.has(key)) causes.push(cause);
      seen.add(key);
    }
    return causes;
  }
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function pruneNode(value: unknown, schema: SchemaProps | undefined, path: string, dropped: string[], isResource: boolean): void {
  if (!schema) return;
  if (Array.isArray(value)) {
    if (isObject(schema.items)) value.forEach((item, i) => pruneNode(item, schema.items, `${path}[${i}]`, dropped, !!schema.items["x-kubernetes-embedded-resource"]));
    return;
  }
  if (!isObject(value) || schema["x-kubernetes-int-or-string"]) return;
  const properties: Record<string, SchemaProps> | undefined = schema.properties;
  const additional = isObject(schema.additionalProperties) ? schema.additionalProperties : undefined;
  const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true || schema.additionalProperties === true;
  for (const key of Object.keys(value)) {
    const child: SchemaProps | undefined = properties?.[key] ?? additional;
    if (isResource && RESOURCE_KEYS.includes(key) && !properties?.[key]) continue;
    if (!child) {
      if (!preserve) {
        dropped.push(join(path, key));
        delete value[key];
      }
      continue;
    }
    if (value[key] === null && !child.nullable && !(isResource && key === "metadata")) {
      // kube drops nulls of non-nullable fields before defaulting.
      delete value[key];
      continue;
    }
    pruneNode(value[key], child, join(path, key), dropped, !!child["x-kubernetes-embedded-resource"]);
  }
}

function defaultNode(value: unknown, schema: SchemaProps | undefined): void {
  if (!schema) return;
  if (Array.isArray(value)) {
    if (isObject(schema.items)) for (const item of value) defaultNode(item, schema.items);
    return;
  }
  if (!isObject(value)) return;
  for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, SchemaProps>)) {
    if (value[key] === undefined && child.default !== undefined) value[key] = structuredClone(child.default);
  }
  for (const [key, child] of Object.entries(value)) {
    defaultNode(child, schema.properties?.[key] ?? (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined));
  }
}

// ---- errors, worded as kube-openapi's validator words them ----

/** "#/spec/items/0/name" → the value's path segments. */
function pointerSegments(location: string): string[] {
  return location.replace(/^#\/?/, "").split("/").filter((s) => s !== "").map((s) => decodeURIComponent(s).replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** Walks a value along pointer segments, writing the path as kube does: spec.items[0].name. */
function locate(root: unknown, segments: string[]): { path: string; value: unknown } {
  let value: any = root;
  let path = "";
  for (const segment of segments) {
    if (Array.isArray(value)) {
      path += `[${segment}]`;
      value = value[Number(segment)];
    } else {
      path = join(path, segment);
      value = isObject(value) ? value[segment] : undefined;
    }
  }
  return { path, value };
}

/** The schema node a keywordLocation's parent points at, in the CRD's own schema. */
function schemaAt(root: SchemaProps, keywordLocation: string): SchemaProps | undefined {
  const segments = pointerSegments(keywordLocation).slice(0, -1);
  let node: any = root;
  for (const segment of segments) node = node?.[segment];
  return isObject(node) ? node : undefined;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** Go's %v of a value in an error: strings quoted, numbers bare. */
function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  return `"${typeName(value)}"`;
}

const NESTED = /\/(anyOf|oneOf|allOf|not)\/\d+\//;

function describe(error: OutputUnit, object: unknown, root: SchemaProps): StatusCause | undefined {
  // A failed anyOf/oneOf reports its branches' errors too; kube reports the combinator only.
  if (NESTED.test(error.keywordLocation) || error.keywordLocation.endsWith("/not/")) return undefined;
  const { path, value } = locate(object, pointerSegments(error.instanceLocation));
  const schema = schemaAt(root, error.keywordLocation) ?? {};
  const invalid = (message: string): StatusCause => ({ reason: "FieldValueInvalid", field: path, message: `Invalid value: ${shown(value)}: ${path} in body ${message}` });
  switch (error.keyword) {
    case "type": {
      const type = Array.isArray(schema.type) ? schema.type.join(",") : schema.type;
      return { reason: "FieldValueTypeInvalid", field: path, message: `Invalid value: "${typeName(value)}": ${path} in body must be of type ${type}: "${typeName(value)}"` };
    }
    case "required": {
      const missing = /"([^"]*)"/.exec(error.error)?.[1] ?? "";
      return { reason: "FieldValueRequired", field: join(path, missing), message: "Required value" };
    }
    case "enum":
      return { reason: "FieldValueNotSupported", field: path, message: `Unsupported value: ${shown(value)}: supported values: ${(schema.enum ?? []).map((v: unknown) => JSON.stringify(v)).join(", ")}` };
    case "pattern":
      return invalid(`should match '${schema.pattern}'`);
    case "format":
      return invalid(`must be of type ${schema.format}: ${shown(value)}`);
    case "minimum":
      return invalid(schema.exclusiveMinimum ? `should be greater than ${schema.minimum}` : `should be greater than or equal to ${schema.minimum}`);
    case "exclusiveMinimum":
      return invalid(`should be greater than ${schema.minimum}`);
    case "maximum":
      return invalid(schema.exclusiveMaximum ? `should be less than ${schema.maximum}` : `should be less than or equal to ${schema.maximum}`);
    case "exclusiveMaximum":
      return invalid(`should be less than ${schema.maximum}`);
    case "multipleOf":
      return invalid(`should be a multiple of ${schema.multipleOf}`);
    case "minLength":
      return invalid(`should be at least ${schema.minLength} chars long`);
    case "maxLength":
      return { reason: "FieldValueTooLong", field: path, message: `Too long: may not be longer than ${schema.maxLength}` };
    case "minItems":
      return invalid(`should have at least ${schema.minItems} items`);
    case "maxItems":
      return { reason: "FieldValueTooMany", field: path, message: `Too many: ${(value as unknown[]).length}: must have at most ${schema.maxItems} items` };
    case "uniqueItems":
      return { reason: "FieldValueDuplicate", field: path, message: `Duplicate value: ${shown(value)}` };
    case "minProperties":
      return invalid(`should have at least ${schema.minProperties} properties`);
    case "maxProperties":
      return { reason: "FieldValueTooMany", field: path, message: `Too many: ${Object.keys(value as object).length}: must have at most ${schema.maxProperties} items` };
    case "anyOf":
      if (schema["x-kubernetes-int-or-string"]) {
        return { reason: "FieldValueTypeInvalid", field: path, message: `Invalid value: "${typeName(value)}": ${path} in body must be of type integer,string: "${typeName(value)}"` };
      }
      return invalid("must validate at least one schema (anyOf)");
    case "oneOf":
      return invalid("must validate one and only one schema (oneOf)");
    case "not":
      return invalid("must not validate the schema (not)");
    default:
      // properties, items, additionalProperties, allOf: containers of the errors above.
      return undefined;
  }
}

// ---- what a CRD's schema must be ----

/**
 * The errors of a CRD version's schema, checked as kube-apiserver checks structural schemas:
 * every node says its type (unless it preserves unknown fields or is int-or-string), the root is
 * an object, and metadata at the root may only restrict name and generateName.
 */
export function structuralErrors(schema: SchemaProps, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (schema.type !== "object") causes.push({ reason: "FieldValueInvalid", field: `${path}.type`, message: `Invalid value: ${JSON.stringify(schema.type ?? "")}: must be object at the root` });
  const metadata = schema.properties?.metadata;
  if (isObject(metadata)) {
    for (const key of Object.keys(metadata.properties ?? {})) {
      if (key !== "name" && key !== "generateName") causes.push({ reason: "FieldValueForbidden", field: `${path}.properties[metadata].properties[${key}]`, message: "Forbidden: must not be specified" });
    }
  }
  checkNode(schema, path, causes);
  return causes;
}

function checkNode(schema: SchemaProps, path: string, causes: StatusCause[]): void {
  if (!isObject(schema)) return;
  const typed = schema.type !== undefined && schema.type !== "";
  if (!typed && !schema["x-kubernetes-preserve-unknown-fields"] && !schema["x-kubernetes-int-or-string"]) {
    causes.push({ reason: "FieldValueRequired", field: `${path}.type`, message: "Required value: must not be empty for specified object fields" });
  }
  if (typed && !["object", "array", "string", "integer", "number", "boolean"].includes(schema.type)) {
    causes.push({ reason: "FieldValueNotSupported", field: `${path}.type`, message: `Unsupported value: ${JSON.stringify(schema.type)}: supported values: "array", "boolean", "integer", "number", "object", "string"` });
  }
  if (schema.type === "array" && !isObject(schema.items)) {
    causes.push({ reason: "FieldValueRequired", field: `${path}.items`, message: "Required value: must be specified" });
  }
  if (schema.properties && isObject(schema.additionalProperties)) {
    causes.push({ reason: "FieldValueForbidden", field: `${path}.additionalProperties`, message: "Forbidden: additionalProperties and properties are mutual exclusive" });
  }
  if (schema.pattern !== undefined) {
    try {
      new RegExp(schema.pattern, "u");
    } catch {
      causes.push({ reason: "FieldValueInvalid", field: `${path}.pattern`, message: `Invalid value: ${JSON.stringify(schema.pattern)}: must be a valid regular expression` });
    }
  }
  for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, SchemaProps>)) checkNode(child, `${path}.properties[${key}]`, causes);
  if (isObject(schema.items)) checkNode(schema.items, `${path}.items`, causes);
  if (isObject(schema.additionalProperties)) checkNode(schema.additionalProperties, `${path}.additionalProperties`, causes);
}

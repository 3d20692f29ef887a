// Swagger 2.0 in protobuf: the openapi_v2.Document message of gnostic's OpenAPIv2.proto, which is
// all kubectl (client-go's OpenAPISchema) accepts from /openapi/v2. Field numbers are that file's.
// Vendor extensions travel as NamedAny whose Any carries the value as YAML text (JSON is YAML).
import type { JsonObject } from "./documents.ts";

type Json = JsonObject[string];

/** Protobuf wire format into one growing buffer; proto3 leaves out scalar fields at their defaults. */
class ProtoWriter {
  private buffer = new Uint8Array(1 << 16);
  private length = 0;
  private static encoder = new TextEncoder();

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + extra));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  private varint(value: number): void {
    this.ensure(10);
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buffer[this.length++] = v;
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /**
   * A length-delimited field whose content `write` puts in place. One byte is kept for the
   * length; a longer content moves up to make room for its length's other bytes.
   */
  private delimited(field: number, write: () => void): void {
    this.key(field, 2);
    this.ensure(1);
    const start = this.length++;
    write();
    const size = this.length - start - 1;
    let width = 1;
    for (let v = size; v >= 0x80; v = Math.floor(v / 0x80)) width++;
    if (width > 1) {
      this.ensure(width - 1);
      this.buffer.copyWithin(start + width, start + 1, this.length);
      this.length += width - 1;
    }
    const end = this.length;
    this.length = start;
    this.varint(size);
    this.length = end;
  }

  string(field: number, value: Json | undefined): this {
    if (typeof value === "string" && value !== "") {
      this.delimited(field, () => {
        // UTF-8 takes at most three bytes per UTF-16 code unit.
        this.ensure(value.length * 3);
        this.length += ProtoWriter.encoder.encodeInto(value, this.buffer.subarray(this.length)).written;
      });
    }
    return this;
  }

  strings(field: number, values: Json | undefined): this {
    if (Array.isArray(values)) for (const value of values) this.string(field, value);
    return this;
  }

  /** A bool; `always` writes false too, as a oneof member must be. */
  bool(field: number, value: Json | undefined, always = false): this {
    if (value === true || (always && value === false)) {
      this.key(field, 0);
      this.varint(value ? 1 : 0);
    }
    return this;
  }

  int64(field: number, value: Json | undefined): this {
    if (typeof value === "number" && value > 0 && Number.isInteger(value)) {
      this.key(field, 0);
      this.varint(value);
    }
    return this;
  }

  double(field: number, value: Json | undefined): this {
    if (typeof value === "number" && value !== 0) {
      this.key(field, 1);
      this.ensure(8);
      new DataView(this.buffer.buffer).setFloat64(this.length, value, true);
      this.length += 8;
    }
    return this;
  }

  message(field: number, write: (writer: this) => void): this {
    this.delimited(field, () => write(this));
    return this;
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

const isObject = (value: Json | undefined): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);
const isExtension = (key: string) => key.charCodeAt(0) === 0x78 && key.charCodeAt(1) === 0x2d; // "x-"

/** Any: the value as YAML text (field 2). */
function any(w: ProtoWriter, field: number, value: Json | undefined): void {
  if (value !== undefined) w.message(field, (m) => m.string(2, JSON.stringify(value)));
}

/** NamedAny entries for an object's `x-` keys. */
function vendorExtensions(w: ProtoWriter, field: number, object: JsonObject): void {
  // for-in rather than Object.entries: this runs for every object of a large document.
  for (const name in object) {
    if (isExtension(name)) w.message(field, (m) => any(m.string(1, name), 2, object[name]));
  }
}

/**
 * A map as Named* entries: name (1) and value (2). In paths and responses `x-` keys are vendor
 * extensions, not entries; in properties and definitions every key is a name (JSONSchemaProps has
 * properties called x-kubernetes-…).
 */
function named(w: ProtoWriter, field: number, map: Json | undefined, write: (writer: ProtoWriter, item: Json) => void, extensionsAside = false): void {
  if (!isObject(map)) return;
  for (const name in map) {
    if (!extensionsAside || !isExtension(name)) w.message(field, (m) => m.string(1, name).message(2, (v) => write(v, map[name]!)));
  }
}

function schema(w: ProtoWriter, value: Json): void {
  if (!isObject(value)) return;
  const s = value;
  w.string(1, s.$ref).string(2, s.format).string(3, s.title).string(4, s.description);
  any(w, 5, s.default);
  w.double(6, s.multipleOf).double(7, s.maximum).bool(8, s.exclusiveMaximum).double(9, s.minimum).bool(10, s.exclusiveMinimum)
    .int64(11, s.maxLength).int64(12, s.minLength).string(13, s.pattern).int64(14, s.maxItems).int64(15, s.minItems)
    .bool(16, s.uniqueItems).int64(17, s.maxProperties).int64(18, s.minProperties).strings(19, s.required);
  if (Array.isArray(s.enum)) for (const item of s.enum) any(w, 20, item);
  // AdditionalPropertiesItem: a schema (1) or a boolean (2).
  const additional = s.additionalProperties;
  if (typeof additional === "boolean") w.message(21, (m) => m.bool(2, additional, true));
  else if (isObject(additional)) w.message(21, (m) => m.message(1, (n) => schema(n, additional)));
  // TypeItem and ItemsItem hold lists.
  const types = typeof s.type === "string" ? [s.type] : s.type;
  if (Array.isArray(types)) w.message(22, (m) => m.strings(1, types));
  if (s.items !== undefined && s.items !== null) w.message(23, (m) => [s.items!].flat().forEach((item) => m.message(1, (n) => schema(n, item))));
  if (Array.isArray(s.allOf)) for (const item of s.allOf) w.message(24, (m) => schema(m, item));
  // Properties: NamedSchema entries.
  if (isObject(s.properties)) w.message(25, (m) => named(m, 1, s.properties, schema));
  w.string(26, s.discriminator).bool(27, s.readOnly);
  any(w, 30, s.example);
  vendorExtensions(w, 31, s);
}

/** Query and form parameters have allowEmptyValue after name; path and header ones do not. */
function nonBodyParameter(w: ProtoWriter, p: JsonObject, allowsEmpty: boolean): void {
  w.bool(1, p.required).string(2, p.in).string(3, p.description).string(4, p.name);
  if (allowsEmpty) w.bool(5, p.allowEmptyValue);
  const at = allowsEmpty ? 6 : 5;
  w.string(at, p.type).string(at + 1, p.format).string(at + 3, p.collectionFormat);
  any(w, at + 4, p.default);
  w.double(at + 5, p.maximum).bool(at + 6, p.exclusiveMaximum).double(at + 7, p.minimum).bool(at + 8, p.exclusiveMinimum)
    .int64(at + 9, p.maxLength).int64(at + 10, p.minLength).string(at + 11, p.pattern).int64(at + 12, p.maxItems)
    .int64(at + 13, p.minItems).bool(at + 14, p.uniqueItems);
  if (Array.isArray(p.enum)) for (const item of p.enum) any(w, at + 15, item);
  w.double(at + 16, p.multipleOf);
  vendorExtensions(w, at + 17, p);
}

/** NonBodyParameter's oneof, by where the parameter goes. */
const NON_BODY_PARAMETER: Record<string, { field: number; allowsEmpty: boolean }> = {
  header: { field: 1, allowsEmpty: false },
  formData: { field: 2, allowsEmpty: true },
  query: { field: 3, allowsEmpty: true },
  path: { field: 4, allowsEmpty: false },
};

/** ParametersItem: a Parameter (1) or a JsonReference (2); a Parameter is a body (1) or non-body (2) one. */
function parametersItem(w: ProtoWriter, value: Json): void {
  const p = isObject(value) ? value : {};
  if (typeof p.$ref === "string") {
    w.message(2, (m) => m.string(1, p.$ref).string(2, p.description));
  } else if (p.in === "body") {
    w.message(1, (m) => m.message(1, (body) => {
      body.string(1, p.description).string(2, p.name).string(3, p.in).bool(4, p.required);
      if (p.schema !== undefined) body.message(5, (n) => schema(n, p.schema!));
      vendorExtensions(body, 6, p);
    }));
  } else {
    const kind = NON_BODY_PARAMETER[String(p.in)] ?? NON_BODY_PARAMETER.query!;
    w.message(1, (m) => m.message(2, (n) => n.message(kind.field, (sub) => nonBodyParameter(sub, p, kind.allowsEmpty))));
  }
}

/** ResponseValue: a Response (1) whose schema is a SchemaItem holding a Schema (1), or a JsonReference (2). */
function responseValue(w: ProtoWriter, value: Json): void {
  const r = isObject(value) ? value : {};
  if (typeof r.$ref === "string") {
    w.message(2, (m) => m.string(1, r.$ref).string(2, r.description));
    return;
  }
  w.message(1, (response) => {
    response.string(1, r.description);
    if (r.schema !== undefined) response.message(2, (item) => item.message(1, (n) => schema(n, r.schema!)));
    vendorExtensions(response, 5, r);
  });
}

function operation(w: ProtoWriter, field: number, value: Json | undefined): void {
  if (!isObject(value)) return;
  const o = value;
  w.message(field, (m) => {
    m.strings(1, o.tags).string(2, o.summary).string(3, o.description).string(5, o.operationId).strings(6, o.produces).strings(7, o.consumes);
    if (Array.isArray(o.parameters)) for (const p of o.parameters) m.message(8, (n) => parametersItem(n, p));
    if (isObject(o.responses)) {
      const responses = o.responses;
      m.message(9, (n) => {
        named(n, 1, responses, responseValue, true);
        vendorExtensions(n, 2, responses);
      });
    }
    m.strings(10, o.schemes).bool(11, o.deprecated);
    vendorExtensions(m, 13, o);
  });
}

function pathItem(w: ProtoWriter, value: Json): void {
  const p = isObject(value) ? value : {};
  w.string(1, p.$ref);
  operation(w, 2, p.get);
  operation(w, 3, p.put);
  operation(w, 4, p.post);
  operation(w, 5, p.delete);
  operation(w, 6, p.options);
  operation(w, 7, p.head);
  operation(w, 8, p.patch);
  if (Array.isArray(p.parameters)) for (const item of p.parameters) w.message(9, (m) => parametersItem(m, item));
  vendorExtensions(w, 10, p);
}

/** SecurityDefinitionsItem: kube-apiserver's are API keys (field 2: ApiKeySecurity). */
function securityDefinition(w: ProtoWriter, value: Json): void {
  const d = isObject(value) ? value : {};
  w.message(2, (m) => {
    m.string(1, d.type).string(2, d.name).string(3, d.in).string(4, d.description);
    vendorExtensions(m, 5, d);
  });
}

/** openapi_v2.Document for a swagger 2.0 document. */
export function swaggerProtobuf(document: JsonObject): Uint8Array {
  const d = document;
  const w = new ProtoWriter().string(1, d.swagger);
  const info = isObject(d.info) ? d.info : {};
  w.message(2, (m) => {
    m.string(1, info.title).string(2, info.version).string(3, info.description);
    vendorExtensions(m, 7, info);
  });
  w.string(3, d.host).string(4, d.basePath).strings(5, d.schemes).strings(6, d.consumes).strings(7, d.produces);
  const paths = isObject(d.paths) ? d.paths : {};
  w.message(8, (m) => {
    vendorExtensions(m, 1, paths);
    named(m, 2, paths, pathItem, true);
  });
  w.message(9, (m) => named(m, 1, d.definitions, schema));
  // SecurityRequirement: NamedStringArray entries whose StringArray holds the scopes.
  if (Array.isArray(d.security)) for (const requirement of d.security) w.message(12, (m) => named(m, 1, requirement, (n, scopes) => n.strings(1, scopes)));
  if (isObject(d.securityDefinitions)) w.message(13, (m) => named(m, 1, d.securityDefinitions, securityDefinition));
  vendorExtensions(w, 16, d);
  return w.finish();
}

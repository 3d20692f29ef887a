// Swagger 2.0 in protobuf: the openapi_v2.Document message of gnostic's OpenAPIv2.proto, which is
// all kubectl (client-go's OpenAPISchema) accepts from /openapi/v2. Field numbers are that file's.
// Vendor extensions travel as NamedAny whose Any carries the value as YAML text (JSON is YAML).
import type { JsonObject } from "./documents.ts";

type Json = JsonObject[string];

/** Protobuf wire format, written field by field; proto3 leaves out scalar fields at their defaults. */
class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private static encoder = new TextEncoder();

  private flush(): void {
    if (this.scratch.length) {
      this.chunks.push(Uint8Array.from(this.scratch));
      this.scratch = [];
    }
  }

  private varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.scratch.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.scratch.push(v);
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  private bytes(field: number, bytes: Uint8Array): void {
    this.key(field, 2);
    this.varint(bytes.length);
    this.flush();
    this.chunks.push(bytes);
  }

  string(field: number, value: Json | undefined): this {
    if (typeof value === "string" && value !== "") this.bytes(field, ProtoWriter.encoder.encode(value));
    return this;
  }

  strings(field: number, values: Json | undefined): this {
    if (Array.isArray(values)) for (const value of values) if (typeof value === "string") this.bytes(field, ProtoWriter.encoder.encode(value));
    return this;
  }

  bool(field: number, value: Json | undefined): this {
    if (value === true) {
      this.key(field, 0);
      this.varint(1);
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
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setFloat64(0, value, true);
      this.flush();
      this.chunks.push(bytes);
    }
    return this;
  }

  message(field: number, message: ProtoWriter | undefined): this {
    if (message) this.bytes(field, message.finish());
    return this;
  }

  messages(field: number, messages: ProtoWriter[]): this {
    for (const message of messages) this.message(field, message);
    return this;
  }

  finish(): Uint8Array {
    this.flush();
    if (this.chunks.length === 1) return this.chunks[0]!;
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    this.chunks = [out];
    return out;
  }
}

const isObject = (value: Json | undefined): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);
const entries = (value: Json | undefined): [string, Json][] => (isObject(value) ? Object.entries(value) : []);

/** Any: the value as YAML text (field 2). */
function any(value: Json | undefined): ProtoWriter | undefined {
  return value === undefined ? undefined : new ProtoWriter().string(2, JSON.stringify(value));
}

/** NamedAny entries for an object's `x-` keys. */
function vendorExtensions(object: JsonObject): ProtoWriter[] {
  return Object.entries(object).filter(([key]) => key.startsWith("x-")).map(([name, value]) => new ProtoWriter().string(1, name).message(2, any(value)));
}

/** A map as its Named* entries: name (1) and value (2). */
function named(value: Json | undefined, encode: (item: Json) => ProtoWriter | undefined): ProtoWriter[] {
  return entries(value).map(([name, item]) => new ProtoWriter().string(1, name).message(2, encode(item)));
}

function schema(value: Json | undefined): ProtoWriter | undefined {
  if (!isObject(value)) return undefined;
  const s = value;
  const additional = s.additionalProperties;
  return new ProtoWriter()
    .string(1, s.$ref).string(2, s.format).string(3, s.title).string(4, s.description).message(5, any(s.default))
    .double(6, s.multipleOf).double(7, s.maximum).bool(8, s.exclusiveMaximum).double(9, s.minimum).bool(10, s.exclusiveMinimum)
    .int64(11, s.maxLength).int64(12, s.minLength).string(13, s.pattern).int64(14, s.maxItems).int64(15, s.minItems)
    .bool(16, s.uniqueItems).int64(17, s.maxProperties).int64(18, s.minProperties).strings(19, s.required)
    .messages(20, Array.isArray(s.enum) ? s.enum.map((v) => any(v)!) : [])
    // AdditionalPropertiesItem: a schema (1) or a boolean (2).
    .message(21, additional === undefined ? undefined : typeof additional === "boolean" ? new ProtoWriter().bool(2, additional) : new ProtoWriter().message(1, schema(additional)))
    // TypeItem and ItemsItem hold lists.
    .message(22, typeof s.type === "string" ? new ProtoWriter().strings(1, [s.type]) : Array.isArray(s.type) ? new ProtoWriter().strings(1, s.type) : undefined)
    .message(23, s.items === undefined ? undefined : new ProtoWriter().messages(1, (Array.isArray(s.items) ? s.items : [s.items]).map((i) => schema(i) ?? new ProtoWriter())))
    .messages(24, Array.isArray(s.allOf) ? s.allOf.map((i) => schema(i) ?? new ProtoWriter()) : [])
    // Properties: NamedSchema entries.
    .message(25, isObject(s.properties) ? new ProtoWriter().messages(1, named(s.properties, schema)) : undefined)
    .string(26, s.discriminator).bool(27, s.readOnly).message(30, any(s.example))
    .messages(31, vendorExtensions(s));
}

/** Query and form parameters have allowEmptyValue after name; path and header ones do not. */
function nonBodyParameter(p: JsonObject, allowsEmpty: boolean): ProtoWriter {
  const w = new ProtoWriter().bool(1, p.required).string(2, p.in).string(3, p.description).string(4, p.name);
  const at = allowsEmpty ? 6 : 5;
  if (allowsEmpty) w.bool(5, p.allowEmptyValue);
  return w
    .string(at, p.type).string(at + 1, p.format).string(at + 3, p.collectionFormat).message(at + 4, any(p.default))
    .double(at + 5, p.maximum).bool(at + 6, p.exclusiveMaximum).double(at + 7, p.minimum).bool(at + 8, p.exclusiveMinimum)
    .int64(at + 9, p.maxLength).int64(at + 10, p.minLength).string(at + 11, p.pattern).int64(at + 12, p.maxItems)
    .int64(at + 13, p.minItems).bool(at + 14, p.uniqueItems).messages(at + 15, Array.isArray(p.enum) ? p.enum.map((v) => any(v)!) : [])
    .double(at + 16, p.multipleOf).messages(at + 17, vendorExtensions(p));
}

/** NonBodyParameter's oneof, by where the parameter goes. */
const NON_BODY_PARAMETER: Record<string, { field: number; allowsEmpty: boolean }> = {
  header: { field: 1, allowsEmpty: false },
  formData: { field: 2, allowsEmpty: true },
  query: { field: 3, allowsEmpty: true },
  path: { field: 4, allowsEmpty: false },
};

/** ParametersItem: a Parameter (1) or a JsonReference (2); a Parameter is a body (1) or non-body (2) one. */
function parametersItem(value: Json): ProtoWriter {
  const p = isObject(value) ? value : {};
  if (typeof p.$ref === "string") return new ProtoWriter().message(2, new ProtoWriter().string(1, p.$ref).string(2, p.description));
  if (p.in === "body") {
    const body = new ProtoWriter().string(1, p.description).string(2, p.name).string(3, p.in).bool(4, p.required).message(5, schema(p.schema)).messages(6, vendorExtensions(p));
    return new ProtoWriter().message(1, new ProtoWriter().message(1, body));
  }
  const kind = NON_BODY_PARAMETER[String(p.in)] ?? NON_BODY_PARAMETER.query!;
  return new ProtoWriter().message(1, new ProtoWriter().message(2, new ProtoWriter().message(kind.field, nonBodyParameter(p, kind.allowsEmpty))));
}

/** ResponseValue: a Response (1) whose schema is a SchemaItem holding a Schema (1). */
function responseValue(value: Json): ProtoWriter {
  const r = isObject(value) ? value : {};
  if (typeof r.$ref === "string") return new ProtoWriter().message(2, new ProtoWriter().string(1, r.$ref).string(2, r.description));
  const response = new ProtoWriter().string(1, r.description).message(2, r.schema === undefined ? undefined : new ProtoWriter().message(1, schema(r.schema))).messages(5, vendorExtensions(r));
  return new ProtoWriter().message(1, response);
}

function operation(value: Json | undefined): ProtoWriter | undefined {
  if (!isObject(value)) return undefined;
  const o = value;
  const responses = new ProtoWriter().messages(1, named(Object.fromEntries(entries(o.responses).filter(([code]) => !code.startsWith("x-"))), responseValue)).messages(2, vendorExtensions(isObject(o.responses) ? o.responses : {}));
  return new ProtoWriter()
    .strings(1, o.tags).string(2, o.summary).string(3, o.description).string(5, o.operationId).strings(6, o.produces).strings(7, o.consumes)
    .messages(8, Array.isArray(o.parameters) ? o.parameters.map(parametersItem) : []).message(9, responses)
    .strings(10, o.schemes).bool(11, o.deprecated).messages(13, vendorExtensions(o));
}

function pathItem(value: Json): ProtoWriter {
  const p = isObject(value) ? value : {};
  return new ProtoWriter()
    .string(1, p.$ref).message(2, operation(p.get)).message(3, operation(p.put)).message(4, operation(p.post)).message(5, operation(p.delete))
    .message(6, operation(p.options)).message(7, operation(p.head)).message(8, operation(p.patch))
    .messages(9, Array.isArray(p.parameters) ? p.parameters.map(parametersItem) : []).messages(10, vendorExtensions(p));
}

/** SecurityDefinitionsItem: kube-apiserver's are API keys (field 2: ApiKeySecurity). */
function securityDefinition(value: Json): ProtoWriter {
  const d = isObject(value) ? value : {};
  return new ProtoWriter().message(2, new ProtoWriter().string(1, d.type).string(2, d.name).string(3, d.in).string(4, d.description).messages(5, vendorExtensions(d)));
}

/** SecurityRequirement: NamedStringArray entries whose StringArray holds the scopes. */
function securityRequirement(value: Json): ProtoWriter {
  return new ProtoWriter().messages(1, named(value, (scopes) => new ProtoWriter().strings(1, scopes)));
}

/** openapi_v2.Document for a swagger 2.0 document. */
export function swaggerProtobuf(document: JsonObject): Uint8Array {
  const d = document;
  const info = isObject(d.info) ? d.info : {};
  return new ProtoWriter()
    .string(1, d.swagger)
    .message(2, new ProtoWriter().string(1, info.title).string(2, info.version).string(3, info.description).messages(7, vendorExtensions(info)))
    .string(3, d.host).string(4, d.basePath).strings(5, d.schemes).strings(6, d.consumes).strings(7, d.produces)
    .message(8, new ProtoWriter().messages(1, vendorExtensions(isObject(d.paths) ? d.paths : {})).messages(2, named(Object.fromEntries(entries(d.paths).filter(([path]) => !path.startsWith("x-"))), pathItem)))
    .message(9, new ProtoWriter().messages(1, named(d.definitions, schema)))
    .messages(12, Array.isArray(d.security) ? d.security.map(securityRequirement) : [])
    .message(13, d.securityDefinitions === undefined ? undefined : new ProtoWriter().messages(1, named(d.securityDefinitions, securityDefinition)))
    .messages(16, vendorExtensions(d))
    .finish();
}

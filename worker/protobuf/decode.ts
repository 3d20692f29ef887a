// Kubernetes' protobuf request bodies (kubectl 1.32+ typed-client writes) decoded to the JSON object
// the same client would have sent as JSON, walking the message table of schema.generated.json.
import { FIELDS_V1, INT_OR_STRING, MAGIC, messageForKind, messageOf, MICRO_TIME, QUANTITY, RAW_EXTENSION, TIME } from "./schema.ts";
import { ProtobufError, ProtoReader, WIRE_BYTES, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT } from "./wire.ts";

export { ProtobufError } from "./wire.ts";

export const PROTOBUF_MEDIA_TYPE = "application/vnd.kubernetes.protobuf";

/** The wire type each scalar type is written with (repeated numbers may also come packed). */
function wireTypeOf(type: string): number {
  switch (type) {
    case "double": case "fixed64": case "sfixed64": return WIRE_FIXED64;
    case "float": case "fixed32": case "sfixed32": return WIRE_FIXED32;
    case "string": case "bytes": case "message": return WIRE_BYTES;
    default: return WIRE_VARINT;
  }
}

function scalar(reader: ProtoReader, type: string): unknown {
  switch (type) {
    case "string": return reader.string();
    case "bytes": return base64(reader.bytesField());
    case "bool": return reader.varintBig() !== 0n;
    case "int32": return Number(BigInt.asIntN(32, reader.varintBig()));
    case "int64": return Number(BigInt.asIntN(64, reader.varintBig()));
    case "uint32": return Number(BigInt.asUintN(32, reader.varintBig()));
    case "uint64": return Number(reader.varintBig());
    case "sint32": case "sint64": {
      const v = reader.varintBig();
      return Number((v >> 1n) ^ -(v & 1n));
    }
    case "double": return reader.fixed(8).getFloat64(0, true);
    case "float": return reader.fixed(4).getFloat32(0, true);
    case "fixed64": return Number(reader.fixed(8).getBigUint64(0, true));
    case "sfixed64": return Number(reader.fixed(8).getBigInt64(0, true));
    case "fixed32": return reader.fixed(4).getUint32(0, true);
    case "sfixed32": return reader.fixed(4).getInt32(0, true);
    default: throw new ProtobufError(`unsupported field type ${type}`);
  }
}

function isZero(value: unknown): boolean {
  return value === "" || value === 0 || value === false;
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** A well-known type's own fields, zero values included. */
function rawFields(bytes: Uint8Array, message: string): Record<string, unknown> {
  return decodeMessage(new ProtoReader(bytes), message, true);
}

function rfc3339(seconds: number, nanos: number, fractionDigits: 0 | 6): string {
  const date = new Date(seconds * 1000);
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999) throw new ProtobufError(`timestamp ${seconds} out of range`);
  const base = date.toISOString().slice(0, 19);
  return fractionDigits ? `${base}.${String(Math.floor(nanos / 1000)).padStart(6, "0")}Z` : `${base}Z`;
}

function parseRawJson(bytes: Uint8Array, what: string): unknown {
  if (bytes.length === 0) return null;
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new ProtobufError(`${what} is not JSON`);
  }
}

/** The JSON form kube's types give themselves, for messages whose Go type marshals specially. */
function wellKnown(message: string, bytes: Uint8Array): { value: unknown } | undefined {
  switch (message) {
    case TIME: {
      const { seconds = 0, nanos = 0 } = rawFields(bytes, message) as { seconds?: number; nanos?: number };
      // A zero Time marshals to no bytes and to JSON null.
      return { value: bytes.length === 0 ? null : rfc3339(seconds, nanos, 0) };
    }
    case MICRO_TIME: {
      const { seconds = 0, nanos = 0 } = rawFields(bytes, message) as { seconds?: number; nanos?: number };
      return { value: bytes.length === 0 ? null : rfc3339(seconds, nanos, 6) };
    }
    case QUANTITY: {
      const { string = "" } = rawFields(bytes, message) as { string?: string };
      return { value: string === "" ? "0" : string };
    }
    case INT_OR_STRING: {
      const { type = 0, intVal = 0, strVal = "" } = rawFields(bytes, message) as { type?: number; intVal?: number; strVal?: string };
      return { value: type === 1 ? strVal : intVal };
    }
    case RAW_EXTENSION:
    case FIELDS_V1: {
      const reader = new ProtoReader(bytes);
      let raw: Uint8Array = new Uint8Array();
      while (!reader.done) {
        const { field, wire } = reader.tag();
        if (field === 1 && wire === WIRE_BYTES) raw = reader.bytesField();
        else reader.skip(wire);
      }
      return { value: parseRawJson(raw, message.slice(message.lastIndexOf(".") + 1)) };
    }
    default:
      // A Go slice type is its items.
      return messageOf(message).slice ? { value: rawFields(bytes, message).items ?? [] } : undefined;
  }
}

function messageValue(reader: ProtoReader, message: string): unknown {
  const bytes = reader.bytesField();
  const special = wellKnown(message, bytes);
  return special ? special.value : decodeMessage(new ProtoReader(bytes), message);
}

/** A map entry's key and value; a missing value is its type's zero value. */
function mapEntry(reader: ProtoReader, message: string): [string, unknown] {
  const fields = messageOf(message).byNumber;
  const keyField = fields.get(1)!;
  const valueField = fields.get(2)!;
  const entry = new ProtoReader(reader.bytesField());
  let key = "";
  let value: unknown;
  while (!entry.done) {
    const { field, wire } = entry.tag();
    const target = field === 1 ? keyField : field === 2 ? valueField : undefined;
    if (!target) {
      entry.skip(wire);
      continue;
    }
    if (wire !== wireTypeOf(target.type)) throw new ProtobufError(`${message}.${target.name}: wire type ${wire}, expected ${wireTypeOf(target.type)}`);
    const decoded = target.type === "message" ? messageValue(entry, target.typeName!) : scalar(entry, target.type);
    if (field === 1) key = String(decoded);
    else value = decoded;
  }
  if (value === undefined) {
    if (valueField.type === "message") value = wellKnown(valueField.typeName!, new Uint8Array())?.value ?? {};
    else value = valueField.type === "string" || valueField.type === "bytes" ? "" : valueField.type === "bool" ? false : 0;
  }
  return [key, value];
}

/**
 * A message's fields under their JSON names, an inline field's among them. Scalars of Go value
 * fields at their zero value are left out, as `omitempty` does; pointer fields appear whenever
 * written. With `keepZero` (the well-known types' own fields) nothing is left out.
 */
function decodeMessage(reader: ProtoReader, message: string, keepZero = false, object: Record<string, unknown> = {}): Record<string, unknown> {
  const fields = messageOf(message).byNumber;
  while (!reader.done) {
    const { field: number, wire } = reader.tag();
    const field = fields.get(number);
    if (!field) {
      reader.skip(wire);
      continue;
    }
    const expected = wireTypeOf(field.type);
    const packed = field.repeated && wire === WIRE_BYTES && expected !== WIRE_BYTES;
    if (wire !== expected && !packed) throw new ProtobufError(`${message}.${field.name}: wire type ${wire}, expected ${expected}`);
    if (field.inline) {
      const { start, end } = reader.delimited();
      decodeMessage(new ProtoReader(reader.bytes, start, end), field.typeName!, false, object);
    } else if (field.type === "message" && messageOf(field.typeName!).mapEntry) {
      const map = (object[field.name] ??= {}) as Record<string, unknown>;
      const [key, value] = mapEntry(reader, field.typeName!);
      map[key] = value;
    } else if (field.repeated) {
      const list = (object[field.name] ??= []) as unknown[];
      if (packed) {
        const { start, end } = reader.delimited();
        const items = new ProtoReader(reader.bytes, start, end);
        while (!items.done) list.push(scalar(items, field.type));
      } else {
        list.push(field.type === "message" ? messageValue(reader, field.typeName!) : scalar(reader, field.type));
      }
    } else {
      const value = field.type === "message" ? messageValue(reader, field.typeName!) : scalar(reader, field.type);
      if (!keepZero && field.goValue && field.type !== "message" && isZero(value)) delete object[field.name];
      else if (!keepZero && field.type === "bytes" && value === "") delete object[field.name];
      else object[field.name] = value;
    }
  }
  return object;
}

interface Envelope { apiVersion: string; kind: string; raw: Uint8Array }

/** The `k8s\0` prefix and the runtime.Unknown around the typed message. */
function unwrap(bytes: Uint8Array): Envelope {
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) throw new ProtobufError("the body does not start with the Kubernetes protobuf prefix k8s\\0");
  const reader = new ProtoReader(bytes, MAGIC.length);
  const envelope: Envelope = { apiVersion: "", kind: "", raw: new Uint8Array(0) as Uint8Array };
  let contentEncoding = "";
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field <= 4 && wire !== WIRE_BYTES) throw new ProtobufError(`runtime.Unknown field ${field}: wire type ${wire}, expected ${WIRE_BYTES}`);
    if (field === 1) {
      // runtime.TypeMeta: apiVersion = 1, kind = 2.
      const typeMeta = new ProtoReader(reader.bytesField());
      while (!typeMeta.done) {
        const tag = typeMeta.tag();
        if (tag.field <= 2 && tag.wire !== WIRE_BYTES) throw new ProtobufError(`runtime.TypeMeta field ${tag.field}: wire type ${tag.wire}, expected ${WIRE_BYTES}`);
        if (tag.field === 1) envelope.apiVersion = typeMeta.string();
        else if (tag.field === 2) envelope.kind = typeMeta.string();
        else typeMeta.skip(tag.wire);
      }
    } else if (field === 2) envelope.raw = reader.bytesField();
    else if (field === 3) contentEncoding = reader.string();
    else reader.skip(wire);
  }
  if (contentEncoding) throw new ProtobufError(`content encoding ${contentEncoding} is not supported`);
  if (!envelope.kind) throw new ProtobufError("the body's runtime.Unknown has no kind");
  return envelope;
}

/** A typed object from a protobuf body: its apiVersion and kind (from the envelope) and its JSON form. */
export function decodeKubernetesProtobuf(bytes: Uint8Array): { apiVersion: string; kind: string; object: Record<string, unknown> } {
  const { apiVersion, kind, raw } = unwrap(bytes);
  const message = messageForKind(apiVersion, kind);
  if (!message) throw new ProtobufError(`no protobuf schema for kind ${kind} in ${apiVersion || "no version"}`);
  const fields = decodeMessage(new ProtoReader(raw), message);
  return { apiVersion, kind, object: { kind, apiVersion, ...fields } };
}

/** A DeleteOptions body (kubectl drain's delete), in its JSON form. */
export function decodeDeleteOptions(bytes: Uint8Array): Record<string, unknown> {
  const { apiVersion, kind, object } = decodeKubernetesProtobuf(bytes);
  if (kind !== "DeleteOptions") throw new ProtobufError(`expected DeleteOptions, got ${kind} in ${apiVersion}`);
  return object;
}

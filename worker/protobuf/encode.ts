// Kubernetes objects written as protobuf, for clients that ask for it (client-go's typed clients,
// kubectl 1.32+): the JSON object of a built-in kind, List or Status as its message in the `k8s\0`
// envelope, and watch events length-framed, walking the decoder's message table the way gogo's
// generated marshalers write Go structs.
import { FIELDS_V1, INT_OR_STRING, MAGIC, type Field, messageForKind, messageOf, MICRO_TIME, QUANTITY, RAW_EXTENSION, TIME } from "./schema.ts";
import { ProtobufError, ProtoWriter, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT } from "./wire.ts";

export const PROTOBUF_WATCH_MEDIA_TYPE = "application/vnd.kubernetes.protobuf;stream=watch";

const utf8 = new TextEncoder();

/** Whether objects of a kind can be written as protobuf: built-in kinds, their Lists, Status. */
export function hasProtobufMessage(apiVersion: string, kind: string): boolean {
  return messageForKind(apiVersion, kind) !== undefined;
}

function base64Bytes(value: string): Uint8Array {
  try {
    return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  } catch {
    throw new ProtobufError("a bytes field is not base64");
  }
}

function scalar(writer: ProtoWriter, field: Field, value: unknown): void {
  const { number, type } = field;
  switch (type) {
    case "string":
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") throw new ProtobufError(`${field.name}: expected a string`);
      return writer.string(number, String(value));
    case "bytes":
      if (typeof value !== "string") throw new ProtobufError(`${field.name}: expected base64 bytes`);
      return writer.bytes(number, base64Bytes(value));
    case "bool":
      writer.tag(number, WIRE_VARINT);
      return writer.varint(value === true ? 1 : 0);
    case "double": case "float":
      writer.tag(number, type === "double" ? WIRE_FIXED64 : WIRE_FIXED32);
      return writer.fixed(type === "double" ? 8 : 4, (view) => type === "double" ? view.setFloat64(0, Number(value), true) : view.setFloat32(0, Number(value), true));
  }
  const n = Math.trunc(Number(value));
  if (!Number.isFinite(n)) throw new ProtobufError(`${field.name}: expected a number`);
  switch (type) {
    case "int32": case "int64": case "uint32": case "uint64":
      writer.tag(number, WIRE_VARINT);
      return writer.int64(n);
    case "sint32": case "sint64":
      writer.tag(number, WIRE_VARINT);
      return writer.int64(n >= 0 ? n * 2 : -n * 2 - 1);
    case "fixed64": case "sfixed64":
      writer.tag(number, WIRE_FIXED64);
      return writer.fixed(8, (view) => view.setBigInt64(0, BigInt(n), true));
    case "fixed32": case "sfixed32":
      writer.tag(number, WIRE_FIXED32);
      return writer.fixed(4, (view) => view.setInt32(0, n, true));
    default:
      throw new ProtobufError(`unsupported field type ${type}`);
  }
}

/** The zero value Go writes for a value field the JSON leaves out. */
function zeroOf(type: string): unknown {
  return type === "string" ? "" : type === "bool" ? false : 0;
}

/** RFC 3339 (any offset, optional fraction) as a protobuf Timestamp's seconds and nanos. */
function timestamp(value: string): { seconds: number; nanos: number } {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(value);
  const millis = match ? Date.parse(`${match[1]}${match[3]!.toUpperCase()}`) : NaN;
  if (Number.isNaN(millis)) throw new ProtobufError(`${JSON.stringify(value)} is not an RFC 3339 time`);
  return { seconds: millis / 1000, nanos: Number((match![2] ?? "").padEnd(9, "0")) };
}

/** A message's payload from its JSON value; the types with a JSON form of their own first. */
function messagePayload(writer: ProtoWriter, message: string, value: unknown): void {
  switch (message) {
    case TIME:
    case MICRO_TIME: {
      // A zero Time (JSON null) is an empty message.
      if (typeof value !== "string") return;
      const { seconds, nanos } = timestamp(value);
      writer.tag(1, WIRE_VARINT);
      writer.int64(seconds);
      writer.tag(2, WIRE_VARINT);
      return writer.varint(nanos);
    }
    case QUANTITY:
      return writer.string(1, value === undefined || value === null ? "0" : String(value));
    case INT_OR_STRING: {
      const isString = typeof value === "string";
      writer.tag(1, WIRE_VARINT);
      writer.varint(isString ? 1 : 0);
      writer.tag(2, WIRE_VARINT);
      writer.int64(isString ? 0 : Math.trunc(Number(value ?? 0)));
      return writer.string(3, isString ? value : "");
    }
    case RAW_EXTENSION:
    case FIELDS_V1:
      // The raw JSON; JSON null leaves it unset.
      if (value !== undefined && value !== null) writer.bytes(1, utf8.encode(JSON.stringify(value)));
      return;
  }
  if (messageOf(message).slice) return fieldsOf(writer, message, { items: value });
  fieldsOf(writer, message, value !== null && typeof value === "object" && !Array.isArray(value) ? value as Record<string, unknown> : {});
}

function nested(writer: ProtoWriter, number: number, message: string, value: unknown): void {
  const at = writer.fork(number);
  messagePayload(writer, message, value);
  writer.join(at);
}

/** A map field: one entry per key in Go's sorted order, key and value always written. */
function mapField(writer: ProtoWriter, field: Field, value: unknown): void {
  if (value === null || typeof value !== "object") return;
  const entry = messageOf(field.typeName!).byNumber;
  const keyField = entry.get(1)!;
  const valueField = entry.get(2)!;
  const map = value as Record<string, unknown>;
  for (const key of Object.keys(map).sort()) {
    const at = writer.fork(field.number);
    scalar(writer, keyField, key);
    const item = map[key];
    if (valueField.type === "message") nested(writer, 2, valueField.typeName!, item);
    else if (valueField.type !== "bytes" || (item !== null && item !== undefined)) scalar(writer, valueField, item ?? zeroOf(valueField.type));
    writer.join(at);
  }
}

/**
 * A message's fields in number order, as gogo writes them: Go value fields always (at their zero
 * value when the JSON leaves them out), pointers, slices and maps only when set; an inline field
 * reads its fields from the same JSON object.
 */
function fieldsOf(writer: ProtoWriter, message: string, object: Record<string, unknown>): void {
  for (const field of messageOf(message).fields) {
    const value = field.inline ? object : object[field.name];
    if (field.type === "message") {
      const target = field.typeName!;
      if (messageOf(target).mapEntry) mapField(writer, field, value);
      else if (field.repeated) {
        if (Array.isArray(value)) for (const item of value) nested(writer, field.number, target, item);
      } else if (field.goValue || (value !== undefined && value !== null)) nested(writer, field.number, target, value);
    } else if (field.repeated) {
      if (Array.isArray(value)) for (const item of value) scalar(writer, field, item);
    } else if (value !== undefined && value !== null) scalar(writer, field, value);
    else if (field.goValue && field.type !== "bytes") scalar(writer, field, zeroOf(field.type));
  }
}

/** The `k8s\0` prefix and runtime.Unknown{typeMeta, raw, contentEncoding "", contentType ""}. */
function envelope(apiVersion: string, kind: string, write: (writer: ProtoWriter) => void): Uint8Array<ArrayBuffer> {
  const writer = new ProtoWriter();
  writer.raw(MAGIC);
  const typeMeta = writer.fork(1);
  writer.string(1, apiVersion);
  writer.string(2, kind);
  writer.join(typeMeta);
  const raw = writer.fork(2);
  write(writer);
  writer.join(raw);
  writer.string(3, "");
  writer.string(4, "");
  return writer.finish();
}

/** An object of a built-in kind (a List, a Status) as the protobuf kube-apiserver answers with. */
export function encodeKubernetesProtobuf(object: Record<string, unknown>): Uint8Array<ArrayBuffer> {
  const apiVersion = typeof object.apiVersion === "string" ? object.apiVersion : "";
  const kind = typeof object.kind === "string" ? object.kind : "";
  const message = messageForKind(apiVersion, kind);
  if (!message) throw new ProtobufError(`no protobuf schema for kind ${kind} in ${apiVersion || "no version"}`);
  return envelope(apiVersion, kind, (writer) => fieldsOf(writer, message, object));
}

/**
 * One event of a protobuf watch: a 4-byte big-endian length, then a meta.k8s.io/v1 WatchEvent
 * without an envelope (client-go's stream serializer is the raw one) whose object holds the
 * object's own enveloped bytes.
 */
export function encodeWatchEvent(type: string, object: Record<string, unknown>): Uint8Array<ArrayBuffer> {
  const writer = new ProtoWriter();
  writer.raw([0, 0, 0, 0]);
  writer.string(1, type);
  const rawExtension = writer.fork(2);
  writer.bytes(1, encodeKubernetesProtobuf(object));
  writer.join(rawExtension);
  const frame = writer.finish();
  new DataView(frame.buffer, frame.byteOffset, 4).setUint32(0, frame.length - 4);
  return frame;
}

// Builds worker/protobuf/schema.generated.json, the message table the protobuf decoder and encoder
// walk, from the gzipped FileDescriptorProtos that gogo-protobuf embeds in a pinned kubectl binary
// (every k8s.io/api and k8s.io/apimachinery generated.proto), with each field's JSON name from the
// Go struct tags in the same binary. It keeps every object kind and List of every API group (so a
// newly served resource needs no regeneration), Status and WatchEvent, and the messages they reach.
// Run: `npx node scripts/gen-protobuf-schema.ts`.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { PROJECT_ROOT } from "./dev-server.ts";
import { ProtoReader, WIRE_BYTES, WIRE_VARINT } from "../worker/protobuf/wire.ts";

const KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
const OUTPUT = join(PROJECT_ROOT, "worker/protobuf/schema.generated.json");
/** Bodies without object metadata of their own: delete options, errors, watch events, partial metadata. */
const EXTRA_MESSAGES = ["DeleteOptions", "Status", "WatchEvent", "PartialObjectMetadata", "PartialObjectMetadataList"]
  .map((kind) => `k8s.io.apimachinery.pkg.apis.meta.v1.${kind}`);

/** FieldDescriptorProto.type numbers → the names the table uses. */
const FIELD_TYPES: Record<number, string> = {
  1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32", 8: "bool", 9: "string",
  11: "message", 12: "bytes", 13: "uint32", 14: "enum", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64",
};
const LABEL_REPEATED = 3;
/** gogoproto.nullable, a FieldOptions extension: false when the Go field is a value, not a pointer. */
const GOGO_NULLABLE = 65001;
/** gogoproto.customname: the Go field's name when it is not the proto name. */
const GOGO_CUSTOMNAME = 65004;
/** gogoproto.goproto_stringer, a MessageOptions extension: false on types with their own String(), slices among them. */
const GOGO_STRINGER = 64003;

interface Field { number: number; name: string; type: string; repeated: boolean; goValue: boolean; typeName?: string; goName?: string; json?: string }
interface Message { fields: Field[]; mapEntry: boolean; ownStringer: boolean }

/** Every field of a message as (number, reader over its payload or varint value). */
function eachField(bytes: Uint8Array, visit: (field: number, reader: ProtoReader, wire: number) => void): void {
  const reader = new ProtoReader(bytes);
  while (!reader.done) {
    const { field, wire } = reader.tag();
    const before = reader.pos;
    visit(field, reader, wire);
    if (reader.pos === before) reader.skip(wire);
  }
}

function parseField(bytes: Uint8Array): Field {
  const field: Field = { number: 0, name: "", type: "", repeated: false, goValue: false };
  eachField(bytes, (n, r, wire) => {
    if (n === 1 && wire === WIRE_BYTES) field.name = r.string();
    else if (n === 3 && wire === WIRE_VARINT) field.number = r.varint();
    else if (n === 4 && wire === WIRE_VARINT) field.repeated = r.varint() === LABEL_REPEATED;
    else if (n === 5 && wire === WIRE_VARINT) field.type = FIELD_TYPES[r.varint()] ?? "unsupported";
    else if (n === 6 && wire === WIRE_BYTES) field.typeName = r.string().replace(/^\./, "");
    else if (n === 8 && wire === WIRE_BYTES) {
      eachField(r.bytesField(), (o, or, ow) => {
        if (o === GOGO_NULLABLE && ow === WIRE_VARINT) field.goValue = or.varint() === 0;
        else if (o === GOGO_CUSTOMNAME && ow === WIRE_BYTES) field.goName = or.string();
      });
    }
  });
  return field;
}

function parseMessage(bytes: Uint8Array, scope: string, into: Map<string, Message>): void {
  let name = "";
  const fields: Field[] = [];
  const nested: Uint8Array[] = [];
  let mapEntry = false;
  let ownStringer = false;
  eachField(bytes, (n, r, wire) => {
    if (wire !== WIRE_BYTES) return;
    if (n === 1) name = r.string();
    else if (n === 2) fields.push(parseField(r.bytesField()));
    else if (n === 3) nested.push(r.bytesField());
    else if (n === 7) {
      eachField(r.bytesField(), (o, or, ow) => {
        if (o === 7 && ow === WIRE_VARINT) mapEntry = or.varint() === 1;
        else if (o === GOGO_STRINGER && ow === WIRE_VARINT) ownStringer = or.varint() === 0;
      });
    }
  });
  const fullName = `${scope}.${name}`;
  into.set(fullName, { fields: fields.sort((a, b) => a.number - b.number), mapEntry, ownStringer });
  for (const child of nested) parseMessage(child, fullName, into);
}

/** The gzipped FileDescriptorProtos in the binary whose name is a Kubernetes generated.proto. */
function embeddedDescriptors(binary: Buffer): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const magic = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00]);
  for (let at = binary.indexOf(magic); at !== -1; at = binary.indexOf(magic, at + 1)) {
    let data: Buffer;
    try {
      // Raw inflate of the one member: gunzip would run on into an adjacent descriptor's member.
      data = inflateRawSync(binary.subarray(at + magic.length + 2, at + 4 * 1024 * 1024));
    } catch {
      continue;
    }
    if (data[0] !== 0x0a) continue;
    let name: string;
    try {
      name = new ProtoReader(data, 1).string();
    } catch {
      continue;
    }
    if (/^k8s\.io\/(api|apimachinery)\/.*generated\.proto$/.test(name) && !files.has(name)) files.set(name, data);
  }
  return files;
}

/**
 * The JSON name in each Go struct tag of the binary that also has a protobuf tag, keyed by Go field
 * name, field number and proto name (a tag without a proto name: by the first two). Go keeps struct
 * tags for reflection as [flags][varint name length][name][varint tag length][tag].
 */
function goJsonNames(binary: Buffer): Map<string, string> {
  const text = binary.toString("latin1");
  const names = new Map<string, string>();
  for (let at = text.indexOf('json:"'); at !== -1; at = text.indexOf('json:"', at + 1)) {
    const last = binary[at - 1]!;
    if (last >= 0x80) continue;
    const twoBytes = binary[at - 2]! >= 0x80;
    const length = twoBytes ? (binary[at - 2]! & 0x7f) | (last << 7) : last;
    const lengthStart = twoBytes ? at - 2 : at - 1;
    const tag = text.slice(at, at + length);
    const json = /^json:"([^"]*)"/.exec(tag)?.[1];
    const proto = / protobuf:"\w+,(\d+),(?:(?:opt|rep|req),)?(?:name=([^,"]+))?/.exec(tag);
    if (json === undefined || !proto) continue;
    let goName = "";
    for (let start = lengthStart - 1; start > 0 && /\w/.test(text[start]!); start--) {
      if (binary[start - 1] === lengthStart - start) goName = text.slice(start, lengthStart);
    }
    if (!goName) continue;
    const jsonName = json.split(",")[0] || (json.includes("inline") ? INLINE : goName);
    const key = `${goName}|${proto[1]}|${proto[2] ?? ""}`;
    if (names.has(key) && names.get(key) !== jsonName) throw new Error(`struct tags disagree on the JSON name of ${key}: ${names.get(key)}, ${jsonName}`);
    names.set(key, jsonName);
  }
  return names;
}

/** A Go field embedded with `json:",inline"`: its fields are the parent's in JSON. */
const INLINE = ",inline";
const OBJECT_META = "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META = "k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta";
const KIND_MESSAGE = /^k8s\.io\.api\.[a-z0-9]+\.v[0-9a-z]+\.[A-Z][A-Za-z0-9]*$/;

const binary = readFileSync(KUBECTL);
const kubectlVersion = JSON.parse(execFileSync(KUBECTL, ["version", "--client", "-o", "json"]).toString()).clientVersion.gitVersion as string;
const files = embeddedDescriptors(binary);
const messages = new Map<string, Message>();
for (const data of files.values()) {
  let pkg = "";
  const messageBytes: Uint8Array[] = [];
  eachField(data, (n, r, wire) => {
    if (wire !== WIRE_BYTES) return;
    if (n === 2) pkg = r.string();
    else if (n === 4) messageBytes.push(r.bytesField());
  });
  for (const bytes of messageBytes) parseMessage(bytes, pkg, messages);
}

// Object kinds and their Lists: top-level API messages with object or list metadata, plus the extras.
const hasMetadata = (m: Message, type: string) => m.fields.some((f) => f.name === "metadata" && f.typeName === type);
const roots = [...messages].filter(([name, m]) => KIND_MESSAGE.test(name) && (hasMetadata(m, OBJECT_META) || (hasMetadata(m, LIST_META) && m.fields.some((f) => f.name === "items"))))
  .map(([name]) => name);
for (const extra of EXTRA_MESSAGES) if (!messages.has(extra)) throw new Error(`no message ${extra} in ${KUBECTL}`);
// Keep the messages reachable from them, through message-typed fields.
const reachable = new Map<string, Message>();
const pending = [...roots, ...EXTRA_MESSAGES];
for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
  if (reachable.has(name)) continue;
  const message = messages.get(name);
  if (!message) throw new Error(`message ${name} is referenced but not defined`);
  reachable.set(name, message);
  for (const field of message.fields) {
    if (field.type === "unsupported" || field.type === "enum") throw new Error(`${name}.${field.name}: field type ${field.type} is not handled by the decoder`);
    if (field.type === "message") pending.push(field.typeName!);
  }
}

// The JSON name of every kept field; a field without a json tag (the types that marshal their own
// JSON: Quantity, IntOrString) keeps its proto name.
const jsonNames = goJsonNames(binary);
for (const [name, message] of reachable) {
  for (const field of message.fields) {
    const goName = field.goName ?? field.name;
    field.json = jsonNames.get(`${goName}|${field.number}|${field.name}`) ?? jsonNames.get(`${goName}|${field.number}|`);
    if (field.json === "-") field.json = undefined;
    if (field.json === INLINE && !(field.type === "message" && field.goValue && !field.repeated)) throw new Error(`${name}.${field.name} is inline but not an embedded struct`);
  }
}

// A field is [number, JSON name, type, flags, message type?]: flags 1 = repeated, 2 = a Go value
// rather than a pointer (gogo writes it even at its zero value), 4 = inline (the embedded message's
// fields are the parent's in JSON; the name is then the proto name). A map entry message is flagged,
// and so is a Go slice type (`ExtraValue []string`), whose JSON is its `items` array.
const isSlice = (m: Message) => m.ownStringer && m.fields.length === 1 && m.fields[0]!.repeated && m.fields[0]!.goName === "Items";
const row = (m: Message) => ({
  ...(m.mapEntry ? { mapEntry: true } : {}),
  ...(isSlice(m) ? { slice: true } : {}),
  fields: m.fields.map((f) => [f.number, f.json && f.json !== INLINE ? f.json : f.name, f.type,
    (f.repeated ? 1 : 0) | (f.goValue ? 2 : 0) | (f.json === INLINE ? 4 : 0), ...(f.typeName ? [f.typeName] : [])]),
});
const sorted = [...reachable.keys()].sort();
const source = { kubectl: kubectlVersion, binary: KUBECTL.split("/").pop(), sha256: createHash("sha256").update(binary).digest("hex"), descriptors: files.size };
const block = (entries: [string, unknown][]) => entries.map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(",\n");
writeFileSync(OUTPUT, `{\n  "source": ${JSON.stringify(source)},\n  "messages": {\n${block(sorted.map((n) => [n, row(reachable.get(n)!)]))}\n  }\n}\n`);
console.log(`${OUTPUT}: ${files.size} descriptors from kubectl ${kubectlVersion}, ${roots.length} kinds, ${reachable.size} messages`);

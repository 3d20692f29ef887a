// Builds worker/protobuf/schema.generated.json, the message table the protobuf request decoder
// walks, from the gzipped FileDescriptorProtos that gogo-protobuf embeds in a pinned kubectl binary
// (every k8s.io/api and k8s.io/apimachinery generated.proto). It keeps every object kind of every
// API group (so a newly served resource needs no regeneration) and the messages they reach.
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
/** Request bodies without object metadata of their own. */
const EXTRA_MESSAGES = ["k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"];

/** FieldDescriptorProto.type numbers → the names the table uses. */
const FIELD_TYPES: Record<number, string> = {
  1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32", 8: "bool", 9: "string",
  11: "message", 12: "bytes", 13: "uint32", 14: "enum", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64",
};
const LABEL_REPEATED = 3;
/** gogoproto.nullable, a FieldOptions extension: false when the Go field is a value, not a pointer. */
const GOGO_NULLABLE = 65001;

interface Field { number: number; name: string; type: string; repeated: boolean; goValue: boolean; typeName?: string }
interface Message { fields: Field[]; mapEntry: boolean }

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
    else if (n === 8 && wire === WIRE_BYTES) eachField(r.bytesField(), (o, or, ow) => { if (o === GOGO_NULLABLE && ow === WIRE_VARINT) field.goValue = or.varint() === 0; });
  });
  return field;
}

function parseMessage(bytes: Uint8Array, scope: string, into: Map<string, Message>): void {
  let name = "";
  const fields: Field[] = [];
  const nested: Uint8Array[] = [];
  let mapEntry = false;
  eachField(bytes, (n, r, wire) => {
    if (wire !== WIRE_BYTES) return;
    if (n === 1) name = r.string();
    else if (n === 2) fields.push(parseField(r.bytesField()));
    else if (n === 3) nested.push(r.bytesField());
    else if (n === 7) eachField(r.bytesField(), (o, or, ow) => { if (o === 7 && ow === WIRE_VARINT) mapEntry = or.varint() === 1; });
  });
  const fullName = `${scope}.${name}`;
  into.set(fullName, { fields: fields.sort((a, b) => a.number - b.number), mapEntry });
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

const OBJECT_META = "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta";
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

// Object kinds: top-level API messages with object metadata, plus the subresource and delete bodies.
const roots = [...messages].filter(([name, m]) => KIND_MESSAGE.test(name) && m.fields.some((f) => f.name === "metadata" && f.typeName === OBJECT_META)).map(([name]) => name);
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

// A field is [number, name, type, flags, message type?]: flags 1 = repeated, 2 = a Go value rather
// than a pointer (gogo writes it even at its zero value); a map entry message is flagged.
const row = (m: Message) => ({
  ...(m.mapEntry ? { mapEntry: true } : {}),
  fields: m.fields.map((f) => [f.number, f.name, f.type, (f.repeated ? 1 : 0) | (f.goValue ? 2 : 0), ...(f.typeName ? [f.typeName] : [])]),
});
const sorted = [...reachable.keys()].sort();
const source = { kubectl: kubectlVersion, binary: KUBECTL.split("/").pop(), sha256: createHash("sha256").update(binary).digest("hex"), descriptors: files.size };
const block = (entries: [string, unknown][]) => entries.map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(",\n");
writeFileSync(OUTPUT, `{\n  "source": ${JSON.stringify(source)},\n  "messages": {\n${block(sorted.map((n) => [n, row(reachable.get(n)!)]))}\n  }\n}\n`);
console.log(`${OUTPUT}: ${files.size} descriptors from kubectl ${kubectlVersion}, ${roots.length} kinds, ${reachable.size} messages`);

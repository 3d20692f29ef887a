// The message table of schema.generated.json as the decoder and the encoder walk it: each message's
// fields in number order under their JSON names, and the message a Kubernetes kind is written as.
import schema from "./schema.generated.json" with { type: "json" };
import { ProtobufError } from "./wire.ts";

export const META_V1 = "k8s.io.apimachinery.pkg.apis.meta.v1";
/** The messages whose Go types give themselves a JSON form of their own. */
export const TIME = `${META_V1}.Time`;
export const MICRO_TIME = `${META_V1}.MicroTime`;
export const FIELDS_V1 = `${META_V1}.FieldsV1`;
export const QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity";
export const INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString";
export const RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension";

/** "k8s\0": the envelope's magic prefix before the runtime.Unknown message. */
export const MAGIC = [0x6b, 0x38, 0x73, 0x00];

type FieldRow = [number: number, name: string, type: string, flags: number, typeName?: string];
interface MessageRow { mapEntry?: boolean; slice?: boolean; fields: FieldRow[] }

export interface Field {
  number: number;
  /** The JSON name; for an inline field, the proto name. */
  name: string;
  type: string;
  repeated: boolean;
  /** A Go value rather than a pointer: written even at its zero value. */
  goValue: boolean;
  /** Embedded with `json:",inline"`: its fields are the parent's in JSON. */
  inline: boolean;
  typeName?: string;
}

export interface Message {
  fields: Field[];
  byNumber: Map<number, Field>;
  mapEntry: boolean;
  /** A Go slice type (`ExtraValue []string`): its JSON is the array of its one `items` field. */
  slice: boolean;
}

const rows = schema.messages as unknown as Record<string, MessageRow>;
const cache = new Map<string, Message>();

export function messageOf(name: string): Message {
  let message = cache.get(name);
  if (!message) {
    const row = rows[name];
    if (!row) throw new ProtobufError(`no protobuf schema for message ${name}`);
    const fields = row.fields.map(([number, fieldName, type, flags, typeName]): Field =>
      ({ number, name: fieldName, type, repeated: (flags & 1) !== 0, goValue: (flags & 2) !== 0, inline: (flags & 4) !== 0, typeName }));
    message = { fields, byNumber: new Map(fields.map((f) => [f.number, f])), mapEntry: row.mapEntry === true, slice: row.slice === true };
    cache.set(name, message);
  }
  return message;
}

/** Kinds of meta.k8s.io/v1 that are written under any group's version. */
const META_KINDS = new Set(["DeleteOptions", "Status", "WatchEvent"]);

/**
 * The proto package of a built-in API group: a legacy group's own name ("apps"), a *.k8s.io group's
 * first label (rbac.authorization.k8s.io → rbac); custom resources have none.
 */
function packageOf(group: string): string | undefined {
  if (group === "") return "k8s.io.api.core";
  if (group === "meta.k8s.io") return "k8s.io.apimachinery.pkg.apis.meta";
  if (group === "internal.apiserver.k8s.io") return "k8s.io.api.apiserverinternal";
  if (!group.includes(".")) return `k8s.io.api.${group}`;
  if (group.endsWith(".k8s.io")) return `k8s.io.api.${group.slice(0, group.indexOf("."))}`;
  return undefined;
}

/** The message of a kind ("apps/v1" Deployment → k8s.io.api.apps.v1.Deployment), if it has one. */
export function messageForKind(apiVersion: string, kind: string): string | undefined {
  if (META_KINDS.has(kind)) return `${META_V1}.${kind}`;
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") as [string, string] : ["", apiVersion];
  const pkg = packageOf(group);
  if (!pkg || !/^[A-Za-z0-9]+$/.test(version) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return undefined;
  const name = `${pkg}.${version}.${kind}`;
  // Only an object kind or a List: a message with metadata of its own, not a nested one like PodSpec.
  return rows[name]?.fields.some(([, fieldName]) => fieldName === "metadata") ? name : undefined;
}

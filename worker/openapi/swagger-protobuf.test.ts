// The swagger protobuf encoding, read back with a plain wire-format decoder and gnostic's field numbers.
import { describe, expect, it } from "vitest";
import { servedSwagger, type JsonObject } from "./documents.ts";
import { swaggerProtobuf } from "./swagger-protobuf.ts";

/** A decoded message: each field number's values in order (varints as numbers, length-delimited as bytes). */
type Message = Map<number, (number | Uint8Array)[]>;

function decode(bytes: Uint8Array): Message {
  const fields: Message = new Map();
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 1; ; shift *= 0x80) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const [field, wireType] = [Math.floor(key / 8), key % 8];
    let value: number | Uint8Array;
    if (wireType === 0) value = varint();
    else if (wireType === 1) { value = new DataView(bytes.buffer, bytes.byteOffset + at, 8).getFloat64(0, true); at += 8; }
    else if (wireType === 2) { const length = varint(); value = bytes.subarray(at, at + length); at += length; }
    else throw new Error(`unexpected wire type ${wireType}`);
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

const text = (m: Message, field: number) => new TextDecoder().decode(m.get(field)?.[0] as Uint8Array | undefined);
const texts = (m: Message, field: number) => (m.get(field) ?? []).map((v) => new TextDecoder().decode(v as Uint8Array));
const message = (m: Message, field: number) => decode((m.get(field)?.[0] as Uint8Array | undefined) ?? new Uint8Array());
const messages = (m: Message, field: number) => (m.get(field) ?? []).map((v) => decode(v as Uint8Array));
/** A Named* map (name 1, value 2) as entries. */
const named = (entries: Message[]) => new Map(entries.map((e) => [text(e, 1), message(e, 2)]));
/** NamedAny vendor extensions, their Any's YAML (field 2) read as the JSON it is. */
const extensions = (entries: Message[]) => Object.fromEntries(entries.map((e) => [text(e, 1), JSON.parse(text(message(e, 2), 2))]));

describe("swagger protobuf", () => {
  it("encodes schemas: $ref, type, properties, items, additionalProperties, required and vendor extensions", () => {
    const document: JsonObject = {
      swagger: "2.0",
      info: { title: "Kubernetes", version: "v1.30.0" },
      paths: {},
      definitions: {
        "a.Thing": {
          description: "A thing.",
          type: "object",
          required: ["name"],
          properties: {
            name: { type: "string" },
            spec: { $ref: "#/definitions/a.Spec", description: "Its spec.", "x-kubernetes-patch-strategy": "replace" },
            ports: { type: "array", items: { $ref: "#/definitions/a.Port" }, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"] },
            labels: { type: "object", additionalProperties: { type: "string" } },
            size: { type: "integer", format: "int64", minimum: -1.5 },
          },
          "x-kubernetes-group-version-kind": [{ group: "a", kind: "Thing", version: "v1" }],
        },
      },
    };
    const doc = decode(swaggerProtobuf(document));
    expect(text(doc, 1)).toBe("2.0");
    expect([text(message(doc, 2), 1), text(message(doc, 2), 2)]).toEqual(["Kubernetes", "v1.30.0"]);
    const thing = named(messages(message(doc, 9), 1)).get("a.Thing")!;
    expect(text(thing, 4)).toBe("A thing.");
    expect(texts(message(thing, 22), 1)).toEqual(["object"]);
    expect(texts(thing, 19)).toEqual(["name"]);
    expect(extensions(messages(thing, 31))).toEqual({ "x-kubernetes-group-version-kind": [{ group: "a", kind: "Thing", version: "v1" }] });
    const properties = named(messages(message(thing, 25), 1));
    expect([...properties.keys()]).toEqual(["name", "spec", "ports", "labels", "size"]);
    const spec = properties.get("spec")!;
    expect([text(spec, 1), text(spec, 4)]).toEqual(["#/definitions/a.Spec", "Its spec."]);
    expect(extensions(messages(spec, 31))).toEqual({ "x-kubernetes-patch-strategy": "replace" });
    const ports = properties.get("ports")!;
    expect(text(messages(message(ports, 23), 1)[0]!, 1)).toBe("#/definitions/a.Port");
    expect(extensions(messages(ports, 31))).toEqual({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"] });
    const labels = properties.get("labels")!;
    expect(texts(message(message(message(labels, 21), 1), 22), 1)).toEqual(["string"]);
    const size = properties.get("size")!;
    expect([text(size, 2), size.get(9)?.[0]]).toEqual(["int64", -1.5]);
  });

  it("encodes operations: body, query and path parameters, responses, media types and security", () => {
    const document: JsonObject = {
      swagger: "2.0",
      info: { title: "Kubernetes", version: "v1.30.0" },
      paths: {
        "/apis/a/v1/things/{name}": {
          parameters: [{ name: "name", in: "path", required: true, type: "string", uniqueItems: true, description: "name of the Thing" }],
          patch: {
            consumes: ["application/merge-patch+json"],
            produces: ["application/json"],
            schemes: ["https"],
            operationId: "patchThing",
            parameters: [
              { name: "body", in: "body", required: true, schema: { $ref: "#/definitions/a.Patch" } },
              { name: "dryRun", in: "query", type: "string", uniqueItems: true },
            ],
            responses: { "200": { description: "OK", schema: { $ref: "#/definitions/a.Thing" } }, "401": { description: "Unauthorized" } },
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": { group: "a", kind: "Thing", version: "v1" },
          },
        },
      },
      definitions: {},
      securityDefinitions: { BearerToken: { type: "apiKey", name: "authorization", in: "header", description: "Bearer Token authentication" } },
      security: [{ BearerToken: [] }],
    };
    const doc = decode(swaggerProtobuf(document));
    const item = named(messages(message(doc, 8), 2)).get("/apis/a/v1/things/{name}")!;
    // PathParameterSubSchema: required 1, in 2, description 3, name 4, type 5, unique_items 19.
    const pathParameter = message(message(message(messages(item, 9)[0]!, 1), 2), 4);
    expect([pathParameter.get(1)?.[0], text(pathParameter, 2), text(pathParameter, 3), text(pathParameter, 4), text(pathParameter, 5), pathParameter.get(19)?.[0]])
      .toEqual([1, "path", "name of the Thing", "name", "string", 1]);
    const patch = message(item, 8);
    expect([texts(patch, 7), texts(patch, 6), texts(patch, 10), text(patch, 5)]).toEqual([["application/merge-patch+json"], ["application/json"], ["https"], "patchThing"]);
    const [body, dryRun] = messages(patch, 8).map((p) => message(p, 1));
    const bodyParameter = message(body!, 1);
    expect([text(bodyParameter, 2), text(bodyParameter, 3), bodyParameter.get(4)?.[0], text(message(bodyParameter, 5), 1)]).toEqual(["body", "body", 1, "#/definitions/a.Patch"]);
    // QueryParameterSubSchema has allow_empty_value at 5, so type is 6 and unique_items 20.
    const query = message(message(dryRun!, 2), 3);
    expect([text(query, 2), text(query, 4), text(query, 6), query.get(20)?.[0]]).toEqual(["query", "dryRun", "string", 1]);
    const responses = named(messages(message(patch, 9), 1));
    expect(text(message(message(message(responses.get("200")!, 1), 2), 1), 1)).toBe("#/definitions/a.Thing");
    expect(text(message(responses.get("401")!, 1), 1)).toBe("Unauthorized");
    expect(extensions(messages(patch, 13))).toEqual({ "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": { group: "a", kind: "Thing", version: "v1" } });
    const apiKey = message(named(messages(message(doc, 13), 1)).get("BearerToken")!, 2);
    expect([text(apiKey, 1), text(apiKey, 2), text(apiKey, 3)]).toEqual(["apiKey", "authorization", "header"]);
    expect(named(messages(messages(doc, 12)[0]!, 1)).has("BearerToken")).toBe(true);
  });

  it("keeps every definition, property and kind of the served swagger document", async () => {
    const { document } = await servedSwagger();
    const definitions = document.definitions as Record<string, JsonObject>;
    const decoded = named(messages(message(decode(swaggerProtobuf(document)), 9), 1));
    expect([...decoded.keys()]).toEqual(Object.keys(definitions));
    for (const [name, schema] of Object.entries(definitions)) {
      const properties = [...named(messages(message(decoded.get(name)!, 25), 1)).keys()];
      expect(properties, name).toEqual(Object.keys((schema.properties as JsonObject | undefined) ?? {}));
    }
    expect(extensions(messages(decoded.get("io.k8s.api.apps.v1.Deployment")!, 31))).toEqual({
      "x-kubernetes-group-version-kind": [{ group: "apps", kind: "Deployment", version: "v1" }],
    });
  });
});

// Content negotiation, as kube-apiserver does it: what the client accepts (the object, a Table or
// partial metadata; JSON, YAML or protobuf) decides how answers, watch events and errors are written.
import type { Context } from "hono";
import { stringify as stringifyYaml } from "yaml";
import { type ApiError, apiErrors, statusResponse } from "../../lib/k8s/status.ts";
import { PROTOBUF_MEDIA_TYPE } from "../protobuf/decode.ts";
import { encodeKubernetesProtobuf, hasProtobufMessage } from "../protobuf/encode.ts";
import { groupVersion, type KubeObject, type ResourceDefinition } from "../registry/types.ts";
import { tableFor } from "./tables.ts";
import { protobufFrames, type WatchFormat } from "./watch.ts";

/** A Status error: JSON, or protobuf for a client that accepts nothing else. */
export function errorResponse(c: Context, error: ApiError): Response {
  const accept = c.req.header("Accept");
  const protobufOnly = !!accept && accept.split(",").every((part) => part.split(";")[0]!.trim() === PROTOBUF_MEDIA_TYPE);
  if (!protobufOnly) return statusResponse(error);
  return new Response(encodeKubernetesProtobuf(error.toStatus()), { status: error.code, headers: { "Content-Type": PROTOBUF_MEDIA_TYPE } });
}

/**
 * What the client accepts, in kube-apiserver's terms: the object, a Table or partial metadata, as
 * JSON, YAML or protobuf. Protobuf only for built-in kinds (custom resources have no message, so
 * the next acceptable type is taken) and never for Tables.
 */
interface Rendering { as: "object" | "Table" | "PartialObjectMetadata"; encoding: "json" | "yaml" | "protobuf" }

function rendering(c: Context, def: ResourceDefinition): Rendering {
  const accept = c.req.header("Accept");
  if (!accept) return { as: "object", encoding: "json" };
  for (const raw of accept.split(",")) {
    const part = raw.trim();
    const type = part.split(";")[0]!.trim();
    const protobuf = type === PROTOBUF_MEDIA_TYPE;
    if (protobuf && !hasProtobufMessage(groupVersion(def), def.kind)) continue;
    if (part.includes("as=Table") && part.includes("g=meta.k8s.io") && !protobuf) return { as: "Table", encoding: "json" };
    if (/as=PartialObjectMetadata(List)?\b/.test(part) && part.includes("g=meta.k8s.io")) return { as: "PartialObjectMetadata", encoding: protobuf ? "protobuf" : "json" };
    if (part.includes("as=")) continue;
    if (protobuf) return { as: "object", encoding: "protobuf" };
    if (type === "application/yaml") return { as: "object", encoding: "yaml" };
    if (["application/json", "application/*", "*/*", "application/json-patch+json", "application/merge-patch+json"].includes(type)) return { as: "object", encoding: "json" };
  }
  throw apiErrors.notAcceptable(accept);
}

function partialMetadata(object: KubeObject): KubeObject {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata };
}

/** How watch events are written, by the same negotiation: JSON lines (for YAML too) or protobuf frames. */
export function watchFormat(c: Context, def: ResourceDefinition): WatchFormat {
  const { as, encoding } = rendering(c, def);
  const framing = encoding === "protobuf" ? protobufFrames : undefined;
  if (as === "Table") return { render: (object) => tableFor(def, [object], c, { watch: true }), framing };
  if (as === "PartialObjectMetadata") return { render: partialMetadata, framing };
  return { framing };
}

export function respond(c: Context, def: ResourceDefinition, body: KubeObject, status = 200): Response {
  const isList = body.kind?.endsWith("List") && Array.isArray(body.items);
  const { as, encoding } = rendering(c, def);
  let answer: Record<string, unknown> = body;
  if (as === "Table") {
    answer = tableFor(def, isList ? body.items : [body], c);
    if (body.metadata?.continue) (answer.metadata as Record<string, unknown>).continue = body.metadata.continue;
    if (body.metadata?.resourceVersion) (answer.metadata as Record<string, unknown>).resourceVersion = body.metadata.resourceVersion;
  } else if (as === "PartialObjectMetadata") {
    answer = isList
      ? { kind: "PartialObjectMetadataList", apiVersion: "meta.k8s.io/v1", metadata: body.metadata, items: body.items.map(partialMetadata) }
      : partialMetadata(body);
  }
  switch (encoding) {
    case "protobuf":
      return c.body(encodeKubernetesProtobuf(answer), status as 200, { "Content-Type": PROTOBUF_MEDIA_TYPE });
    case "yaml":
      return c.body(stringifyYaml(answer), status as 200, { "Content-Type": "application/yaml" });
    case "json":
      return c.json(answer, status as 200);
  }
}

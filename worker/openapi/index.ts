// /openapi/v2 and /openapi/v3: the schemas of every type we serve, which kubectl downloads to
// validate manifests (create, apply, replace, edit), to explain fields and to compute patches.
// Served as kube-openapi does: ETags, hashed v3 URLs that may be cached for good, and v2 in
// protobuf for clients that ask for it (client-go's OpenAPISchema asks for nothing else).
import { Hono, type Context } from "hono";
import { requireAuthorizedUser } from "../authz/authorizer.ts";
import type { AppEnv } from "../context.ts";
import { ApiError, apiErrors, statusResponse } from "../../lib/k8s/status.ts";
import { openAPIv3IndexURL, servedOpenAPIv3, servedOpenAPIv3Index, servedSwagger } from "./documents.ts";
import { swaggerProtobuf } from "./swagger-protobuf.ts";
import { customResources } from "../crd/custom-resources.ts";
import { customOpenAPI, type CustomOpenAPI } from "../crd/openapi.ts";

const JSON_TYPE = "application/json";
/** The swagger protobuf media type kube-openapi answers with; it also accepts the older "@v1.0" spelling. */
export const SWAGGER_PROTOBUF_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
const SWAGGER_PROTOBUF_TYPES = [SWAGGER_PROTOBUF_TYPE, "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"];

export const openapiRoutes = new Hono<AppEnv>();

openapiRoutes.use("/openapi/*", requireAuthorizedUser);

/** Accept's media ranges, most preferred first (by q, then as listed), without the refused ones. */
function acceptedMediaRanges(c: Context): string[] {
  const header = c.req.header("Accept") || "*/*";
  return header.split(",")
    .map((clause, order) => {
      const [range = "", ...params] = clause.split(";").map((part) => part.trim().toLowerCase());
      const q = Number(params.find((p) => p.startsWith("q="))?.slice(2) ?? 1);
      return { range, q: Number.isNaN(q) ? 1 : q, order };
    })
    .filter((clause) => clause.range && clause.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order)
    .map((clause) => clause.range);
}

/** Whether a media range (possibly with wildcards) covers a media type. */
function matches(range: string, offered: string): boolean {
  const [type, subtype] = range.split("/");
  const [offeredType, offeredSubtype] = offered.split("/");
  return (type === "*" || type === offeredType) && (subtype === "*" || subtype === offeredSubtype);
}

/** The first offered media type the client accepts, going through its preferences in order. */
function negotiate(c: Context, offered: string[]): string | undefined {
  for (const range of acceptedMediaRanges(c)) {
    const type = offered.find((o) => matches(range, o));
    if (type) return type;
  }
  return undefined;
}

/** Whether If-None-Match names this ETag (or any). */
function notModified(c: Context, etag: string): boolean {
  const header = c.req.header("If-None-Match");
  return header !== undefined && (header.trim() === "*" || header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === `"${etag}"`));
}

function respond(c: Context, body: string | Uint8Array, contentType: string, etag: string, headers: Record<string, string> = {}): Response {
  const all: Record<string, string> = { "Content-Type": contentType, ETag: `"${etag}"`, Vary: "Accept", ...headers };
  if (notModified(c, etag)) return new Response(null, { status: 304, headers: all });
  return new Response(body, { status: 200, headers: all });
}

const notAcceptable = () => new Response(null, { status: 406, headers: { Vary: "Accept" } });

openapiRoutes.get("/openapi/v2", async (c) => {
  const type = negotiate(c, [JSON_TYPE, ...SWAGGER_PROTOBUF_TYPES]);
  if (!type) return notAcceptable();
  const swagger = await servedSwagger(await custom(c));
  if (type === JSON_TYPE) return respond(c, swagger.json, JSON_TYPE, swagger.etag);
  // The protobuf shares the JSON's ETag, as in kube-openapi: Vary: Accept keeps caches from mixing them up.
  if (swaggerProtobufBody?.etag !== swagger.etag) swaggerProtobufBody = { etag: swagger.etag, body: swaggerProtobuf(swagger.document) };
  return respond(c, swaggerProtobufBody.body, SWAGGER_PROTOBUF_TYPE, swagger.etag);
});

/** Encoded on first request, once per isolate and set of CRDs. */
let swaggerProtobufBody: { etag: string; body: Uint8Array } | undefined;

/** The custom resources' part of the documents. */
async function custom(c: Context<AppEnv>): Promise<CustomOpenAPI> {
  return customOpenAPI(await customResources(c.env));
}

openapiRoutes.get("/openapi/v3", async (c) => {
  const index = await servedOpenAPIv3Index(await custom(c));
  return respond(c, index.json, JSON_TYPE, index.etag);
});

openapiRoutes.get("/openapi/v3/*", async (c) => {
  const groupVersion = new URL(c.req.url).pathname.slice("/openapi/v3/".length).replace(/\/+$/, "");
  const document = await servedOpenAPIv3(groupVersion, await custom(c));
  if (!document) return statusResponse(new ApiError(404, "NotFound", "the server could not find the requested resource"));
  if (!negotiate(c, [JSON_TYPE])) return notAcceptable();
  const hash = c.req.query("hash");
  if (hash === undefined || hash === "") return respond(c, document.json, JSON_TYPE, document.etag);
  // A stale hash moves to the current document's URL; a current one never changes, so it may be kept for good.
  if (hash !== document.etag) return c.redirect(openAPIv3IndexURL(groupVersion, document.etag), 301);
  const expires = new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString();
  return respond(c, document.json, JSON_TYPE, document.etag, { "Cache-Control": "public, immutable", Expires: expires });
});

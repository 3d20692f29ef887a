// Which resource a request's path names: /namespaces/{ns}/{resource}/{name}/{subresource} or
// /{resource}/{name}/{subresource} under a group-version, resolved against what is served.
import type { Context } from "hono";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";
import { resolveResource } from "../crd/custom-resources.ts";
import type { ResourceDefinition } from "../registry/types.ts";
import { requestUrl } from "./request-url.ts";

export interface Target {
  def: ResourceDefinition;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const notFound = () => new ApiError(404, "NotFound", "the server could not find the requested resource");

/** The path's segments after `prefix`; an empty one inside the path (/namespaces//pods) is a 404, as in kube. */
export function segmentsAfter(c: Context, prefix: string): string[] {
  const segments = requestUrl(c.req.raw).pathname.slice(prefix.length).split("/");
  if (segments.at(-1) === "") segments.pop();
  if (segments.some((s) => s === "")) throw notFound();
  try {
    return segments.map(decodeURIComponent);
  } catch {
    throw apiErrors.badRequest("the request path is not valid percent-encoding");
  }
}

/** Reads /namespaces/{ns}/{resource}/{name}/{sub} or /{resource}/{name}/{sub}. */
export async function resolveTarget(env: Env, group: string, version: string, segments: string[]): Promise<Target> {
  let namespace: string | undefined;
  let rest = segments;
  // /api/v1/namespaces/{name}/status and /finalize are a namespace's own subresources.
  if (segments[0] === "namespaces" && segments.length >= 3 && !(group === "" && ["status", "finalize"].includes(segments[2]!) && segments.length === 3)) {
    namespace = segments[1];
    rest = segments.slice(2);
  }
  const [resource, name, subresource, ...extra] = rest;
  if (!resource || extra.length) throw notFound();
  const def = await resolveResource(env, group, version, resource);
  if (!def) throw notFound();
  if (namespace && !def.namespaced) throw notFound();
  return { def, namespace, name, subresource };
}

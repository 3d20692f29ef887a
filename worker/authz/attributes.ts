// What a request asks to do, in the terms authorizers decide on: kube-apiserver's RequestInfo
// (verb, API group, resource, subresource, namespace, name, or a non-resource path) plus who asks.
import { parseFieldSelector, parseLabelSelector } from "../../lib/k8s/selectors.ts";

/** The authenticated identity a decision is made for (kube's user.Info). */
export interface User {
  name: string;
  uid?: string;
  groups: string[];
}

export interface RequestAttributes {
  user: User;
  /** A Kubernetes verb (get, list, watch, create, …) for resources; the lower-cased method otherwise. */
  verb: string;
  resourceRequest: boolean;
  apiGroup?: string;
  apiVersion?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  path: string;
}

/** Path roots under which resources are served; /api is the core group's, which has no group segment. */
const API_PREFIXES = new Set(["api", "apis"]);
const GROUPLESS_PREFIXES = new Set(["api"]);
/** Verbs spelled as a path segment after the version (the deprecated /watch/… and /proxy/… forms). */
const PATH_VERBS = new Set(["proxy", "watch"]);
/** Path verbs whose trailing segments are a proxied path, never a subresource. */
const PATH_VERBS_WITHOUT_SUBRESOURCES = new Set(["proxy"]);
/** After /namespaces/{ns}/, these name a subresource of the namespace rather than a namespaced resource. */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

const METHOD_VERBS: Record<string, string> = {
  POST: "create", GET: "get", HEAD: "get", PUT: "update", PATCH: "patch", DELETE: "delete",
};

/**
 * Percent-decodes one path segment as the router does (splitting first, so an escaped "/" stays
 * inside its segment and the name authorized is the name served). Malformed escapes stay as sent.
 */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** splitPath: surrounding slashes trimmed, inner empty segments kept, as kube splits. */
function splitPath(rawPath: string): string[] {
  const trimmed = rawPath.replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? [] : trimmed.split("/").map(decodeSegment);
}

/** path.IsValidPathSegmentName: a name that could stand as a URL segment. */
function isValidPathSegmentName(name: string): boolean {
  return name !== "." && name !== ".." && !name.includes("/") && !name.includes("%");
}

/** Go's bool query conversion: present and not "0" or "false" (any case) means true. */
function queryBool(value: string): boolean {
  return value !== "0" && value.toLowerCase() !== "false";
}

/** Go's int64 query conversion accepts blank or a decimal integer. */
function isQueryInt64(value: string): boolean {
  const trimmed = value.trim();
  if (trimmed === "") return true;
  if (!/^[+-]?\d+$/.test(trimmed)) return false;
  const n = BigInt(trimmed);
  return n >= -(2n ** 63n) && n < 2n ** 63n;
}

/**
 * A list or watch names one object when its field selector requires metadata.name (so a
 * resourceNames rule can allow watching one Secret). As in kube, any ListOptions parameter that
 * fails to decode drops the name.
 */
function listedName(query: URLSearchParams): string | undefined {
  try {
    for (const key of ["limit", "timeoutSeconds"]) {
      const value = query.get(key);
      if (value !== null && !isQueryInt64(value)) return undefined;
    }
    const labelSelector = query.get("labelSelector");
    if (labelSelector !== null) parseLabelSelector(labelSelector);
    const fieldSelector = query.get("fieldSelector");
    if (fieldSelector === null) return undefined;
    const term = parseFieldSelector(fieldSelector).find((r) => r.field === "metadata.name" && r.operator !== "!=");
    return term && isValidPathSegmentName(term.value) ? term.value : undefined;
  } catch {
    return undefined;
  }
}

/** Derives a request's attributes exactly as kube-apiserver's RequestInfoFactory does. */
export function requestAttributes(method: string, url: URL, user: User): RequestAttributes {
  const path = decodeSegment(url.pathname);
  const nonResource: RequestAttributes = { user, verb: method.toLowerCase(), resourceRequest: false, path };

  let parts = splitPath(url.pathname);
  if (parts.length < 3 || !API_PREFIXES.has(parts[0]!)) return nonResource;
  const prefix = parts[0]!;
  parts = parts.slice(1);
  let apiGroup = "";
  if (!GROUPLESS_PREFIXES.has(prefix)) {
    // /apis/{group}/{version} alone is discovery, not a resource.
    if (parts.length < 3) return nonResource;
    apiGroup = parts[0]!;
    parts = parts.slice(1);
  }
  const apiVersion = parts[0]!;
  parts = parts.slice(1);

  const attrs: RequestAttributes = { user, verb: "", resourceRequest: true, apiGroup, apiVersion, path };
  if (PATH_VERBS.has(parts[0]!)) {
    attrs.verb = parts[0]!;
    parts = parts.slice(1);
    // kube fails such a request (/api/v1/watch): nothing past the verb says what to act on.
    if (parts.length === 0) return attrs;
  } else {
    attrs.verb = METHOD_VERBS[method.toUpperCase()] ?? "";
  }

  // An empty segment (/namespaces//pods) is kube's "no namespace", "no name": left unset here.
  if (parts[0] === "namespaces" && parts.length > 1) {
    attrs.namespace = parts[1] || undefined;
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
  }

  // parts: resource / name / subresource / anything further, which is not interpreted.
  attrs.resource = parts[0] || undefined;
  attrs.name = parts[1] || undefined;
  if (!PATH_VERBS_WITHOUT_SUBRESOURCES.has(attrs.verb)) attrs.subresource = parts[2] || undefined;

  if (!attrs.name && attrs.verb === "get") {
    const watch = url.searchParams.get("watch");
    attrs.verb = watch !== null && queryBool(watch) ? "watch" : "list";
    const name = listedName(url.searchParams);
    if (name) attrs.name = name;
  }
  if (!attrs.name && attrs.verb === "delete") attrs.verb = "deletecollection";
  return attrs;
}

// Validation every object shares: its name and metadata, worded as kube-apiserver words it.
import { fieldErrorBody, validateAnnotations, validateLabels, type FieldError } from "../../lib/k8s/selectors.ts";
import type { StatusCause } from "../../lib/k8s/status.ts";
import type { ResourceDefinition } from "./types.ts";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Resources whose names must be DNS-1123 labels rather than subdomains. */
const LABEL_NAMED = new Set(["namespaces", "services"]);

export function invalid(field: string, value: unknown, message: string): StatusCause {
  return { reason: "FieldValueInvalid", field, message: `Invalid value: ${JSON.stringify(value)}: ${message}` };
}

export function required(field: string, message = "Required value"): StatusCause {
  return { reason: "FieldValueRequired", field, message };
}

export function validateDnsLabel(field: string, value: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (value.length > 63) causes.push(invalid(field, value, "must be no more than 63 characters"));
  if (!DNS1123_LABEL.test(value)) {
    causes.push(invalid(field, value, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"));
  }
  return causes;
}

export function validateDnsSubdomain(field: string, value: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (value.length > 253) causes.push(invalid(field, value, "must be no more than 253 characters"));
  if (!DNS1123_SUBDOMAIN.test(value)) {
    causes.push(invalid(field, value, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
  }
  return causes;
}

/** RBAC objects' names need only be usable as a URL path segment ("system:node" is one), as kube checks. */
function validatePathSegmentName(field: string, value: string): StatusCause[] {
  if (value === "." || value === "..") return [invalid(field, value, `may not be '${value}'`)];
  for (const bad of ["/", "%"]) if (value.includes(bad)) return [invalid(field, value, `may not contain '${bad}'`)];
  return [];
}

export function validateObjectMeta(metadata: Record<string, any>, def: ResourceDefinition): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = metadata.name;
  if (!name) causes.push(required("metadata.name", "name or generateName is required"));
  else if (typeof name !== "string") causes.push(invalid("metadata.name", name, "must be a string"));
  else if (def.group === "rbac.authorization.k8s.io") causes.push(...validatePathSegmentName("metadata.name", name));
  else causes.push(...(LABEL_NAMED.has(def.resource) && !def.group ? validateDnsLabel("metadata.name", name) : validateDnsSubdomain("metadata.name", name)));
  if (def.namespaced && metadata.namespace) causes.push(...validateDnsLabel("metadata.namespace", metadata.namespace));
  causes.push(...validateLabels(metadata.labels, "metadata.labels").map(toCause));
  causes.push(...validateAnnotations(metadata.annotations, "metadata.annotations").map(toCause));
  if (metadata.finalizers !== undefined && !Array.isArray(metadata.finalizers)) causes.push(invalid("metadata.finalizers", metadata.finalizers, "must be a list"));
  return causes;
}

function toCause(e: FieldError): StatusCause {
  return { reason: e.reason, field: e.field, message: fieldErrorBody(e) };
}

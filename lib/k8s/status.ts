// Kubernetes Status errors: one module builds every error the apiserver answers (code, reason,
// details and kube-apiserver's wording, which kubectl prints verbatim) and that API clients read back.

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details?: StatusDetails;

  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.code = code;
    this.reason = reason;
    if (details) this.details = details;
  }

  /**
   * The error a Status object describes (a failed answer's body, a watch ERROR event); `httpCode`
   * stands in when the Status carries no code.
   */
  static fromStatus(status: StatusObject, httpCode?: number): ApiError {
    const code = typeof status.code === "number" && status.code > 0 ? status.code : httpCode ?? 500;
    return new ApiError(code, status.reason || reasonForCode(code), status.message ?? "", status.details);
  }

  toStatus(): Record<string, unknown> {
    const status: Record<string, unknown> = {
      kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: this.message, reason: this.reason,
    };
    if (this.details) status.details = this.details;
    status.code = this.code;
    return status;
  }
}

/** A Status object as it arrives from a server: every field may be missing. */
export interface StatusObject {
  code?: number;
  reason?: string;
  message?: string;
  details?: StatusDetails;
}

/** The reason kube's clients assume for an answer whose body names none, by HTTP code. */
export function reasonForCode(code: number): string {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "Unknown";
  }
}

/** "pods" in the core group, "deployments.apps" elsewhere: how kube names a resource in messages. */
export function qualifiedResource(group: string, resource: string): string {
  return group ? `${resource}.${group}` : resource;
}

export const apiErrors = {
  notFound: (group: string, resource: string, name: string) =>
    new ApiError(404, "NotFound", `${qualifiedResource(group, resource)} "${name}" not found`, { name, group: group || undefined, kind: resource }),
  alreadyExists: (group: string, resource: string, name: string) =>
    new ApiError(409, "AlreadyExists", `${qualifiedResource(group, resource)} "${name}" already exists`, { name, group: group || undefined, kind: resource }),
  conflict: (group: string, resource: string, name: string, why: string) =>
    new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${qualifiedResource(group, resource)} "${name}": ${why}`, { name, group: group || undefined, kind: resource }),
  invalid: (group: string, kind: string, name: string, causes: StatusCause[]) =>
    new ApiError(422, "Invalid",
      `${kind}${group ? `.${group}` : ""} "${name}" is invalid: ${causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(", ")}`,
      { name, group: group || undefined, kind, causes }),
  badRequest: (message: string) => new ApiError(400, "BadRequest", message),
  methodNotAllowed: (message: string) => new ApiError(405, "MethodNotAllowed", message),
  unsupportedMediaType: (accepted: string[]) =>
    new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`),
  notAcceptable: (accept: string) => new ApiError(406, "NotAcceptable", `the server was unable to respond with a content type that the client supports (got ${accept}); only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io`),
  expired: (message: string) => new ApiError(410, "Expired", message),
  tooLarge: () => new ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"),
  unauthorized: () => new ApiError(401, "Unauthorized", "Unauthorized"),
  forbidden: (message: string) => new ApiError(403, "Forbidden", message),
  internal: (message: string) => new ApiError(500, "InternalError", `Internal error occurred: ${message}`),
  timeout: (message: string) => new ApiError(504, "Timeout", message),
  serviceUnavailable: (message: string) => new ApiError(503, "ServiceUnavailable", message),
};

export function statusResponse(error: ApiError): Response {
  return new Response(JSON.stringify(error.toStatus()), {
    status: error.code,
    headers: { "Content-Type": "application/json" },
  });
}

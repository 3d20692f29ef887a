// A typed Kubernetes API client over an injected fetch (a service binding in a Durable Object, HTTPS
// with a node credential on a host, the Worker's own fetch in tests): CRUD, paged lists, watches,
// the four patch types, subresources, and every failure as the apiserver's own Status error.
import type { Binding, Pod } from "kubernetes-types/core/v1";
import type { ListMeta, ObjectMeta, Status } from "kubernetes-types/meta/v1";
import type { Eviction } from "kubernetes-types/policy/v1";
import { apiVersionOf, builtin, type ResourceNames } from "../k8s/resources.ts";
import { ApiError, type StatusObject } from "../k8s/status.ts";

export type Fetch = (request: Request) => Promise<Response>;

export interface ApiClientOptions {
  fetch: Fetch;
  /** Where the API is served, e.g. "https://edgeplane.example": paths are appended to it. */
  baseUrl: string;
  /** A bearer token, or a function that gives the current one (a rotating node credential). */
  token?: string | (() => Promise<string>);
  userAgent?: string;
  /**
   * Called once a write to a resource (create, update, patch, delete, a subresource POST or PUT)
   * has been answered or has failed: whatever it changed is in the store by then. A woken
   * Durable Object marks the resource for its next catch-up with it (StoreChanges.wrote).
   */
  onWrite?: (resource: ResourceNames) => void;
}

/** What every Kubernetes object has. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface ObjectList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: ListMeta;
  items: T[];
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: "Exact" | "NotOlderThan";
}

export interface WatchOptions {
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
  labelSelector?: string;
  fieldSelector?: string;
  timeoutSeconds?: number;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  fieldValidation?: "Ignore" | "Warn" | "Strict";
}

export type PatchType = "merge" | "strategic" | "json" | "apply";

export interface PatchOptions extends WriteOptions {
  /** Server-side apply only: take over fields other managers own. */
  force?: boolean;
  /** Patch a subresource ("status", "scale") instead of the object. */
  subresource?: string;
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  gracePeriodSeconds?: number;
  dryRun?: boolean;
}

const PATCH_MEDIA_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  json: "application/json-patch+json",
  apply: "application/apply-patch+yaml",
};

type Query = Record<string, string | number | boolean | undefined>;

interface RequestSpec {
  method: string;
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export class ApiClient {
  private readonly transport: Fetch;
  private readonly baseUrl: string;
  private readonly token?: string | (() => Promise<string>);
  private readonly userAgent?: string;
  private readonly onWrite?: (resource: ResourceNames) => void;

  constructor(options: ApiClientOptions) {
    this.transport = options.fetch;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.token = options.token;
    this.userAgent = options.userAgent;
    this.onWrite = options.onWrite;
  }

  resource<T extends KubeObject>(names: ResourceNames): ResourceClient<T> {
    return new ResourceClient<T>(this, names);
  }

  pods(): PodClient {
    return new PodClient(this, builtin("v1", "pods"));
  }

  /** Sends one request; a non-2xx answer is thrown as the ApiError its Status describes. */
  async send(spec: RequestSpec): Promise<Response> {
    const url = new URL(this.baseUrl + spec.path);
    for (const [key, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined && value !== "") url.searchParams.set(key, String(value));
    }
    const headers = new Headers({ Accept: "application/json" });
    if (this.userAgent) headers.set("User-Agent", this.userAgent);
    const token = typeof this.token === "function" ? await this.token() : this.token;
    if (token) headers.set("Authorization", `Bearer ${token}`);
    let body: string | undefined;
    if (spec.body !== undefined) {
      headers.set("Content-Type", spec.contentType ?? "application/json");
      body = JSON.stringify(spec.body);
    }
    const response = await this.transport(new Request(url, { method: spec.method, headers, body, signal: spec.signal }));
    if (response.ok) return response;
    throw await errorOf(response);
  }

  async json<R>(spec: RequestSpec): Promise<R> {
    const response = await this.send(spec);
    return (await response.json()) as R;
  }

  /** A write to `resource`'s objects; `onWrite` hears of it once it is answered or failed. */
  async write<R>(resource: ResourceNames, spec: RequestSpec): Promise<R> {
    try {
      return await this.json<R>(spec);
    } finally {
      this.onWrite?.(resource);
    }
  }
}

/** The ApiError a failed answer carries: its Status when it has one, else one made from the HTTP code. */
async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as StatusObject & { kind?: string };
    if (body && body.kind === "Status") return ApiError.fromStatus(body, response.status);
  } catch {
    // not JSON: fall through
  }
  return ApiError.fromStatus({ message: text || response.statusText || `HTTP ${response.status}` }, response.status);
}

function writeQuery(options: WriteOptions | undefined): Query {
  return {
    dryRun: options?.dryRun ? "All" : undefined,
    fieldManager: options?.fieldManager,
    fieldValidation: options?.fieldValidation,
  };
}

function deleteBody(options: DeleteOptions | undefined): Record<string, unknown> | undefined {
  if (!options) return undefined;
  return {
    kind: "DeleteOptions", apiVersion: "v1",
    ...(options.preconditions ? { preconditions: options.preconditions } : {}),
    ...(options.propagationPolicy ? { propagationPolicy: options.propagationPolicy } : {}),
    ...(options.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: options.gracePeriodSeconds } : {}),
    ...(options.dryRun ? { dryRun: ["All"] } : {}),
  };
}

/** One resource's calls. Cluster-scoped resources ignore the namespace argument. */
export class ResourceClient<T extends KubeObject> {
  readonly apiVersion: string;
  readonly names: ResourceNames;
  protected readonly client: ApiClient;

  constructor(client: ApiClient, names: ResourceNames) {
    this.client = client;
    this.names = names;
    this.apiVersion = apiVersionOf(names);
  }

  /** The URL path of the collection (namespace undefined or "": every namespace) or of one object. */
  path(namespace: string | undefined, name?: string, subresource?: string): string {
    let path = this.names.group ? `/apis/${this.names.group}/${this.names.version}` : `/api/${this.names.version}`;
    if (this.names.namespaced && namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
    path += `/${this.names.resource}`;
    if (name !== undefined) path += `/${encodeURIComponent(name)}`;
    if (subresource) path += `/${subresource}`;
    return path;
  }

  get(namespace: string | undefined, name: string): Promise<T> {
    return this.client.json<T>({ method: "GET", path: this.path(namespace, name) });
  }

  /** One page; items get their apiVersion and kind, which list answers leave out. */
  async list(namespace: string | undefined, options: ListOptions = {}): Promise<ObjectList<T>> {
    const list = await this.client.json<ObjectList<T>>({ method: "GET", path: this.path(namespace), query: { ...options } });
    list.items = (list.items ?? []).map((item) => ({ apiVersion: this.apiVersion, kind: this.names.kind, ...item }));
    return list;
  }

  /** Every page, following `continue`; the answer's resourceVersion is the snapshot all pages were read at. */
  async listAll(namespace: string | undefined, options: Omit<ListOptions, "continue"> = {}): Promise<ObjectList<T>> {
    const items: T[] = [];
    let page: ObjectList<T> | undefined;
    let next: string | undefined;
    do {
      page = await this.list(namespace, { ...options, continue: next });
      items.push(...page.items);
      next = page.metadata?.continue || undefined;
    } while (next);
    return { apiVersion: page.apiVersion, kind: page.kind, metadata: { resourceVersion: page.metadata?.resourceVersion }, items };
  }

  /**
   * The watch stream as events; an ERROR event is thrown as its ApiError (410 Expired for a
   * compacted resourceVersion). Ends when the server ends the stream or `signal` aborts.
   */
  async *watch(namespace: string | undefined, options: WatchOptions = {}, signal?: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    if (signal?.aborted) return;
    const response = await this.client.send({ method: "GET", path: this.path(namespace), query: { watch: "true", ...options }, signal });
    if (!response.body) return;
    const reader = response.body.getReader();
    const stop = () => void reader.cancel().catch(() => {});
    signal?.addEventListener("abort", stop);
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (signal?.aborted) return;
          throw e;
        }
        if (chunk.done) break;
        buffered += decoder.decode(chunk.value, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) yield this.decodeEvent(line);
          if (signal?.aborted) return;
        }
      }
      const rest = (buffered + decoder.decode()).trim();
      if (rest) yield this.decodeEvent(rest);
    } finally {
      signal?.removeEventListener("abort", stop);
      stop();
    }
  }

  private decodeEvent(line: string): WatchEvent<T> {
    const event = JSON.parse(line) as { type: WatchEventType | "ERROR"; object: unknown };
    if (event.type === "ERROR") throw ApiError.fromStatus(event.object as StatusObject);
    return event as WatchEvent<T>;
  }

  create(namespace: string | undefined, object: T, options?: WriteOptions): Promise<T> {
    return this.client.write<T>(this.names, { method: "POST", path: this.path(namespace), query: writeQuery(options), body: this.typed(object) });
  }

  update(namespace: string | undefined, object: T, options?: WriteOptions): Promise<T> {
    return this.client.write<T>(this.names, { method: "PUT", path: this.path(namespace, this.nameOf(object)), query: writeQuery(options), body: this.typed(object) });
  }

  updateStatus(namespace: string | undefined, object: T, options?: WriteOptions): Promise<T> {
    return this.client.write<T>(this.names, { method: "PUT", path: this.path(namespace, this.nameOf(object), "status"), query: writeQuery(options), body: this.typed(object) });
  }

  /** `body` is the patch document: an object for merge/strategic/apply, a list of operations for json. */
  patch(namespace: string | undefined, name: string, body: unknown, type: PatchType, options: PatchOptions = {}): Promise<T> {
    return this.client.write<T>(this.names, {
      method: "PATCH", path: this.path(namespace, name, options.subresource),
      query: { ...writeQuery(options), force: options.force ? "true" : undefined },
      body, contentType: PATCH_MEDIA_TYPES[type],
    });
  }

  /** The deleted object (or, with a finalizer or grace period, the object as it is being deleted); some resources answer a Status. */
  delete(namespace: string | undefined, name: string, options?: DeleteOptions): Promise<T | Status> {
    return this.client.write<T | Status>(this.names, { method: "DELETE", path: this.path(namespace, name), body: deleteBody(options) });
  }

  deleteCollection(namespace: string | undefined, options: Pick<ListOptions, "labelSelector" | "fieldSelector"> & DeleteOptions = {}): Promise<ObjectList<T> | Status> {
    const { labelSelector, fieldSelector, ...rest } = options;
    return this.client.write<ObjectList<T> | Status>(this.names, {
      method: "DELETE", path: this.path(namespace), query: { labelSelector, fieldSelector }, body: deleteBody(rest),
    });
  }

  /** A subresource call: GET /scale, PUT /status, POST /binding, … */
  subresource<R>(
    namespace: string | undefined,
    name: string,
    subresource: string,
    request: { method?: "GET" | "PUT" | "POST"; body?: unknown; options?: WriteOptions } = {},
  ): Promise<R> {
    const spec = {
      method: request.method ?? "GET", path: this.path(namespace, name, subresource),
      query: request.method && request.method !== "GET" ? writeQuery(request.options) : undefined, body: request.body,
    };
    return spec.method === "GET" ? this.client.json<R>(spec) : this.client.write<R>(this.names, spec);
  }

  private typed(object: T): T {
    return { ...object, apiVersion: object.apiVersion ?? this.apiVersion, kind: object.kind ?? this.names.kind };
  }

  private nameOf(object: T): string {
    const name = object.metadata?.name;
    if (!name) throw new TypeError(`${this.names.kind} has no metadata.name to address it by`);
    return name;
  }
}

/** Pods also have the scheduler's binding and the eviction API. */
export class PodClient extends ResourceClient<Pod> {
  /** Binds the pod to `binding.target` (a Node), as the scheduler does. */
  bind(namespace: string, name: string, binding: Binding, options?: WriteOptions): Promise<Status> {
    return this.subresource<Status>(namespace, name, "binding", {
      method: "POST", options,
      body: { apiVersion: "v1", kind: "Binding", ...binding, metadata: { name, namespace, ...binding.metadata } },
    });
  }

  /** Evicts the pod through policy/v1 Eviction, which PodDisruptionBudgets may refuse (429). */
  evict(namespace: string, name: string, eviction: Partial<Eviction> = {}, options?: WriteOptions): Promise<Status> {
    return this.subresource<Status>(namespace, name, "eviction", {
      method: "POST", options,
      body: { apiVersion: "policy/v1", kind: "Eviction", ...eviction, metadata: { name, namespace, ...eviction.metadata } },
    });
  }
}

export const isNotFound = (e: unknown): e is ApiError => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown): e is ApiError => e instanceof ApiError && e.code === 409 && e.reason === "Conflict";
export const isAlreadyExists = (e: unknown): e is ApiError => e instanceof ApiError && e.code === 409 && e.reason === "AlreadyExists";
export const isGone = (e: unknown): e is ApiError => e instanceof ApiError && (e.code === 410 || e.reason === "Expired" || e.reason === "Gone");

/**
 * Runs `fn` again while it fails with a Conflict (someone else wrote the object between its read
 * and its write), at most `attempts` times in all; `fn` must read the object afresh each time.
 */
export async function retryOnConflict<R>(fn: () => Promise<R>, attempts = 5): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isConflict(e) || attempt >= attempts) throw e;
    }
  }
}

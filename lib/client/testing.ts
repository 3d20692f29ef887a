// Helpers for the client's workerd tests: a client on the Worker's own fetch (the real apiserver and
// store), a request log, fresh namespaces and a clock the test moves by hand.
import { exports } from "cloudflare:workers";
import { ApiClient, type Fetch } from "./api-client.ts";
import { builtin } from "../k8s/resources.ts";
import type { Namespace } from "kubernetes-types/core/v1";

export const workerFetch: Fetch = (request) => exports.default.fetch(request);

export function testClient(fetch: Fetch = workerFetch): ApiClient {
  return new ApiClient({ fetch, baseUrl: "https://edgeplane.test", token: "test-admin-token", userAgent: "edgeplane-client-test" });
}

/** A fetch that notes "METHOD path?watch" of every request before passing it on. */
export function loggingFetch(inner: Fetch = workerFetch): { fetch: Fetch; log: string[] } {
  const log: string[] = [];
  return {
    log,
    fetch: (request) => {
      const url = new URL(request.url);
      log.push(`${url.searchParams.get("watch") === "true" ? "WATCH" : request.method} ${url.pathname}`);
      return inner(request);
    },
  };
}

let namespaces = 0;
/** A new namespace with its default ServiceAccount. */
export async function freshNamespace(client: ApiClient, prefix = "client"): Promise<string> {
  const name = `${prefix}-${++namespaces}-${crypto.randomUUID().slice(0, 8)}`;
  await client.resource<Namespace>(builtin("v1", "namespaces")).create(undefined, { metadata: { name } });
  await createDefaultServiceAccount(name);
  return name;
}

/**
 * The namespace's "default" ServiceAccount, which pods need: the serviceaccount controller makes
 * it, and the controller manager does not run in the workerd tests.
 */
export async function createDefaultServiceAccount(namespace: string): Promise<void> {
  const res = await rawApi("POST", `/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name: "default" } });
  if (res.status !== 201 && res.status !== 409) throw new Error(`creating ${namespace}/default: ${res.status} ${res.text}`);
}

/**
 * A fetch whose watch answers end after `lines` lines each (a connection dropped mid-stream), and
 * which counts the watch bodies still open (neither read to the end nor cancelled).
 */
export function droppingFetch(inner: Fetch = workerFetch, lines = Infinity): { fetch: Fetch; watches: () => number; open: () => number } {
  let watches = 0;
  let open = 0;
  const fetch: Fetch = async (request) => {
    const response = await inner(request);
    if (new URL(request.url).searchParams.get("watch") !== "true" || !response.body) return response;
    watches++;
    open++;
    const reader = response.body.getReader();
    let seen = 0;
    let closed = false;
    const finish = () => {
      if (!closed) open--;
      closed = true;
    };
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) {
          finish();
          return controller.close();
        }
        for (let i = 0; i < value.length; i++) {
          if (value[i] === 10 && ++seen >= lines) {
            controller.enqueue(value.slice(0, i + 1));
            controller.close();
            finish();
            await reader.cancel();
            return;
          }
        }
        controller.enqueue(value);
      },
      async cancel() {
        finish();
        await reader.cancel();
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch, watches: () => watches, open: () => open };
}

/** Compacts the main store shard's history up to `revision`, through the admin etcd gateway. */
export async function compactStore(revision: string): Promise<void> {
  const res = await exports.default.fetch("https://edgeplane.test/etcd/v3/kv/compaction", {
    method: "POST", headers: { Authorization: "Bearer test-admin-token" }, body: JSON.stringify({ revision }),
  });
  if (!res.ok) throw new Error(`compaction answered ${res.status}: ${await res.text()}`);
}

/** A clock for code that takes `now: () => number`: it moves only when the test says so. */
export function manualClock(start = Date.UTC(2026, 0, 1)): { now: () => number; advance: (ms: number) => void; set: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (ms) => void (t = ms) };
}

/** What a raw request through the Worker answered: status, headers, text, and the body parsed when it is JSON. */
export interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

/**
 * One request to the real Worker as a client would send it, for tests of the HTTP surface itself
 * (status codes, headers, Status bodies): the admin's token unless another is given, JSON unless
 * the body is bytes or a string with its own content type.
 */
export async function rawApi(
  method: string, path: string, body?: unknown,
  { token = "test-admin-token", contentType = "application/json", headers = {} }: { token?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<RawAnswer> {
  const payload = body === undefined ? undefined : typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
  const res = await exports.default.fetch(`https://edgeplane.test${path}`, {
    method, headers: { Authorization: `Bearer ${token}`, "Content-Type": contentType, ...headers }, body: payload,
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** A bootstrap token (`<id>.<secret>`) stored as kubeadm stores one, allowed to authenticate; `extra` adds data keys (usages, expiration). */
export async function storeBootstrapToken(extra: Record<string, string> = {}): Promise<string> {
  const id = crypto.randomUUID().replace(/-/g, "").slice(0, 6);
  const secret = crypto.randomUUID().replace(/-/g, "").slice(0, 16);
  const data = { "token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true", ...extra };
  const created = await rawApi("POST", "/api/v1/namespaces/kube-system/secrets", {
    metadata: { name: `bootstrap-token-${id}` }, type: "bootstrap.kubernetes.io/token", data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, btoa(v)])),
  });
  if (created.status !== 201) throw new Error(`storing a bootstrap token answered ${created.status}: ${created.text}`);
  return `${id}.${secret}`;
}

/** A node's own credential, obtained as its agent does at join: a TokenRequest for nodes/<node>/token made with a bootstrap token. */
export async function nodeCredential(node: string): Promise<string> {
  const token = await storeBootstrapToken();
  const issued = await rawApi("POST", `/api/v1/nodes/${node}/token`, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} }, { token });
  if (issued.status !== 201) throw new Error(`the node token request answered ${issued.status}: ${issued.text}`);
  return issued.body.status.token;
}

// The edge's load balancer: an HTTP(S) request for an exposed LoadBalancer Service (by its hostname
// or /lb/<ns>/<svc>/ prefix) is relayed, with no cluster credential, to one of the Service's ready
// endpoints through the tunnel of the node that runs it; that node's agent forwards it to the pod.
// Trust: only a node's own credential opens its tunnel (worker/tunnel/node-tunnel.ts), so only the
// cluster's own nodes can answer, and the agent serves only its own pods' addresses.
import type { Service } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import { REPLY_HEADER, STREAM_HEADER } from "../../lib/tunnel/streams.ts";
import { isExposed, type EdgeTarget } from "../../durable-objects/controllers/service-lb-names.ts";
import { HOP_BY_HOP, readResponseHead, type HttpProxyStreamHeader } from "../../lib/tunnel/http-proxy.ts";
import type { StreamReply } from "../../lib/tunnel/mux.ts";
import { builtinStore } from "../registry/builtins.ts";
import { ObjectStorage } from "../storage/object-storage.ts";

const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
/** Statuses whose responses have no body (RFC 9110). */
const NO_BODY = new Set([101, 204, 205, 304]);

interface Backend {
  node: string;
  pod: string;
  uid: string;
  address: string;
  port: number;
}

function answer(status: number, message: string): Response {
  return new Response(`${message}\n`, { status, headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" } });
}

/** The ready endpoints of the Service's first port, with the nodes that run them. */
export function readyBackends(service: Service, slices: EndpointSlice[]): Backend[] {
  const servicePort = service.spec?.ports?.[0];
  if (!servicePort) return [];
  const backends: Backend[] = [];
  for (const slice of slices) {
    if (slice.addressType !== "IPv4" && slice.addressType !== "IPv6") continue;
    const port = slice.ports?.find((p) => (p.name ?? "") === (servicePort.name ?? "") && (p.protocol ?? "TCP") === (servicePort.protocol ?? "TCP"))?.port;
    if (!port) continue;
    for (const endpoint of slice.endpoints ?? []) {
      // An unset ready condition means ready (discovery/v1).
      if (endpoint.conditions?.ready === false || !endpoint.nodeName || !endpoint.addresses[0] || endpoint.targetRef?.kind !== "Pod") continue;
      backends.push({ node: endpoint.nodeName, pod: endpoint.targetRef.name!, uid: endpoint.targetRef.uid ?? "", address: endpoint.addresses[0], port });
    }
  }
  return backends;
}

/** The request's headers as the backend gets them: hop-by-hop ones dropped, Host kept, X-Forwarded-* added. */
export function forwardedHeaders(request: Request, target: EdgeTarget): [string, string][] {
  const url = new URL(request.url);
  const headers: [string, string][] = [];
  let forwardedFor: string | undefined;
  for (const [name, value] of request.headers) {
    if (HOP_BY_HOP.has(name) || name.startsWith("cf-") || name === "x-forwarded-proto" || name === "x-forwarded-host" || name === "x-forwarded-prefix") continue;
    if (name === "x-forwarded-for") forwardedFor = value;
    else headers.push([name, value]);
  }
  const host = request.headers.get("host") ?? url.host;
  if (!request.headers.has("host")) headers.unshift(["host", host]);
  const client = request.headers.get("cf-connecting-ip");
  const chain = [forwardedFor, client].filter(Boolean).join(", ");
  if (chain) headers.push(["x-forwarded-for", chain]);
  headers.push(["x-forwarded-proto", url.protocol.replace(/:$/, "")], ["x-forwarded-host", host]);
  if (target.prefix) headers.push(["x-forwarded-prefix", target.prefix]);
  return headers;
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

export async function relayToService(request: Request, env: Env, target: EdgeTarget): Promise<Response> {
  const { namespace, name } = target;
  const what = `service "${namespace}/${name}"`;
  const storage = new ObjectStorage(env);
  // The Service and its EndpointSlices are read at once: one store round trip on the request's path, not two.
  const [service, list] = await Promise.all([
    builtinStore(storage, "v1", "services").find(namespace, name) as Promise<Service | undefined>,
    builtinStore(storage, "discovery.k8s.io/v1", "endpointslices").list(namespace, { labelSelector: `${SERVICE_NAME_LABEL}=${name}` }),
  ]);
  // The same answer for a Service that does not exist and one not exposed: the edge tells strangers nothing more.
  if (!service || !isExposed(service)) return answer(404, `no load balancer for ${what}: no such Service is exposed at the edge`);
  if (request.headers.get("upgrade")) return answer(501, `upgrading the connection (${request.headers.get("upgrade")}) is not relayed to ${what}: only HTTP requests are`);
  const backends = readyBackends(service, (list as unknown as { items: EndpointSlice[] }).items);
  if (!backends.length) return answer(503, `${what} has no ready endpoints`);
  const headers = forwardedHeaders(request, target);
  const hasBody = request.body !== null;
  const unreachable = new Set<string>();
  let lastFailure = "";
  let lastFailureStatus = 503;
  for (const backend of shuffled(backends)) {
    if (unreachable.has(backend.node)) continue;
    const header: HttpProxyStreamHeader = {
      type: "http-proxy", namespace, pod: backend.pod, uid: backend.uid, address: backend.address, port: backend.port,
      method: request.method, path: target.path, headers,
    };
    const tunnel = env.NODE_TUNNEL.get(env.NODE_TUNNEL.idFromName(`${env.CLUSTER_NAME}/${backend.node}`));
    const response = await tunnel.fetch("https://tunnel/stream", { method: "POST", headers: { [STREAM_HEADER]: JSON.stringify(header) }, body: request.body });
    if (!response.headers.has(REPLY_HEADER)) {
      // The node is not connected: the body was not read, another node may serve.
      unreachable.add(backend.node);
      lastFailure = `node "${backend.node}" is not connected`;
      lastFailureStatus = 503;
      await response.body?.cancel();
      continue;
    }
    const reply = JSON.parse(response.headers.get(REPLY_HEADER)!) as StreamReply;
    if (reply.status >= 300) {
      lastFailure = `node "${backend.node}": ${reply.message ?? `status ${reply.status}`}`;
      lastFailureStatus = 502;
      // A request body has started to flow to the refusing node: it cannot be sent again.
      if (hasBody) return answer(502, `${what}: ${lastFailure}`);
      continue;
    }
    const { head, body } = await readResponseHead(response.body!);
    const out = new Headers();
    for (const [k, v] of head.headers) if (!HOP_BY_HOP.has(k.toLowerCase())) out.append(k, v);
    const empty = NO_BODY.has(head.status) || request.method === "HEAD";
    if (empty) await body.cancel();
    // The backend's body is already encoded as its Content-Encoding says: workerd must not encode it again.
    return new Response(empty ? null : body, { status: head.status, statusText: head.statusText, headers: out, encodeBody: "manual" });
  }
  // The last node tried was away (503), or answered that it could not reach its pod (502).
  return answer(lastFailureStatus, `${what}: no node with a ready endpoint could serve the request (${lastFailure})`);
}

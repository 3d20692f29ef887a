// The edge load balancer in workerd: an exposed Service is reached without a credential by its
// /lb/<ns>/<svc>/ prefix and by its hostname, relayed through the tunnel of the node running a
// ready endpoint (the test plays the agent's end over a real WebSocket) with the request's method,
// path, body and headers (Host, X-Forwarded-*), and the backend's own status, headers and body come
// back; a Service not exposed is 404, one without ready endpoints or connected nodes 503.
import { exports } from "cloudflare:workers";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import { describe, expect, it } from "vitest";
import { freshNamespace, rawApi, testClient, nodeCredential } from "../../lib/client/testing.ts";
import { encodeResponseHead, type HttpProxyStreamHeader } from "../../lib/tunnel/http-proxy.ts";
import { TunnelMux, type TunnelStream } from "../../lib/tunnel/mux.ts";
import { EXPOSE_ANNOTATION } from "../../durable-objects/controllers/service-lb-names.ts";

const client = testClient();
const edge = (url: string, init?: RequestInit) => exports.default.fetch(url, init);

/** Connects as the node's agent and serves every stream with `serve`. */
async function connectAgent(node: string, serve: (stream: TunnelStream) => Promise<void>): Promise<WebSocket> {
  const token = await nodeCredential(node);
  const connected = await exports.default.fetch(`https://edgeplane.test/api/v1/nodes/${node}/tunnel`, { headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` } });
  expect(connected.status).toBe(101);
  const socket = connected.webSocket!;
  socket.accept();
  const mux = new TunnelMux({ ids: "even", send: (frame) => socket.send(frame), onOpen: (stream) => void serve(stream) });
  let delivered = Promise.resolve();
  socket.addEventListener("message", (event) => {
    const data = event.data as string | ArrayBuffer | Blob;
    if (typeof data === "string") return;
    delivered = delivered.then(async () => mux.receive(new Uint8Array(data instanceof Blob ? await data.arrayBuffer() : data)));
  });
  return socket;
}

async function exposedService(ns: string, annotations: Record<string, string> = { [EXPOSE_ANNOTATION]: "true" }): Promise<void> {
  expect((await rawApi("POST", `/api/v1/namespaces/${ns}/services`, {
    metadata: { name: "web", annotations }, spec: { type: "LoadBalancer", selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
  })).status).toBe(201);
}

async function endpointSlice(ns: string, endpoints: { node: string; ip: string; ready: boolean }[]): Promise<void> {
  const slice: EndpointSlice = {
    metadata: { name: `web-${crypto.randomUUID().slice(0, 5)}`, labels: { "kubernetes.io/service-name": "web" } },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: endpoints.map((e, i) => ({ addresses: [e.ip], conditions: { ready: e.ready }, nodeName: e.node, targetRef: { kind: "Pod", namespace: ns, name: `web-${i}`, uid: `uid-${i}` } })),
  };
  expect((await rawApi("POST", `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, slice)).status).toBe(201);
}

describe("the edge load balancer", () => {
  it("answers 404 for a Service that is not exposed or does not exist, and leaves the apiserver's paths to it", async () => {
    const ns = await freshNamespace(client, "lbr");
    await exposedService(ns, {});
    for (const url of [`https://edgeplane.test/lb/${ns}/web/`, `https://edgeplane.test/lb/${ns}/nothing/`, `https://web.${ns}.lb.localhost/`]) {
      const answer = await edge(url);
      expect(answer.status).toBe(404);
      expect(await answer.text()).toMatch(/^no load balancer for service ".+": no such Service is exposed at the edge\n$/);
    }
    expect((await edge("https://edgeplane.test/api/v1/namespaces")).status).toBe(401);
  });

  it("answers 503 without ready endpoints, and when no node with one is connected", async () => {
    const ns = await freshNamespace(client, "lbr");
    await exposedService(ns);
    const none = await edge(`https://edgeplane.test/lb/${ns}/web/`);
    expect(none.status).toBe(503);
    expect(await none.text()).toBe(`service "${ns}/web" has no ready endpoints\n`);
    const node = `lbn-${crypto.randomUUID().slice(0, 6)}`;
    await endpointSlice(ns, [{ node, ip: "10.244.9.5", ready: true }, { node: "elsewhere", ip: "10.244.8.5", ready: false }]);
    const away = await edge(`https://edgeplane.test/lb/${ns}/web/`);
    expect(away.status).toBe(503);
    expect(await away.text()).toBe(`service "${ns}/web": no node with a ready endpoint could serve the request (node "${node}" is not connected)\n`);
  });

  it("relays a request to a ready endpoint through its node's tunnel, and the backend's answer back", async () => {
    const ns = await freshNamespace(client, "lbr");
    await exposedService(ns);
    const node = `lbn-${crypto.randomUUID().slice(0, 6)}`;
    await endpointSlice(ns, [{ node, ip: "10.244.9.7", ready: true }, { node: "not-ready-node", ip: "10.244.8.7", ready: false }]);
    const seen: { header: HttpProxyStreamHeader; body: string }[] = [];
    const socket = await connectAgent(node, async (stream) => {
      const chunks: Uint8Array[] = [];
      for await (const chunk of stream.readable) chunks.push(chunk);
      const body = new TextDecoder().decode(await new Blob(chunks).arrayBuffer());
      seen.push({ header: stream.header as HttpProxyStreamHeader, body });
      stream.respond({ status: 200 });
      await stream.write(encodeResponseHead({ status: 404, headers: [["Content-Type", "text/plain"], ["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"], ["Connection", "close"]] }));
      await stream.write(new TextEncoder().encode(`not here: ${body}`));
      stream.end();
    });
    try {
      const byPrefix = await edge(`https://edgeplane.test/lb/${ns}/web/some/path?q=1`, { method: "POST", body: "payload", headers: { "X-Forwarded-For": "192.0.2.1", "CF-Connecting-IP": "198.51.100.7" } });
      expect(byPrefix.status).toBe(404);
      expect(await byPrefix.text()).toBe("not here: payload");
      expect(byPrefix.headers.get("Set-Cookie")).toBe("a=1, b=2");
      expect(byPrefix.headers.get("Connection")).toBeNull();
      expect(seen[0]!.header).toMatchObject({ type: "http-proxy", namespace: ns, pod: "web-0", uid: "uid-0", address: "10.244.9.7", port: 8080, method: "POST", path: "/some/path?q=1" });
      const headers = new Map(seen[0]!.header.headers);
      expect(headers.get("host")).toBe("edgeplane.test");
      expect(headers.get("x-forwarded-for")).toBe("192.0.2.1, 198.51.100.7");
      expect(headers.get("x-forwarded-proto")).toBe("https");
      expect(headers.get("x-forwarded-prefix")).toBe(`/lb/${ns}/web`);
      expect(headers.has("cf-connecting-ip")).toBe(false);

      const byHost = await edge(`https://web.${ns}.lb.localhost/`);
      expect(byHost.status).toBe(404);
      expect(await byHost.text()).toBe("not here: ");
      expect(seen[1]!.header).toMatchObject({ method: "GET", path: "/" });
      expect(new Map(seen[1]!.header.headers).get("host")).toBe(`web.${ns}.lb.localhost`);
    } finally {
      socket.close();
    }
  });

  it("answers 502 with the node's words when the agent cannot reach the pod", async () => {
    const ns = await freshNamespace(client, "lbr");
    await exposedService(ns);
    const node = `lbn-${crypto.randomUUID().slice(0, 6)}`;
    await endpointSlice(ns, [{ node, ip: "10.244.9.9", ready: true }]);
    const socket = await connectAgent(node, async (stream) => {
      stream.respond({ status: 502, message: `pod "${ns}/web-0" at 10.244.9.9:8080: connect ECONNREFUSED 10.244.9.9:8080` });
      stream.end();
    });
    try {
      const answer = await edge(`https://edgeplane.test/lb/${ns}/web/`, { method: "PUT", body: "x" });
      expect(answer.status).toBe(502);
      expect(await answer.text()).toBe(`service "${ns}/web": node "${node}": pod "${ns}/web-0" at 10.244.9.9:8080: connect ECONNREFUSED 10.244.9.9:8080\n`);
    } finally {
      socket.close();
    }
  });
});

// The agent's end of http-proxy streams, against a real HTTP server on this host playing the pod
// (its address 127.0.0.1, which the runtime reports as the pod's): the request's method, path,
// headers and body reach it; its status, headers (repeated ones kept) and body come back after the
// head record, streamed; an address that is not one of this node's pods, or a pod that refuses the
// connection or answers malformed HTTP, is refused with the words the edge relays.
import { once } from "node:events";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readResponseHead, type HttpProxyStreamHeader } from "../../lib/tunnel/http-proxy.ts";
import { TunnelMux } from "../../lib/tunnel/mux.ts";
import type { PodObservation, Runtime } from "../runtime/runtime.ts";
import { serveHttpProxyStream } from "./http-proxy.ts";

/** What the proxy asks of the runtime: the pod's addresses (the cri runtime's own answer needs containerd). */
const runtime = {
  observe: async (uid: string): Promise<PodObservation | undefined> =>
    uid === "pod-uid" ? { uid, sandboxReady: true, podIPs: ["127.0.0.1"], initContainers: [], containers: [] } : undefined,
} as unknown as Runtime;

function pair(): TunnelMux {
  const toAgent = (): TunnelMux => agent;
  const opener: TunnelMux = new TunnelMux({ ids: "odd", send: (frame) => queueMicrotask(() => toAgent().receive(frame)) });
  const agent: TunnelMux = new TunnelMux({ ids: "even", send: (frame) => queueMicrotask(() => opener.receive(frame)), onOpen: (stream) => void serveHttpProxyStream(stream, runtime) });
  return opener;
}

let server: Server;
let port = 0;
const seen: { method?: string; url?: string; headers: IncomingMessage["rawHeaders"]; body: string }[] = [];

beforeAll(async () => {
  server = createHttpServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    seen.push({ method: req.method, url: req.url, headers: req.rawHeaders, body });
    res.writeHead(req.url === "/missing" ? 404 : 200, [["Content-Type", "text/plain"], ["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]]);
    // Written in two parts: the answer streams.
    res.write(`${req.method} ${req.url} `);
    res.end(body.toUpperCase());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function header(overrides: Partial<HttpProxyStreamHeader> = {}): HttpProxyStreamHeader {
  return {
    type: "http-proxy", namespace: "default", pod: "web-0", uid: "pod-uid", address: "127.0.0.1", port, method: "GET", path: "/",
    headers: [["host", "web.default.lb.example.com"], ["x-forwarded-proto", "https"], ["keep-alive", "timeout=99"], ["proxy-authorization", "Basic c2VjcmV0"]], ...overrides,
  };
}

describe("http-proxy streams on the agent", () => {
  it("relays the request to the pod and its answer back, head first", async () => {
    const stream = pair().open(header({ method: "POST", path: "/orders?id=7" }));
    await stream.write(new TextEncoder().encode("one "));
    await stream.write(new TextEncoder().encode("order"));
    stream.end();
    expect(await stream.reply).toEqual({ status: 200 });
    const { head, body } = await readResponseHead(stream.readable);
    expect(head.status).toBe(200);
    expect(head.headers.filter(([name]) => name === "Set-Cookie")).toEqual([["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]]);
    expect(await new Response(body).text()).toBe("POST /orders?id=7 ONE ORDER");
    const request = seen.at(-1)!;
    expect(request.body).toBe("one order");
    expect(request.headers).toContain("web.default.lb.example.com");
    expect(request.headers).toContain("https");
    // Hop-by-hop headers are the proxy's own business.
    expect(request.headers).not.toContain("timeout=99");
    expect(request.headers).not.toContain("Basic c2VjcmV0");
  });

  it("relays the pod's own error status as an answer", async () => {
    const stream = pair().open(header({ path: "/missing" }));
    stream.end();
    const { head, body } = await readResponseHead(stream.readable);
    expect(head.status).toBe(404);
    expect(await new Response(body).text()).toBe("GET /missing ");
  });

  it("refuses an address that is not one of this node's pods", async () => {
    for (const h of [header({ address: "10.0.0.9" }), header({ uid: "another-uid" })]) {
      const stream = pair().open(h);
      stream.end();
      expect(await stream.reply).toEqual({ status: 404, message: `pod "default/web-0" with address ${h.address} does not run on this node` });
    }
  });

  it("refuses with 502 and the reason when the pod cannot be reached or answers malformed HTTP", async () => {
    const closed = createTcpServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const closedPort = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, "close");
    const refused = pair().open(header({ port: closedPort }));
    refused.end();
    expect(await refused.reply).toEqual({ status: 502, message: `pod "default/web-0" at 127.0.0.1:${closedPort}: connect ECONNREFUSED 127.0.0.1:${closedPort}` });

    // Header lines ending in a bare LF (as a CGI script's echo writes them).
    const sloppy = createTcpServer((socket) => socket.end("HTTP/1.0 200 OK\nContent-Type: text/plain\n\nhi"));
    sloppy.listen(0, "127.0.0.1");
    await once(sloppy, "listening");
    const sloppyPort = (sloppy.address() as AddressInfo).port;
    try {
      const malformed = pair().open(header({ port: sloppyPort }));
      malformed.end();
      const reply = await malformed.reply;
      expect(reply.status).toBe(502);
      expect(reply.message).toMatch(new RegExp(`^pod "default/web-0" at 127\\.0\\.0\\.1:${sloppyPort}: Parse Error`));
    } finally {
      sloppy.close();
    }
  });
});

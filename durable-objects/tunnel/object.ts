// One node's tunnel: the Durable Object (one per `<cluster>/<node>`) that holds the node agent's
// single outbound WebSocket, accepted with the hibernation API so an idle tunnel costs nothing,
// and opens streams to the agent over it for the apiserver (logs, nodes/proxy; exec, attach and port-forward over
// a WebSocket of their own, as both directions flow at once). Only the apiserver
// reaches this object, after its own authentication and authorization; the agent cannot open
// streams here (the multiplexer refuses them).
import { DurableObject } from "cloudflare:workers";
import { TunnelMux, type StreamHeader, type StreamReply, type TunnelStream } from "../../lib/tunnel/mux.ts";
import { END_OF_INPUT, REPLY_HEADER, STREAM_HEADER } from "../../lib/tunnel/streams.ts";

/** What the agent sends to check the tunnel is alive; answered without waking this object. */
export const PING = "ping";
export const PONG = "pong";

/**
 * Streams whose answer is bulk bytes read as fast as the client takes them (a followed log, a
 * relayed HTTP answer): their window (what the agent may send ahead of what was read) is 1 MiB
 * instead of 256 KiB, as their rate is the window divided by the agent → object round trip.
 */
const BULK_TYPES = new Set(["log", "http-proxy"]);
const BULK_WINDOW = 1024 * 1024;

export class NodeTunnel extends DurableObject<Env> {
  /** The multiplexer over the current socket; rebuilt after hibernation, when no stream is open. */
  private mux: TunnelMux | undefined;
  private muxSocket: WebSocket | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  override async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/connect") return this.acceptAgent(request);
    if (path === "/stream" && request.headers.get("Upgrade")?.toLowerCase() === "websocket") return this.socketStream(request);
    if (path === "/stream") return this.stream(request);
    return new Response("not found", { status: 404 });
  }

  /** The agent's WebSocket: the newest connection wins, an older one is closed. */
  private acceptAgent(request: Request): Response {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    for (const old of this.ctx.getWebSockets()) old.close(1012, "replaced by a newer connection");
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * Opens a stream to the agent: 503 when it is not connected; else the agent's reply as the
   * status (and REPLY_HEADER), with the stream's bytes as the body. The request's body, if any,
   * is written to the stream.
   */
  private async stream(request: Request): Promise<Response> {
    const opened = await this.open(request, { bulk: true, body: request.body });
    if (opened instanceof Response) return opened;
    return new Response(opened.stream.readable, { status: opened.status, headers: opened.headers });
  }

  /**
   * Opens a stream to the node as the request's header asks and waits for the node's reply: the
   * stream, or the answer to give when the node is not connected, ended the stream or refused it.
   * `bulk` gives bulk stream types their larger window; `body` is sent on the stream as it comes.
   */
  private async open(request: Request, options: { bulk?: boolean; body?: ReadableStream<Uint8Array> | null } = {}):
    Promise<Response | { stream: TunnelStream; status: number; headers: Record<string, string> }> {
    const mux = this.currentMux();
    if (!mux) return new Response("not connected", { status: 503 });
    const header = JSON.parse(request.headers.get(STREAM_HEADER) ?? "{}") as StreamHeader;
    const stream = mux.open(header, { window: options.bulk && BULK_TYPES.has(header.type) ? BULK_WINDOW : undefined });
    if (options.body !== undefined) void this.pump(options.body, stream);
    let reply: StreamReply;
    try {
      reply = await stream.reply;
    } catch (e) {
      return new Response(`the node ended the stream: ${(e as Error).message}`, { status: 503 });
    }
    const headers = { [REPLY_HEADER]: JSON.stringify(reply) };
    if (reply.status >= 300) {
      stream.reset("refused");
      return new Response(null, { status: reply.status, headers });
    }
    return { stream, status: reply.status, headers };
  }

  /**
   * Opens a stream whose two directions flow at once (exec, attach, port-forward): the same answer
   * as /stream, but a 200 reply upgrades to a WebSocket carrying the stream's bytes both ways, a
   * message per chunk, and END_OF_INPUT when the apiserver's side is done. The stream's end closes
   * it with 1000, a reset with 1011 and the reason; its close resets the stream.
   */
  private async socketStream(request: Request): Promise<Response> {
    const opened = await this.open(request);
    if (opened instanceof Response) return opened;
    const { stream, headers } = opened;
    const { 0: apiserver, 1: socket } = new WebSocketPair();
    socket.accept();
    socket.binaryType = "arraybuffer";
    let written = Promise.resolve();
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") {
        if (event.data === END_OF_INPUT) written = written.then(() => stream.end());
        return;
      }
      const chunk = new Uint8Array(event.data);
      written = written.then(() => stream.write(chunk)).catch(() => {});
    });
    socket.addEventListener("close", () => stream.reset("the apiserver closed the stream"));
    void (async () => {
      try {
        for await (const chunk of stream.readable) socket.send(chunk);
        socket.close(1000, "");
      } catch (e) {
        socket.close(1011, (e as Error).message.slice(0, 120));
      }
    })();
    return new Response(null, { status: 101, webSocket: apiserver, headers });
  }

  private async pump(body: ReadableStream<Uint8Array> | null, stream: TunnelStream): Promise<void> {
    try {
      if (body) for await (const chunk of body) await stream.write(chunk);
      stream.end();
    } catch {
      // The stream was reset: its reader learns why.
    }
  }

  /** The multiplexer of the open socket (the newest; a replaced one is closing), made on first use after a wake. */
  private currentMux(): TunnelMux | undefined {
    const socket = this.ctx.getWebSockets().filter((s) => s.readyState === WebSocket.OPEN).at(-1);
    if (!socket) return undefined;
    if (this.muxSocket !== socket) {
      this.mux?.close("the node reconnected");
      this.mux = new TunnelMux({ ids: "odd", send: (frame) => socket.send(frame) });
      this.muxSocket = socket;
    }
    return this.mux;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message === "string") return;
    const mux = this.currentMux();
    if (ws === this.muxSocket) mux?.receive(new Uint8Array(message));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.disconnected(ws, `the node's tunnel closed (${code})`);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.disconnected(ws, "the node's tunnel failed");
  }

  private disconnected(ws: WebSocket, reason: string): void {
    try {
      ws.close(1011, reason);
    } catch {
      // Already closed.
    }
    if (ws !== this.muxSocket) return;
    this.mux?.close(reason);
    this.mux = undefined;
    this.muxSocket = undefined;
  }
}

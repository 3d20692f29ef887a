// pods/portforward: kube-apiserver's PortForwardREST, relayed to the pod's node through its tunnel
// instead of proxied to the kubelet. kubectl 1.31+ opens a WebSocket with the subprotocol
// "SPDY/3.1+portforward.k8s.io" and speaks SPDY inside it (KEP-4006): for each connection it
// accepts locally it opens an error stream and a data stream with the same requestID and the
// pod's port. Each such pair becomes one stream to the node (a WebSocket to the tunnel object),
// whose agent connects to the pod's port: the data stream carries the connection's bytes, the error
// stream the kubelet's words when the port cannot be reached or the node goes away mid-stream.
// kubectl 1.30 and older speak SPDY itself, which Workers cannot accept: they get a Status naming
// the kubectl that works. Client libraries' WebSocket port-forward (v4.channel.k8s.io, `ports` in
// the query, a data and an error channel per port) is served too.
import type { Pod } from "kubernetes-types/core/v1";
import type { Context } from "hono";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";
import { headerValue, RST, SpdyReader, SpdyWriter, type SpdyFrame } from "../../lib/tunnel/spdy.ts";
import type { PortForwardStreamHeader } from "../../lib/tunnel/streams.ts";
import { END_OF_INPUT } from "../../lib/tunnel/streams.ts";
import { authorizeRequest } from "../authz/authorizer.ts";
import type { AppEnv } from "../context.ts";
import type { RegistryStore } from "../registry/store.ts";
import { openNodeSocket, openNodeStream } from "./node-tunnel.ts";

/** The WebSocket subprotocol kubectl 1.31+ asks for: SPDY tunneled in the WebSocket's messages. */
export const PORT_FORWARD_TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io";
/** The kubelet's own WebSocket port-forward (client libraries): a data and an error channel per `ports` entry. */
export const PORT_FORWARD_CHANNEL_PROTOCOL = "v4.channel.k8s.io";

interface StreamRequest {
  c: Context<AppEnv>;
  target: { namespace?: string; name: string };
  store: RegistryStore;
}

/** GET (WebSocket) or POST (SPDY) pods/{name}/portforward. */
export async function servePodPortForward({ c, target, store }: StreamRequest): Promise<Response> {
  const upgrade = (c.req.header("Upgrade") ?? "").toLowerCase();
  const spdy = upgrade.startsWith("spdy/");
  if (!spdy && upgrade !== "websocket") throw apiErrors.badRequest("Upgrade request required");
  const offered = (c.req.header("Sec-WebSocket-Protocol") ?? "").split(",").map((p) => p.trim());
  const protocol = spdy ? undefined : [PORT_FORWARD_TUNNEL_PROTOCOL, PORT_FORWARD_CHANNEL_PROTOCOL].find((p) => offered.includes(p));
  if (!spdy && !protocol) throw apiErrors.badRequest(`none of the offered subprotocols [${offered.join(" ")}] is spoken here: ${PORT_FORWARD_TUNNEL_PROTOCOL}, ${PORT_FORWARD_CHANNEL_PROTOCOL}`);
  const ports = protocol === PORT_FORWARD_CHANNEL_PROTOCOL ? channelPorts(c.req.queries("ports") ?? []) : [];
  // A WebSocket upgrade is a GET; kube authorizes it as the create it is.
  if (c.req.method === "GET") await authorizeRequest(c.env, "POST", new URL(c.req.url), c.get("user"));
  const pod = (await store.get(target.namespace, target.name)) as Pod;
  const node = pod.spec?.nodeName;
  if (!node) throw apiErrors.badRequest(`pod ${target.name} does not have a host assigned`);
  const { namespace, name, uid } = pod.metadata!;
  const header: PortForwardStreamHeader = { type: "portforward", namespace: namespace!, pod: name!, uid: uid!, port: 0 };
  // The node must be there and hold the pod: a kubectl falling back from WebSocket to SPDY must see that reason first.
  await (await openNodeStream(c.env, node, { ...header, check: true })).body.cancel();
  if (spdy) throw new ApiError(400, "BadRequest", `port-forward needs kubectl 1.31 or newer: this server speaks only WebSocket (${PORT_FORWARD_TUNNEL_PROTOCOL}), not SPDY; kubectl 1.30 speaks it with KUBECTL_PORT_FORWARD_WEBSOCKETS=true`);
  if (protocol === PORT_FORWARD_CHANNEL_PROTOCOL) return channelPortForward(c.env, node, header, ports);
  return new PortForwardSession(c.env, node, header).accept();
}

/** The `ports` query of the channel protocol, checked as the kubelet checks it. */
function channelPorts(values: string[]): number[] {
  if (values.length === 0) throw apiErrors.badRequest('query parameter "port" is required');
  return values.flatMap((value) => {
    if (value === "") throw apiErrors.badRequest('query parameter "port" cannot be empty');
    return value.split(",").map((p) => {
      if (!/^\d+$/.test(p) || Number(p) > 65535) throw apiErrors.badRequest(`unable to parse "${value}" as a port`);
      if (Number(p) < 1) throw apiErrors.badRequest(`port "${value}" must be > 0`);
      return Number(p);
    });
  });
}

/**
 * The channel protocol (v4.channel.k8s.io, as the kubelet serves it to client libraries): port i's
 * data on channel 2i, its error on 2i+1, each first carrying the port (uint16, little-endian); one
 * connection per port, all ending with the WebSocket.
 */
function channelPortForward(env: Env, nodeName: string, header: PortForwardStreamHeader, ports: number[]): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  server.binaryType = "arraybuffer";
  let closed = false;
  const send = (channel: number, bytes: Uint8Array) => {
    if (closed) return;
    const message = new Uint8Array(1 + bytes.byteLength);
    message[0] = channel;
    message.set(bytes, 1);
    server.send(message);
  };
  const nodes: (WebSocket | undefined)[] = [];
  const pending: Uint8Array[][] = ports.map(() => []);
  let open = ports.length;
  const portDone = () => {
    if (--open === 0) closeAll();
  };
  const closeAll = () => {
    if (closed) return;
    closed = true;
    for (const node of nodes) {
      try {
        node?.close(1000, "");
      } catch {
        // Already closed.
      }
    }
    try {
      server.close(1000, "");
    } catch {
      // Already closed.
    }
  };
  ports.forEach((port, i) => {
    for (const channel of [2 * i, 2 * i + 1]) send(channel, Uint8Array.of(port & 0xff, port >> 8));
    void (async () => {
      let node: WebSocket;
      try {
        node = await openNodeSocket(env, nodeName, { ...header, port });
      } catch (e) {
        send(2 * i + 1, encoder.encode((e as Error).message));
        return portDone();
      }
      node.accept();
      node.binaryType = "arraybuffer";
      if (closed) return node.close(1000, "");
      nodes[i] = node;
      for (const chunk of pending[i]!.splice(0)) node.send(chunk);
      node.addEventListener("message", (event) => {
        if (typeof event.data !== "string") send(2 * i, new Uint8Array(event.data));
      });
      node.addEventListener("close", (event) => {
        const { pod, namespace, uid } = header;
        if (event.code !== 1000) send(2 * i + 1, encoder.encode(`error forwarding port ${port} to pod ${pod}_${namespace}, uid ${uid}: the stream to node "${nodeName}" ended: ${event.reason || `code ${event.code}`}`));
        portDone();
      });
    })();
  });
  server.addEventListener("message", (event) => {
    if (typeof event.data === "string" || event.data.byteLength === 0) return;
    const message = new Uint8Array(event.data);
    const channel = message[0]!;
    if (channel % 2 !== 0 || channel / 2 >= ports.length) return;
    const i = channel / 2;
    const bytes = message.slice(1);
    if (nodes[i]) nodes[i]!.send(bytes);
    else pending[i]!.push(bytes);
  });
  server.addEventListener("close", closeAll);
  server.addEventListener("error", closeAll);
  return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Protocol": PORT_FORWARD_CHANNEL_PROTOCOL } });
}

/** One forwarded connection: the client's error and data streams of one requestID, and the node's stream. */
interface Forward {
  requestId: string;
  port: number | undefined;
  errorStream?: number;
  dataStream?: number;
  node?: WebSocket;
  /** What the client sent before the node's stream was open: bytes, or END_OF_INPUT. */
  pending: (Uint8Array | typeof END_OF_INPUT)[];
  done: boolean;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** The server's side of one kubectl port-forward connection (a WebSocket carrying SPDY). */
class PortForwardSession {
  private readonly env: Env;
  private readonly node: string;
  private readonly header: PortForwardStreamHeader;
  private readonly reader = new SpdyReader();
  private readonly forwards = new Map<string, Forward>();
  private readonly byStream = new Map<number, Forward>();
  private socket!: WebSocket;
  private writer!: SpdyWriter;
  private closed = false;

  constructor(env: Env, node: string, header: PortForwardStreamHeader) {
    this.env = env;
    this.node = node;
    this.header = header;
  }

  accept(): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    server.accept();
    server.binaryType = "arraybuffer";
    this.socket = server;
    this.writer = new SpdyWriter((bytes) => {
      if (!this.closed) server.send(bytes);
    });
    server.addEventListener("message", (event) => {
      if (typeof event.data !== "string") this.receive(new Uint8Array(event.data));
    });
    server.addEventListener("close", () => this.close());
    server.addEventListener("error", () => this.close());
    return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Protocol": PORT_FORWARD_TUNNEL_PROTOCOL } });
  }

  private receive(bytes: Uint8Array): void {
    let frames: SpdyFrame[];
    try {
      frames = this.reader.push(bytes);
    } catch {
      this.writer.goAway(0, 1);
      this.close();
      return;
    }
    for (const frame of frames) {
      switch (frame.kind) {
        case "syn_stream":
          this.openStream(frame.stream, frame.headers);
          break;
        case "data": {
          const forward = this.byStream.get(frame.stream);
          if (!forward || forward.dataStream !== frame.stream) break;
          if (frame.data.byteLength) this.toNode(forward, frame.data);
          if (frame.fin) this.toNode(forward, END_OF_INPUT);
          break;
        }
        case "rst_stream": {
          const forward = this.byStream.get(frame.stream);
          if (forward) this.finish(forward);
          break;
        }
        case "ping":
          this.writer.ping(frame.id);
          break;
        case "goaway":
          this.close();
          break;
      }
    }
  }

  /** A stream kubectl opened: replied at once (it waits for the reply), paired with its twin by requestID. */
  private openStream(stream: number, headers: Record<string, string[]>): void {
    const type = headerValue(headers, "streamType");
    const requestId = headerValue(headers, "requestID");
    if ((type !== "error" && type !== "data") || requestId === undefined) {
      this.writer.rstStream(stream, RST.PROTOCOL_ERROR);
      return;
    }
    this.writer.synReply(stream);
    const portText = headerValue(headers, "port") ?? "";
    const port = /^\d+$/.test(portText) && Number(portText) >= 1 && Number(portText) <= 65535 ? Number(portText) : undefined;
    let forward = this.forwards.get(requestId);
    if (!forward) {
      forward = { requestId, port, pending: [], done: false };
      this.forwards.set(requestId, forward);
    }
    if (type === "error") forward.errorStream = stream;
    else forward.dataStream = stream;
    this.byStream.set(stream, forward);
    if (forward.errorStream === undefined || forward.dataStream === undefined) return;
    if (forward.port === undefined) return this.fail(forward, `invalid port ${JSON.stringify(portText)}: must be an integer from 1 to 65535`);
    void this.connect(forward, forward.port);
  }

  private async connect(forward: Forward, port: number): Promise<void> {
    let node: WebSocket;
    try {
      node = await openNodeSocket(this.env, this.node, { ...this.header, port });
    } catch (e) {
      return this.fail(forward, (e as Error).message);
    }
    node.accept();
    node.binaryType = "arraybuffer";
    if (forward.done) return node.close(1000, "");
    forward.node = node;
    node.addEventListener("message", (event) => {
      if (typeof event.data !== "string" && !forward.done) this.writer.data(forward.dataStream!, new Uint8Array(event.data));
    });
    node.addEventListener("close", (event) => {
      if (event.code === 1000) this.finish(forward);
      else this.fail(forward, this.lostNode(port, event.reason || `code ${event.code}`));
    });
    for (const item of forward.pending.splice(0)) node.send(item);
  }

  private toNode(forward: Forward, item: Uint8Array | typeof END_OF_INPUT): void {
    if (forward.done) return;
    if (forward.node) forward.node.send(item);
    else forward.pending.push(item);
  }

  private lostNode(port: number, why: string): string {
    const { pod, namespace, uid } = this.header;
    return `error forwarding port ${port} to pod ${pod}_${namespace}, uid ${uid}: the stream to node "${this.node}" ended: ${why}`;
  }

  /** The forward failed: kubectl reads why on its error stream, then both streams end. */
  private fail(forward: Forward, message: string): void {
    if (forward.done) return;
    if (forward.errorStream !== undefined) this.writer.data(forward.errorStream, encoder.encode(message));
    this.finish(forward);
  }

  /** Both streams of a forward end (the error stream empty unless fail wrote to it) and the node's stream closes. */
  private finish(forward: Forward): void {
    if (forward.done) return;
    forward.done = true;
    if (forward.dataStream !== undefined) this.writer.data(forward.dataStream, EMPTY, true);
    if (forward.errorStream !== undefined) this.writer.data(forward.errorStream, EMPTY, true);
    try {
      forward.node?.close(1000, "");
    } catch {
      // Already closed.
    }
    this.forwards.delete(forward.requestId);
    for (const stream of [forward.dataStream, forward.errorStream]) if (stream !== undefined) this.byStream.delete(stream);
  }

  /** kubectl went away (or broke the protocol): every forward's node stream closes. */
  private close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const forward of [...this.forwards.values()]) this.finish(forward);
    try {
      this.socket.close(1000, "");
    } catch {
      // Already closed.
    }
  }
}

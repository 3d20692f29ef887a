// pods/exec and pods/attach: kube-apiserver's ExecREST and AttachREST, relayed to the pod's node
// through its tunnel (a WebSocket to the tunnel object per session) instead of proxied to the kubelet. The client's WebSocket (kubectl 1.30+,
// subprotocol v5.channel.k8s.io or v4.channel.k8s.io) is accepted here; each of its messages (the
// first byte its channel: stdin, resize, v5's close) crosses the tunnel as a channel record, and
// the agent's records (stdout, stderr, the error channel's Status with the exit code) come back as
// messages. SPDY, which older kubectls speak, is not spoken here: they get a Status naming the
// kubectl that works instead of an upgrade that never comes.
import type { Pod } from "kubernetes-types/core/v1";
import type { Context } from "hono";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";
import { CHANNEL, ChannelDecoder, encodeChannelRecord } from "../../lib/tunnel/channels.ts";
import type { ExecStreamHeader } from "../../lib/tunnel/streams.ts";
import { authorizeRequest } from "../authz/authorizer.ts";
import type { AppEnv } from "../context.ts";
import type { RegistryStore } from "../registry/store.ts";
import { openNodeSocket, openNodeStream } from "./node-tunnel.ts";
import { logContainer } from "./pod-log.ts";

/** The channel subprotocols spoken here, best first; v5 adds the close channel (stdin's EOF). */
export const CHANNEL_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

interface StreamRequest {
  c: Context<AppEnv>;
  target: { namespace?: string; name: string };
  store: RegistryStore;
}

/** The handler of pods/exec or pods/attach, GET (WebSocket) or POST (SPDY). */
export function podStreamHandler(type: "exec" | "attach"): (request: StreamRequest) => Promise<Response> {
  return async ({ c, target, store }) => {
    const spdy = (c.req.header("Upgrade") ?? "").toLowerCase().startsWith("spdy/");
    const protocol = spdy ? undefined : channelProtocol(c.req.raw);
    // A WebSocket upgrade is a GET; kube authorizes it as the create it is (AuthorizePodWebsocketUpgradeCreatePermission).
    if (c.req.method === "GET") await authorizeRequest(c.env, "POST", new URL(c.req.url), c.get("user"));
    const pod = (await store.get(target.namespace, target.name)) as Pod;
    const header = execHeader(type, pod, c.req.queries());
    const node = pod.spec?.nodeName;
    if (!node) throw apiErrors.badRequest(`pod ${target.name} does not have a host assigned`);
    if (!protocol) {
      // kubectl 1.30+ falls back to SPDY when its WebSocket is refused: the real reason must win over the version.
      await (await openNodeStream(c.env, node, { ...header, check: true })).body.cancel();
      throw new ApiError(400, "BadRequest", `${type} needs kubectl 1.30 or newer: this server speaks only WebSocket (v5.channel.k8s.io), not SPDY`);
    }
    return relay(await openNodeSocket(c.env, node, header), protocol);
  };
}

/** The subprotocol to answer a WebSocket upgrade with; anything else is refused. */
function channelProtocol(request: Request): string {
  const upgrade = request.headers.get("Upgrade")?.toLowerCase() ?? "";
  if (upgrade !== "websocket") throw apiErrors.badRequest("Upgrade request required");
  const offered = (request.headers.get("Sec-WebSocket-Protocol") ?? "").split(",").map((p) => p.trim());
  const protocol = CHANNEL_PROTOCOLS.find((p) => offered.includes(p));
  if (!protocol) throw apiErrors.badRequest(`none of the offered subprotocols [${offered.join(" ")}] is spoken here: ${CHANNEL_PROTOCOLS.join(", ")}`);
  return protocol;
}

/** PodExecOptions or PodAttachOptions from the query, checked as kube does, with the container chosen. */
function execHeader(type: "exec" | "attach", pod: Pod, query: Record<string, string[]>): ExecStreamHeader {
  const flag = (key: string) => ["true", "1"].includes(query[key]?.[0] ?? "");
  const command = query.command ?? [];
  if (type === "exec" && command.length === 0) throw apiErrors.badRequest("you must specify at least 1 command");
  const [stdin, stdout, stderr, tty] = [flag("stdin"), flag("stdout"), flag("stderr"), flag("tty")];
  if (!stdin && !stdout && !stderr) throw apiErrors.badRequest("you must specify at least one of stdin, stdout, stderr");
  const container = logContainer(pod, query.container?.[0]);
  const { namespace, name, uid } = pod.metadata!;
  return { type, namespace: namespace!, pod: name!, uid: uid!, container, command: type === "exec" ? command : [], stdin, stdout, stderr, tty };
}

/** Accepts the client's WebSocket and joins its channel messages to the node's channel records, both ways. */
function relay(node: WebSocket, protocol: string): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  for (const socket of [server, node]) {
    socket.accept();
    socket.binaryType = "arraybuffer";
  }
  const closeBoth = () => {
    for (const socket of [server, node]) {
      try {
        socket.close(1000, "");
      } catch {
        // Already closed.
      }
    }
  };
  server.addEventListener("message", (event) => {
    if (typeof event.data === "string" || event.data.byteLength === 0) return;
    const message = new Uint8Array(event.data);
    node.send(encodeChannelRecord(message[0]!, message.subarray(1)));
  });
  server.addEventListener("close", closeBoth);
  const records = new ChannelDecoder();
  node.addEventListener("message", (event) => {
    if (typeof event.data === "string") return;
    for (const { channel, payload } of records.push(new Uint8Array(event.data))) {
      if (channel === CHANNEL.CLOSE && protocol !== "v5.channel.k8s.io") continue;
      server.send(channelMessage(channel, payload));
    }
  });
  node.addEventListener("close", (event) => {
    if (event.code !== 1000) server.send(channelMessage(CHANNEL.ERROR, new TextEncoder().encode(JSON.stringify(failure(event.reason || `code ${event.code}`)))));
    closeBoth();
  });
  return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Protocol": protocol } });
}

/** A WebSocket message of the channel protocol: the channel's byte, then the payload. */
function channelMessage(channel: number, payload: Uint8Array): Uint8Array {
  const message = new Uint8Array(1 + payload.byteLength);
  message[0] = channel;
  message.set(payload, 1);
  return message;
}

/** The error channel's Status when the stream broke before the command ended. */
function failure(why: string) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `error: the stream to the node ended: ${why}`, reason: "InternalError", code: 500 };
}

// The apiserver's side of the node tunnels: the agent's WebSocket is let through to its node's
// NodeTunnel object only when the node itself asks (system:node:<name>), and streams to a node are
// opened here for handlers that have already authorized the request.
import { Hono } from "hono";
import { ApiError, apiErrors, reasonForCode, statusResponse } from "../../lib/k8s/status.ts";
import type { NodeStreamHeader } from "../../lib/tunnel/streams.ts";
import type { StreamReply } from "../../lib/tunnel/mux.ts";
import { REPLY_HEADER, STREAM_HEADER } from "../../lib/tunnel/streams.ts";
import { authenticate } from "../auth.ts";
import { nodeName } from "../authz/node.ts";
import type { AppEnv } from "../context.ts";

function tunnelOf(env: Env, node: string): DurableObjectStub {
  return env.NODE_TUNNEL.get(env.NODE_TUNNEL.idFromName(`${env.CLUSTER_NAME}/${node}`));
}

/** GET /api/v1/nodes/{name}/tunnel: a node's agent dials its own tunnel, and no other node's. */
export const tunnelRoutes = new Hono<AppEnv>();

tunnelRoutes.get("/api/v1/nodes/:name/tunnel", async (c) => {
  const node = c.req.param("name");
  const user = await authenticate(c);
  if (!user) return statusResponse(apiErrors.unauthorized());
  if (nodeName(user) !== node) {
    return statusResponse(apiErrors.forbidden(`nodes "${node}" is forbidden: User "${user.name}" cannot open the tunnel of node "${node}": only the node itself may`));
  }
  return tunnelOf(c.env, node).fetch("https://tunnel/connect", c.req.raw);
});

/**
 * Opens a stream to a node through its tunnel and waits for the agent's reply, answered with the
 * stream's bytes; a refusal becomes the Status the agent worded; no tunnel is 503.
 */
export async function openNodeStream(env: Env, node: string, header: NodeStreamHeader): Promise<{ reply: StreamReply; body: ReadableStream<Uint8Array> }> {
  const response = await tunnelOf(env, node).fetch("https://tunnel/stream", { method: "POST", headers: { [STREAM_HEADER]: JSON.stringify(header) } });
  const reply = await acceptedReply(response, node);
  return { reply, body: response.body ?? new ReadableStream({ start: (controller) => controller.close() }) };
}

/**
 * Opens a stream whose directions flow at once (exec, attach): as openNodeStream, but its bytes
 * cross a WebSocket, a message per chunk; a close with 1011 says why the stream broke.
 */
export async function openNodeSocket(env: Env, node: string, header: NodeStreamHeader): Promise<WebSocket> {
  const response = await tunnelOf(env, node).fetch("https://tunnel/stream", { headers: { Upgrade: "websocket", [STREAM_HEADER]: JSON.stringify(header) } });
  await acceptedReply(response, node);
  return response.webSocket!;
}

/** The agent's reply to an open; its refusal, or the tunnel's absence, thrown as a Status. */
async function acceptedReply(response: Response, node: string): Promise<StreamReply> {
  if (response.status === 503 && !response.headers.has(REPLY_HEADER)) {
    const detail = await response.text();
    throw apiErrors.serviceUnavailable(detail === "not connected" ? `node "${node}" is not connected` : `node "${node}": ${detail}`);
  }
  const reply = JSON.parse(response.headers.get(REPLY_HEADER) ?? '{"status":500}') as StreamReply;
  if (reply.status >= 300) {
    await response.body?.cancel();
    throw new ApiError(reply.status, reasonForCode(reply.status), reply.message ?? "");
  }
  return reply;
}

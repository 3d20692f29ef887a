// nodes/proxy: a request to the node agent's own endpoints (/healthz), relayed through the node's
// tunnel instead of dialing the kubelet's port. RBAC has already allowed nodes/proxy.
import type { Context } from "hono";
import type { ProxyStreamHeader } from "../../lib/tunnel/streams.ts";
import { builtinStore } from "../registry/builtins.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import type { AppEnv } from "../context.ts";
import { openNodeStream } from "./node-tunnel.ts";

export async function serveNodeProxy(c: Context<AppEnv>): Promise<Response> {
  const node = c.req.param("name")!;
  await builtinStore(new ObjectStorage(c.env), "v1", "nodes").get(undefined, node);
  const url = new URL(c.req.url);
  const prefix = `/api/v1/nodes/${encodeURIComponent(node)}/proxy`;
  const path = (url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : "") || "/";
  const header: ProxyStreamHeader = { type: "proxy", method: c.req.method, path: path + url.search };
  const { reply, body } = await openNodeStream(c.env, node, header);
  return new Response(body, { status: reply.status, headers: reply.headers });
}

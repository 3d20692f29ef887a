// The node tunnel in workerd: a node's credential opens its own tunnel and no other; while no agent
// is connected pods/log answers 503 "not connected"; with one, the apiserver's streams reach it
// carrying the validated PodLogOptions and its bytes come back as the log; streams the node tries
// to open are refused; a closed tunnel is "not connected" again; a reconnecting node replaces its
// older connection; an idle tunnel hibernates (its object evicted, pings answered by workerd
// alone) and wakes for a stream. The test plays the agent's end of the protocol over a real WebSocket.
import { env, exports } from "cloudflare:workers";
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createDefaultServiceAccount, rawApi, nodeCredential } from "../../lib/client/testing.ts";
import { TunnelMux, type TunnelStream } from "../../lib/tunnel/mux.ts";

const api = (method: string, path: string, body?: unknown, token = "test-admin-token") => rawApi(method, path, body, { token });

function dial(node: string, token: string): Promise<Response> {
  return exports.default.fetch(`https://edgeplane.test/api/v1/nodes/${node}/tunnel`, { headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` } });
}

/** The agent's end: a mux over the accepted WebSocket that answers every stream with `serve`. */
function agentEnd(socket: WebSocket, serve: (stream: TunnelStream) => Promise<void>): TunnelMux {
  socket.accept();
  const mux = new TunnelMux({ ids: "even", send: (frame) => socket.send(frame), onOpen: (stream) => void serve(stream) });
  // A client WebSocket here hands binary messages over as Blobs: read them in order.
  let delivered = Promise.resolve();
  socket.addEventListener("message", (event) => {
    const data = event.data as string | ArrayBuffer | Blob;
    if (typeof data === "string") return;
    delivered = delivered.then(async () => mux.receive(new Uint8Array(data instanceof Blob ? await data.arrayBuffer() : data)));
  });
  return mux;
}

async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in 10 s");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("node tunnels", () => {
  it("only the node itself opens its tunnel", async () => {
    const node = `tn-${crypto.randomUUID().slice(0, 6)}`;
    const other = await nodeCredential(`tn-other-${crypto.randomUUID().slice(0, 6)}`);
    const refused = await dial(node, other);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toMatch(new RegExp(`^nodes "${node}" is forbidden: User "system:node:tn-other-\\w+" cannot open the tunnel of node "${node}": only the node itself may$`));
    expect((await dial(node, "test-admin-token")).status).toBe(403);
    expect((await dial(node, "not-a-token")).status).toBe(401);
  });

  it("serves pods/log through the connected agent, and 503 'not connected' without one", async () => {
    const node = `tn-${crypto.randomUUID().slice(0, 6)}`;
    const token = await nodeCredential(node);
    const pod = `p-${crypto.randomUUID().slice(0, 6)}`;
    await createDefaultServiceAccount("default");
    expect((await api("POST", "/api/v1/namespaces/default/pods", { metadata: { name: pod }, spec: { nodeName: node, containers: [{ name: "app", image: "busybox" }] } })).status).toBe(201);
    const logPath = `/api/v1/namespaces/default/pods/${pod}/log`;

    const away = await api("GET", logPath);
    expect(away.status).toBe(503);
    expect(away.body).toMatchObject({ kind: "Status", reason: "ServiceUnavailable", message: `node "${node}" is not connected` });

    const connected = await dial(node, token);
    expect(connected.status).toBe(101);
    const headers: unknown[] = [];
    const mux = agentEnd(connected.webSocket!, async (stream) => {
      headers.push(stream.header);
      if (stream.header.previous) {
        stream.respond({ status: 400, message: `previous terminated container "app" in pod "${pod}" not found` });
        return stream.end();
      }
      stream.respond({ status: 200 });
      await stream.write(new TextEncoder().encode("hello from the node\n"));
      stream.end();
    });

    const answer = await api("GET", `${logPath}?tailLines=3&timestamps=true`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("Content-Type")).toBe("text/plain");
    expect(answer.text).toBe("hello from the node\n");
    expect(headers[0]).toMatchObject({ type: "log", namespace: "default", pod, container: "app", tailLines: 3, timestamps: true, follow: false });

    const previous = await api("GET", `${logPath}?previous=true`);
    expect(previous.status).toBe(400);
    expect(previous.body.message).toBe(`previous terminated container "app" in pod "${pod}" not found`);

    const invalid = await api("GET", `${logPath}?tailLines=-1`);
    expect(invalid.status).toBe(422);
    expect(invalid.body.message).toBe(`PodLogOptions "${pod}" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0`);
    expect((await api("GET", `${logPath}?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z`)).body.message).toBe(`PodLogOptions "${pod}" is invalid: Forbidden: at most one of \`sinceTime\` or \`sinceSeconds\` may be specified`);

    // Streams go one way only: the node cannot open one into the control plane.
    const intrusion = mux.open({ type: "log" });
    await expect(intrusion.reply).rejects.toThrow("stream refused");

    connected.webSocket!.close(1000, "agent stopping");
    const gone = await until(async () => {
      const res = await api("GET", logPath);
      return res.status === 503 ? res : undefined;
    });
    expect(gone.body.message).toBe(`node "${node}" is not connected`);
  });

  it("a newer connection of the node replaces the older one, and streams go to the newer", async () => {
    const node = `tn-${crypto.randomUUID().slice(0, 6)}`;
    const token = await nodeCredential(node);
    const pod = `p-${crypto.randomUUID().slice(0, 6)}`;
    await createDefaultServiceAccount("default");
    expect((await api("POST", "/api/v1/namespaces/default/pods", { metadata: { name: pod }, spec: { nodeName: node, containers: [{ name: "app", image: "busybox" }] } })).status).toBe(201);
    const answerWith = (text: string) => async (stream: TunnelStream) => {
      stream.respond({ status: 200 });
      await stream.write(new TextEncoder().encode(text));
      stream.end();
    };
    const first = (await dial(node, token)).webSocket!;
    const closed = new Promise<number>((resolve) => first.addEventListener("close", (event) => resolve(event.code)));
    agentEnd(first, answerWith("old\n"));
    expect((await api("GET", `/api/v1/namespaces/default/pods/${pod}/log`)).text).toBe("old\n");
    agentEnd((await dial(node, token)).webSocket!, answerWith("new\n"));
    expect(await closed).toBe(1012);
    expect((await api("GET", `/api/v1/namespaces/default/pods/${pod}/log`)).text).toBe("new\n");
  });

  it("an idle tunnel hibernates: evicted with the agent's socket kept open, pings answered without waking it, a stream wakes it", async () => {
    const node = `tn-${crypto.randomUUID().slice(0, 6)}`;
    const token = await nodeCredential(node);
    const pod = `p-${crypto.randomUUID().slice(0, 6)}`;
    await createDefaultServiceAccount("default");
    expect((await api("POST", "/api/v1/namespaces/default/pods", { metadata: { name: pod }, spec: { nodeName: node, containers: [{ name: "app", image: "busybox" }] } })).status).toBe(201);
    const socket = (await dial(node, token)).webSocket!;
    let closed = false;
    socket.addEventListener("close", () => (closed = true));
    const texts: string[] = [];
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") texts.push(event.data);
    });
    agentEnd(socket, async (stream) => {
      stream.respond({ status: 200 });
      await stream.write(new TextEncoder().encode("awake\n"));
      stream.end();
    });
    const tunnel = env.NODE_TUNNEL.get(env.NODE_TUNNEL.idFromName(`${env.CLUSTER_NAME}/${node}`));
    // Nothing holds the object while the agent is idle: it can be evicted with its socket hibernated, not closed.
    await evictDurableObject(tunnel);
    socket.send("ping");
    await until(async () => (texts.includes("pong") ? true : undefined));
    expect(closed).toBe(false);
    // The ping was answered by workerd itself: the object did not run to answer it (evicting a stopped object is refused).
    await expect(evictDurableObject(tunnel)).rejects.toThrow();
    // A stream wakes it, over the same socket.
    expect((await api("GET", `/api/v1/namespaces/default/pods/${pod}/log`)).text).toBe("awake\n");
    await evictDurableObject(tunnel);
    expect(closed).toBe(false);
  });
});

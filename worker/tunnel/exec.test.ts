// pods/exec relayed in workerd: a v5 WebSocket client's stdin crosses the tunnel as channel records
// to the agent (played here over a real WebSocket), whose stdout and error-channel Status come back
// as channel messages; a WebSocket GET is authorized as create; SPDY is answered with the Status
// naming the kubectl that works, unless the node is away (the reason a kubectl falling back from
// WebSocket to SPDY must see).
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDefaultServiceAccount, rawApi, nodeCredential } from "../../lib/client/testing.ts";
import { CHANNEL, ChannelDecoder, encodeChannelRecord } from "../../lib/tunnel/channels.ts";
import { TunnelMux, type TunnelStream } from "../../lib/tunnel/mux.ts";

const api = (method: string, path: string, body?: unknown, token = "test-admin-token") => rawApi(method, path, body, { token });

/** The agent's end: every exec stream echoes stdin records as stdout until stdin closes, then Success. */
async function echoingAgent(node: string): Promise<void> {
  const token = await nodeCredential(node);
  const response = await exports.default.fetch(`https://edgeplane.test/api/v1/nodes/${node}/tunnel`, { headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` } });
  const socket = response.webSocket!;
  socket.accept();
  const serve = async (stream: TunnelStream) => {
    stream.respond({ status: 200 });
    const decoder = new ChannelDecoder();
    for await (const chunk of stream.readable) {
      for (const { channel, payload } of decoder.push(chunk)) {
        if (channel === CHANNEL.STDIN) await stream.write(encodeChannelRecord(CHANNEL.STDOUT, payload));
        if (channel === CHANNEL.CLOSE) {
          await stream.write(encodeChannelRecord(CHANNEL.ERROR, new TextEncoder().encode('{"metadata":{},"status":"Success"}')));
          stream.end();
          return;
        }
      }
    }
  };
  const mux = new TunnelMux({ ids: "even", send: (frame) => socket.send(frame), onOpen: (stream) => void serve(stream) });
  let delivered = Promise.resolve();
  socket.addEventListener("message", (event) => {
    const data = event.data as string | ArrayBuffer | Blob;
    if (typeof data === "string") return;
    delivered = delivered.then(async () => mux.receive(new Uint8Array(data instanceof Blob ? await data.arrayBuffer() : data)));
  });
}

describe("pods/exec through the tunnel", () => {
  it("discovery lists pods/exec and pods/attach as kube-apiserver does", async () => {
    const { body } = await api("GET", "/api/v1");
    const resources = body.resources as { name: string; kind: string; verbs: string[] }[];
    expect(resources.find((r) => r.name === "pods/exec")).toMatchObject({ kind: "PodExecOptions", verbs: ["create", "get"] });
    expect(resources.find((r) => r.name === "pods/attach")).toMatchObject({ kind: "PodAttachOptions", verbs: ["create", "get"] });
  });

  it("relays stdin to the agent and its stdout and Status back, over v5.channel.k8s.io", async () => {
    const node = `ex-${crypto.randomUUID().slice(0, 6)}`;
    const pod = `p-${crypto.randomUUID().slice(0, 6)}`;
    await createDefaultServiceAccount("default");
    await api("POST", "/api/v1/namespaces/default/pods", { metadata: { name: pod }, spec: { nodeName: node, containers: [{ name: "app", image: "busybox" }] } });
    await echoingAgent(node);
    const response = await exports.default.fetch(`https://edgeplane.test/api/v1/namespaces/default/pods/${pod}/exec?command=cat&stdin=true&stdout=true`, {
      headers: { Upgrade: "websocket", Authorization: "Bearer test-admin-token", "Sec-WebSocket-Protocol": "v5.channel.k8s.io" },
    });
    expect(response.status).toBe(101);
    expect(response.headers.get("Sec-WebSocket-Protocol")).toBe("v5.channel.k8s.io");
    const client = response.webSocket!;
    client.accept();
    const received: string[] = [];
    const closed = new Promise<void>((resolve) => client.addEventListener("close", () => resolve()));
    client.addEventListener("message", async (event) => {
      const data = event.data as ArrayBuffer | Blob;
      const bytes = new Uint8Array(data instanceof Blob ? await data.arrayBuffer() : data);
      received.push(`${bytes[0]}:${new TextDecoder().decode(bytes.subarray(1))}`);
    });
    client.send(Uint8Array.of(CHANNEL.STDIN, ...new TextEncoder().encode("hello")));
    client.send(Uint8Array.of(CHANNEL.CLOSE, CHANNEL.STDIN));
    await closed;
    expect(received).toEqual(["1:hello", '3:{"metadata":{},"status":"Success"}']);
  });

  it("a WebSocket GET needs create on pods/exec, as kube 1.30 authorizes it", async () => {
    const pod = `p-${crypto.randomUUID().slice(0, 6)}`;
    const user = `getter-${crypto.randomUUID().slice(0, 6)}`;
    await createDefaultServiceAccount("default");
    await api("POST", "/api/v1/namespaces/default/pods", { metadata: { name: pod }, spec: { nodeName: "nowhere", containers: [{ name: "app", image: "busybox" }] } });
    await api("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", { metadata: { name: user }, rules: [{ apiGroups: [""], resources: ["pods", "pods/exec"], verbs: ["get"] }] });
    await api("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", {
      metadata: { name: user }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: user }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    });
    const response = await exports.default.fetch(`https://edgeplane.test/api/v1/namespaces/default/pods/${pod}/exec?command=true&stdout=true`, {
      headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": "v5.channel.k8s.io", Authorization: "Bearer test-admin-token", "Impersonate-User": user },
    });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { message: string }).message).toBe(`pods "${pod}" is forbidden: User "${user}" cannot create resource "pods/exec" in API group "" in the namespace "default"`);
  });

  it("answers SPDY with the Status naming kubectl 1.30, once the node is known to be there", async () => {
    const node = `ex-${crypto.randomUUID().slice(0, 6)}`;
    const pod = `p-${crypto.randomUUID().slice(0, 6)}`;
    await createDefaultServiceAccount("default");
    await api("POST", "/api/v1/namespaces/default/pods", { metadata: { name: pod }, spec: { nodeName: node, containers: [{ name: "app", image: "busybox" }] } });
    const spdy = () => exports.default.fetch(`https://edgeplane.test/api/v1/namespaces/default/pods/${pod}/exec?command=true&stdout=true`, {
      method: "POST", headers: { Connection: "Upgrade", Upgrade: "SPDY/3.1", "X-Stream-Protocol-Version": "v4.channel.k8s.io", Authorization: "Bearer test-admin-token" },
    });
    const away = await spdy();
    expect(away.status).toBe(503);
    expect(await away.json()).toMatchObject({ message: `node "${node}" is not connected` });
    await echoingAgent(node);
    const response = await spdy();
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ kind: "Status", reason: "BadRequest", message: "exec needs kubectl 1.30 or newer: this server speaks only WebSocket (v5.channel.k8s.io), not SPDY" });
  });
});

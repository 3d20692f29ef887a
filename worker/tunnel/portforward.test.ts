// pods/portforward in workerd: a WebSocket GET is authorized as create, as kube 1.30 does; kubectl's
// SPDY is answered with the Status naming the kubectl that works once the node is known to be
// there; the channel protocol's `ports` are checked as the kubelet checks them; and a WebSocket
// offering neither protocol spoken here is refused with the ones that are.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDefaultServiceAccount, rawApi, nodeCredential } from "../../lib/client/testing.ts";
import { TunnelMux } from "../../lib/tunnel/mux.ts";

const api = (method: string, path: string, body?: unknown, token = "test-admin-token") => rawApi(method, path, body, { token });

/** An agent whose node holds every pod: it accepts every stream and echoes its bytes. */
async function echoingAgent(node: string): Promise<void> {
  const token = await nodeCredential(node);
  const response = await exports.default.fetch(`https://edgeplane.test/api/v1/nodes/${node}/tunnel`, { headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` } });
  const socket = response.webSocket!;
  socket.accept();
  const mux = new TunnelMux({
    ids: "even",
    send: (frame) => socket.send(frame),
    onOpen: (stream) => void (async () => {
      stream.respond({ status: 200 });
      for await (const chunk of stream.readable) await stream.write(chunk);
      stream.end();
    })(),
  });
  let delivered = Promise.resolve();
  socket.addEventListener("message", (event) => {
    const data = event.data as string | ArrayBuffer | Blob;
    if (typeof data === "string") return;
    delivered = delivered.then(async () => mux.receive(new Uint8Array(data instanceof Blob ? await data.arrayBuffer() : data)));
  });
}

async function podOn(node: string): Promise<string> {
  const pod = `p-${crypto.randomUUID().slice(0, 6)}`;
  await createDefaultServiceAccount("default");
  await api("POST", "/api/v1/namespaces/default/pods", { metadata: { name: pod }, spec: { nodeName: node, containers: [{ name: "app", image: "busybox" }] } });
  return pod;
}

const forward = (pod: string, query: string, headers: Record<string, string>) =>
  exports.default.fetch(`https://edgeplane.test/api/v1/namespaces/default/pods/${pod}/portforward${query}`, { headers: { Authorization: "Bearer test-admin-token", ...headers } });

describe("pods/portforward", () => {
  it("discovery lists pods/portforward as kube-apiserver does", async () => {
    const { body } = await api("GET", "/api/v1");
    expect((body.resources as { name: string }[]).find((r) => r.name === "pods/portforward")).toMatchObject({ kind: "PodPortForwardOptions", verbs: ["create", "get"] });
  });

  it("a WebSocket GET needs create on pods/portforward", async () => {
    const pod = await podOn("nowhere");
    const user = `getter-${crypto.randomUUID().slice(0, 6)}`;
    await api("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", { metadata: { name: user }, rules: [{ apiGroups: [""], resources: ["pods", "pods/portforward"], verbs: ["get"] }] });
    await api("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", {
      metadata: { name: user }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: user }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    });
    const response = await forward(pod, "", { Upgrade: "websocket", "Sec-WebSocket-Protocol": "SPDY/3.1+portforward.k8s.io", "Impersonate-User": user });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { message: string }).message).toBe(`pods "${pod}" is forbidden: User "${user}" cannot create resource "pods/portforward" in API group "" in the namespace "default"`);
  });

  it("answers SPDY with the Status naming kubectl 1.31 once the node is there, 503 while it is away", async () => {
    const node = `pf-${crypto.randomUUID().slice(0, 6)}`;
    const pod = await podOn(node);
    const spdy = () => exports.default.fetch(`https://edgeplane.test/api/v1/namespaces/default/pods/${pod}/portforward`, {
      method: "POST", headers: { Connection: "Upgrade", Upgrade: "SPDY/3.1", "X-Stream-Protocol-Version": "portforward.k8s.io", Authorization: "Bearer test-admin-token" },
    });
    const away = await spdy();
    expect(away.status).toBe(503);
    expect(await away.json()).toMatchObject({ message: `node "${node}" is not connected` });
    await echoingAgent(node);
    const answer = await spdy();
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({
      kind: "Status", reason: "BadRequest",
      message: "port-forward needs kubectl 1.31 or newer: this server speaks only WebSocket (SPDY/3.1+portforward.k8s.io), not SPDY; kubectl 1.30 speaks it with KUBECTL_PORT_FORWARD_WEBSOCKETS=true",
    });
  });

  it("checks the channel protocol's ports and the offered subprotocols", async () => {
    const pod = await podOn("nowhere");
    const ws = (query: string, protocol = "v4.channel.k8s.io") => forward(pod, query, { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocol });
    expect(await (await ws("")).json()).toMatchObject({ code: 400, message: 'query parameter "port" is required' });
    expect(await (await ws("?ports=80,x")).json()).toMatchObject({ code: 400, message: 'unable to parse "80,x" as a port' });
    expect(await (await ws("?ports=0")).json()).toMatchObject({ code: 400, message: 'port "0" must be > 0' });
    expect(await (await ws("?ports=80", "v5.channel.k8s.io")).json()).toMatchObject({
      code: 400, message: "none of the offered subprotocols [v5.channel.k8s.io] is spoken here: SPDY/3.1+portforward.k8s.io, v4.channel.k8s.io",
    });
    const plain = await forward(pod, "?ports=80", {});
    expect(await plain.json()).toMatchObject({ code: 400, message: "Upgrade request required" });
  });
});

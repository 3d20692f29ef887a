// The userspace fallback on loopback: two HTTP backends, each answering its own name; a TCP NodePort
// relays to both, ClientIP affinity keeps a client on one, a NodePort without endpoints refuses
// connections (nothing listens), a UDP NodePort and a ClusterIP-only Service get no listener.
import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Service } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProxyState } from "./rules.ts";
import { UserspaceProxy } from "./userspace.ts";

const backends: { server: Server; port: number }[] = [];
const logs: string[] = [];
const proxy = new UserspaceProxy((m) => logs.push(m));
// A NodePort unlikely to be taken on this host.
const NODE_PORT = 40000 + (process.pid % 20000);

beforeAll(async () => {
  for (const name of ["a", "b"]) {
    const server = createServer((_, res) => res.end(name)).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    backends.push({ server, port: (server.address() as AddressInfo).port });
  }
});

afterAll(async () => {
  await proxy.close();
  for (const { server } of backends) server.close();
});

function service(spec: Partial<NonNullable<Service["spec"]>> = {}, protocol = "TCP"): Service {
  return { metadata: { namespace: "default", name: "web" }, spec: { clusterIP: "10.96.0.20", type: "NodePort", ports: [{ port: 80, nodePort: NODE_PORT, protocol }], ...spec } };
}

function state(svc: Service, ready: number, protocol = "TCP"): ProxyState {
  // One slice port per backend (they listen on different ports), as two slices of one Service.
  const slices: EndpointSlice[] = backends.slice(0, ready).map(({ port }, i) => ({
    metadata: { namespace: "default", name: `web-${i}`, labels: { "kubernetes.io/service-name": "web" } },
    addressType: "IPv4", ports: [{ port, protocol }], endpoints: [{ addresses: ["127.0.0.1"], nodeName: "node-a", conditions: { ready: true } }],
  }));
  return { services: [svc], slices, node: { name: "node-a" } };
}

/** `times` requests, each on a connection of its own: each answer's body or error code. */
async function ask(times: number): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < times; i++) {
    answers.push(await new Promise<string>((resolve) => {
      const req = get(`http://127.0.0.1:${NODE_PORT}/`, { agent: false, timeout: 3000 }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve(body));
      });
      req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
      req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    }));
  }
  return answers;
}

describe("userspace fallback", () => {
  it("a TCP NodePort relays connections to every endpoint", async () => {
    await proxy.sync(state(service(), 2));
    expect(proxy.ports).toEqual([NODE_PORT]);
    expect(new Set(await ask(30))).toEqual(new Set(["a", "b"]));
  });

  it("ClientIP affinity keeps a client on one endpoint", async () => {
    await proxy.sync(state(service({ sessionAffinity: "ClientIP" }), 2));
    expect(new Set(await ask(10)).size).toBe(1);
  });

  it("without endpoints nothing listens, so connections are refused", async () => {
    await proxy.sync(state(service(), 0));
    expect(proxy.ports).toEqual([]);
    expect(await ask(1)).toEqual(["ECONNREFUSED"]);
  });

  it("UDP NodePorts and ClusterIP Services get no listener, and the UDP one is named in the log", async () => {
    await proxy.sync(state(service({}, "UDP"), 2, "UDP"));
    expect(proxy.ports).toEqual([]);
    expect(logs).toContain(`service proxy (userspace): NodePort default/web:${NODE_PORT}/UDP is not proxied: only TCP NodePorts are`);
    await proxy.sync(state(service({ type: "ClusterIP", ports: [{ port: 80, protocol: "TCP" }] }), 2));
    expect(proxy.ports).toEqual([]);
  });
});

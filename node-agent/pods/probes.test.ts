// Probes as the kubelet runs them, against real listeners on loopback: httpGet (2xx/3xx pass,
// other codes and refused connections fail with the kubelet's words, named ports), tcpSocket,
// exec through the runtime's exec; and the prober's workers turning results into readiness.
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { once } from "node:events";
import type { Pod } from "kubernetes-types/core/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedRuntime } from "../simulated/runtime.ts";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { Prober, runProbe } from "./probes.ts";

const http = createHttpServer((req, res) => {
  res.statusCode = req.url === "/healthz" ? 200 : req.url === "/moved" ? 302 : 500;
  res.end(req.headers["x-probe"] ?? "");
});
const tcp = createServer((socket) => socket.end());
let httpPort = 0;
let tcpPort = 0;

beforeAll(async () => {
  http.listen(0, "127.0.0.1");
  tcp.listen(0, "127.0.0.1");
  await Promise.all([once(http, "listening"), once(tcp, "listening")]);
  httpPort = (http.address() as AddressInfo).port;
  tcpPort = (tcp.address() as AddressInfo).port;
});

afterAll(() => {
  http.close();
  tcp.close();
});

const pod: Pod = {
  metadata: { name: "web", namespace: "default", uid: "u1" },
  spec: { containers: [{ name: "web", image: "busybox", ports: [{ name: "http", containerPort: 0 }] }] },
  status: { podIP: "127.0.0.1" },
};
const container = () => ({ ...pod.spec!.containers[0]!, ports: [{ name: "http", containerPort: httpPort }] });
/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

const noExec = async () => ({ exitCode: 0, stdout: "", stderr: "" });

/** A gRPC server implementing grpc.health.v1.Health/Check: "" and "shop" serve, "cart" does not, "slow" never answers. */
async function healthServer(implemented = true): Promise<{ port: number; server: grpc.Server; services: string[] }> {
  const root = protobuf.parse(`syntax = "proto3"; package grpc.health.v1;
    message HealthCheckRequest { string service = 1; }
    message HealthCheckResponse { enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; } ServingStatus status = 1; }`).root;
  const request = root.lookupType("grpc.health.v1.HealthCheckRequest");
  const response = root.lookupType("grpc.health.v1.HealthCheckResponse");
  const services: string[] = [];
  const server = new grpc.Server();
  const check = {
    path: "/grpc.health.v1.Health/Check", requestStream: false, responseStream: false, originalName: "Check",
    requestSerialize: (v: object) => Buffer.from(request.encode(request.create(v)).finish()), requestDeserialize: (b: Buffer) => request.toObject(request.decode(b)),
    responseSerialize: (v: object) => Buffer.from(response.encode(response.create(v)).finish()), responseDeserialize: (b: Buffer) => response.toObject(response.decode(b)),
  };
  if (implemented) {
    server.addService({ Check: check } as grpc.ServiceDefinition, {
      Check: (call: grpc.ServerUnaryCall<{ service?: string }, object>, callback: grpc.sendUnaryData<object>) => {
        const service = call.request.service ?? "";
        services.push(`${service} ${call.metadata.get("user-agent")[0]}`);
        if (service === "slow") return;
        callback(null, { status: service === "cart" ? 2 : 1 });
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, server, services };
}

describe("runProbe", () => {
  it("httpGet passes on 2xx and 3xx, fails on other codes and refused connections, reaches named ports", async () => {
    expect(await runProbe(noExec, pod, container(), { httpGet: { path: "/healthz", port: httpPort } })).toEqual({ success: true });
    expect(await runProbe(noExec, pod, container(), { httpGet: { path: "/moved", port: "http" } })).toEqual({ success: true });
    expect(await runProbe(noExec, pod, container(), { httpGet: { path: "/broken", port: httpPort } })).toEqual({ success: false, message: "HTTP probe failed with statuscode: 500" });
    const closed = await closedPort();
    const refused = await runProbe(noExec, pod, container(), { httpGet: { path: "/", port: closed } });
    expect(refused.success).toBe(false);
    expect(refused.message).toMatch(new RegExp(`^Get "http://127\\.0\\.0\\.1:${closed}/": dial tcp 127\\.0\\.0\\.1:${closed}: connect: connection refused$`));
  });

  it("tcpSocket passes when the port accepts and fails when it refuses", async () => {
    expect(await runProbe(noExec, pod, container(), { tcpSocket: { port: tcpPort } })).toEqual({ success: true });
    const closed = await closedPort();
    const refused = await runProbe(noExec, pod, container(), { tcpSocket: { port: closed } });
    expect(refused).toEqual({ success: false, message: expect.stringMatching(new RegExp(`^dial tcp 127\\.0\\.0\\.1:${closed}: connect: connection refused$`)) });
  });

  it("exec passes on exit 0 and fails with the command's output otherwise", async () => {
    const exec = async (_uid: string, _c: string, command: string[]) => (command[0] === "true" ? { exitCode: 0, stdout: "", stderr: "" } : { exitCode: 1, stdout: "", stderr: "cat: /tmp/healthy: No such file or directory\n" });
    expect(await runProbe(exec, pod, container(), { exec: { command: ["true"] } })).toEqual({ success: true });
    expect(await runProbe(exec, pod, container(), { exec: { command: ["cat", "/tmp/healthy"] } })).toEqual({ success: false, message: "cat: /tmp/healthy: No such file or directory" });
  });
});

describe("grpc probes", () => {
  it("pass when grpc.health.v1.Health/Check answers SERVING, and fail in the kubelet's words otherwise", async () => {
    const { port, server, services } = await healthServer();
    try {
      expect(await runProbe(noExec, pod, container(), { grpc: { port } })).toEqual({ success: true, message: "service healthy" });
      expect(await runProbe(noExec, pod, container(), { grpc: { port, service: "shop" } })).toEqual({ success: true, message: "service healthy" });
      expect(services[0]).toMatch(/^ kube-probe\/1\.30/);
      expect(await runProbe(noExec, pod, container(), { grpc: { port, service: "cart" } })).toEqual({ success: false, message: 'service unhealthy (responded with "NOT_SERVING")' });
      expect(await runProbe(noExec, pod, container(), { grpc: { port, service: "slow" }, timeoutSeconds: 1 })).toEqual({ success: false, message: "timeout: health rpc did not complete within 1s" });
    } finally {
      server.forceShutdown();
    }
    const bare = await healthServer(false);
    try {
      const unimplemented = await runProbe(noExec, pod, container(), { grpc: { port: bare.port } });
      expect(unimplemented).toEqual({ success: false, message: expect.stringMatching(/^error: this server does not implement the grpc health protocol \(grpc\.health\.v1\.Health\): /) });
    } finally {
      bare.server.forceShutdown();
    }
    const closed = await closedPort();
    expect(await runProbe(noExec, pod, container(), { grpc: { port: closed }, timeoutSeconds: 1 })).toEqual({ success: false, message: `timeout: failed to connect service "127.0.0.1:${closed}" within 1s: context deadline exceeded` });
  });
});

describe("Prober", () => {
  it("reports a container ready once its readiness probe passes, and forgets it when the container goes", async () => {
    const runtime = new SimulatedRuntime({ podCIDR: "10.244.0.0/24" });
    const p: Pod = { ...pod, spec: { containers: [{ name: "web", image: "busybox", readinessProbe: { httpGet: { path: "/", port: 80 }, periodSeconds: 1 } }] } };
    await runtime.syncPod(p, { env: {}, volumes: {} }, () => {});
    const changed: string[] = [];
    const prober = new Prober({ runtime, onChange: (uid) => changed.push(uid), event: () => {} });
    prober.sync(p, [{ name: "web", containerID: "simulated://1", startedAt: Date.now() }]);
    const deadline = Date.now() + 5000;
    while (!changed.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(changed).toEqual(["u1"]);
    expect(prober.results("u1").ready.get("web")).toBe(true);
    prober.sync(p, []);
    expect(prober.results("u1").ready.size).toBe(0);
    prober.removePod("u1");
    await runtime.close();
  });
});

// Probes as the kubelet runs them, against real listeners on loopback: httpGet (2xx/3xx pass,
// other codes and refused connections fail with the kubelet's words, named ports), tcpSocket,
// exec through the runtime's exec; and the prober's workers turning results into readiness.
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { once } from "node:events";
import type { Pod } from "kubernetes-types/core/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedRuntime } from "../simulated/runtime.ts";
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

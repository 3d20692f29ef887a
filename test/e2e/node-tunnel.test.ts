// The node tunnel end to end with the agent bundle on the simulated runtime: the agent dials its
// node's tunnel, and real kubectl reads pod logs (and nodes/proxy) through it with no inbound port:
// `kubectl logs` with its options and kube's errors, `-f` streaming until the pod is deleted, a
// killed agent cutting a followed log, its node answered promptly with "not connected" and served
// again once the agent is back, the tunnel redialed with back-off across a control plane restart,
// and a node credential refused another node's tunnel.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, describe, expect, it } from "vitest";
import { newEncryptionKeys, newServiceAccountKey, startControlPlane, type ControlPlane } from "../../scripts/dev-server.ts";
import { KUBECTLS } from "../support/kubectl.ts";
import { agentSuite } from "../support/agent-suite.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "tunnel-node";
/** The keys the control plane keeps across its restart (the node's credential stays valid). */
const serviceAccountKey = newServiceAccountKey();
const encryptionKeys = newEncryptionKeys();
let restarted: ControlPlane | undefined;
const suite = agentSuite({ prefix: "node-tunnel-e2e", plane: { serviceAccountKey, encryptionKeys } });
const { until } = suite;
afterAll(async () => {
  await restarted?.stop();
});

const logs = (...args: string[]) => suite.harness.kubectl(kubectl, "logs", ...args);

async function running(name: string): Promise<void> {
  await until(`pod ${name} to run`, async () => ((await suite.harness.ok(kubectl, "get", "pod", name, "-o", "jsonpath={.status.phase}")) === "Running" ? true : undefined));
}

describe("kubectl logs through the node tunnel (simulated runtime)", () => {
  it("the agent joins and dials its tunnel; a pod's log is read through it, with kube's options", async () => {
    suite.start([...await suite.joinArgs(NODE), "--runtime", "simulated"]);
    await until("the tunnel to connect", async () => (suite.output().includes("tunnel connected") ? true : undefined));
    await suite.harness.ok(kubectl, "run", "web", "--image=busybox");
    await running("web");

    const plain = await suite.harness.ok(kubectl, "logs", "web");
    expect(plain).toMatch(/^simulated container web of pod default\/web started \(image busybox\)\n/);
    expect(plain.split("\n").filter(Boolean)).toHaveLength(2);
    expect((await suite.harness.ok(kubectl, "logs", "web", "--tail=1")).trim()).toBe("this node is simulated (a hollow node): no process runs, so the container writes nothing else");
    const stamped = await suite.harness.ok(kubectl, "logs", "web", "--timestamps");
    expect(stamped.split("\n")[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z simulated container web/);
    expect(await suite.harness.ok(kubectl, "logs", "web", "--limit-bytes=9")).toBe("simulated");
    expect(await suite.harness.ok(kubectl, "logs", "web", "--since-time=2999-01-01T00:00:00Z")).toBe("");
    expect((await suite.harness.ok(kubectl, "logs", "web", "--since=1h")).split("\n").filter(Boolean)).toHaveLength(2);
    for (const binary of KUBECTLS) expect(await suite.harness.ok(binary, "logs", "web", "--tail=1"), binary).toContain("this node is simulated");
  });

  it("answers kube's errors: no such container, several containers, no previous instance, not scheduled", async () => {
    // kubectl checks a container name itself; the API says the same.
    expect((await logs("web", "-c", "nope")).stderr.trim()).toBe("error: container nope is not valid for pod web");
    expect((await suite.harness.kubectl(kubectl, "get", "--raw", "/api/v1/namespaces/default/pods/web/log?container=nope")).stderr).toContain("container nope is not valid for pod web");
    expect((await logs("web", "--previous")).stderr.trim()).toBe('Error from server (BadRequest): previous terminated container "web" in pod "web" not found');
    expect((await logs("missing")).stderr.trim()).toBe('error: error from server (NotFound): pods "missing" not found in namespace "default"');
    const pod = (name: string, spec: object) => JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name }, spec });
    const file = join(suite.dir, "pods.json");
    writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: [
      JSON.parse(pod("pair", { containers: [{ name: "a", image: "busybox" }, { name: "b", image: "busybox" }] })),
      JSON.parse(pod("nowhere", { containers: [{ name: "c", image: "busybox" }], nodeSelector: { absent: "label" } })),
    ] }));
    await suite.harness.ok(kubectl, "apply", "-f", file);
    await running("pair");
    // kubectl itself picks the first container of a pod with several (and says so); the API asks to choose.
    const raw = await suite.harness.kubectl(kubectl, "get", "--raw", "/api/v1/namespaces/default/pods/pair/log");
    expect(raw.stderr).toContain("a container name must be specified for pod pair, choose one of: [a b]");
    expect((await suite.harness.ok(kubectl, "logs", "pair", "-c", "b")).split("\n")[0]).toBe("simulated container b of pod default/pair started (image busybox)");
    await suite.harness.ok(kubectl, "annotate", "pod", "pair", "kubectl.kubernetes.io/default-container=b");
    expect(await suite.harness.ok(kubectl, "get", "--raw", "/api/v1/namespaces/default/pods/pair/log")).toContain("simulated container b of pod");
    expect((await logs("nowhere")).stderr.trim()).toBe("Error from server (BadRequest): pod nowhere does not have a host assigned");
  });

  it("nodes/proxy reaches the agent's /healthz through the tunnel", async () => {
    expect(await suite.harness.ok(kubectl, "get", "--raw", `/api/v1/nodes/${NODE}/proxy/healthz`)).toBe("ok");
    expect((await suite.harness.kubectl(kubectl, "get", "--raw", `/api/v1/nodes/${NODE}/proxy/nothing`)).stderr).toContain("404 page not found");
  });

  it("port-forward with the server's own kubectl (1.30, SPDY only) gets the Status naming 1.31", async () => {
    const forward = await suite.harness.kubectl(kubectl, "port-forward", "web", "0:80");
    expect(forward.code).not.toBe(0);
    expect(forward.stderr).toContain("port-forward needs kubectl 1.31 or newer");
  });

  it("`kubectl logs -f` streams until the pod is deleted", async () => {
    await suite.harness.ok(kubectl, "run", "follow", "--image=busybox");
    await running("follow");
    const child = spawn(kubectl, ["logs", "-f", "follow"], { env: suite.harness.env(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = once(child, "exit");
    await until("the followed log's lines", async () => (out.split("\n").filter(Boolean).length === 2 ? true : undefined));
    expect(child.exitCode).toBeNull();
    await suite.harness.ok(kubectl, "delete", "pod", "follow", "--wait=false");
    const [code] = await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error(`kubectl logs -f still running: ${out}`)), 30_000))]) as [number];
    expect(code).toBe(0);
    expect(out).toContain("simulated container follow of pod default/follow started");
  });

  it("a killed agent ends a followed log, its node answers 'not connected' at once, and logs work again once the agent is back", async () => {
    const follower = spawn(kubectl, ["logs", "-f", "web"], { env: suite.harness.env(), stdio: ["ignore", "pipe", "pipe"] });
    let followed = "";
    follower.stdout.on("data", (d) => (followed += d));
    follower.stderr.on("data", (d) => (followed += d));
    const followerExited = once(follower, "exit");
    await until("the followed log's lines", async () => (followed.split("\n").filter(Boolean).length === 2 ? true : undefined));
    suite.agent!.kill("SIGKILL");
    await once(suite.agent!, "exit");
    const [followerCode] = await Promise.race([followerExited, new Promise((_, reject) => setTimeout(() => reject(new Error(`kubectl logs -f still running: ${followed}`)), 10_000))]) as [number];
    // The answer's head went out long ago: the connection is cut, as when a kubelet goes away mid-stream.
    expect(followerCode).toBe(1);
    expect(followed).toContain("error: unexpected EOF");
    const started = Date.now();
    const refused = await until("logs to be refused", async () => {
      const result = await logs("web");
      return result.code !== 0 ? result.stderr.trim() : undefined;
    }, 10_000);
    expect(refused).toBe(`Error from server (ServiceUnavailable): node "${NODE}" is not connected`);
    expect(Date.now() - started).toBeLessThan(5_000);

    suite.forgetOutput();
    suite.start(["run", "--state-dir", suite.stateDir]);
    const back = await until("logs to work again", async () => {
      const result = await logs("web");
      return result.code === 0 ? result.stdout : undefined;
    });
    expect(back).toContain("simulated container web of pod default/web started");
  });

  it("a node's credential opens its own tunnel only", async () => {
    const state = JSON.parse(readFileSync(join(suite.stateDir, "agent.json"), "utf8")) as { nodes: { name: string; token: string }[] };
    const token = state.nodes[0]!.token;
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = suite.harness.plane.url.replace(/^https/, "wss") + "/api/v1/nodes/another-node/tunnel";
      const socket = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, ca: suite.harness.plane.caPem });
      socket.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      socket.on("open", () => reject(new Error("another node's tunnel opened")));
      socket.on("error", () => {});
    });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).message).toBe(`nodes "another-node" is forbidden: User "system:node:${NODE}" cannot open the tunnel of node "another-node": only the node itself may`);
  });

  it("redials with back-off while the control plane is down, and serves logs again once it is back", async () => {
    const { plane } = suite.harness;
    await plane.stop();
    await until("the agent to redial twice", async () => (/redialing in 1 s[\s\S]*redialing in 2 s/.test(suite.output()) ? true : undefined));
    restarted = await startControlPlane({
      port: Number(new URL(plane.url).port), token: plane.token, serviceAccountKey, encryptionKeys,
      stateDir: join(suite.harness.dir, "state"), tlsDir: join(suite.harness.dir, "tls"),
    });
    const back = await until("logs through the redialed tunnel", async () => {
      const result = await logs("web");
      return result.code === 0 ? result.stdout : undefined;
    }, 60_000);
    expect(back).toContain("simulated container web of pod default/web started");
  });
});

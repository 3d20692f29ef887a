// kubectl port-forward through the node tunnel, end to end, on the simulated runtime (whose pods'
// ports echo what they are sent): every kubectl here that speaks port-forward over WebSocket (1.31+)
// forwards two ports with several connections at once; the SPDY-only kubectls (1.27–1.30) get the
// Status naming the version they need; a client library's v4.channel.k8s.io port-forward works;
// an agent killed mid-stream ends the forward with an error
// naming the node, and forwarding works again once it is back. nodes/proxy serves the host's
// /logs/ and /healthz through the same tunnel.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect } from "node:net";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { describe, expect, it } from "vitest";
import { KUBECTLS } from "../support/kubectl.ts";
import { exchange, startPortForward } from "../support/port-forward.ts";
import { agentSuite } from "../support/agent-suite.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "pf-node";
/** kubectl port-forward speaks WebSocket from 1.31; the older ones only SPDY. /usr/bin/kubectl runs the server's version (1.30). */
const minor = (binary: string) => Number(/kubectl\.1\.(\d+)$/.exec(binary)?.[1] ?? 30);
const WEBSOCKET_KUBECTLS = KUBECTLS.filter((b) => minor(b) >= 31);
const SPDY_KUBECTLS = KUBECTLS.filter((b) => minor(b) < 31);
const newest = WEBSOCKET_KUBECTLS.at(-1)!;

const suite = agentSuite({ prefix: "node-portforward-e2e" });
const { until } = suite;

describe("kubectl port-forward through the node tunnel (simulated runtime)", () => {
  it("every kubectl 1.31+ forwards two ports, several connections at once", async () => {
    suite.start([...await suite.joinArgs(NODE), "--runtime", "simulated"]);
    await until("the tunnel to connect", async () => (suite.output().includes("tunnel connected") ? true : undefined));
    await suite.harness.ok(kubectl, "run", "web", "--image=busybox");
    await until("pod web to run", async () => ((await suite.harness.ok(kubectl, "get", "pod", "web", "-o", "jsonpath={.status.phase}")) === "Running" ? true : undefined));
    expect(WEBSOCKET_KUBECTLS.length).toBeGreaterThan(0);
    for (const binary of WEBSOCKET_KUBECTLS) {
      const forward = await startPortForward(binary, suite.harness.env(), "pod/web", [80, 8080]);
      try {
        const messages = forward.locals.flatMap((port) => [1, 2, 3].map((i) => ({ port, text: `hello ${port} #${i} from ${binary}` })));
        const answers = await Promise.all(messages.map(({ port, text }) => exchange(port, text, { expect: Buffer.byteLength(text) })));
        expect(answers.map(String), binary).toEqual(messages.map((m) => m.text));
        // One after another on the same forward, too (each a new pair of streams).
        for (let i = 0; i < 3; i++) expect(String(await exchange(forward.locals[0]!, `again ${i}`, { expect: 7 })), binary).toBe(`again ${i}`);
        expect(forward.output(), binary).toContain(`Handling connection for ${forward.locals[1]}`);
      } finally {
        forward.stop();
      }
    }
  });

  it("kubectl 1.30 forwards too once its WebSocket port-forward is switched on (KUBECTL_PORT_FORWARD_WEBSOCKETS=true)", async () => {
    const forward = await startPortForward("/usr/lib/google-cloud-sdk/bin/kubectl.1.30", { ...suite.harness.env(), KUBECTL_PORT_FORWARD_WEBSOCKETS: "true" }, "pod/web", [80]);
    try {
      expect(String(await exchange(forward.locals[0]!, "from 1.30", { expect: 9 }))).toBe("from 1.30");
    } finally {
      forward.stop();
    }
  });

  it("a megabyte crosses whole both ways, and the client's half-close ends the connection", async () => {
    const forward = await startPortForward(newest, suite.harness.env(), "pod/web", [80]);
    try {
      const payload = randomBytes(1 << 20);
      const echoed = await exchange(forward.locals[0]!, payload, { end: true });
      expect(echoed.byteLength).toBe(payload.byteLength);
      expect(echoed.equals(payload)).toBe(true);
    } finally {
      forward.stop();
    }
  });

  it("a client library's WebSocket port-forward (v4.channel.k8s.io): the port on each channel first, then the connection's bytes", async () => {
    const url = `${suite.harness.plane.url.replace(/^https/, "wss")}/api/v1/namespaces/default/pods/web/portforward?ports=80,8080`;
    const socket = new WebSocket(url, ["v4.channel.k8s.io"], { headers: { Authorization: `Bearer ${suite.harness.plane.token}` }, ca: suite.harness.plane.caPem });
    const channels: Record<number, Buffer> = {};
    socket.on("message", (data: Buffer) => (channels[data[0]!] = Buffer.concat([channels[data[0]!] ?? Buffer.alloc(0), data.subarray(1)])));
    await once(socket, "open");
    expect(socket.protocol).toBe("v4.channel.k8s.io");
    socket.send(Buffer.concat([Buffer.of(0), Buffer.from("to eighty")]));
    socket.send(Buffer.concat([Buffer.of(2), Buffer.from("to 8080")]));
    await until("both ports' echoes", async () => (channels[0]?.length === 2 + 9 && channels[2]?.length === 2 + 7 ? true : undefined));
    expect([...channels[0]!.subarray(0, 2)]).toEqual([80, 0]);
    expect(String(channels[0]!.subarray(2))).toBe("to eighty");
    expect([...channels[2]!.subarray(0, 2)]).toEqual([8080 & 0xff, 8080 >> 8]);
    expect(String(channels[2]!.subarray(2))).toBe("to 8080");
    expect([...channels[1]!]).toEqual([80, 0]);
    socket.close();
  });

  it("a SPDY-only kubectl gets the Status naming the kubectl it needs", async () => {
    expect(SPDY_KUBECTLS.length).toBeGreaterThan(0);
    for (const binary of SPDY_KUBECTLS) {
      const result = await suite.harness.kubectl(binary, "port-forward", "pod/web", ":80");
      expect(result.code, binary).not.toBe(0);
      expect(result.stderr, binary).toContain("port-forward needs kubectl 1.31 or newer: this server speaks only WebSocket (SPDY/3.1+portforward.k8s.io), not SPDY");
    }
  });

  it("nodes/proxy serves the host's /logs/ (a listing and a file) and /healthz", async () => {
    const name = `edgeplane-e2e-${randomBytes(4).toString("hex")}.log`;
    const file = join("/var/log", name);
    writeFileSync(file, "a line of the host's log\n");
    try {
      const listing = await suite.harness.ok(kubectl, "get", "--raw", `/api/v1/nodes/${NODE}/proxy/logs/`);
      expect(listing).toContain(`<a href="${name}">${name}</a>`);
      expect(await suite.harness.ok(kubectl, "get", "--raw", `/api/v1/nodes/${NODE}/proxy/logs/${name}`)).toBe("a line of the host's log\n");
      const missing = await suite.harness.kubectl(kubectl, "get", "--raw", `/api/v1/nodes/${NODE}/proxy/logs/no-such-${name}`);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain("404 page not found");
      const escape = await suite.harness.kubectl(kubectl, "get", "--raw", `/api/v1/nodes/${NODE}/proxy/logs/..%2Fetc%2Fpasswd`);
      expect(escape.code).not.toBe(0);
      expect(await suite.harness.ok(kubectl, "get", "--raw", `/api/v1/nodes/${NODE}/proxy/healthz`)).toBe("ok");
    } finally {
      rmSync(file, { force: true });
    }
  });

  it("an agent killed mid-stream ends the forward with an error naming the node; forwarding works once it is back", async () => {
    const forward = await startPortForward(newest, suite.harness.env(), "pod/web", [80]);
    // A connection held open across the agent's death.
    const socket = connect({ host: "127.0.0.1", port: forward.locals[0]! });
    let received = "";
    socket.on("data", (d) => (received += d));
    const closed = once(socket, "close");
    socket.on("error", () => {});
    socket.write("before");
    await until("the first bytes to come back", async () => (received === "before" ? true : undefined));
    suite.agent!.kill("SIGKILL");
    await once(suite.agent!, "exit");
    await closed;
    const code = await Promise.race([forward.exited, new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`port-forward still running: ${forward.output()}`)), 15_000))]);
    expect(code).not.toBe(0);
    // klog quotes the error, escaping its quotes.
    expect(forward.output()).toMatch(new RegExp(`error forwarding port 80 to pod web_default, uid [0-9a-f-]+: the stream to node \\\\?"${NODE}\\\\?" ended: the node's tunnel closed`));
    expect(forward.output()).toContain("lost connection to pod");

    const refused = await suite.harness.kubectl(newest, "port-forward", "pod/web", ":80");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`node "${NODE}" is not connected`);

    suite.forgetOutput();
    suite.start(["run", "--state-dir", suite.stateDir]);
    await until("the tunnel to connect again", async () => (suite.output().includes("tunnel connected") ? true : undefined));
    const again = await startPortForward(newest, suite.harness.env(), "pod/web", [80]);
    try {
      expect(String(await exchange(again.locals[0]!, "back", { expect: 4 }))).toBe("back");
    } finally {
      again.stop();
    }
  });
});

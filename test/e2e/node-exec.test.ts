// kubectl exec and attach through the node tunnel, end to end, on the simulated runtime (whose
// containers run a tiny built-in shell): every kubectl here that speaks WebSocket (1.30+) runs a
// command and gets its output and exit code, pipes stdin through, attaches to a container; the
// SPDY-only kubectls (1.27–1.29) get the Status naming the version they need; a raw v5/v4 channel
// client sees the tty's size and the error channel's Status; an agent killed mid-exec ends the
// session with an error, and exec works again once it is back.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { describe, expect, it } from "vitest";
import { KUBECTLS, type KubectlResult } from "../support/kubectl.ts";
import { agentSuite } from "../support/agent-suite.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "exec-node";
/** kubectl exec speaks WebSocket from 1.30; the older ones only SPDY. */
const minor = (binary: string) => Number(/kubectl\.1\.(\d+)$/.exec(binary)?.[1] ?? 99);
const WEBSOCKET_KUBECTLS = KUBECTLS.filter((b) => minor(b) >= 30);
const SPDY_KUBECTLS = KUBECTLS.filter((b) => minor(b) < 30);
const suite = agentSuite({ prefix: "node-exec-e2e" });
const { until } = suite;

/** A kubectl run with `input` on its stdin (then closed). */
function withInput(binary: string, input: string, ...args: string[]): Promise<KubectlResult> {
  const child = spawn(binary, args, { env: suite.harness.env(), stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  child.stdin.end(input);
  return new Promise((resolve) => child.on("exit", (code) => resolve({ stdout, stderr, code: code ?? 1 })));
}

async function running(name: string): Promise<void> {
  await until(`pod ${name} to run`, async () => ((await suite.harness.ok(kubectl, "get", "pod", name, "-o", "jsonpath={.status.phase}")) === "Running" ? true : undefined));
}

interface ChannelSession {
  protocol: string;
  /** Everything each channel carried, as text. */
  channels: Record<number, string>;
  closeCode: number;
}

/** A raw channel client: connects to `path` with `protocols`, sends `messages` once open, and collects every channel until the server closes. */
function channelClient(path: string, protocols: string[], messages: Buffer[]): Promise<ChannelSession> {
  const url = suite.harness.plane.url.replace(/^https/, "wss") + path;
  const socket = new WebSocket(url, protocols, { headers: { Authorization: `Bearer ${suite.harness.plane.token}` }, ca: suite.harness.plane.caPem });
  const channels: Record<number, string> = {};
  socket.on("open", () => {
    for (const message of messages) socket.send(message);
  });
  socket.on("message", (data: Buffer) => {
    channels[data[0]!] = (channels[data[0]!] ?? "") + data.subarray(1).toString();
  });
  return new Promise((resolve, reject) => {
    socket.on("close", (code) => resolve({ protocol: socket.protocol, channels, closeCode: code }));
    socket.on("error", reject);
  });
}

describe("kubectl exec and attach through the node tunnel (simulated runtime)", () => {
  it("every WebSocket kubectl runs a command and gets its output", async () => {
    suite.start([...await suite.joinArgs(NODE), "--runtime", "simulated"]);
    await until("the tunnel to connect", async () => (suite.output().includes("tunnel connected") ? true : undefined));
    await suite.harness.ok(kubectl, "run", "web", "--image=busybox");
    await running("web");
    expect(WEBSOCKET_KUBECTLS.length).toBeGreaterThan(0);
    for (const binary of WEBSOCKET_KUBECTLS) {
      expect(await suite.harness.ok(binary, "exec", "web", "--", "echo", "hi"), binary).toBe("hi\n");
      expect(await suite.harness.ok(binary, "exec", "web", "--", "sh", "-c", "echo one; echo two"), binary).toBe("one\ntwo\n");
    }
  });

  it("exit codes propagate, and stderr is kept apart", async () => {
    for (const binary of WEBSOCKET_KUBECTLS) {
      const failed = await suite.harness.kubectl(binary, "exec", "web", "--", "sh", "-c", "echo out; exit 3");
      expect(failed.code, binary).toBe(3);
      expect(failed.stdout, binary).toBe("out\n");
      expect(failed.stderr, binary).toContain("command terminated with exit code 3");
    }
    const missing = await suite.harness.kubectl(kubectl, "exec", "web", "--", "nosuchcommand");
    expect(missing.code).toBe(127);
    expect(missing.stdout).toBe("");
    expect(missing.stderr).toContain("sh: nosuchcommand: not found");
  });

  it("stdin is piped through, and its end ends cat", async () => {
    for (const binary of WEBSOCKET_KUBECTLS) {
      const piped = await withInput(binary, "hi\nthere\n", "exec", "-i", "web", "--", "cat");
      expect(piped, binary).toMatchObject({ code: 0, stdout: "hi\nthere\n" });
    }
    const big = "x".repeat(300_000) + "\n";
    expect((await withInput(kubectl, big, "exec", "-i", "web", "--", "cat")).stdout).toBe(big);
  });

  it("kubectl attach -i joins a running container that takes stdin", async () => {
    writeFileSync(join(suite.dir, "cat.json"), JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "cat" }, spec: { containers: [{ name: "cat", image: "busybox", command: ["cat"], stdin: true }] } }));
    await suite.harness.ok(kubectl, "apply", "-f", join(suite.dir, "cat.json"));
    await running("cat");
    for (const binary of WEBSOCKET_KUBECTLS) {
      const attached = await withInput(binary, "hello\n", "attach", "-i", "cat");
      expect(attached.stdout, binary).toContain("hello\n");
      expect(attached.code, binary).toBe(0);
    }
  });

  it("a SPDY-only kubectl gets the Status naming the kubectl it needs", async () => {
    expect(SPDY_KUBECTLS.length).toBeGreaterThan(0);
    for (const binary of SPDY_KUBECTLS) {
      const exec = await suite.harness.kubectl(binary, "exec", "web", "--", "echo", "hi");
      expect(exec.code, binary).not.toBe(0);
      expect(exec.stderr, binary).toContain("exec needs kubectl 1.30 or newer: this server speaks only WebSocket (v5.channel.k8s.io), not SPDY");
      const attach = await withInput(binary, "", "attach", "-i", "cat");
      expect(attach.stderr, binary).toContain("attach needs kubectl 1.30 or newer");
    }
  });

  it("a raw channel client: v5 with a tty sees its size, v4 works, the error channel carries the exit code", async () => {
    const query = (command: string[], extra: string) => `/api/v1/namespaces/default/pods/web/exec?${command.map((c) => `command=${encodeURIComponent(c)}`).join("&")}&${extra}`;
    const resize = Buffer.concat([Buffer.of(4), Buffer.from(JSON.stringify({ Width: 120, Height: 40 }))]);
    const tty = await channelClient(query(["stty", "size"], "stdout=true&stdin=true&tty=true"), ["v5.channel.k8s.io", "v4.channel.k8s.io"], [resize]);
    expect(tty).toMatchObject({ protocol: "v5.channel.k8s.io", closeCode: 1000 });
    expect(tty.channels[1]).toBe("40 120\n");
    expect(JSON.parse(tty.channels[3]!)).toEqual({ metadata: {}, status: "Success" });

    const v4 = await channelClient(query(["sh", "-c", "exit 42"], "stdout=true&stderr=true"), ["v4.channel.k8s.io"], []);
    expect(v4.protocol).toBe("v4.channel.k8s.io");
    expect(JSON.parse(v4.channels[3]!)).toEqual({
      metadata: {}, status: "Failure", reason: "NonZeroExitCode",
      message: "command terminated with non-zero exit code: error executing command [sh -c exit 42], exit code 42",
      details: { causes: [{ reason: "ExitCode", message: "42" }] },
    });
    const echoed = await channelClient(query(["cat"], "stdin=true&stdout=true"), ["v5.channel.k8s.io"], [Buffer.from("\x00typed"), Buffer.of(255, 0)]);
    expect(echoed.channels[1]).toBe("typed");
  });

  it("an agent killed mid-exec ends the session with an error; exec is 'not connected', then works once the agent is back", async () => {
    const child = spawn(kubectl, ["exec", "web", "--", "sh", "-c", "echo started; sleep 600"], { env: suite.harness.env(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = once(child, "exit");
    await until("the command to start", async () => (out.includes("started") ? true : undefined));
    suite.agent!.kill("SIGKILL");
    await once(suite.agent!, "exit");
    const [code] = await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error(`kubectl exec still running: ${out}`)), 10_000))]) as [number];
    expect(code).not.toBe(0);
    expect(out).toContain("the stream to the node ended");
    const refused = await until("exec to be refused", async () => {
      const result = await suite.harness.kubectl(kubectl, "exec", "web", "--", "echo", "hi");
      return result.code !== 0 ? result.stderr : undefined;
    }, 10_000);
    expect(refused).toContain(`node "${NODE}" is not connected`);

    suite.forgetOutput();
    suite.start(["run", "--state-dir", suite.stateDir]);
    expect(await until("exec to work again", async () => {
      const result = await suite.harness.kubectl(kubectl, "exec", "web", "--", "echo", "back");
      return result.code === 0 ? result.stdout : undefined;
    })).toBe("back\n");
  });
});

// `kubectl exec` into real containers through the node tunnel (as root): the agent bundle joins on
// the cri runtime with its own containerd, and every kubectl here that speaks WebSocket runs
// commands in a busybox pod: output, exit codes, stdin piped through to its end, a terminal's
// size; attach joins a running container's output and stdin; the SPDY-only
// kubectls get the Status naming 1.30; and the round trip of `exec -- echo` is timed against `ctr
// task exec` on the host and a bare WebSocket client.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgent } from "../../scripts/build-agent.ts";
import { KUBECTLS, startKubectlHarness, type KubectlHarness, type KubectlResult } from "../support/kubectl.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { until as waitUntil } from "../support/until.ts";
import { HOST_NODE, stopCriAgent } from "../support/cri-agent.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "exec-cri";
const BRIDGE = "ep-exec0";
/** A pod range clear of npm start's (10.244.0.0/16) and the other cri e2e's (10.246–10.248). */
const CLUSTER_CIDR = "10.249.0.0/16";

let harness: KubectlHarness;
let dir: string;
let bundle: string;
let agent: ChildProcess | undefined;
let output = "";
const stateDir = () => join(dir, "agent");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "node-exec-cri-e2e-"));
  bundle = join(dir, "edgeplane-agent.mjs");
  await buildAgent(bundle);
  harness = await startKubectlHarness("node-exec-cri-e2e-", { vars: { CLUSTER_CIDR } });
});

afterAll(async () => {
  if (dir) await stopCriAgent(agent, bundle, stateDir());
  await harness?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  waitUntil(what, probe, { timeoutMs, detail: () => `agent output:\n${output.slice(-4000)}` });

async function apply(pod: object): Promise<void> {
  const file = join(dir, `pod-${randomBytes(3).toString("hex")}.json`);
  writeFileSync(file, JSON.stringify(pod));
  await harness.ok(kubectl, "apply", "-f", file);
}


/** kubectl exec speaks WebSocket from 1.30; the older ones only SPDY. */
const minor = (binary: string) => Number(/kubectl\.1\.(\d+)$/.exec(binary)?.[1] ?? 99);
const WEBSOCKET_KUBECTLS = KUBECTLS.filter((b) => minor(b) >= 30);
const SPDY_KUBECTLS = KUBECTLS.filter((b) => minor(b) < 30);

/** A kubectl run with `input` on its stdin (then closed). */
function withInput(binary: string, input: string, ...args: string[]): Promise<KubectlResult> {
  const child = spawn(binary, args, { env: harness.env(), stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  child.stdin.end(input);
  return new Promise((resolve) => child.on("exit", (code) => resolve({ stdout, stderr, code: code ?? 1 })));
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function timed(runs: number, once: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await once();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: Math.round(percentile(times, 50)), p99: Math.round(percentile(times, 99)) };
}

/**
 * A bare v5.channel.k8s.io client on `path` (under the default namespace's pods): sends `messages`
 * once open and answers its stdout when the server closes, or (leaving itself) once `enough` says so.
 */
function rawSession(path: string, messages: Buffer[] = [], enough?: (stdout: string) => boolean): Promise<string> {
  const url = `${harness.plane.url.replace(/^https/, "wss")}/api/v1/namespaces/default/pods/${path}`;
  const socket = new WebSocket(url, ["v5.channel.k8s.io"], { headers: { Authorization: `Bearer ${harness.plane.token}` }, ca: harness.plane.caPem });
  let stdout = "";
  socket.on("open", () => {
    for (const message of messages) socket.send(message);
  });
  socket.on("message", (data: Buffer) => {
    if (data[0] === 1) stdout += data.subarray(1).toString();
    if (enough?.(stdout)) socket.close();
  });
  return new Promise((resolve, reject) => {
    socket.on("close", () => resolve(stdout));
    socket.on("error", reject);
  });
}

const rawExec = (command: string[]) => rawSession(`shell/exec?${command.map((c) => `command=${encodeURIComponent(c)}`).join("&")}&stdout=true`);

describe("kubectl exec into real containers through the tunnel", () => {
  it("the agent joins on containerd and its tunnel connects", async () => {
    const caHash = createHash("sha256").update(harness.plane.caPem!).digest("hex");
    agent = spawn(HOST_NODE, [bundle, "join", "--server", harness.plane.url, "--token", await bootstrapToken(harness.plane), "--ca-cert-sha256", caHash,
      "--node-name", NODE, "--state-dir", stateDir(), "--bridge", BRIDGE, "--pod-logs-dir", join(stateDir(), "logs")], { stdio: ["ignore", "pipe", "pipe"] });
    agent.stdout!.on("data", (d) => (output += d));
    agent.stderr!.on("data", (d) => (output += d));
    await until("the tunnel to connect", async () => (output.includes("tunnel connected") ? true : undefined), 120_000);
    await harness.ok(kubectl, "wait", `node/${NODE}`, "--for=condition=Ready", "--timeout=120s");
    await apply({ apiVersion: "v1", kind: "Pod", metadata: { name: "shell" }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] } });
    await harness.ok(kubectl, "wait", "pod/shell", "--for=condition=Ready", "--timeout=120s");
  });

  it("runs commands in the container: output, stderr apart, exit codes", async () => {
    for (const binary of WEBSOCKET_KUBECTLS) {
      expect(await harness.ok(binary, "exec", "shell", "--", "sh", "-c", "echo hi; hostname"), binary).toBe("hi\nshell\n");
      const failed = await harness.kubectl(binary, "exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3");
      expect(failed, binary).toMatchObject({ code: 3, stdout: "out\n" });
      expect(failed.stderr, binary).toContain("err\n");
      expect(failed.stderr, binary).toContain("command terminated with exit code 3");
    }
  });

  it("pipes stdin through, and its end ends the command", async () => {
    for (const binary of WEBSOCKET_KUBECTLS) {
      expect(await withInput(binary, "hello\nworld\n", "exec", "-i", "shell", "--", "sh", "-c", "wc -l; cat /dev/null"), binary).toMatchObject({ code: 0, stdout: "2\n" });
    }
    const big = "y".repeat(200_000);
    expect((await withInput(kubectl, big, "exec", "-i", "shell", "--", "cat")).stdout).toBe(big);
  });

  it("a terminal: its size reaches the command, and its output comes back as a terminal writes it", async () => {
    const resize = Buffer.concat([Buffer.of(4), Buffer.from(JSON.stringify({ Width: 120, Height: 40 }))]);
    // The terminal is 0×0 until the resize lands: the command waits for it.
    const script = encodeURIComponent('until stty size 2>/dev/null | grep -qv "^0 0$"; do sleep 0.05; done; stty size');
    const sized = await rawSession(`shell/exec?command=sh&command=-c&command=${script}&stdin=true&stdout=true&tty=true`, [resize]);
    expect(sized).toBe("40 120\r\n");
  });

  it("kubectl attach joins a running container's output, and a client's stdin reaches it", async () => {
    await apply({
      apiVersion: "v1", kind: "Pod", metadata: { name: "talker" },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", stdin: true, command: ["sh", "-c", "while read line; do echo got $line; done"] }] },
    });
    await harness.ok(kubectl, "wait", "pod/talker", "--for=condition=Ready", "--timeout=60s");
    const answered = await rawSession("talker/attach?stdin=true&stdout=true&stderr=true", [Buffer.from("\x00hello\n")], (out) => out.includes("got hello"));
    expect(answered).toBe("got hello\n");
    await harness.ok(kubectl, "run", "ticker", "--image=busybox", "--", "sh", "-c", "i=0; while true; i=$((i+1)); do echo tick $i; sleep 0.2; done");
    await harness.ok(kubectl, "wait", "pod/ticker", "--for=condition=Ready", "--timeout=60s");
    for (const binary of WEBSOCKET_KUBECTLS) {
      const child = spawn(binary, ["attach", "ticker"], { env: harness.env(), stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      try {
        await until(`${binary} attach to show ticks`, async () => (out.split("\n").filter((l) => l.startsWith("tick ")).length >= 3 ? true : undefined), 30_000);
      } finally {
        child.kill();
      }
    }
  });

  it("a SPDY-only kubectl gets the Status naming the kubectl it needs", async () => {
    for (const binary of SPDY_KUBECTLS) {
      const exec = await harness.kubectl(binary, "exec", "shell", "--", "echo", "hi");
      expect(exec.code, binary).not.toBe(0);
      expect(exec.stderr, binary).toContain("exec needs kubectl 1.30 or newer");
    }
  });

  it("times `kubectl exec -- echo` against `ctr task exec` on the host", async () => {
    const id = (await harness.ok(kubectl, "get", "pod", "shell", "-o", "jsonpath={.status.containerStatuses[0].containerID}")).replace("containerd://", "");
    const socket = join(stateDir(), "cri", "containerd", "containerd.sock");
    const outputs: string[] = [];
    const viaKubectl = await timed(20, async () => outputs.push(await harness.ok(kubectl, "exec", "shell", "--", "echo", "hi")));
    const viaCtr = await timed(20, async () => outputs.push(execFileSync("ctr", ["--address", socket, "--namespace", "k8s.io", "task", "exec", "--exec-id", `t-${randomBytes(4).toString("hex")}`, id, "echo", "hi"], { encoding: "utf8" })));
    const viaSocket = await timed(20, async () => outputs.push(await rawExec(["echo", "hi"])));
    console.log(`exec round trip (ms): kubectl exec p50 ${viaKubectl.p50} p99 ${viaKubectl.p99}; raw v5 WebSocket p50 ${viaSocket.p50} p99 ${viaSocket.p99}; ctr task exec p50 ${viaCtr.p50} p99 ${viaCtr.p99}`);
    expect(outputs).toEqual(Array(60).fill("hi\n"));
  });
});

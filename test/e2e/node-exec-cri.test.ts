// `kubectl exec` into real containers through the node tunnel (as root): the agent bundle joins on
// the cri runtime with its own containerd, and every kubectl here that speaks WebSocket runs
// commands in a busybox pod: output, exit codes, stdin piped through to its end, a terminal's
// size; attach joins a running container's output and stdin; the SPDY-only
// kubectls get the Status naming 1.30; and the round trip of `exec -- echo` is timed against `ctr
// task exec` on the host and a bare WebSocket client.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import WebSocket from "ws";
import { describe, expect, it } from "vitest";
import { KUBECTLS, type KubectlResult } from "../support/kubectl.ts";
import { criSuite } from "../support/agent-suite.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "exec-cri";
const BRIDGE = "ep-exec0";
/** A pod range clear of npm start's (10.244.0.0/16) and the other cri e2e's (10.246–10.248). */
const CLUSTER_CIDR = "10.249.0.0/16";

const suite = criSuite({ prefix: "node-exec-cri-e2e", node: NODE, bridge: BRIDGE, clusterCidr: CLUSTER_CIDR });
const { until } = suite;

/** kubectl exec speaks WebSocket from 1.30; the older ones only SPDY. */
const minor = (binary: string) => Number(/kubectl\.1\.(\d+)$/.exec(binary)?.[1] ?? 99);
const WEBSOCKET_KUBECTLS = KUBECTLS.filter((b) => minor(b) >= 30);
const SPDY_KUBECTLS = KUBECTLS.filter((b) => minor(b) < 30);

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
  const url = `${suite.harness.plane.url.replace(/^https/, "wss")}/api/v1/namespaces/default/pods/${path}`;
  const socket = new WebSocket(url, ["v5.channel.k8s.io"], { headers: { Authorization: `Bearer ${suite.harness.plane.token}` }, ca: suite.harness.plane.caPem });
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
    await suite.join();
    await suite.apply({ apiVersion: "v1", kind: "Pod", metadata: { name: "shell" }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] } });
    await suite.harness.ok(kubectl, "wait", "pod/shell", "--for=condition=Ready", "--timeout=120s");
  });

  it("runs commands in the container: output, stderr apart, exit codes", async () => {
    for (const binary of WEBSOCKET_KUBECTLS) {
      expect(await suite.harness.ok(binary, "exec", "shell", "--", "sh", "-c", "echo hi; hostname"), binary).toBe("hi\nshell\n");
      const failed = await suite.harness.kubectl(binary, "exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3");
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
    await suite.apply({
      apiVersion: "v1", kind: "Pod", metadata: { name: "talker" },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", stdin: true, command: ["sh", "-c", "while read line; do echo got $line; done"] }] },
    });
    await suite.harness.ok(kubectl, "wait", "pod/talker", "--for=condition=Ready", "--timeout=60s");
    const answered = await rawSession("talker/attach?stdin=true&stdout=true&stderr=true", [Buffer.from("\x00hello\n")], (out) => out.includes("got hello"));
    expect(answered).toBe("got hello\n");
    await suite.harness.ok(kubectl, "run", "ticker", "--image=busybox", "--", "sh", "-c", "i=0; while true; i=$((i+1)); do echo tick $i; sleep 0.2; done");
    await suite.harness.ok(kubectl, "wait", "pod/ticker", "--for=condition=Ready", "--timeout=60s");
    for (const binary of WEBSOCKET_KUBECTLS) {
      const child = spawn(binary, ["attach", "ticker"], { env: suite.harness.env(), stdio: ["ignore", "pipe", "pipe"] });
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
      const exec = await suite.harness.kubectl(binary, "exec", "shell", "--", "echo", "hi");
      expect(exec.code, binary).not.toBe(0);
      expect(exec.stderr, binary).toContain("exec needs kubectl 1.30 or newer");
    }
  });

  it("times `kubectl exec -- echo` against `ctr task exec` on the host", async () => {
    const id = (await suite.harness.ok(kubectl, "get", "pod", "shell", "-o", "jsonpath={.status.containerStatuses[0].containerID}")).replace("containerd://", "");
    const socket = join(suite.stateDir, "cri", "containerd", "containerd.sock");
    const outputs: string[] = [];
    const viaKubectl = await timed(20, async () => outputs.push(await suite.harness.ok(kubectl, "exec", "shell", "--", "echo", "hi")));
    const viaCtr = await timed(20, async () => outputs.push(execFileSync("ctr", ["--address", socket, "--namespace", "k8s.io", "task", "exec", "--exec-id", `t-${randomBytes(4).toString("hex")}`, id, "echo", "hi"], { encoding: "utf8" })));
    const viaSocket = await timed(20, async () => outputs.push(await rawExec(["echo", "hi"])));
    console.log(`exec round trip (ms): kubectl exec p50 ${viaKubectl.p50} p99 ${viaKubectl.p99}; raw v5 WebSocket p50 ${viaSocket.p50} p99 ${viaSocket.p99}; ctr task exec p50 ${viaCtr.p50} p99 ${viaCtr.p99}`);
    expect(outputs).toEqual(Array(60).fill("hi\n"));
  });
});

// The node agent on real containers (as root): the bundle npm run build:agent makes joins a control
// plane with a bootstrap token on the cri runtime, starting its own private containerd, and real
// kubectl drives it: the node Ready once the node IPAM controller gave it a podCIDR; a busybox httpd
// pod Running with an IP from that range, answering the host and another pod; liveness restarts,
// readiness flips Ready; configMap, secret and downward API contents in volumes and env; an
// unpullable image backs off; an agent restarted mid-way adopts its pods; deletion is graceful; a
// StatefulSet's local-path volume keeps its data when its pod is made again. A second node in a
// network namespace (a veth pair to the host, its own agent and containerd) gets its own podCIDR,
// and pods talk across the two through the agents' routes. `edgeplane-agent cleanup` removes
// every pod, containerd, the bridges and the routes.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pod } from "kubernetes-types/core/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CriClient } from "../../node-agent/cri/client.ts";
import { POD_UID } from "../../node-agent/cri/labels.ts";
import { buildAgent } from "../../scripts/build-agent.ts";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { until as waitUntil } from "../support/until.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "e2e-cri";
const NODE2 = "e2e-cri-2";
/** The second host: a network namespace joined to this one by a veth pair. */
const NETNS = "ep-e2e-n2";
const HOST_IP = "10.99.77.1";
const NODE2_IP = "10.99.77.2";
const VETH = "ep-e2e-veth";
const BRIDGE = "ep-e2e0";
/** Pod ranges clear of npm start's node (10.244.0.0/16) on this same host. */
const CLUSTER_CIDR = "10.246.0.0/16";
const HOST_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;

let harness: KubectlHarness;
let dir: string;
let bundle: string;
let agent: ChildProcess | undefined;
let agent2: ChildProcess | undefined;
let forwarders: { server?: Server; inNamespace?: ChildProcess } = {};
let output = "";

const stateDir = () => join(dir, "agent");
const stateDir2 = () => join(dir, "agent2");
const containerdSocket = () => join(stateDir(), "cri", "containerd", "containerd.sock");

function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: "utf8" });
}

function shQuiet(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: "ignore" });
  } catch {
    // Already gone.
  }
}

/**
 * The second host's network: a namespace with a veth pair to this one, and a path to the control
 * plane, which listens on 127.0.0.1 only: a forwarder here on the veth address, and one in the
 * namespace on its own 127.0.0.1 at the same port, so the agent there uses the same URL and
 * certificate.
 */
async function makeSecondHost(port: number): Promise<void> {
  shQuiet("ip", ["netns", "del", NETNS]);
  shQuiet("ip", ["link", "del", VETH]);
  sh("ip", ["netns", "add", NETNS]);
  sh("ip", ["link", "add", VETH, "type", "veth", "peer", "name", "eth0", "netns", NETNS]);
  sh("ip", ["addr", "add", `${HOST_IP}/24`, "dev", VETH]);
  sh("ip", ["link", "set", VETH, "up"]);
  const inNs = (...args: string[]) => sh("ip", ["-n", NETNS, ...args]);
  inNs("addr", "add", `${NODE2_IP}/24`, "dev", "eth0");
  inNs("link", "set", "eth0", "up");
  inNs("link", "set", "lo", "up");
  inNs("route", "add", "default", "via", HOST_IP);
  forwarders.server = createServer((socket) => socket.pipe(createConnection(port, "127.0.0.1")).pipe(socket).on("error", () => socket.destroy()));
  forwarders.server.listen(port, HOST_IP);
  await once(forwarders.server, "listening");
  const script = `require("net").createServer((s) => s.pipe(require("net").createConnection(${port}, "${HOST_IP}")).pipe(s).on("error", () => s.destroy())).listen(${port}, "127.0.0.1", () => console.log("listening"))`;
  forwarders.inNamespace = spawn("nsenter", [`--net=/run/netns/${NETNS}`, HOST_NODE, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  await once(forwarders.inNamespace.stdout!, "data");
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "node-agent-cri-e2e-"));
  bundle = join(dir, "edgeplane-agent.mjs");
  await buildAgent(bundle);
  harness = await startKubectlHarness("node-agent-cri-e2e-", { vars: { CLUSTER_CIDR } });
  await makeSecondHost(Number(new URL(harness.plane.url).port));
});

/** `edgeplane-agent cleanup` for a node (in a namespace when `netns` says so). */
function cleanup(state: string, netns?: string): void {
  if (!existsSync(join(state, "agent.json"))) return;
  const command = netns ? ["nsenter", `--net=/run/netns/${netns}`, HOST_NODE] : [HOST_NODE];
  try {
    execFileSync(command[0]!, [...command.slice(1), bundle, "cleanup", "--state-dir", state], { stdio: "ignore", timeout: 60_000 });
  } catch {
    // Reported by the last test when it matters.
  }
}

afterAll(async () => {
  for (const child of [agent, agent2]) child?.kill("SIGKILL");
  if (dir) {
    cleanup(stateDir());
    cleanup(stateDir2(), NETNS);
  }
  forwarders.server?.close();
  forwarders.inNamespace?.kill("SIGKILL");
  shQuiet("ip", ["link", "del", VETH]);
  shQuiet("ip", ["netns", "del", NETNS]);
  await harness?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function apply(object: object): Promise<void> {
  const file = join(dir, `${randomBytes(4).toString("hex")}.json`);
  writeFileSync(file, JSON.stringify(object));
  await harness.ok(kubectl, "create", "-f", file);
}

const caHash = () => createHash("sha256").update(harness.plane.caPem!).digest("hex");

function startAgent(args: string[], netns?: string): ChildProcess {
  const [command, ...prefix] = netns ? ["nsenter", `--net=/run/netns/${netns}`, HOST_NODE] : [HOST_NODE];
  const child = spawn(command!, [...prefix, bundle, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  return child;
}

async function joinNode(name: string, state: string, nodeIP: string, netns?: string): Promise<ChildProcess> {
  return startAgent(["join", "--server", harness.plane.url, "--token", await bootstrapToken(harness.plane), "--ca-cert-sha256", caHash(),
    "--node-name", name, "--node-ip", nodeIP, "--state-dir", state, "--bridge", BRIDGE, "--pod-logs-dir", join(state, "logs")], netns);
}

async function get(...args: string[]): Promise<string> {
  return harness.ok(kubectl, "get", ...args);
}

async function pod(name: string): Promise<Pod> {
  return JSON.parse(await get("pod", name, "-o", "json")) as Pod;
}

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000) =>
  waitUntil(what, probe, { timeoutMs, detail: () => `agent output:\n${output.slice(-4000)}` });

async function phase(name: string, wanted: string[]): Promise<string> {
  return until(`pod ${name} to be ${wanted.join(" or ")}`, async () => {
    const current = await get("pod", name, "-o", "jsonpath={.status.phase}");
    return wanted.includes(current) ? current : undefined;
  });
}

/** Whether an IPv4 address lies in a CIDR. */
function inCIDR(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/") as [string, string];
  const n = (a: string) => a.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
}

/** A busybox httpd serving `text` on 8080. */
function httpdPod(name: string, text: string, extra: Record<string, unknown> = {}): object {
  return {
    apiVersion: "v1", kind: "Pod", metadata: { name },
    spec: {
      terminationGracePeriodSeconds: 5, ...extra,
      containers: [{ name: "web", image: "busybox", command: ["sh", "-c", `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 8080 -h /www`] }],
    },
  };
}

/**
 * A pod that asks `ip`:8080 for / once: Succeeded when the answer's body is `text`, Failed
 * otherwise. (HTTP by hand through nc: Debian's busybox-static wget crashes.)
 */
function clientPod(name: string, ip: string, text: string, nodeName?: string): object {
  return {
    apiVersion: "v1", kind: "Pod", metadata: { name },
    spec: {
      restartPolicy: "Never", ...(nodeName ? { nodeName } : {}),
      containers: [{ name: "client", image: "busybox", command: ["sh", "-c", `answer="$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${ip} 8080)"; echo "$answer"; test "$(echo "$answer" | tail -n 1)" = ${text}`] }],
    },
  };
}

/** How a client pod ended, with what it printed when it failed (its log is on this host). */
async function clientOutcome(name: string, state = stateDir()): Promise<string> {
  const outcome = await phase(name, ["Succeeded", "Failed"]);
  if (outcome === "Succeeded") return outcome;
  const uid = (await pod(name)).metadata!.uid!;
  const log = join(state, "logs", `default_${name}_${uid}`, "client", "0.log");
  return `${outcome}: ${existsSync(log) ? readFileSync(log, "utf8") : "(no log)"}`;
}

/** What containerd holds of a pod: its containers, by name. */
async function containersOf(uid: string): Promise<string[]> {
  const client = new CriClient(containerdSocket());
  try {
    return (await client.listContainers({ label_selector: { [POD_UID]: uid } })).map((c) => `${c.metadata.name} ${c.state}`).sort();
  } finally {
    client.close();
  }
}

describe("the node agent on containerd", () => {
  let podCIDR = "";

  it("refuses to join when the given containerd socket does not answer, and registers nothing", async () => {
    const socket = join(dir, "no-containerd.sock");
    const child = startAgent(["join", "--server", harness.plane.url, "--token", await bootstrapToken(harness.plane), "--ca-cert-sha256", caHash(),
      "--node-name", "no-containerd", "--containerd-socket", socket, "--state-dir", join(dir, "no-containerd")]);
    const [code] = await once(child, "exit");
    expect(code).toBe(1);
    expect(output).toContain(`edgeplane-agent: cannot reach containerd at unix://${socket}: No connection established. Last error: Error: connect ENOENT ${socket}. (is containerd running, with its CRI plugin enabled? --containerd-socket names its socket)`);
    expect(existsSync(join(dir, "no-containerd", "agent.json"))).toBe(false);
    expect((await harness.kubectl(kubectl, "get", "node", "no-containerd")).stderr).toContain('nodes "no-containerd" not found');
  });

  it("joins with a bootstrap token; the node is Ready once its pod network is set up for its podCIDR", async () => {
    agent = await joinNode(NODE, stateDir(), HOST_IP);
    await until("the Node to be registered", () => get("node", NODE, "-o", "name"));
    await harness.ok(kubectl, "wait", `node/${NODE}`, "--for=condition=Ready", "--timeout=60s");
    const node = JSON.parse(await get("node", NODE, "-o", "json"));
    podCIDR = node.spec.podCIDR;
    expect(podCIDR).toMatch(/^10\.246\.\d+\.0\/24$/);
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/1\.\d+\.\d+/);
    expect(node.status.addresses).toContainEqual({ type: "InternalIP", address: HOST_IP });
    expect(node.status.conditions.map((c: { type: string; status: string; reason: string }) => [c.type, c.status, c.reason])).toEqual([
      ["NetworkUnavailable", "False", "RouteCreated"], ["MemoryPressure", "False", "KubeletHasSufficientMemory"],
      ["DiskPressure", "False", "KubeletHasNoDiskPressure"], ["PIDPressure", "False", "KubeletHasSufficientPID"], ["Ready", "True", "KubeletReady"],
    ]);
    // The pod network is the node's: the CNI configuration the agent wrote names its podCIDR.
    const conflist = JSON.parse(readFileSync(join(stateDir(), "cri", "net.d", "10-edgeplane.conflist"), "utf8"));
    expect(conflist.plugins[0].ipam.ranges).toEqual([[{ subnet: podCIDR }]]);
  });

  it("runs kubectl run's busybox httpd with an IP from the podCIDR that answers the host and another pod", async () => {
    await until("the default service account", () => get("serviceaccount", "default", "-o", "name"));
    const latencies: number[] = [];
    for (const name of ["web", "web-2", "web-3"]) {
      const created = Date.now();
      await harness.ok(kubectl, "run", name, "--image=busybox", "--", "sh", "-c", `mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 8080 -h /www`);
      await phase(name, ["Running"]);
      latencies.push(Date.now() - created);
    }
    console.log(`kubectl run → Running observed, on containerd: ${latencies.join(", ")} ms`);
    const web = await pod("web");
    expect(web.spec!.nodeName).toBe(NODE);
    expect(inCIDR(web.status!.podIP!, podCIDR)).toBe(true);
    expect(web.status!.hostIP).toBe(HOST_IP);
    expect(web.status!.containerStatuses).toEqual([expect.objectContaining({
      name: "web", ready: true, started: true, restartCount: 0, image: expect.stringContaining("busybox"),
      containerID: expect.stringMatching(/^containerd:\/\/[0-9a-f]{64}$/), state: { running: { startedAt: expect.any(String) } },
    })]);

    const answer = await fetch(`http://${web.status!.podIP}:8080/`);
    expect(await answer.text()).toBe("web\n");
    await apply(clientPod("client", web.status!.podIP!, "web"));
    expect(await clientOutcome("client")).toBe("Succeeded");
    // And the check can fail: the wrong answer is a Failed pod.
    await apply(clientPod("client-wrong", web.status!.podIP!, "other"));
    expect(await phase("client-wrong", ["Succeeded", "Failed"])).toBe("Failed");
  });

  it("restarts a container whose liveness probe fails, and flips Ready with the readiness probe", async () => {
    await apply({
      apiVersion: "v1", kind: "Pod", metadata: { name: "unhealthy" },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [{
          name: "app", image: "busybox", command: ["sh", "-c", "trap 'exit 143' TERM; while :; do sleep 1 & wait $!; done"],
          livenessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 1, failureThreshold: 1 },
        }],
      },
    });
    await apply({
      apiVersion: "v1", kind: "Pod", metadata: { name: "flips" },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [{
          name: "app", image: "busybox", command: ["sh", "-c", "sleep 2; touch /tmp/ready; sleep 4; rm /tmp/ready; exec sleep 3600"],
          readinessProbe: { exec: { command: ["test", "-f", "/tmp/ready"] }, periodSeconds: 1 },
        }],
      },
    });
    const ready = () => get("pod", "flips", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}");
    await until("flips to be Ready", async () => ((await ready()) === "True" ? true : undefined));
    await until("flips to be not Ready again", async () => ((await ready()) === "False" ? true : undefined));
    expect((await pod("flips")).status!.containerStatuses![0]).toMatchObject({ ready: false, restartCount: 0, state: { running: {} } });

    const restarted = await until("a liveness restart", async () => {
      const status = (await pod("unhealthy")).status!.containerStatuses![0]!;
      return status.restartCount >= 1 ? status : undefined;
    });
    expect(restarted.lastState!.terminated).toMatchObject({ exitCode: 143, reason: "Error" });
    const events = await get("events", "--field-selector", "involvedObject.name=unhealthy", "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}");
    // Refused, or no answer in time while the new sandbox's network settles.
    expect(events).toMatch(/Unhealthy: Liveness probe failed: Get "http:\/\/10\.246\.\d+\.\d+:8080\/healthz": (dial tcp 10\.246\.\d+\.\d+:8080: connect: connection refused|context deadline exceeded)/);
    expect(events).toContain("Killing: Container app failed liveness probe, will be restarted");
  });

  it("puts configMap, secret and downward API contents (the pod's own IP too) in volumes, env and hosts", async () => {
    await apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg" }, data: { key: "value" } });
    await apply({ apiVersion: "v1", kind: "Secret", metadata: { name: "sec" }, stringData: { password: "s3cret" } });
    const check = (name: string, script: string) => apply({
      apiVersion: "v1", kind: "Pod", metadata: { name, labels: { tier: "checks" } },
      spec: {
        restartPolicy: "Never",
        volumes: [
          { name: "cfg", configMap: { name: "cfg" } },
          { name: "sec", secret: { secretName: "sec" } },
          { name: "info", downwardAPI: { items: [{ path: "name", fieldRef: { fieldPath: "metadata.name" } }, { path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] } },
        ],
        containers: [{
          name: "check", image: "busybox", command: ["sh", "-c", script],
          resources: { limits: { memory: "64Mi" } },
          env: [
            { name: "CFG", valueFrom: { configMapKeyRef: { name: "cfg", key: "key" } } },
            { name: "PASSWORD", valueFrom: { secretKeyRef: { name: "sec", key: "password" } } },
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
            { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
            { name: "MEMORY", valueFrom: { resourceFieldRef: { resource: "limits.memory" } } },
          ],
          envFrom: [{ configMapRef: { name: "cfg" }, prefix: "FROM_" }],
          volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg" }, { name: "sec", mountPath: "/etc/sec" }, { name: "info", mountPath: "/etc/podinfo" }],
        }],
      },
    });
    await check("contents", [
      `test "$(cat /etc/cfg/key)" = value`, `test "$(cat /etc/sec/password)" = s3cret`,
      `test "$(cat /etc/podinfo/name)" = contents`, `grep -qx 'tier="checks"' /etc/podinfo/labels`,
      `test "$CFG" = value`, `test "$FROM_key" = value`, `test "$PASSWORD" = s3cret`, `test "$POD_NAME" = contents`,
      `test "$MEMORY" = ${64 * 2 ** 20}`, `ip -4 addr show eth0 | grep -q "inet $POD_IP/"`, `grep -q "^$POD_IP\s" /etc/hosts`,
    ].join(" && "));
    await check("contents-wrong", `test "$(cat /etc/cfg/key)" = other`);
    expect(await phase("contents", ["Succeeded", "Failed"])).toBe("Succeeded");
    expect(await phase("contents-wrong", ["Succeeded", "Failed"])).toBe("Failed");
  });

  it("holds no sandbox for a pod whose ConfigMap volume is missing, and runs it once the ConfigMap exists", async () => {
    // The agent starts a new pod's sandbox while it reads the pod's inputs; when they cannot be had, that sandbox goes
    // again, as the kubelet makes no sandbox before the pod's volumes are mounted.
    await apply({
      apiVersion: "v1", kind: "Pod", metadata: { name: "needs-config" },
      spec: {
        terminationGracePeriodSeconds: 0, volumes: [{ name: "late", configMap: { name: "late" } }],
        containers: [{ name: "app", image: "busybox", command: ["sleep", "3600"], volumeMounts: [{ name: "late", mountPath: "/etc/late" }] }],
      },
    });
    const uid = await until("the missing ConfigMap reported", async () => {
      const current = await pod("needs-config");
      return current.status?.containerStatuses?.[0]?.state?.waiting?.message?.includes('configmap "late" not found') ? current.metadata!.uid! : undefined;
    });
    const client = new CriClient(containerdSocket());
    try {
      expect(await client.listPodSandbox({ label_selector: { [POD_UID]: uid } })).toEqual([]);
    } finally {
      client.close();
    }
    expect((await pod("needs-config")).status?.conditions?.find((c) => c.type === "PodReadyToStartContainers")?.status).not.toBe("True");
    await apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "late" }, data: { v: "1" } });
    expect(await phase("needs-config", ["Running"])).toBe("Running");
    await harness.ok(kubectl, "delete", "pod", "needs-config", "--wait=false");
  });

  it("reports ErrImagePull, then ImagePullBackOff, for an image it cannot pull", async () => {
    const image = "127.0.0.1:9/edgeplane/missing:1";
    await harness.ok(kubectl, "run", "nopull", `--image=${image}`);
    const waiting = await until("ImagePullBackOff", async () => {
      const state = (await pod("nopull")).status?.containerStatuses?.[0]?.state?.waiting;
      return state?.reason === "ImagePullBackOff" ? state : undefined;
    });
    expect(waiting.message).toBe(`Back-off pulling image "${image}"`);
    // ErrImagePull is the status only until the back-off starts; its event stays.
    const events = (await get("events", "--field-selector", "involvedObject.name=nopull", "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}")).split("\n");
    expect(events).toEqual(expect.arrayContaining([
      `Pulling: Pulling image "${image}"`, expect.stringMatching(new RegExp(`^Failed: Failed to pull image "${image.replace(/\./g, "\\.")}": rpc error: code = Unknown desc = failed to pull and unpack image`)),
      "Failed: Error: ErrImagePull", `BackOff: Back-off pulling image "${image}"`, "Failed: Error: ImagePullBackOff",
    ]));
  });

  /** Stops the agent with `signal` and runs it again from its state; resolves once it runs. */
  async function restartAgent(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const runs = () => (output.match(/running on the cri runtime/g) ?? []).length;
    const before = runs();
    agent!.kill(signal);
    const [code, killedBy] = await once(agent!, "exit");
    expect([code, killedBy]).toEqual(signal === "SIGTERM" ? [0, null] : [null, "SIGKILL"]);
    agent = startAgent(["run", "--state-dir", stateDir()]);
    await until("the agent to run again", async () => (runs() > before ? true : undefined));
  }

  it("adopts its pods after a restart, and after being killed outright: the same containers, no duplicates, restart counts kept", async () => {
    const before = await pod("web");
    const config = join(stateDir(), "cri", "containerd", "config.toml");
    for (const [i, signal] of (["SIGTERM", "SIGKILL"] as const).entries()) {
      const unhealthyRestarts = (await pod("unhealthy")).status!.containerStatuses![0]!.restartCount;
      // SIGTERM stops containerd too; SIGKILL leaves it running, and the next run stops it and starts its own.
      await restartAgent(signal);
      // A pod created now shows the restarted agent at work before the old pods are compared.
      await harness.ok(kubectl, "run", `after-restart-${i}`, "--image=busybox", "--", "sleep", "3600");
      await phase(`after-restart-${i}`, ["Running"]);
      const after = await pod("web");
      expect(after.status!.containerStatuses![0]).toMatchObject({ containerID: before.status!.containerStatuses![0]!.containerID, restartCount: 0, ready: true });
      expect(after.status!.podIP).toBe(before.status!.podIP);
      expect(await containersOf(before.metadata!.uid!)).toEqual(["web CONTAINER_RUNNING"]);
      expect((await pod("unhealthy")).status!.containerStatuses![0]!.restartCount).toBeGreaterThanOrEqual(unhealthyRestarts);
      expect(await (await fetch(`http://${after.status!.podIP}:8080/`)).text()).toBe("web\n");
      expect(sh("ps", ["-eo", "args"]).split("\n").filter((line) => line.includes(config))).toHaveLength(1);
    }
  });

  it("deletes a pod gracefully: SIGTERM first, then the containers and sandbox are gone", async () => {
    mkdirSync(join(dir, "out"), { recursive: true });
    await apply({
      apiVersion: "v1", kind: "Pod", metadata: { name: "graceful" },
      spec: {
        terminationGracePeriodSeconds: 20,
        volumes: [{ name: "out", hostPath: { path: join(dir, "out") } }],
        containers: [{
          name: "app", image: "busybox", command: ["sh", "-c", "trap 'echo terminated > /out/graceful; exit 0' TERM; while :; do sleep 1 & wait $!; done"],
          volumeMounts: [{ name: "out", mountPath: "/out" }],
        }],
      },
    });
    await phase("graceful", ["Running"]);
    const uid = (await pod("graceful")).metadata!.uid!;
    const started = Date.now();
    await harness.ok(kubectl, "delete", "pod", "graceful", "--timeout=30s");
    // Well within the grace period: the container ended on SIGTERM, as its trap recorded.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(readFileSync(join(dir, "out", "graceful"), "utf8")).toBe("terminated\n");
    expect(await containersOf(uid)).toEqual([]);
  });

  it("keeps a StatefulSet pod's data on its local-path volume when the pod is deleted and made again", async () => {
    await apply({
      apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "db" },
      spec: {
        serviceName: "db", replicas: 1, selector: { matchLabels: { app: "db" } },
        template: {
          metadata: { labels: { app: "db" } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [{
              name: "db", image: "busybox", volumeMounts: [{ name: "data", mountPath: "/data" }],
              // The first pod writes `first`; a later one finds it and writes `second`.
              command: ["sh", "-c", "if [ -f /data/first ]; then echo again > /data/second; else hostname > /data/first; fi; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"],
            }],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
      },
    });
    await phase("db-0", ["Running"]);
    const volume = await get("pvc", "data-db-0", "-o", "jsonpath={.spec.volumeName}");
    const path = await get("pv", volume, "-o", "jsonpath={.spec.hostPath.path}");
    expect(path.startsWith(stateDir())).toBe(true);
    await until("the first pod's file", async () => (existsSync(join(path, "first")) ? true : undefined));
    const first = await pod("db-0");
    await harness.ok(kubectl, "delete", "pod", "db-0", "--timeout=30s");
    await until("db-0 made again and Running", async () => {
      const again = await pod("db-0");
      return again.metadata!.uid !== first.metadata!.uid && again.status?.phase === "Running" ? true : undefined;
    });
    await until("the second pod's file", async () => (existsSync(join(path, "second")) ? true : undefined));
    expect(readFileSync(join(path, "first"), "utf8")).toBe("db-0\n");
    expect(readFileSync(join(path, "second"), "utf8")).toBe("again\n");
  });

  it("joins a second node in another network namespace, and pods talk across the two", async () => {
    agent2 = await joinNode(NODE2, stateDir2(), NODE2_IP, NETNS);
    await until("the second Node", () => get("node", NODE2, "-o", "name"));
    await harness.ok(kubectl, "wait", `node/${NODE2}`, "--for=condition=Ready", "--timeout=60s");
    const podCIDR2 = await get("node", NODE2, "-o", "jsonpath={.spec.podCIDR}");
    expect(podCIDR2).not.toBe(podCIDR);
    // Each agent routes the other's pods through the other's InternalIP.
    await until("the route to the second node's pods", async () => (sh("ip", ["route", "show", podCIDR2]).includes(`via ${NODE2_IP}`) ? true : undefined));
    await until("the route back", async () => (sh("ip", ["-n", NETNS, "route", "show", podCIDR]).includes(`via ${HOST_IP}`) ? true : undefined));

    await apply({ ...httpdPod("far", "far"), spec: { ...(httpdPod("far", "far") as { spec: object }).spec, nodeName: NODE2 } });
    await phase("far", ["Running"]);
    const far = await pod("far");
    expect(inCIDR(far.status!.podIP!, podCIDR2)).toBe(true);
    const near = await pod("web");
    await apply(clientPod("near-to-far", far.status!.podIP!, "far", NODE));
    await apply(clientPod("far-to-near", near.status!.podIP!, "web", NODE2));
    expect(await clientOutcome("near-to-far")).toBe("Succeeded");
    expect(await clientOutcome("far-to-near", stateDir2())).toBe("Succeeded");

    // The second node leaves: its route goes with its Node.
    await harness.ok(kubectl, "delete", "node", NODE2);
    await until("the route to be removed", async () => (sh("ip", ["route", "show", podCIDR2]).trim() === "" ? true : undefined));
  });

  it("edgeplane-agent cleanup stops every pod and containerd, and removes the bridge and the routes", async () => {
    for (const child of [agent, agent2]) {
      child!.kill("SIGTERM");
      await once(child!, "exit");
    }
    agent = agent2 = undefined;
    const cleaned = sh(HOST_NODE, [bundle, "cleanup", "--state-dir", stateDir()]);
    expect(cleaned).toMatch(/stopped and removed \d+ pod\(s\)/);
    expect(cleaned).toContain(`deleted the bridge ${BRIDGE}`);
    sh("nsenter", [`--net=/run/netns/${NETNS}`, HOST_NODE, bundle, "cleanup", "--state-dir", stateDir2()]);
    expect(sh("ip", ["route", "show", "proto", "237"])).toBe("");
    expect(sh("ip", ["-n", NETNS, "route", "show", "proto", "237"])).toBe("");
    expect(sh("ip", ["-br", "link"])).not.toContain(BRIDGE);
    expect(existsSync(join(stateDir(), "cri"))).toBe(false);
    expect(sh("ps", ["-eo", "args"])).not.toContain(dir);
  });
});

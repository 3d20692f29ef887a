// Node failure end to end (as root): a real node (the agent on its own containerd) and a simulated
// one join a control plane whose node monitor grace period is shortened; a Deployment's two busybox
// pods, tolerating not-ready and unreachable for 2 s, run on the real node. Its agent killed with
// SIGKILL, the node turns Ready=Unknown (NotReady) with the unreachable taints, its pods are evicted
// (TaintManagerEviction) and their replacements run on the simulated node, while the old containers
// keep running under containerd. Then one evicted pod is force-deleted from the API and the agent
// runs again from its state: the node is Ready within seconds and loses its taints, and the agent
// stops the containers of both pods deleted while it was away (the terminating one gracefully, the
// force-deleted one as an orphan) until containerd holds none, and adopts the pod that tolerated
// its absence. Cut off from the control plane (through a relay the test cuts) while a pod of its
// is deleted and made again under the same name and the store is compacted, the agent relists on
// its return and stops the old pod. `edgeplane-agent cleanup` removes the pods, containerd and the bridge.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
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
const REAL = "failover-real";
const SIMULATED = "failover-sim";
const BRIDGE = "ep-fo0";
/** A pod range clear of npm start's (10.244.0.0/16) and the other cri e2e suites' (10.246–10.247). */
const CLUSTER_CIDR = "10.248.0.0/16";
/**
 * The agent renews its Lease every 10 s, so the grace period must outlast a renewal with room to
 * spare on a loaded machine (kube's default is 40 s); a node silent for 20 s is Ready=Unknown.
 */
const GRACE_SECONDS = 20;
const HOST_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;

let harness: KubectlHarness;
let dir: string;
let bundle: string;
let realAgent: ChildProcess | undefined;
let simulatedAgent: ChildProcess | undefined;
let output = "";
/** The real node's way to the control plane: a TCP relay that the test can cut (a network partition). */
let relay: Server | undefined;
let partitioned = false;
const relayed = new Set<Socket>();

const realState = () => join(dir, "real");
const containerdSocket = () => join(realState(), "cri", "containerd", "containerd.sock");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "node-failover-e2e-"));
  bundle = join(dir, "edgeplane-agent.mjs");
  await buildAgent(bundle);
  harness = await startKubectlHarness("node-failover-e2e-", { vars: { CLUSTER_CIDR, NODE_MONITOR_GRACE_PERIOD_SECONDS: String(GRACE_SECONDS) } });
  relay = createServer((socket) => {
    if (partitioned) return socket.destroy();
    const upstream = createConnection(Number(new URL(harness.plane.url).port), "127.0.0.1");
    for (const end of [socket, upstream]) {
      relayed.add(end);
      end.on("error", () => undefined).on("close", () => relayed.delete(end));
    }
    socket.pipe(upstream).pipe(socket);
  });
  relay.listen(0, "127.0.0.1");
  await once(relay, "listening");
});

/** Cuts every connection through the relay and refuses new ones until `heal`. */
function partition(): void {
  partitioned = true;
  for (const socket of relayed) socket.destroy();
}

/** `edgeplane-agent cleanup` of the real node, if it still has state. */
function cleanup(): void {
  if (!existsSync(join(realState(), "agent.json"))) return;
  try {
    execFileSync(HOST_NODE, [bundle, "cleanup", "--state-dir", realState()], { stdio: "ignore", timeout: 60_000 });
  } catch {
    // Reported by the last test when it matters.
  }
}

afterAll(async () => {
  for (const child of [realAgent, simulatedAgent]) child?.kill("SIGKILL");
  if (dir) cleanup();
  relay?.close();
  await harness?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A file holding `object` as JSON, for kubectl's -f. */
function file(object: object): string {
  const path = join(dir, `${randomBytes(4).toString("hex")}.json`);
  writeFileSync(path, JSON.stringify(object));
  return path;
}

async function apply(object: object): Promise<void> {
  await harness.ok(kubectl, "create", "-f", file(object));
}

function startAgent(args: string[]): ChildProcess {
  const child = spawn(HOST_NODE, [bundle, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  return child;
}

async function joinArgs(name: string, state: string, server = harness.plane.url): Promise<string[]> {
  const caHash = createHash("sha256").update(harness.plane.caPem!).digest("hex");
  return ["join", "--server", server, "--token", await bootstrapToken(harness.plane), "--ca-cert-sha256", caHash, "--node-name", name, "--state-dir", state];
}

const get = (...args: string[]) => harness.ok(kubectl, "get", ...args);

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000) =>
  waitUntil(what, probe, { timeoutMs, detail: () => `agent output:\n${output.slice(-4000)}` });

const readyOf = (node: string) => get("node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`);
const taintsOf = async (node: string) => (await get("node", node, "-o", "jsonpath={range .spec.taints[*]}{.key}:{.effect}{\"\\n\"}{end}")).split("\n").filter(Boolean);

/** The Deployment's pods, as the API has them. */
async function webPods(): Promise<Pod[]> {
  return (JSON.parse(await get("pods", "-l", "app=web", "-o", "json")) as { items: Pod[] }).items;
}

/** What containerd holds: its containers (by pod uid and state) and sandboxes, as `crictl ps -a` and `crictl pods` list them. */
async function containerdHolds(): Promise<{ containers: string[]; sandboxes: string[] }> {
  const client = new CriClient(containerdSocket());
  try {
    const [containers, sandboxes] = await Promise.all([client.listContainers(), client.listPodSandbox()]);
    return {
      containers: containers.map((c) => `${c.labels[POD_UID]} ${c.state}`).sort(),
      sandboxes: sandboxes.map((s) => s.labels[POD_UID]!).sort(),
    };
  } finally {
    client.close();
  }
}

/** containerd's listing of one running container for each of these pods. */
const running = (uids: string[]) => uids.map((uid) => `${uid} CONTAINER_RUNNING`).sort();

describe("a node whose agent dies", () => {
  let victims: Pod[] = [];
  let survivor: Pod;

  it("turns NotReady and unreachable; its pods are evicted and run again on the other node while their containers keep running", async () => {
    const { port } = relay!.address() as { port: number };
    realAgent = startAgent([...(await joinArgs(REAL, realState(), `https://127.0.0.1:${port}`)), "--runtime", "cri", "--bridge", BRIDGE, "--pod-logs-dir", join(realState(), "logs")]);
    simulatedAgent = startAgent([...(await joinArgs(SIMULATED, join(dir, "simulated"))), "--runtime", "simulated"]);
    // Everything lands on the real node first: the simulated one is cordoned until then.
    // The cri agent registers its Node only once its containerd runs and its images are imported.
    for (const node of [SIMULATED, REAL]) await until(`the Node ${node}`, () => get("node", node, "-o", "name"));
    await harness.ok(kubectl, "cordon", SIMULATED);
    for (const node of [REAL, SIMULATED]) await harness.ok(kubectl, "wait", `node/${node}`, "--for=condition=Ready", "--timeout=60s");
    await until("the unschedulable taint", async () => ((await taintsOf(SIMULATED)).includes("node.kubernetes.io/unschedulable:NoSchedule") ? true : undefined));
    await until("the default service account", () => get("serviceaccount", "default", "-o", "name"));

    const tolerations = ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"].map((key) => ({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 2 }));
    await apply({
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" },
      spec: {
        replicas: 2, selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: {
            tolerations, terminationGracePeriodSeconds: 5,
            containers: [{ name: "app", image: "busybox", command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"] }],
          },
        },
      },
    });
    // A pod that tolerates the node's absence for ever stays bound to it.
    await apply({
      apiVersion: "v1", kind: "Pod", metadata: { name: "survivor" },
      spec: {
        nodeName: REAL, terminationGracePeriodSeconds: 5,
        tolerations: ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"].map((key) => ({ key, operator: "Exists", effect: "NoExecute" })),
        containers: [{ name: "app", image: "busybox", command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"] }],
      },
    });
    await harness.ok(kubectl, "rollout", "status", "deployment/web", "--timeout=60s");
    await harness.ok(kubectl, "wait", "pod/survivor", "--for=condition=Ready", "--timeout=60s");
    survivor = JSON.parse(await get("pod", "survivor", "-o", "json")) as Pod;
    victims = await webPods();
    expect(victims.map((p) => [p.spec!.nodeName, p.status!.phase])).toEqual([[REAL, "Running"], [REAL, "Running"]]);
    const uids = victims.map((p) => p.metadata!.uid!).sort();
    expect((await containerdHolds()).containers).toEqual(running([...uids, survivor.metadata!.uid!]));
    await harness.ok(kubectl, "uncordon", SIMULATED);

    realAgent.kill("SIGKILL");
    await once(realAgent, "exit");
    realAgent = undefined;
    await until("the real node Ready=Unknown", async () => ((await readyOf(REAL)) === "Unknown" ? true : undefined), (GRACE_SECONDS + 20) * 1000);
    expect(await get("node", REAL, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`))
      .toBe("NodeStatusUnknown: Kubelet stopped posting node status.");
    expect(await get("nodes")).toMatch(new RegExp(`^${REAL}\\s+NotReady\\s`, "m"));
    await until("the unreachable taints", async () => {
      const taints = await taintsOf(REAL);
      return taints.includes("node.kubernetes.io/unreachable:NoExecute") && taints.includes("node.kubernetes.io/unreachable:NoSchedule") ? true : undefined;
    });

    const replacements = await until("two replacements Running on the simulated node", async () => {
      const running = (await webPods()).filter((p) => !p.metadata!.deletionTimestamp && p.spec!.nodeName === SIMULATED && p.status?.phase === "Running");
      return running.length === 2 ? running : undefined;
    }, 60_000);
    expect(replacements.map((p) => p.metadata!.uid).some((uid) => uids.includes(uid!))).toBe(false);
    const left = (await webPods()).filter((p) => p.spec!.nodeName === REAL);
    expect(left.map((p) => [p.metadata!.uid, !!p.metadata!.deletionTimestamp]).sort()).toEqual(uids.map((uid) => [uid, true]));
    const events = await get("events", "-o", "jsonpath={range .items[*]}{.reason} {.message}{\"\\n\"}{end}");
    for (const pod of victims) expect(events).toContain(`TaintManagerEviction Marking for deletion Pod default/${pod.metadata!.name}`);
    // The pod that stays is no longer Ready; nobody stopped anything: the node's containers run on while its agent is away.
    await until("the pod that stays to be not Ready", async () => ((await get("pod", "survivor", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")) === "False" ? true : undefined));
    expect((await containerdHolds()).containers).toEqual(running([...uids, survivor.metadata!.uid!]));
  });

  it("run again, it is Ready within seconds, loses its taints, and stops the containers of the pods deleted while it was away", async () => {
    // One evicted pod is force-deleted: the API forgets it, and only containerd still knows of it.
    const [forced, terminating] = victims as [Pod, Pod];
    await harness.ok(kubectl, "delete", "pod", forced.metadata!.name!, "--force", "--grace-period=0");
    expect((await harness.kubectl(kubectl, "get", "pod", forced.metadata!.name!)).stderr).toContain("not found");

    const restarted = Date.now();
    realAgent = startAgent(["run", "--state-dir", realState()]);
    await until("the real node Ready again", async () => ((await readyOf(REAL)) === "True" ? true : undefined));
    const readyAfter = Date.now() - restarted;
    const renewed = Date.parse(await get("lease", REAL, "-n", "kube-node-lease", "-o", "jsonpath={.spec.renewTime}"));
    console.log(`agent run → node Ready again: ${readyAfter} ms`);
    expect(readyAfter).toBeLessThan(10_000);
    expect(renewed).toBeGreaterThan(restarted);
    await until("the unreachable taints to go", async () => ((await taintsOf(REAL)).some((t) => t.startsWith("node.kubernetes.io/unreachable")) ? undefined : true));

    // The terminating pod is stopped with its grace period and deleted for good; the orphan is stopped and removed.
    await until("the evicted pod deleted for good", async () => ((await webPods()).some((p) => p.metadata!.uid === terminating.metadata!.uid) ? undefined : true));
    const survivorUID = survivor.metadata!.uid!;
    await until("containerd to hold nothing of either pod", async () => {
      const { containers, sandboxes } = await containerdHolds();
      return JSON.stringify(containers) === JSON.stringify(running([survivorUID])) && JSON.stringify(sandboxes) === JSON.stringify([survivorUID]) ? true : undefined;
    });
    // The pod that stayed was adopted: the same container, Ready again.
    await harness.ok(kubectl, "wait", "pod/survivor", "--for=condition=Ready", "--timeout=30s");
    const adopted = JSON.parse(await get("pod", "survivor", "-o", "json")) as Pod;
    expect(adopted.status!.containerStatuses![0]).toMatchObject({ containerID: survivor.status!.containerStatuses![0]!.containerID, restartCount: 0, ready: true });
    expect(output).toContain(`killing default/${forced.metadata!.name} (${forced.metadata!.uid}): the API no longer has it`);
    // The Deployment is whole on the simulated node, and stays there.
    const pods = await webPods();
    expect(pods.map((p) => [p.spec!.nodeName, p.status!.phase, !!p.metadata!.deletionTimestamp])).toEqual([[SIMULATED, "Running", false], [SIMULATED, "Running", false]]);
  });

  it("cut off while its pod is deleted and made again under the same name, and the store compacted, stops the old pod once back", async () => {
    const pinned = {
      apiVersion: "v1", kind: "Pod", metadata: { name: "pinned" },
      spec: { nodeName: REAL, terminationGracePeriodSeconds: 5, containers: [{ name: "app", image: "busybox", command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"] }] },
    };
    await apply(pinned);
    await harness.ok(kubectl, "wait", "pod/pinned", "--for=condition=Ready", "--timeout=30s");
    const old = await get("pod", "pinned", "-o", "jsonpath={.metadata.uid}");

    partition();
    await harness.ok(kubectl, "delete", "pod", "pinned", "--force", "--grace-period=0");
    await apply(pinned);
    const made = await get("pod", "pinned", "-o", "jsonpath={.metadata.uid}");
    // Compacted past the agent's cursor: its watch resumes with 410 Gone and it lists again, where the
    // pod shows only as changed (same name, another uid).
    const revision = JSON.parse(await harness.ok(kubectl, "create", "--raw", "/etcd/v3/kv/range", "-f", file({ key: Buffer.from("/registry/pods/default/pinned").toString("base64") }))).header.revision;
    await harness.ok(kubectl, "create", "--raw", "/etcd/v3/kv/compaction", "-f", file({ revision, physical: true }));
    partitioned = false;

    await harness.ok(kubectl, "wait", "pod/pinned", "--for=condition=Ready", "--timeout=30s");
    await until("containerd to hold the new pod, not the old one", async () => {
      const { containers, sandboxes } = await containerdHolds();
      const uids = [survivor.metadata!.uid!, made].sort();
      return JSON.stringify(containers) === JSON.stringify(running(uids)) && JSON.stringify(sandboxes) === JSON.stringify(uids) ? true : undefined;
    });
    expect(old).not.toBe(made);
  });

  it("edgeplane-agent cleanup stops containerd and removes the bridge", async () => {
    for (const child of [realAgent, simulatedAgent]) {
      child!.kill("SIGTERM");
      await once(child!, "exit");
    }
    realAgent = simulatedAgent = undefined;
    const cleaned = execFileSync(HOST_NODE, [bundle, "cleanup", "--state-dir", realState()], { encoding: "utf8" });
    expect(cleaned).toContain("stopped and removed 2 pod(s)");
    expect(cleaned).toContain(`deleted the bridge ${BRIDGE}`);
    expect(execFileSync("ip", ["-br", "link"], { encoding: "utf8" })).not.toContain(BRIDGE);
    expect(existsSync(join(realState(), "cri"))).toBe(false);
    expect(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })).not.toContain(dir);
  });
});

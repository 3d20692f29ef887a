// The node agent as a user runs it: the bundle npm run build:agent makes, run by Node.js 20 as a
// child process that joins the cluster with a bootstrap token
// (the server's certificate pinned by its hash) on the simulated runtime, then real kubectl: the
// node is Ready and its Lease renewed, `kubectl run` and a Deployment's pods end Running with an
// IP and the kubelet's conditions, `kubectl delete pod` is graceful and done, a wrong token, URL or
// certificate fails clearly and leaves no Node, pods keep running while the control plane restarts
// and the agent resumes, one agent runs several hollow nodes, and a killed agent stops renewing
// its Lease.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgent } from "../../scripts/build-agent.ts";
import { freePort, newEncryptionKeys, newServiceAccountKey, startControlPlane, type ControlPlane } from "../../scripts/dev-server.ts";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { until as waitUntil } from "../support/until.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "e2e-node";
let harness: KubectlHarness;
let dir: string;
let agent: ChildProcess | undefined;
let agentOutput = "";
/** The keys the control plane keeps across its restart (as npm start keeps them in .edgeplane/). */
const serviceAccountKey = newServiceAccountKey();
const encryptionKeys = newEncryptionKeys();
let restarted: ControlPlane | undefined;

/** The agent as it ships: npm run build:agent's one file, run by the host's Node.js 20 when there is one. */
let bundle: string;
const HOST_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "node-agent-e2e-"));
  bundle = join(dir, "edgeplane-agent.mjs");
  await buildAgent(bundle);
  harness = await startKubectlHarness("node-agent-e2e-", { serviceAccountKey, encryptionKeys });
});

afterAll(async () => {
  agent?.kill("SIGKILL");
  await restarted?.stop();
  await harness?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const caHash = () => createHash("sha256").update(harness.plane.caPem!).digest("hex");

function startAgent(args: string[]): ChildProcess {
  const child = spawn(HOST_NODE, [bundle, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => (agentOutput += d));
  child.stderr!.on("data", (d) => (agentOutput += d));
  return child;
}

/** Runs a join that must fail; answers what it printed. */
async function failedJoin(args: string[]): Promise<string> {
  let output = "";
  const child = spawn(HOST_NODE, [bundle, "join", "--runtime", "simulated", "--state-dir", join(dir, `failed-${randomBytes(3).toString("hex")}`), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const [code] = await once(child, "exit");
  expect(code).toBe(1);
  return output.trim();
}

async function get(...args: string[]): Promise<string> {
  return harness.ok(kubectl, "get", ...args);
}

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000) =>
  waitUntil(what, probe, { timeoutMs, detail: () => `agent output:\n${agentOutput.slice(-4000)}` });

const renewTime = () => get("lease", NODE, "-n", "kube-node-lease", "-o", "jsonpath={.spec.renewTime}");

describe("the node agent with the simulated runtime", () => {
  it("joins with a bootstrap token: the Node is Ready with its capacity, and its Lease is renewed", async () => {
    const stateDir = join(dir, "agent");
    agent = startAgent(["join", "--server", harness.plane.url, "--token", await bootstrapToken(harness.plane), "--ca-cert-sha256", caHash(), "--runtime", "simulated", "--node-name", NODE, "--state-dir", stateDir]);
    await until("the Node to be registered", () => get("node", NODE, "-o", "name").catch(() => undefined));
    await harness.ok(kubectl, "wait", `node/${NODE}`, "--for=condition=Ready", "--timeout=60s");
    expect(statSync(join(stateDir, "agent.json")).mode & 0o777).toBe(0o600);

    const node = JSON.parse(await get("node", NODE, "-o", "json"));
    expect(node.status.capacity).toMatchObject({ cpu: expect.any(String), memory: expect.stringMatching(/Ki$/), "ephemeral-storage": expect.any(String), pods: "110" });
    expect(node.status.nodeInfo).toMatchObject({ kubeletVersion: expect.stringMatching(/^v1\.30\.\d+-edgeplane$/), containerRuntimeVersion: "simulated://0.1.0", operatingSystem: "linux" });
    expect(node.status.addresses).toContainEqual({ type: "Hostname", address: NODE });
    expect(node.status.conditions.map((c: { type: string; status: string; reason: string }) => [c.type, c.status, c.reason])).toEqual([
      ["MemoryPressure", "False", "KubeletHasSufficientMemory"], ["DiskPressure", "False", "KubeletHasNoDiskPressure"],
      ["PIDPressure", "False", "KubeletHasSufficientPID"], ["Ready", "True", "KubeletReady"],
    ]);

    const lease = JSON.parse(await until("the node's Lease", () => get("lease", NODE, "-n", "kube-node-lease", "-o", "json").catch(() => undefined)));
    expect(lease.spec).toMatchObject({ holderIdentity: NODE, leaseDurationSeconds: 40 });
    expect(lease.metadata.ownerReferences).toEqual([{ apiVersion: "v1", kind: "Node", name: NODE, uid: node.metadata.uid }]);
    const first = lease.spec.renewTime;
    await until("the Lease to be renewed", async () => ((await renewTime()) !== first ? true : undefined), 25_000);
  });

  it("runs what kubectl runs: Running with a pod IP and the kubelet's conditions; a Deployment's three replicas; activeDeadlineSeconds; graceful deletion", async () => {
    // The service account controller makes the namespace's default account; pods need it.
    await until("the default service account", () => get("serviceaccount", "default", "-o", "name").catch(() => undefined));
    const latencies: number[] = [];
    for (const name of ["web", "web-2", "web-3", "web-4", "web-5"]) {
      const created = Date.now();
      await harness.ok(kubectl, "run", name, "--image=busybox");
      await harness.ok(kubectl, "wait", `pod/${name}`, "--for=condition=Ready", "--timeout=30s");
      latencies.push(Date.now() - created);
    }
    console.log(`create → Ready through kubectl (run, then wait): ${latencies.join(", ")} ms`);
    const pod = JSON.parse(await get("pod", "web", "-o", "json"));
    expect(pod.spec.nodeName).toBe(NODE);
    expect(pod.status.phase).toBe("Running");
    expect(pod.status.podIP).toMatch(/^10\.\d+\.\d+\.\d+$/);
    expect(pod.status.podIPs).toEqual([{ ip: pod.status.podIP }]);
    expect(pod.status.hostIP).toBeTruthy();
    expect(pod.status.conditions.map((c: { type: string; status: string }) => `${c.type}=${c.status}`)).toEqual([
      "PodReadyToStartContainers=True", "Initialized=True", "Ready=True", "ContainersReady=True", "PodScheduled=True",
    ]);
    expect(pod.status.containerStatuses).toEqual([expect.objectContaining({ name: "web", ready: true, started: true, restartCount: 0, image: "busybox", state: { running: { startedAt: expect.any(String) } } })]);
    const described = await harness.ok(kubectl, "describe", "pod", "web");
    expect(described).toMatch(/Normal\s+Started\s+\S+\s+kubelet\s+Started container web/);

    await harness.ok(kubectl, "create", "deployment", "hello", "--image=busybox", "--replicas=3");
    await harness.ok(kubectl, "wait", "deployment/hello", "--for=condition=Available", "--timeout=60s");
    await until("3 Running replicas", async () => {
      const phases = (await get("pods", "-l", "app=hello", "-o", "jsonpath={.items[*].status.phase}")).split(" ").filter(Boolean);
      return phases.length === 3 && phases.every((p) => p === "Running") ? true : undefined;
    });

    // Past its activeDeadlineSeconds a pod is stopped and fails with the kubelet's reason.
    await harness.ok(kubectl, "run", "deadline", "--image=busybox", "--overrides", JSON.stringify({ spec: { activeDeadlineSeconds: 2 } }));
    await harness.ok(kubectl, "wait", "pod/deadline", "--for=jsonpath={.status.phase}=Failed", "--timeout=30s");
    expect(await get("pod", "deadline", "-o", "jsonpath={.status.reason}: {.status.message}")).toBe("DeadlineExceeded: Pod was active on the node longer than the specified deadline");
    // Its sandbox is gone, and its status says so.
    await harness.ok(kubectl, "wait", "pod/deadline", "--for=condition=PodReadyToStartContainers=False", "--timeout=30s");

    // kubectl delete waits until the pod is gone: the agent stopped it and deleted it for good.
    await harness.ok(kubectl, "delete", "pod", "web", "--timeout=30s");
    const left = await harness.kubectl(kubectl, "get", "pod", "web");
    expect(left.stderr).toContain('pods "web" not found');
    const events = await get("events", "--field-selector", "involvedObject.name=web", "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}");
    expect(events.split("\n")).toContain("Killing");
  });

  it("rejects a pod that does not fit the node, and holds one whose ConfigMap is missing until it exists", async () => {
    // Bound to the node directly (no scheduler to keep it away), the pod asks for more cpu than the node has.
    await harness.ok(kubectl, "run", "too-big", "--image=busybox", "--overrides", JSON.stringify({
      spec: { nodeName: NODE, containers: [{ name: "too-big", image: "busybox", resources: { requests: { cpu: "1000" } } }] },
    }));
    await harness.ok(kubectl, "wait", "pod/too-big", "--for=jsonpath={.status.phase}=Failed", "--timeout=30s");
    expect(await get("pod", "too-big", "-o", "jsonpath={.status.reason}: {.status.message}")).toMatch(/^OutOfcpu: Pod was rejected: Node didn't have enough resource: cpu, requested: 1000000, used: \d+, capacity: \d+$/);

    await harness.ok(kubectl, "run", "configured", "--image=busybox", "--overrides", JSON.stringify({
      spec: { containers: [{ name: "configured", image: "busybox", env: [{ name: "MODE", valueFrom: { configMapKeyRef: { name: "settings", key: "mode" } } }] }] },
    }));
    await until("CreateContainerConfigError", async () => {
      const waiting = await get("pod", "configured", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}");
      return waiting === 'CreateContainerConfigError: configmap "settings" not found' ? true : undefined;
    });
    await harness.ok(kubectl, "create", "configmap", "settings", "--from-literal=mode=fast");
    await harness.ok(kubectl, "wait", "pod/configured", "--for=condition=Ready", "--timeout=60s");
  });

  it("refuses a wrong token, a wrong URL and an untrusted certificate, and registers nothing", async () => {
    const port = await freePort();
    const wrongToken = await failedJoin(["--server", harness.plane.url, "--token", "abcdef.0123456789abcdef", "--ca-cert-sha256", caHash(), "--node-name", "bad-token"]);
    expect(wrongToken).toBe("edgeplane-agent: the bootstrap token was refused (401 Unauthorized): it is wrong, expired or deleted; make a new one with `npm run admin -- bootstrap-token`");
    const wrongUrl = await failedJoin(["--server", `https://127.0.0.1:${port}`, "--token", await bootstrapToken(harness.plane), "--ca-cert-sha256", caHash(), "--node-name", "bad-url"]);
    expect(wrongUrl).toMatch(new RegExp(`^edgeplane-agent: cannot reach the control plane at https://127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
    const unpinned = await failedJoin(["--server", harness.plane.url, "--token", await bootstrapToken(harness.plane), "--node-name", "bad-ca"]);
    expect(unpinned).toMatch(/^edgeplane-agent: the server's certificate is not trusted \(self-signed certificate\)/);
    const wrongHash = await failedJoin(["--server", harness.plane.url, "--token", await bootstrapToken(harness.plane), "--ca-cert-sha256", "0".repeat(64), "--node-name", "bad-hash"]);
    expect(wrongHash).toContain(`the server's certificate is not trusted: ${harness.plane.url} presents certificates with SHA-256 ${caHash()}`);
    expect((await get("nodes", "-o", "name")).trim().split("\n")).toEqual([`node/${NODE}`]);
  });

  it("keeps its pods running while the control plane is down, and resumes its watch when it is back", async () => {
    const before = JSON.parse(await get("pods", "-l", "app=hello", "-o", "json")).items.map((p: { metadata: { name: string }; status: { podIP: string; containerStatuses: { containerID: string }[] } }) =>
      `${p.metadata.name} ${p.status.podIP} ${p.status.containerStatuses[0]!.containerID}`).sort();
    const { plane } = harness;
    await plane.stop();
    // Down long enough for the agent's Lease renewal and its watch to fail at least once.
    await until("the agent to notice", async () => (/renewing the node Lease failed/.test(agentOutput) ? true : undefined), 30_000);
    restarted = await startControlPlane({
      port: Number(new URL(plane.url).port), token: plane.token, serviceAccountKey, encryptionKeys,
      stateDir: join(harness.dir, "state"), tlsDir: join(harness.dir, "tls"),
    });
    // A pod created after the restart reaches the agent through its resumed watch.
    await harness.ok(kubectl, "run", "after-restart", "--image=busybox");
    await until("the new pod to run", async () => ((await get("pod", "after-restart", "-o", "jsonpath={.status.phase}")) === "Running" ? true : undefined));
    const after = JSON.parse(await get("pods", "-l", "app=hello", "-o", "json")).items.map((p: { metadata: { name: string }; status: { podIP: string; containerStatuses: { containerID: string }[] } }) =>
      `${p.metadata.name} ${p.status.podIP} ${p.status.containerStatuses[0]!.containerID}`).sort();
    expect(after).toEqual(before);
  });

  it("runs many hollow nodes in one agent process, each with its own Lease and pods", async () => {
    const hollow = startAgent(["join", "--server", harness.plane.url, "--token", await bootstrapToken(harness.plane), "--ca-cert-sha256", caHash(),
      "--runtime", "simulated", "--nodes", "3", "--node-name-prefix", "hollow-", "--state-dir", join(dir, "hollow")]);
    try {
      const names = ["hollow-0", "hollow-1", "hollow-2"];
      await until("three hollow nodes", async () => {
        const listed = (await get("nodes", "-o", "jsonpath={.items[*].metadata.name}")).split(" ");
        return names.every((n) => listed.includes(n)) ? true : undefined;
      });
      for (const name of names) await harness.ok(kubectl, "wait", `node/${name}`, "--for=condition=Ready", "--timeout=30s");
      const leases = await get("leases", "-n", "kube-node-lease", "-o", "jsonpath={.items[*].spec.holderIdentity}");
      expect(leases.split(" ")).toEqual(expect.arrayContaining(names));
      // Pods that may run only on hollow nodes end Running there.
      await harness.ok(kubectl, "create", "deployment", "spread", "--image=busybox", "--replicas=4");
      await harness.ok(kubectl, "patch", "deployment", "spread", "--type=merge", "-p", JSON.stringify({ spec: { template: { spec: { nodeSelector: { "node.edgeplane.dev/simulated": "true" }, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: names }] }] } } } } } } }));
      await harness.ok(kubectl, "rollout", "status", "deployment/spread", "--timeout=60s");
      const placed = (await get("pods", "-l", "app=spread", "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].spec.nodeName}")).split(" ").filter(Boolean);
      expect(placed).toHaveLength(4);
      expect(placed.every((n) => names.includes(n))).toBe(true);
    } finally {
      hollow.kill("SIGKILL");
    }
  });

  it("a killed agent stops renewing its Lease", async () => {
    agent!.kill("SIGKILL");
    await once(agent!, "exit");
    agent = undefined;
    const last = await renewTime();
    // The agent renews every 10 s: one period and a bit more without a renewal says it stopped.
    await new Promise((r) => setTimeout(r, 12_000));
    expect(await renewTime()).toBe(last);
  });
});

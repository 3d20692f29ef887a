// Static pods on a simulated node, seen with real kubectl: a manifest in the agent's
// --pod-manifest-path runs as `<name>-<node>` and shows as a mirror pod owned by the Node, with
// the file source's annotations and a toleration of every NoExecute taint; a deleted mirror pod
// comes back; a changed file replaces the pod; a removed file stops it and its mirror pod goes.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAgent, type RunningAgent } from "../../node-agent/agent.ts";
import { join as joinCluster } from "../../node-agent/join.ts";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { until as waitUntil } from "../support/until.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "static-node";
const MIRROR = `web-${NODE}`;
let harness: KubectlHarness;
let dir: string;
let manifests: string;
let agent: RunningAgent | undefined;
const agentLog: string[] = [];

const manifest = (image: string) => JSON.stringify({
  apiVersion: "v1", kind: "Pod", metadata: { name: "web", labels: { app: "web" } },
  spec: { containers: [{ name: "web", image }], terminationGracePeriodSeconds: 1 },
});

/** Polls `probe` until it answers something, for at most `timeoutMs`. */
const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000) =>
  waitUntil(what, probe, { timeoutMs, detail: () => `agent said:\n${agentLog.slice(-20).join("\n")}` });

/** The mirror pod as kubectl shows it, when `test` holds for it. */
async function mirrorPod(what: string, test: (pod: any) => boolean): Promise<any> {
  return until(what, async () => {
    const res = await harness.kubectl(kubectl, "get", "pod", MIRROR, "-o", "json");
    if (res.code !== 0) return undefined;
    const pod = JSON.parse(res.stdout);
    return test(pod) ? pod : undefined;
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "node-agent-static-"));
  manifests = join(dir, "manifests");
  mkdirSync(manifests);
  writeFileSync(join(manifests, "web.json"), manifest("busybox:1.36"));
  harness = await startKubectlHarness("node-agent-static-e2e-");
  const state = await joinCluster({
    server: harness.plane.url, token: await bootstrapToken(harness.plane), caCertSha256: createHash("sha256").update(harness.plane.caPem!).digest("hex"),
    nodeNames: [NODE], stateDir: join(dir, "agent"), runtime: "simulated", simulated: { startDelayMs: 50, readyDelayMs: 50 }, podManifestPath: manifests,
  });
  agent = await runAgent(state, join(dir, "agent"), (_node, message) => agentLog.push(message));
}, 120_000);

afterAll(async () => {
  await agent?.stop({ killPods: true });
  await harness?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("static pods", () => {
  it("a manifest runs as a mirror pod owned by the Node, Running, with the file source's marks", async () => {
    const node = JSON.parse(await harness.ok(kubectl, "get", "node", NODE, "-o", "json"));
    const pod = await mirrorPod("the mirror pod to be Running", (p) => p.status?.phase === "Running");
    expect(pod.metadata.namespace).toBe("default");
    expect(pod.metadata.labels).toEqual({ app: "web" });
    expect(pod.metadata.ownerReferences).toEqual([{ apiVersion: "v1", kind: "Node", name: NODE, uid: node.metadata.uid, controller: true }]);
    const annotations = pod.metadata.annotations;
    expect(annotations["kubernetes.io/config.source"]).toBe("file");
    expect(annotations["kubernetes.io/config.mirror"]).toMatch(/^[0-9a-f]{32}$/);
    expect(annotations["kubernetes.io/config.hash"]).toBe(annotations["kubernetes.io/config.mirror"]);
    expect(pod.spec.nodeName).toBe(NODE);
    expect(pod.spec.tolerations).toContainEqual({ operator: "Exists", effect: "NoExecute" });
    expect(pod.status.containerStatuses.map((c: any) => [c.name, c.ready, c.image])).toEqual([["web", true, "busybox:1.36"]]);
  });

  it("a deleted mirror pod comes back, and the pod keeps running", async () => {
    const before = await mirrorPod("the mirror pod", (p) => p.status?.phase === "Running");
    await harness.ok(kubectl, "delete", "pod", MIRROR, "--wait=false");
    const after = await mirrorPod("a new mirror pod, Running", (p) => p.metadata.uid !== before.metadata.uid && !p.metadata.deletionTimestamp && p.status?.phase === "Running");
    expect(after.metadata.annotations["kubernetes.io/config.mirror"]).toBe(before.metadata.annotations["kubernetes.io/config.mirror"]);
    // The static pod itself was never restarted: its container started when it first did.
    expect(after.status.containerStatuses[0].restartCount).toBe(0);
    expect(after.status.containerStatuses[0].state.running.startedAt).toBe(before.status.containerStatuses[0].state.running.startedAt);
  });

  it("a changed manifest replaces the pod; a removed one stops it and deletes its mirror pod", async () => {
    const before = await mirrorPod("the mirror pod", (p) => p.status?.phase === "Running");
    writeFileSync(join(manifests, "web.json"), manifest("busybox:1.37"));
    const changed = await mirrorPod("the mirror pod of the changed manifest", (p) =>
      p.metadata.annotations["kubernetes.io/config.mirror"] !== before.metadata.annotations["kubernetes.io/config.mirror"] && p.status?.phase === "Running");
    expect(changed.spec.containers[0].image).toBe("busybox:1.37");

    unlinkSync(join(manifests, "web.json"));
    await until("the mirror pod to be gone", async () => ((await harness.kubectl(kubectl, "get", "pod", MIRROR)).code !== 0 ? true : undefined));
    // Gone for good: not created again.
    const pods = JSON.parse(await harness.ok(kubectl, "get", "pods", "-A", "--field-selector", `spec.nodeName=${NODE}`, "-o", "json"));
    expect(pods.items).toEqual([]);
  });
});

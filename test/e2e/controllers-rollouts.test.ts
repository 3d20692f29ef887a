// Deployment rollouts through real kubectl, on hollow nodes run by the node agent's simulated
// runtime (a child process, as a user runs it), so pods really become Running and Ready and
// `kubectl rollout status` waits on what the controllers report: scale; set image with rollout
// status and history; rollout undo back to the previous template; rollout pause holding a new
// template back until resume; rollout restart replacing every pod; and a Deployment that cannot
// progress failing rollout status with kubectl's "exceeded its progress deadline".
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../scripts/dev-server.ts";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { eventually as waitFor } from "../support/until.ts";

const kubectl = "/usr/bin/kubectl";
const NS = "rollouts";
const NODES = ["rollout-0", "rollout-1", "rollout-2"];
let harness: KubectlHarness;
let agent: ChildProcess | undefined;
let agentOutput = "";
const dir = mkdtempSync(join(tmpdir(), "rollouts-e2e-"));

async function apply(name: string, manifest: object): Promise<void> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(manifest));
  await harness.ok(kubectl, "apply", "-f", file);
}

beforeAll(async () => {
  harness = await startKubectlHarness("controllers-rollouts-e2e-");
  const caHash = createHash("sha256").update(harness.plane.caPem!).digest("hex");
  // Three hollow nodes in one agent; a container is Ready 300 ms after it starts, so a rollout takes steps.
  agent = spawn(process.execPath, [join(PROJECT_ROOT, "node-agent/main.ts"), "join", "--server", harness.plane.url, "--token", await bootstrapToken(harness.plane),
    "--ca-cert-sha256", caHash, "--runtime", "simulated", "--nodes", String(NODES.length), "--node-name-prefix", "rollout-",
    "--pod-ready-delay", "300", "--state-dir", join(dir, "agent"), "--kill-pods-on-exit"], { stdio: ["ignore", "pipe", "pipe"] });
  agent.stdout!.on("data", (d) => (agentOutput += d));
  agent.stderr!.on("data", (d) => (agentOutput += d));
  await eventually("three Ready nodes", async () => {
    const ready = await harness.ok(kubectl, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{" "}{end}`);
    return NODES.every((n) => ready.includes(`${n}=True`));
  });
  await harness.ok(kubectl, "create", "namespace", NS);
  await eventually("the default service account", async () => (await harness.kubectl(kubectl, "get", "serviceaccount", "default", "-n", NS)).code === 0);
});

afterAll(async () => {
  agent?.kill("SIGKILL");
  await harness?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const eventually = (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) =>
  waitFor(what, check, timeoutMs, () => `agent output:\n${agentOutput.slice(-3000)}`);

const rolloutStatus = (name: string) => harness.kubectl(kubectl, "rollout", "status", `deployment/${name}`, "-n", NS, "--timeout=90s");

/** The Deployment's pods that are not being deleted: name, image and phase/readiness. */
async function livePods(app: string): Promise<{ name: string; image: string; running: boolean }[]> {
  const list = JSON.parse(await harness.ok(kubectl, "get", "pods", "-n", NS, "-l", `app=${app}`, "-o", "json")).items as {
    metadata: { name: string; deletionTimestamp?: string };
    spec: { containers: { image: string }[] };
    status: { phase?: string; conditions?: { type: string; status: string }[] };
  }[];
  return list.filter((p) => !p.metadata.deletionTimestamp).map((p) => ({
    name: p.metadata.name, image: p.spec.containers[0]!.image,
    running: p.status.phase === "Running" && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true,
  }));
}

/** `kubectl rollout history`'s rows: revision and change cause. */
async function history(name: string): Promise<string[]> {
  const out = await harness.ok(kubectl, "rollout", "history", `deployment/${name}`, "-n", NS);
  return out.split("\n").slice(2).map((line) => line.trim().replace(/\s+/g, " ")).filter(Boolean);
}

const image = (name: string) => harness.ok(kubectl, "get", "deployment", name, "-n", NS, "-o", "jsonpath={.spec.template.spec.containers[0].image}");
const replicaSets = (app: string) => harness.ok(kubectl, "get", "rs", "-n", NS, "-l", `app=${app}`, "-o",
  `jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}:{.spec.template.spec.containers[0].image}:{.spec.replicas}{"\\n"}{end}`)
  .then((out) => out.trim().split("\n").filter(Boolean).sort());

/** Once a rollout is done: exactly `replicas` pods, all Running and Ready on the Deployment's image. */
async function expectSettled(app: string, replicas: number): Promise<{ name: string; image: string; running: boolean }[]> {
  const want = await image(app);
  let pods: { name: string; image: string; running: boolean }[] = [];
  // Old pods the agent is still stopping carry a deletionTimestamp; rollout status has already said done.
  await eventually(`${replicas} ready pods of ${want}`, async () => {
    pods = await livePods(app);
    return pods.length === replicas && pods.every((p) => p.running && p.image === want);
  }, 30_000);
  return pods;
}

describe("Deployment rollouts with kubectl on simulated nodes", () => {
  it("create deployment --replicas=3 and scale to 5: rollout status completes with every pod Running and Ready", async () => {
    await harness.ok(kubectl, "create", "deployment", "web", "-n", NS, "--image=busybox", "--replicas=3");
    const first = await rolloutStatus("web");
    expect(first.stderr).toBe("");
    expect(first.stdout).toContain('deployment "web" successfully rolled out');
    await expectSettled("web", 3);

    await harness.ok(kubectl, "scale", "deployment", "web", "-n", NS, "--replicas=5");
    expect((await rolloutStatus("web")).stdout).toContain('deployment "web" successfully rolled out');
    await expectSettled("web", 5);
    const status = await harness.ok(kubectl, "get", "deployment", "web", "-n", NS, "-o", "jsonpath={.status.replicas}/{.status.updatedReplicas}/{.status.readyReplicas}/{.status.availableReplicas}");
    expect(status).toBe("5/5/5/5");
    expect(await harness.ok(kubectl, "get", "deployment", "web", "-n", NS)).toMatch(/^web\s+5\/5\s+5\s+5\s/m);
  });

  it("set image: rollout status ends when the new ReplicaSet is rolled out; history lists both revisions with their change cause", async () => {
    await harness.ok(kubectl, "set", "image", "deployment/web", "-n", NS, "busybox=busybox:1.36");
    await harness.ok(kubectl, "annotate", "deployment/web", "-n", NS, "kubernetes.io/change-cause=image busybox:1.36");
    const rolled = await rolloutStatus("web");
    expect(rolled.stdout).toContain('deployment "web" successfully rolled out');
    await expectSettled("web", 5);
    expect(await replicaSets("web")).toEqual(["1:busybox:0", "2:busybox:1.36:5"]);
    expect(await history("web")).toEqual(["1 <none>", "2 image busybox:1.36"]);
    const described = await harness.ok(kubectl, "describe", "deployment", "web", "-n", NS);
    expect(described).toMatch(/Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled down replica set web-[a-z0-9]+ to 0 from \d+/);
    expect(await harness.ok(kubectl, "rollout", "history", "deployment/web", "-n", NS, "--revision=2")).toMatch(/Image:\s+busybox:1\.36/);
  });

  it("rollout undo returns to the previous template as revision 3", async () => {
    const before = new Set((await livePods("web")).map((p) => p.name));
    expect(await harness.ok(kubectl, "rollout", "undo", "deployment/web", "-n", NS)).toContain("deployment.apps/web rolled back");
    expect((await rolloutStatus("web")).stdout).toContain('deployment "web" successfully rolled out');
    expect(await image("web")).toBe("busybox");
    const pods = await expectSettled("web", 5);
    expect(pods.filter((p) => before.has(p.name))).toEqual([]);
    // Revision 1's ReplicaSet is the current one again, renumbered.
    expect(await replicaSets("web")).toEqual(["2:busybox:1.36:0", "3:busybox:5"]);
    expect(await history("web")).toEqual(["2 image busybox:1.36", "3 <none>"]);
  });

  it("rollout pause holds a new template back; resume rolls it out", async () => {
    const before = (await livePods("web")).map((p) => p.name).sort();
    await harness.ok(kubectl, "rollout", "pause", "deployment/web", "-n", NS);
    await harness.ok(kubectl, "set", "image", "deployment/web", "-n", NS, "busybox=busybox:1.37");
    await eventually("the paused condition", async () =>
      (await harness.ok(kubectl, "get", "deployment", "web", "-n", NS, "-o", `jsonpath={.status.conditions[?(@.type=="Progressing")].reason}`)) === "DeploymentPaused");
    const paused = await harness.kubectl(kubectl, "rollout", "status", "deployment/web", "-n", NS, "--watch=false");
    expect(paused.stdout).toContain("Waiting for deployment \"web\" rollout to finish: 0 out of 5 new replicas have been updated...");
    // The paused condition was written after the template changed: no ReplicaSet came of it, no pod changed.
    expect(await replicaSets("web")).toEqual(["2:busybox:1.36:0", "3:busybox:5"]);
    expect((await livePods("web")).map((p) => p.name).sort()).toEqual(before);

    await harness.ok(kubectl, "rollout", "resume", "deployment/web", "-n", NS);
    expect((await rolloutStatus("web")).stdout).toContain('deployment "web" successfully rolled out');
    await expectSettled("web", 5);
    expect(await replicaSets("web")).toEqual(["2:busybox:1.36:0", "3:busybox:0", "4:busybox:1.37:5"]);
  });

  it("rollout restart replaces every pod", async () => {
    const before = new Set((await livePods("web")).map((p) => p.name));
    await harness.ok(kubectl, "rollout", "restart", "deployment/web", "-n", NS);
    expect((await rolloutStatus("web")).stdout).toContain('deployment "web" successfully rolled out');
    const pods = await expectSettled("web", 5);
    expect(pods.filter((p) => before.has(p.name))).toEqual([]);
    const restartedAt = await harness.ok(kubectl, "get", "deployment", "web", "-n", NS, "-o", "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}");
    expect(restartedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((await history("web")).map((row) => row.split(" ")[0])).toEqual(["2", "3", "4", "5"]);
  });

  it("a Deployment whose pods cannot run fails rollout status past its progressDeadlineSeconds", async () => {
    await apply("stuck", {
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "stuck", namespace: NS },
      spec: {
        replicas: 2, progressDeadlineSeconds: 5, selector: { matchLabels: { app: "stuck" } },
        // No node has this label: the pods stay Pending.
        template: { metadata: { labels: { app: "stuck" } }, spec: { nodeSelector: { pool: "none" }, containers: [{ name: "main", image: "busybox" }] } },
      },
    });
    const started = Date.now();
    const status = await rolloutStatus("stuck");
    expect(status.code).not.toBe(0);
    expect(status.stderr.trim()).toBe('error: deployment "stuck" exceeded its progress deadline');
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    const progressing = await harness.ok(kubectl, "get", "deployment", "stuck", "-n", NS, "-o",
      `jsonpath={.status.conditions[?(@.type=="Progressing")].status}/{.status.conditions[?(@.type=="Progressing")].reason}/{.status.conditions[?(@.type=="Progressing")].message}`);
    expect(progressing).toMatch(/^False\/ProgressDeadlineExceeded\/ReplicaSet "stuck-[a-z0-9]+" has timed out progressing\.$/);
  });
});

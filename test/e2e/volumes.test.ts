// PersistentVolumes end to end, with real kubectl and the agent bundle on the simulated runtime: the
// cluster starts with the default local-path class; a StatefulSet's claims get that class, follow
// their pods to the node, and are Bound to local-path volumes the agent made (a directory under its
// state directory, node affinity to the node); deleting a claim deletes its volume and directory.
// A volume made by hand binds to a claim that fits and is Released, kept, when the claim goes.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgent } from "../../scripts/build-agent.ts";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { until as waitUntil } from "../support/until.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "volumes-node";
const HOST_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;
let harness: KubectlHarness;
let dir: string;
let stateDir: string;
let agent: ChildProcess | undefined;
let agentOutput = "";

async function apply(name: string, manifest: object): Promise<void> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(manifest));
  await harness.ok(kubectl, "apply", "-f", file);
}

const getJson = async (...args: string[]) => JSON.parse(await harness.ok(kubectl, "get", ...args, "-o", "json"));

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000) =>
  waitUntil(what, probe, { timeoutMs, detail: () => `agent output:\n${agentOutput.slice(-3000)}` });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "volumes-e2e-"));
  stateDir = join(dir, "agent");
  const bundle = join(dir, "edgeplane-agent.mjs");
  await buildAgent(bundle);
  harness = await startKubectlHarness("volumes-e2e-");
  const caHash = createHash("sha256").update(harness.plane.caPem!).digest("hex");
  agent = spawn(HOST_NODE, [bundle, "join", "--server", harness.plane.url, "--token", await bootstrapToken(harness.plane), "--ca-cert-sha256", caHash, "--runtime", "simulated", "--node-name", NODE, "--state-dir", stateDir], { stdio: ["ignore", "pipe", "pipe"] });
  agent.stdout!.on("data", (d) => (agentOutput += d));
  agent.stderr!.on("data", (d) => (agentOutput += d));
  await until("the Node to be registered", () => harness.ok(kubectl, "get", "node", NODE, "-o", "name"));
  await harness.ok(kubectl, "wait", `node/${NODE}`, "--for=condition=Ready", "--timeout=60s");
}, 120_000);

afterAll(async () => {
  agent?.kill("SIGKILL");
  await harness?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("persistent volumes", () => {
  it("the cluster starts with local-path as its default class", async () => {
    const table = await harness.ok(kubectl, "get", "storageclass");
    expect(table).toMatch(/^NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE\n/);
    expect(table).toMatch(/local-path \(default\)\s+edgeplane\.dev\/local-path\s+Delete\s+WaitForFirstConsumer\s+false\s+/);
  });

  it("a StatefulSet's claims are Bound to local-path volumes on the pods' node, and a deleted claim takes its volume and directory with it", async () => {
    await until("the default service account", () => harness.ok(kubectl, "get", "serviceaccount", "default", "-o", "name"));
    await apply("web", {
      apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "web", namespace: "default" },
      spec: {
        replicas: 2, serviceName: "web", selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "main", image: "busybox", volumeMounts: [{ name: "www", mountPath: "/www" }] }] } },
        volumeClaimTemplates: [{ metadata: { name: "www" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
      },
    });
    await until("web-1 to be Ready", () => harness.ok(kubectl, "wait", "pod/web-1", "--for=condition=Ready", "--timeout=5s"), 60_000);

    for (const name of ["www-web-0", "www-web-1"]) {
      const claim = await getJson("pvc", name);
      expect(claim.spec.storageClassName).toBe("local-path");
      expect(claim.status).toMatchObject({ phase: "Bound", capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"] });
      expect(claim.metadata.annotations).toMatchObject({
        "volume.kubernetes.io/selected-node": NODE, "volume.kubernetes.io/storage-provisioner": "edgeplane.dev/local-path",
        "pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes",
      });
      const volume = await getJson("pv", claim.spec.volumeName);
      expect(volume.metadata.name).toBe(`pvc-${claim.metadata.uid}`);
      expect(volume.spec).toMatchObject({
        claimRef: { namespace: "default", name, uid: claim.metadata.uid }, persistentVolumeReclaimPolicy: "Delete", storageClassName: "local-path",
        capacity: { storage: "1Gi" }, hostPath: { path: join(stateDir, "local-path", volume.metadata.name) },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [NODE] }] }] } },
      });
      expect(volume.status.phase).toBe("Bound");
      expect(statSync(volume.spec.hostPath.path).isDirectory()).toBe(true);
    }
    expect(await harness.ok(kubectl, "get", "pvc", "www-web-0")).toMatch(/www-web-0\s+Bound\s+pvc-\S+\s+1Gi\s+RWO\s+local-path\s+<unset>\s+/);
    expect(await harness.ok(kubectl, "describe", "pvc", "www-web-0")).toMatch(/ExternalProvisioning\s+.*persistentvolume-binder-controller\s+Waiting for a volume to be created either by the external provisioner 'edgeplane\.dev\/local-path'/);

    // The set is scaled to one; its second claim (kept, as whenScaled Retain says) is then deleted.
    const claim = await getJson("pvc", "www-web-1");
    const path = join(stateDir, "local-path", claim.spec.volumeName);
    await harness.ok(kubectl, "scale", "statefulset/web", "--replicas=1");
    await until("web-1 to be gone", async () => ((await harness.ok(kubectl, "get", "pods", "-l", "app=web", "-o", "name")).includes("web-1") ? undefined : true));
    await harness.ok(kubectl, "delete", "pvc", "www-web-1");
    await until("the volume to be deleted", async () => ((await harness.kubectl(kubectl, "get", "pv", claim.spec.volumeName)).code !== 0 ? true : undefined));
    expect(existsSync(path)).toBe(false);
    expect((await getJson("pvc", "www-web-0")).status.phase).toBe("Bound");
  }, 90_000);

  it("a volume made by hand binds to a claim that fits, and is Released and kept when the claim goes (Retain)", async () => {
    await apply("manual-pv", {
      apiVersion: "v1", kind: "PersistentVolume", metadata: { name: "manual-5g", labels: { tier: "db" } },
      spec: { capacity: { storage: "5Gi" }, accessModes: ["ReadWriteOnce", "ReadOnlyMany"], storageClassName: "manual", hostPath: { path: join(dir, "manual") } },
    });
    await apply("manual-pvc", {
      apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "db", namespace: "default" },
      spec: { storageClassName: "manual", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "2Gi" } }, selector: { matchLabels: { tier: "db" } } },
    });
    await until("the claim to be Bound", async () => ((await getJson("pvc", "db")).status.phase === "Bound" ? true : undefined));
    expect(await harness.ok(kubectl, "get", "pv", "manual-5g")).toMatch(/manual-5g\s+5Gi\s+RWO,ROX\s+Retain\s+Bound\s+default\/db\s+manual\s+<unset>\s+\S*\s+/);
    await harness.ok(kubectl, "delete", "pvc", "db");
    await until("the volume to be Released", async () => ((await getJson("pv", "manual-5g")).status.phase === "Released" ? true : undefined));

    // kube's validation: a volume needs its capacity, access modes and exactly one source.
    writeFileSync(join(dir, "bad-pv.json"), JSON.stringify({ apiVersion: "v1", kind: "PersistentVolume", metadata: { name: "bad" }, spec: { storageClassName: "manual" } }));
    const refused = await harness.kubectl(kubectl, "create", "-f", join(dir, "bad-pv.json"));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('PersistentVolume "bad" is invalid');
    expect(refused.stderr).toContain("spec.capacity: Required value");
    expect(refused.stderr).toContain("spec: Required value: must specify a volume type");
  }, 60_000);
});

// The workload controllers through real kubectl on hollow nodes (Nodes registered through the API,
// their Leases renewed as a kubelet's: test/support/hollow-nodes.ts). No kubelet runs, so where a
// pod has to succeed, fail or be ready the test reports it through the status subresource as a
// kubelet would. A Job completes and another exhausts its backoffLimit; a CronJob fires on its
// one-minute schedule; a DaemonSet follows nodes as they come and go, skips a tainted one and rolls
// back with rollout undo; a StatefulSet starts pod 1 only once pod 0 is Ready, each with its claim,
// and reports its rollout complete. The cases run concurrently (their own namespaces), so the
// CronJob's minute overlaps the rest.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HollowNodes } from "../support/hollow-nodes.ts";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { eventually } from "../support/until.ts";

let harness: KubectlHarness;
let nodes: HollowNodes;
/**
 * The Jobs' and the StatefulSet's pods run on a node of their own, tainted so the DaemonSet skips
 * it: the DaemonSet case deletes nodes, and PodGC the pods bound to them.
 */
const WORKLOADS_NODE = "workloads";
const onWorkloadsNode = {
  nodeSelector: { "kubernetes.io/hostname": WORKLOADS_NODE },
  tolerations: [{ key: "dedicated", operator: "Equal", value: WORKLOADS_NODE, effect: "NoSchedule" }],
};
const kubectl = "/usr/bin/kubectl";
const dir = mkdtempSync(join(tmpdir(), "workloads-e2e-"));

beforeAll(async () => {
  harness = await startKubectlHarness("controllers-workloads-e2e-");
  nodes = new HollowNodes(harness.plane);
  await nodes.register(WORKLOADS_NODE, { taints: [{ key: "dedicated", value: WORKLOADS_NODE, effect: "NoSchedule" }] });
});

afterAll(async () => {
  nodes?.stop();
  await harness?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function apply(name: string, manifest: object): Promise<void> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(manifest));
  await harness.ok(kubectl, "apply", "-f", file);
}

const get = (ns: string, what: string, jsonpath: string) => harness.ok(kubectl, "get", what, "-n", ns, "-o", `jsonpath=${jsonpath}`);
const names = async (ns: string, selector: string) => (await harness.ok(kubectl, "get", "pods", "-n", ns, "-l", selector, "-o", "jsonpath={.items[*].metadata.name}")).split(" ").filter(Boolean);

/** What a kubelet reports when the pod's container exits. */
/** What a kubelet reports for a container that exited; answers the finishedAt it wrote (ms since the epoch). */
async function exited(ns: string, pod: string, exitCode: number): Promise<number> {
  const at = Date.now();
  const now = new Date(at).toISOString();
  await harness.ok(kubectl, "patch", "pod", pod, "-n", ns, "--subresource=status", "--type=merge", "-p", JSON.stringify({
    status: {
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      containerStatuses: [{ name: "main", image: "busybox", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode, reason: exitCode ? "Error" : "Completed", startedAt: now, finishedAt: now } } }],
    },
  }));
  return at;
}

async function ready(ns: string, pod: string): Promise<void> {
  const now = new Date().toISOString();
  await harness.ok(kubectl, "patch", "pod", pod, "-n", ns, "--subresource=status", "--type=merge", "-p", JSON.stringify({
    status: { phase: "Running", conditions: [{ type: "Ready", status: "True", lastTransitionTime: now }] },
  }));
}

/** What a kubelet does once a deleted pod's containers have stopped: removes it for good. */
async function finishDeletions(ns: string): Promise<void> {
  const pods = JSON.parse(await harness.ok(kubectl, "get", "pods", "-n", ns, "-o", "json")).items as { metadata: { name: string; deletionTimestamp?: string } }[];
  for (const pod of pods.filter((p) => p.metadata.deletionTimestamp)) {
    await harness.kubectl(kubectl, "delete", "pod", pod.metadata.name, "-n", ns, "--grace-period=0", "--force");
  }
}

const job = (name: string, backoffLimit: number) => ({
  apiVersion: "batch/v1", kind: "Job", metadata: { name },
  spec: { backoffLimit, template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox" }], ...onWorkloadsNode } } },
});

describe.concurrent("workload controllers with kubectl", () => {
  it("a Job completes (kubectl wait --for=condition=complete) and one exhausts its backoffLimit", async () => {
    await harness.ok(kubectl, "create", "namespace", "jobs");
    await apply("done", { ...job("done", 6), metadata: { name: "done", namespace: "jobs" } });
    await eventually("the job's pod", async () => (await names("jobs", "job-name=done")).length === 1);
    const [pod] = await names("jobs", "job-name=done");
    await exited("jobs", pod!, 0);
    await harness.ok(kubectl, "wait", "-n", "jobs", "job/done", "--for=condition=complete", "--timeout=30s");
    expect(await get("jobs", "job/done", "{.status.succeeded}/{.status.active}")).toBe("1/0");
    expect(await harness.ok(kubectl, "describe", "job", "done", "-n", "jobs")).toMatch(/Normal\s+Completed\s+\S+\s+job-controller\s+Job completed/);

    // backoffLimit 1: two failures, the second after the 10 s back-off.
    await apply("flaky", { ...job("flaky", 1), metadata: { name: "flaky", namespace: "jobs" } });
    await eventually("the first pod", async () => (await names("jobs", "job-name=flaky")).length === 1);
    const [first] = await names("jobs", "job-name=flaky");
    // The back-off counts from the finishedAt written (kept to the second): the replacement cannot be seen before 9 s after it.
    const failedAt = await exited("jobs", first!, 1);
    // (The failed pod may be gone by then: the DaemonSet case deletes nodes, and PodGC their pods.)
    const replacement = async () => (await names("jobs", "job-name=flaky")).find((n) => n !== first);
    await eventually("the replacement after the back-off", async () => (await replacement()) !== undefined, 30_000);
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(9_000);
    const second = (await replacement())!;
    await exited("jobs", second, 1);
    await harness.ok(kubectl, "wait", "-n", "jobs", "job/flaky", "--for=condition=failed", "--timeout=30s");
    expect(await get("jobs", "job/flaky", "{.status.conditions[?(@.type==\"Failed\")].reason}/{.status.failed}")).toBe("BackoffLimitExceeded/2");
    expect(await harness.ok(kubectl, "describe", "job", "flaky", "-n", "jobs")).toMatch(/Warning\s+BackoffLimitExceeded\s+\S+\s+job-controller\s+Job has reached the specified backoff limit/);
  }, 90_000);

  it("an Indexed Job with backoffLimitPerIndex gives up on a failing index and fails with FailedIndexes", async () => {
    await harness.ok(kubectl, "create", "namespace", "per-index");
    await apply("per-index", {
      apiVersion: "batch/v1", kind: "Job", metadata: { name: "idx", namespace: "per-index" },
      spec: { completionMode: "Indexed", completions: 2, parallelism: 2, backoffLimitPerIndex: 0, template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox" }], ...onWorkloadsNode } } },
    });
    const ofIndex = async (index: number) => (await names("per-index", `job-name=idx,batch.kubernetes.io/job-completion-index=${index}`))[0];
    await eventually("a pod for each index", async () => !!(await ofIndex(0)) && !!(await ofIndex(1)));
    await exited("per-index", (await ofIndex(0))!, 1);
    await exited("per-index", (await ofIndex(1))!, 0);
    await harness.ok(kubectl, "wait", "-n", "per-index", "job/idx", "--for=condition=failed", "--timeout=30s");
    expect(await get("per-index", "job/idx", "{.status.failedIndexes}/{.status.completedIndexes}/{.status.conditions[?(@.type==\"Failed\")].reason}")).toBe("0/1/FailedIndexes");
    expect(await harness.ok(kubectl, "describe", "job", "idx", "-n", "per-index")).toMatch(/Warning\s+FailedIndexes\s+\S+\s+job-controller\s+Job has failed indexes/);
  });

  it("a CronJob on an every-minute schedule creates its Job at the minute", async () => {
    await harness.ok(kubectl, "create", "namespace", "cron");
    await harness.ok(kubectl, "create", "cronjob", "tick", "-n", "cron", "--image=busybox", "--schedule=* * * * *");
    await eventually("the scheduled job", async () => /^tick-\d+$/.test(await get("cron", "jobs", "{.items[*].metadata.name}")), 75_000);
    const jobName = await get("cron", "jobs", "{.items[0].metadata.name}");
    // Named after the scheduled minute, which is lastScheduleTime.
    const scheduled = await get("cron", "cronjob/tick", "{.status.lastScheduleTime}");
    expect(Number(jobName.slice("tick-".length)) * 60_000).toBe(Date.parse(scheduled));
    expect(await get("cron", "cronjob/tick", "{.status.active[0].name}")).toBe(jobName);
    expect(await harness.ok(kubectl, "describe", "cronjob", "tick", "-n", "cron")).toMatch(new RegExp(`Normal\\s+SuccessfulCreate\\s+\\S+\\s+cronjob-controller\\s+Created job ${jobName}`));
  }, 90_000);

  it("a DaemonSet covers nodes as they come and go and skips a tainted one", async () => {
    await harness.ok(kubectl, "create", "namespace", "daemons");
    await nodes.register("ds-a");
    await nodes.register("ds-b");
    await nodes.register("ds-gpu", { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] });
    await apply("agent", {
      apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "agent", namespace: "daemons" },
      spec: {
        selector: { matchLabels: { app: "agent" } },
        template: { metadata: { labels: { app: "agent" } }, spec: { nodeSelector: { "kubernetes.io/hostname": "ds-a" }, containers: [{ name: "main", image: "busybox" }] } },
      },
    });
    // Only ds-a matches the node selector at first; widening it to every ds-* node is a new revision.
    await eventually("one pod on ds-a", async () => (await get("daemons", "ds/agent", "{.status.desiredNumberScheduled}/{.status.currentNumberScheduled}")) === "1/1");
    await harness.ok(kubectl, "patch", "ds", "agent", "-n", "daemons", "--type=json", "-p", JSON.stringify([{ op: "remove", path: "/spec/template/spec/nodeSelector" }]));
    // The node each live pod is pinned to (deleted pods stay Terminating on their node without a kubelet).
    const placed = async () => {
      const pods = JSON.parse(await harness.ok(kubectl, "get", "pods", "-n", "daemons", "-o", "json")).items as { metadata: { deletionTimestamp?: string }; spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: { matchFields: { values: string[] }[] }[] } } } } }[];
      return pods.filter((p) => !p.metadata.deletionTimestamp)
        .map((p) => p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]!.matchFields[0]!.values[0]!).sort().join(",");
    };
    // The new revision replaces the pod on ds-a once the old one is gone (the test finishing its deletion as ds-a's kubelet would).
    await eventually("pods on ds-a and ds-b, none on the tainted node", async () => {
      await finishDeletions("daemons");
      return (await placed()) === "ds-a,ds-b";
    });
    await eventually("the rollout counted", async () => (await get("daemons", "ds/agent", "{.status.desiredNumberScheduled}/{.status.updatedNumberScheduled}")) === "2/2");
    await nodes.register("ds-c");
    await eventually("a pod on the new node", async () => (await placed()).includes("ds-c"));
    nodes.silence("ds-b");
    await harness.ok(kubectl, "delete", "node", "ds-b");
    await eventually("one node fewer to cover", async () => (await get("daemons", "ds/agent", "{.status.desiredNumberScheduled}")) === String(await countEligibleNodes()));
    expect(await harness.ok(kubectl, "rollout", "history", "daemonset", "agent", "-n", "daemons")).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
    // Back to revision 1: the node selector returns, and ds-a is all it covers again (as revision 3).
    expect(await harness.ok(kubectl, "rollout", "undo", "daemonset", "agent", "-n", "daemons", "--to-revision=1")).toMatch(/daemonset.apps\/agent rolled back/);
    expect(await get("daemons", "ds/agent", "{.spec.template.spec.nodeSelector.kubernetes\\.io/hostname}")).toBe("ds-a");
    await eventually("revision 1's nodes", async () => {
      await finishDeletions("daemons");
      return (await get("daemons", "ds/agent", "{.status.desiredNumberScheduled}/{.status.updatedNumberScheduled}")) === "1/1";
    });
    expect(await harness.ok(kubectl, "rollout", "history", "daemonset", "agent", "-n", "daemons")).toMatch(/REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>/);
    expect(await harness.ok(kubectl, "describe", "ds", "agent", "-n", "daemons")).toMatch(/Normal\s+SuccessfulCreate\s+\S+\s+daemonset-controller\s+Created pod: agent-/);
  }, 90_000);

  it("a StatefulSet starts pod 1 only after pod 0 is Ready, each with its claim", async () => {
    await harness.ok(kubectl, "create", "namespace", "stateful");
    await apply("web", {
      apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "web", namespace: "stateful" },
      spec: {
        replicas: 2, serviceName: "web", selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "main", image: "busybox" }], ...onWorkloadsNode } },
        volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
      },
    });
    await eventually("web-0 and the set's status", async () => (await get("stateful", "sts/web", "{.status.replicas}")) === "1");
    expect(await names("stateful", "app=web")).toEqual(["web-0"]);
    expect(await get("stateful", "pod/web-0", "{.spec.hostname}.{.spec.subdomain} {.spec.volumes[?(@.name==\"data\")].persistentVolumeClaim.claimName}")).toBe("web-0.web data-web-0");
    await ready("stateful", "web-0");
    await eventually("web-1 once web-0 is ready", async () => (await names("stateful", "app=web")).length === 2);
    await ready("stateful", "web-1");
    await eventually("both ready", async () => (await get("stateful", "sts/web", "{.status.readyReplicas}/{.status.currentReplicas}/{.status.updatedReplicas}")) === "2/2/2");
    expect((await get("stateful", "pvc", "{.items[*].metadata.name}")).split(" ").sort()).toEqual(["data-web-0", "data-web-1"]);
    expect(await harness.ok(kubectl, "rollout", "status", "statefulset/web", "-n", "stateful", "--timeout=10s")).toMatch(/partitioned roll out complete: 2 new pods have been updated|roll out complete/);
    expect(await harness.ok(kubectl, "rollout", "history", "statefulset", "web", "-n", "stateful")).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+<none>/);
    const described = await harness.ok(kubectl, "describe", "sts", "web", "-n", "stateful");
    expect(described).toMatch(/Normal\s+SuccessfulCreate\s+\S+\s+statefulset-controller\s+create Claim data-web-0 Pod web-0 in StatefulSet web success/);
    expect(described).toMatch(/Normal\s+SuccessfulCreate\s+\S+\s+statefulset-controller\s+create Pod web-1 in StatefulSet web successful/);
  }, 90_000);
});

/** Nodes without an untolerated taint: what the DaemonSet should cover now. */
async function countEligibleNodes(): Promise<number> {
  const listed = await harness.ok(kubectl, "get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}={.spec.taints[*].key}{\"\\n\"}{end}");
  return listed.trim().split("\n").filter((line) => line && !line.includes("dedicated")).length;
}

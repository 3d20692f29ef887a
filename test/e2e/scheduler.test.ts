// The scheduler through real kubectl, against a control plane as npm start serves it: pods land on
// hollow nodes (Node objects registered through the API, as a kubelet would) that have room and
// tolerate them, and a pod that fits nowhere stays Pending with kube-scheduler's own words in
// `kubectl describe`.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KUBECTLS, startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";

let harness: KubectlHarness;
const dir = mkdtempSync(join(tmpdir(), "scheduler-e2e-"));
const kubectl = "/usr/bin/kubectl";

beforeAll(async () => {
  harness = await startKubectlHarness("scheduler-e2e-");
});

afterAll(async () => {
  await harness?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A Node registered through the API with capacity and Ready, as the node agent will register one. */
async function hollowNode(name: string, { cpu, zone, taint }: { cpu: string; zone: string; taint?: string }): Promise<void> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({
    apiVersion: "v1", kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone } },
    spec: taint ? { taints: [{ key: taint.split("=")[0], value: taint.split("=")[1]!.split(":")[0], effect: taint.split(":")[1] }] } : {},
  }));
  await harness.ok(kubectl, "create", "-f", file);
  const now = new Date().toISOString();
  await harness.ok(kubectl, "patch", "node", name, "--subresource=status", "--type=merge", "-p", JSON.stringify({
    status: {
      capacity: { cpu, memory: "8Gi", pods: "110" }, allocatable: { cpu, memory: "8Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "hollow node", lastHeartbeatTime: now, lastTransitionTime: now }],
    },
  }));
}

/** Waits (kubectl wait, no sleeping) until the pod's PodScheduled condition says `status`. */
async function waitScheduled(ns: string, pod: string, status: "True" | "False"): Promise<void> {
  await harness.ok(kubectl, "wait", "-n", ns, `pod/${pod}`, `--for=condition=PodScheduled=${status}`, "--timeout=60s");
}

describe("scheduling with kubectl", () => {
  it("places pods by resources, taints and tolerations, node affinity and zone anti-affinity", async () => {
    expect(KUBECTLS).toContain(kubectl);
    await hollowNode("node-a", { cpu: "4", zone: "zone-1" });
    await hollowNode("node-b", { cpu: "4", zone: "zone-2" });
    await hollowNode("gpu-1", { cpu: "8", zone: "zone-1", taint: "dedicated=gpu:NoSchedule" });
    await harness.ok(kubectl, "create", "namespace", "sched");

    // A plain pod never lands on the tainted node; one that tolerates the taint and asks for it does.
    await harness.ok(kubectl, "run", "plain", "-n", "sched", "--image=busybox", "--restart=Never");
    await harness.ok(kubectl, "run", "trainer", "-n", "sched", "--image=busybox", "--restart=Never", "--overrides", JSON.stringify({
      spec: {
        tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }],
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["gpu-1"] }] }] } } },
      },
    }));
    await waitScheduled("sched", "plain", "True");
    await waitScheduled("sched", "trainer", "True");
    expect(await harness.ok(kubectl, "get", "pod", "plain", "-n", "sched", "-o", "jsonpath={.spec.nodeName}")).toMatch(/^node-[ab]$/);
    expect(await harness.ok(kubectl, "get", "pod", "trainer", "-n", "sched", "-o", "jsonpath={.spec.nodeName}")).toBe("gpu-1");

    // Two replicas that may not share a zone go to different zones.
    for (const name of ["spread-1", "spread-2"]) {
      await harness.ok(kubectl, "run", name, "-n", "sched", "--image=busybox", "--restart=Never", "--labels=app=spread", "--overrides", JSON.stringify({
        spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: "spread" } }, topologyKey: "topology.kubernetes.io/zone" }] } } },
      }));
      await waitScheduled("sched", name, "True");
    }
    const zones = await harness.ok(kubectl, "get", "pods", "-n", "sched", "-l", "app=spread", "-o", "jsonpath={.items[*].spec.nodeName}");
    expect(new Set(zones.split(" ")).size).toBe(2);

    const described = await harness.ok(kubectl, "describe", "pod", "plain", "-n", "sched");
    expect(described).toMatch(/Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned sched\/plain to node-[ab]/);
  });

  it("leaves a pod too big for any node Pending, with kube-scheduler's FailedScheduling message", async () => {
    await harness.ok(kubectl, "create", "namespace", "sched-big");
    await harness.ok(kubectl, "run", "huge", "-n", "sched-big", "--image=busybox", "--restart=Never", "--overrides", JSON.stringify({
      spec: { containers: [{ name: "huge", image: "busybox", resources: { requests: { cpu: "64" } } }] },
    }));
    await waitScheduled("sched-big", "huge", "False");
    expect(await harness.ok(kubectl, "get", "pod", "huge", "-n", "sched-big", "-o", "jsonpath={.status.phase} {.spec.nodeName}")).toBe("Pending ");
    const described = await harness.ok(kubectl, "describe", "pod", "huge", "-n", "sched-big");
    expect(described).toMatch(/Warning\s+FailedScheduling\s+\S+\s+default-scheduler\s+0\/3 nodes are available: 1 node\(s\) had untolerated taint \{dedicated: gpu\}, 2 Insufficient cpu\. preemption: 0\/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod\.\./);
  });

  it("lists the scheduler as Healthy in componentstatuses and holds its lease in kube-system", async () => {
    const statuses = await harness.ok(kubectl, "get", "componentstatuses");
    expect(statuses).toMatch(/^scheduler\s+Healthy\s+ok/m);
    expect(await harness.ok(kubectl, "get", "lease", "kube-scheduler", "-n", "kube-system", "-o", "jsonpath={.spec.holderIdentity}")).toMatch(/^kube-scheduler-/);
  });
});

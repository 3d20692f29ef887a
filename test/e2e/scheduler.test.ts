// The scheduler through real kubectl, against a control plane as npm start serves it: pods land on
// hollow nodes (Node objects registered through the API, as a kubelet would) that have room and
// tolerate them, and a pod that fits nowhere stays Pending with kube-scheduler's own words in
// `kubectl describe`.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HollowNodes } from "../support/hollow-nodes.ts";
import { KUBECTLS, startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";

let harness: KubectlHarness;
const dir = mkdtempSync(join(tmpdir(), "scheduler-e2e-"));
const kubectl = "/usr/bin/kubectl";

let nodes: HollowNodes;

beforeAll(async () => {
  harness = await startKubectlHarness("scheduler-e2e-");
  nodes = new HollowNodes(harness.plane);
});

afterAll(async () => {
  nodes?.stop();
  await harness?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A Node registered through the API with capacity and Ready, its Lease renewed as a kubelet's heartbeat. */
async function hollowNode(name: string, { cpu, zone, taint }: { cpu: string; zone: string; taint?: string }): Promise<void> {
  await nodes.register(name, {
    cpu, labels: { "topology.kubernetes.io/zone": zone },
    taints: taint ? [{ key: taint.split("=")[0]!, value: taint.split("=")[1]!.split(":")[0], effect: taint.split(":")[1]! }] : [],
  });
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

  it("spreads four replicas 2+2 over two zones with a DoNotSchedule topology spread constraint", async () => {
    await harness.ok(kubectl, "create", "namespace", "sched-spread");
    const file = join(dir, "zonal.json");
    writeFileSync(file, JSON.stringify({
      apiVersion: "v1", kind: "List",
      items: [1, 2, 3, 4].map((i) => ({
        apiVersion: "v1", kind: "Pod",
        metadata: { name: `zonal-${i}`, namespace: "sched-spread", labels: { app: "zonal" } },
        spec: {
          containers: [{ name: "c", image: "busybox" }],
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "zonal" } } }],
        },
      })),
    }));
    await harness.ok(kubectl, "create", "-f", file);
    await harness.ok(kubectl, "wait", "-n", "sched-spread", "pod", "-l", "app=zonal", "--for=condition=PodScheduled=True", "--timeout=60s");
    const nodes = (await harness.ok(kubectl, "get", "pods", "-n", "sched-spread", "-l", "app=zonal", "-o", "jsonpath={.items[*].spec.nodeName}")).split(" ");
    // gpu-1 (zone-1) has a taint none of them tolerates, so zone-1 means node-a.
    expect(nodes.sort()).toEqual(["node-a", "node-a", "node-b", "node-b"]);
  });

  it("holds a pod with scheduling gates as SchedulingGated until the gates are removed", async () => {
    await harness.ok(kubectl, "create", "namespace", "sched-gates");
    await harness.ok(kubectl, "run", "gated", "-n", "sched-gates", "--image=busybox", "--restart=Never", "--overrides", JSON.stringify({
      spec: { schedulingGates: [{ name: "example.com/quota" }, { name: "example.com/approval" }] },
    }));
    await waitScheduled("sched-gates", "gated", "False");
    const reason = "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].reason} {.spec.nodeName}";
    expect(await harness.ok(kubectl, "get", "pod", "gated", "-n", "sched-gates", "-o", reason)).toBe("SchedulingGated ");
    await harness.ok(kubectl, "patch", "pod", "gated", "-n", "sched-gates", "--type=json", "-p", JSON.stringify([{ op: "remove", path: "/spec/schedulingGates" }]));
    await waitScheduled("sched-gates", "gated", "True");
    expect(await harness.ok(kubectl, "get", "pod", "gated", "-n", "sched-gates", "-o", "jsonpath={.spec.nodeName}")).toMatch(/^node-[ab]$/);
  });

  it("preempts a low-priority pod for a high-priority one that needs its room", async () => {
    await hollowNode("small-1", { cpu: "2", zone: "zone-3" });
    await harness.ok(kubectl, "create", "namespace", "sched-preempt");
    await harness.ok(kubectl, "create", "priorityclass", "high", "--value=1000", "--description=e2e preemptor");
    // Both ask for most of small-1 and may only go there. With no kubelet to stop it, the victim
    // would stay Terminating for its grace period: kube-scheduler deletes victims with their own
    // grace, so the low pod asks for none.
    const pinned = (name: string, extra: object) => JSON.stringify({
      spec: {
        nodeSelector: { "kubernetes.io/hostname": "small-1" },
        containers: [{ name, image: "busybox", resources: { requests: { cpu: "1500m" } } }],
        ...extra,
      },
    });
    await harness.ok(kubectl, "run", "low", "-n", "sched-preempt", "--image=busybox", "--restart=Never", "--overrides", pinned("low", { terminationGracePeriodSeconds: 0 }));
    await waitScheduled("sched-preempt", "low", "True");
    expect(await harness.ok(kubectl, "get", "pod", "low", "-n", "sched-preempt", "-o", "jsonpath={.spec.nodeName}")).toBe("small-1");

    await harness.ok(kubectl, "run", "high", "-n", "sched-preempt", "--image=busybox", "--restart=Never", "--overrides", pinned("high", { priorityClassName: "high" }));
    await harness.ok(kubectl, "wait", "-n", "sched-preempt", "pod/low", "--for=delete", "--timeout=60s");
    await waitScheduled("sched-preempt", "high", "True");
    expect(await harness.ok(kubectl, "get", "pod", "high", "-n", "sched-preempt", "-o", "jsonpath={.spec.priority} {.spec.nodeName}")).toBe("1000 small-1");
    const events = await harness.ok(kubectl, "get", "events", "-n", "sched-preempt", "--field-selector", "involvedObject.name=low", "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}");
    expect(events).toMatch(/^Preempted: Preempted by pod \S+ on node small-1$/m);
  });

  it("lists the scheduler as Healthy in componentstatuses and holds its lease in kube-system", async () => {
    const statuses = await harness.ok(kubectl, "get", "componentstatuses");
    expect(statuses).toMatch(/^scheduler\s+Healthy\s+ok/m);
    expect(await harness.ok(kubectl, "get", "lease", "kube-scheduler", "-n", "kube-system", "-o", "jsonpath={.spec.holderIdentity}")).toMatch(/^kube-scheduler-/);
  });
});

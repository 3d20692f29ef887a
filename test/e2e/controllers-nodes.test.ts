// The controllers that watch nodes and Services, through real kubectl against a control plane as
// npm start serves it (node-monitor grace period shortened to 8 s): hollow nodes registered through
// the API, whose Leases are renewed as a kubelet would (test/support/hollow-nodes.ts), get distinct
// pod CIDRs; a node whose Lease stops goes Ready=Unknown with the unreachable taints and its pods
// are evicted after their tolerationSeconds and replaced on the healthy node; a Service's
// EndpointSlice and Endpoints follow its pods' readiness as the test writes it; componentstatuses
// lists the controller manager.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HollowNodes } from "../support/hollow-nodes.ts";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { eventually } from "../support/until.ts";

let harness: KubectlHarness;
const dir = mkdtempSync(join(tmpdir(), "controllers-nodes-files-"));
const kubectl = "/usr/bin/kubectl";
const GRACE_SECONDS = 8;

let nodes: HollowNodes;

beforeAll(async () => {
  harness = await startKubectlHarness("controllers-nodes-e2e-", { vars: { NODE_MONITOR_GRACE_PERIOD_SECONDS: String(GRACE_SECONDS) } });
  // Heartbeats every second against the 8 s grace period.
  nodes = new HollowNodes(harness.plane, 1000);
});

afterAll(async () => {
  nodes?.stop();
  await harness?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function apply(name: string, object: unknown): Promise<void> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(object));
  await harness.ok(kubectl, "apply", "-f", file);
}

const get = (...args: string[]) => harness.ok(kubectl, "get", ...args);

const readyOf = (node: string) => get("node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`);
const podsOn = async (ns: string, node: string) =>
  (await get("pods", "-n", ns, "--field-selector", `spec.nodeName=${node}`, "-o", "jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{\"\\n\"}{end}"))
    .split("\n").filter(Boolean).map((line) => ({ name: line.split(" ")[0]!, terminating: !!line.split(" ")[1] }));

/** What a kubelet would report for a running pod on a hollow node. */
async function markRunning(ns: string, pod: string, ip: string, ready: boolean): Promise<void> {
  const now = new Date().toISOString();
  await harness.ok(kubectl, "patch", "pod", pod, "-n", ns, "--subresource=status", "--type=merge", "-p", JSON.stringify({
    status: { phase: "Running", podIP: ip, podIPs: [{ ip }], conditions: [{ type: "Ready", status: ready ? "True" : "False", lastTransitionTime: now }] },
  }));
}

describe("node controllers with kubectl", () => {
  it("gives each node its own pod CIDR from the cluster CIDR", async () => {
    await nodes.register("node-b");
    await nodes.register("node-a");
    const cidrs = async () => (await get("nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}={.spec.podCIDR}={.spec.podCIDRs[0]}{\"\\n\"}{end}")).trim().split("\n");
    await eventually("pod CIDRs on both nodes", async () => (await cidrs()).every((line) => /=10\.244\.\d+\.0\/24=/.test(line)));
    const assigned = (await cidrs()).map((line) => line.split("="));
    expect(assigned.map(([, cidr, first]) => cidr === first)).toEqual([true, true]);
    expect(new Set(assigned.map(([, cidr]) => cidr)).size).toBe(2);
    expect(await get("nodes")).toMatch(/^node-a\s+Ready\s/m);
  });

  it("a silent node turns Ready=Unknown and unreachable, and its pods are evicted and replaced on the healthy node", async () => {
    await harness.ok(kubectl, "create", "namespace", "evict");
    // Everything lands on node-b first: node-a is cordoned (and tainted unschedulable by the node controller).
    await harness.ok(kubectl, "cordon", "node-a");
    await eventually("the unschedulable taint", async () => (await get("node", "node-a", "-o", "jsonpath={.spec.taints[*].key}")).includes("node.kubernetes.io/unschedulable"));
    const tolerations = ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"].map((key) => ({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 2 }));
    await apply("web", {
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "evict" },
      spec: {
        replicas: 2, selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { tolerations, containers: [{ name: "c", image: "busybox" }] } },
      },
    });
    await eventually("2 pods on node-b", async () => (await podsOn("evict", "node-b")).length === 2);
    const victims = (await podsOn("evict", "node-b")).map((p) => p.name);
    for (const [i, pod] of victims.entries()) await markRunning("evict", pod, `10.244.9.${i + 2}`, true);
    await harness.ok(kubectl, "uncordon", "node-a");

    nodes.silence("node-b");
    await eventually("node-b Ready=Unknown", async () => (await readyOf("node-b")) === "Unknown", 60_000);
    const reason = await get("node", "node-b", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`);
    expect(reason).toBe("NodeStatusUnknown: Kubelet stopped posting node status.");
    await eventually("the unreachable taints", async () => {
      const taints = await get("node", "node-b", "-o", "jsonpath={range .spec.taints[*]}{.key}:{.effect}{\"\\n\"}{end}");
      return taints.includes("node.kubernetes.io/unreachable:NoExecute") && taints.includes("node.kubernetes.io/unreachable:NoSchedule");
    });
    expect(await get("nodes")).toMatch(/^node-b\s+NotReady\s/m);

    await eventually("replacements on node-a", async () => (await podsOn("evict", "node-a")).filter((p) => !p.terminating).length === 2, 60_000);
    const left = await podsOn("evict", "node-b");
    expect(left.map((p) => p.name).sort()).toEqual([...victims].sort());
    expect(left.every((p) => p.terminating)).toBe(true);
    for (const pod of victims) {
      const conditions = await get("pod", pod, "-n", "evict", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="DisruptionTarget")].reason}`);
      expect(conditions).toBe("False DeletionByTaintManager");
    }
    const podEvents = await get("events", "-n", "evict", "-o", "jsonpath={range .items[*]}{.type} {.reason} {.message}{\"\\n\"}{end}");
    for (const pod of victims) {
      expect(podEvents).toContain(`Normal TaintManagerEviction Marking for deletion Pod evict/${pod}`);
    }
    expect(podEvents).toContain("Warning NodeNotReady Node is not ready");
    const nodeEvents = await get("events", "-n", "default", "--field-selector", "involvedObject.name=node-b", "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}");
    expect(nodeEvents).toContain("NodeNotReady: Node node-b status is now: NodeNotReady");
    expect(await readyOf("node-a")).toBe("True");
  });

  it("a Service's EndpointSlice and Endpoints follow its pods' readiness", async () => {
    await harness.ok(kubectl, "create", "namespace", "svc");
    for (const [name, port] of [["echo-1", 8080], ["echo-2", 9090]] as const) {
      await apply(name, {
        apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "svc", labels: { app: "echo" } },
        spec: { nodeName: "node-a", containers: [{ name: "c", image: "busybox", ports: [{ name: "http", containerPort: port }] }] },
      });
    }
    await apply("echo-svc", { apiVersion: "v1", kind: "Service", metadata: { name: "echo", namespace: "svc" }, spec: { selector: { app: "echo" }, ports: [{ name: "web", port: 80, targetPort: "http" }] } });
    const slices = async () => JSON.parse(await get("endpointslices", "-n", "svc", "-l", "kubernetes.io/service-name=echo", "-o", "json")).items as {
      metadata: { labels: Record<string, string>; ownerReferences: { kind: string; name: string }[] }; addressType: string;
      endpoints: { addresses: string[]; conditions: { ready: boolean; serving: boolean; terminating: boolean }; nodeName: string; targetRef: { name: string } }[] | null;
      ports: { name: string; port: number }[] | null;
    }[];
    const endpointStates = async () => (await slices()).flatMap((s) => (s.endpoints ?? []).map((e) => `${e.targetRef.name}@${e.addresses[0]}:${s.ports?.[0]?.port} ready=${e.conditions.ready} terminating=${e.conditions.terminating}`)).sort();
    // No pod has an address yet: one placeholder slice, owned by the Service.
    await eventually("the placeholder slice", async () => (await slices()).length === 1);
    const [placeholder] = await slices();
    expect(placeholder!.addressType).toBe("IPv4");
    expect(placeholder!.metadata.labels["endpointslice.kubernetes.io/managed-by"]).toBe("endpointslice-controller.k8s.io");
    expect(placeholder!.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Service", name: "echo" })]);

    await markRunning("svc", "echo-1", "10.244.1.11", false);
    await markRunning("svc", "echo-2", "10.244.1.12", false);
    await eventually("two not-ready endpoints", async () =>
      JSON.stringify(await endpointStates()) === JSON.stringify(["echo-1@10.244.1.11:8080 ready=false terminating=false", "echo-2@10.244.1.12:9090 ready=false terminating=false"]));
    expect(await get("endpoints", "echo", "-n", "svc", "-o", "jsonpath={.subsets[*].notReadyAddresses[*].ip}")).toBe("10.244.1.11 10.244.1.12");

    await markRunning("svc", "echo-1", "10.244.1.11", true);
    await eventually("echo-1 ready", async () => (await endpointStates()).includes("echo-1@10.244.1.11:8080 ready=true terminating=false"));
    await eventually("echo-1 in the Endpoints' addresses", async () => (await get("endpoints", "echo", "-n", "svc")).includes("10.244.1.11:8080"));
    expect(await get("endpointslices", "-n", "svc")).toMatch(/^echo-\S+\s+IPv4\s+(8080|9090)\s+10\.244\.1\.1[12]\s/m);

    // Deleting a pod: terminating (its kubelet would stop it) in the slice, gone from the Endpoints.
    await harness.ok(kubectl, "delete", "pod", "echo-1", "-n", "svc", "--wait=false");
    await eventually("echo-1 terminating", async () => (await endpointStates()).includes("echo-1@10.244.1.11:8080 ready=false terminating=true"));
    await eventually("echo-1 out of the Endpoints", async () => (await get("endpoints", "echo", "-n", "svc", "-o", "jsonpath={.subsets[*].addresses[*].ip}")) === "");
  });

  it("lists the controller manager as Healthy in componentstatuses and in /readyz", async () => {
    expect(await get("componentstatuses")).toMatch(/^controller-manager\s+Healthy\s+ok/m);
    expect(await harness.ok(kubectl, "get", "--raw", "/readyz?verbose")).toContain("[+]controller-manager ok");
  });
});

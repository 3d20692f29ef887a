// The policy controllers through real kubectl on a hollow node (test/support/hollow-nodes.ts): a
// PodDisruptionBudget's ALLOWED DISRUPTIONS follows its pods' readiness (reported through the status
// subresource as a kubelet would), a ResourceQuota's used counts follow the pods and ConfigMaps
// created, `kubectl autoscale` makes an HPA that says why it cannot scale while metrics.k8s.io is not
// served, and a ReplicationController from a manifest gets its pods. The cases run concurrently.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HollowNodes } from "../support/hollow-nodes.ts";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { eventually } from "../support/until.ts";

let harness: KubectlHarness;
let nodes: HollowNodes;
const kubectl = "/usr/bin/kubectl";
const dir = mkdtempSync(join(tmpdir(), "policy-e2e-"));

beforeAll(async () => {
  harness = await startKubectlHarness("controllers-policy-e2e-");
  nodes = new HollowNodes(harness.plane);
  await nodes.register("policy-node");
});

afterAll(async () => {
  nodes?.stop();
  await harness?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const names = async (ns: string, selector: string) => (await harness.ok(kubectl, "get", "pods", "-n", ns, "-l", selector, "-o", "jsonpath={.items[*].metadata.name}")).split(" ").filter(Boolean);

/** What a kubelet reports once the pod runs and its readiness probe passes. */
async function ready(ns: string, pod: string): Promise<void> {
  const now = new Date().toISOString();
  await harness.ok(kubectl, "patch", "pod", pod, "-n", ns, "--subresource=status", "--type=merge", "-p", JSON.stringify({
    status: { phase: "Running", startTime: now, conditions: [{ type: "Ready", status: "True", lastTransitionTime: now }] },
  }));
}

describe.concurrent("policy controllers with kubectl", () => {
  it("kubectl create pdb: ALLOWED DISRUPTIONS counts the Ready pods over minAvailable", async () => {
    await harness.ok(kubectl, "create", "namespace", "budgets");
    await harness.ok(kubectl, "create", "deployment", "web", "-n", "budgets", "--image=busybox", "--replicas=3");
    await harness.ok(kubectl, "create", "pdb", "web", "-n", "budgets", "--selector=app=web", "--min-available=2");
    await eventually("3 pods", async () => (await names("budgets", "app=web")).length === 3);
    const row = () => harness.ok(kubectl, "get", "pdb", "web", "-n", "budgets", "--no-headers");
    await eventually("0 allowed while no pod is ready", async () => /^web\s+2\s+N\/A\s+0\s/.test(await row()));
    for (const pod of await names("budgets", "app=web")) await ready("budgets", pod);
    await eventually("1 allowed with 3 ready", async () => /^web\s+2\s+N\/A\s+1\s/.test(await row()));
    const described = await harness.ok(kubectl, "get", "pdb", "web", "-n", "budgets", "-o", "jsonpath={.status.currentHealthy}/{.status.desiredHealthy}/{.status.expectedPods}");
    expect(described).toBe("3/2/3");

    // An eviction spends the one disruption; the next is refused until the budget recovers.
    const [first, second] = await names("budgets", "app=web");
    const evict = (pod: string) => {
      const file = join(dir, `evict-${pod}.json`);
      writeFileSync(file, JSON.stringify({ apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod, namespace: "budgets" } }));
      return harness.kubectl(kubectl, "create", "--raw", `/api/v1/namespaces/budgets/pods/${pod}/eviction`, "-f", file);
    };
    expect((await evict(first!)).code).toBe(0);
    const refused = await evict(second!);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("Cannot evict pod as it would violate the pod's disruption budget.");
    await eventually("0 allowed after the eviction", async () => /^web\s+2\s+N\/A\s+0\s/.test(await row()));
  });

  it("kubectl create quota: used counts follow the pods and ConfigMaps created", async () => {
    await harness.ok(kubectl, "create", "namespace", "quotas");
    await harness.ok(kubectl, "create", "quota", "counts", "-n", "quotas", "--hard=pods=10,count/configmaps=10,count/deployments.apps=2");
    const used = () => harness.ok(kubectl, "get", "quota", "counts", "-n", "quotas", "-o", "jsonpath={.status.used}");
    await eventually("the quota counted", async () => (await used()) !== "");
    const before = JSON.parse(await used()) as Record<string, string>;
    await harness.ok(kubectl, "create", "configmap", "one", "-n", "quotas", "--from-literal=k=v");
    await harness.ok(kubectl, "create", "configmap", "two", "-n", "quotas", "--from-literal=k=v");
    await harness.ok(kubectl, "run", "solo", "-n", "quotas", "--image=busybox");
    await harness.ok(kubectl, "create", "deployment", "pair", "-n", "quotas", "--image=busybox", "--replicas=2");
    const configMaps = Number(before["count/configmaps"]) + 2;
    const expected = new RegExp(`count/configmaps: ${configMaps}/10, count/deployments.apps: 1/2, pods: 3/10`);
    await eventually("3 pods, the ConfigMaps and the Deployment counted", async () => expected.test(await harness.ok(kubectl, "get", "quota", "counts", "-n", "quotas")));
    // A pod that finished charges nothing once the controller recounts.
    await harness.ok(kubectl, "patch", "pod", "solo", "-n", "quotas", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { phase: "Succeeded" } }));
    await eventually("the finished pod no longer counted", async () => /pods: 2\/10/.test(await harness.ok(kubectl, "get", "quota", "counts", "-n", "quotas")));
    const described = await harness.ok(kubectl, "describe", "quota", "counts", "-n", "quotas");
    expect(described).toMatch(/pods\s+2\s+10/);
  });

  it("kubectl autoscale: ScalingActive=False in kubectl describe hpa while no pod of the target has metrics", async () => {
    await harness.ok(kubectl, "create", "namespace", "autoscale");
    await harness.ok(kubectl, "create", "deployment", "api", "-n", "autoscale", "--image=busybox", "--replicas=1");
    await harness.ok(kubectl, "autoscale", "deployment", "api", "-n", "autoscale", "--cpu-percent=50", "--min=1", "--max=3");
    const describe = () => harness.ok(kubectl, "describe", "hpa", "api", "-n", "autoscale");
    await eventually("the ScalingActive condition", async () => /ScalingActive\s+False\s+FailedGetResourceMetric/.test(await describe()));
    const described = await describe();
    expect(described).toMatch(/AbleToScale\s+True\s+SucceededGetScale\s+the HPA controller was able to get the target's current scale/);
    // metrics.k8s.io is served, but no node runs the pod here, so it has no metrics (metrics-server's empty list).
    expect(described).toContain("the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API");
    expect(described).toMatch(/Warning\s+FailedGetResourceMetric\s+.+\s+horizontal-pod-autoscaler\s+failed to get cpu utilization/);
    expect(described).toMatch(/Warning\s+FailedComputeMetricsReplicas\s+.+\s+horizontal-pod-autoscaler\s+invalid metrics \(1 invalid out of 1\)/);
  });

  it("kubectl create -f of a ReplicationController makes its pods", async () => {
    await harness.ok(kubectl, "create", "namespace", "legacy");
    const file = join(dir, "rc.json");
    writeFileSync(file, JSON.stringify({
      apiVersion: "v1", kind: "ReplicationController", metadata: { name: "nginx", namespace: "legacy" },
      spec: { replicas: 2, selector: { app: "nginx" }, template: { metadata: { labels: { app: "nginx" } }, spec: { containers: [{ name: "nginx", image: "busybox" }] } } },
    }));
    await harness.ok(kubectl, "create", "-f", file);
    await eventually("2 pods", async () => (await names("legacy", "app=nginx")).length === 2);
    await eventually("the RC's status", async () => /^nginx\s+2\s+2\s+0\s/.test(await harness.ok(kubectl, "get", "rc", "nginx", "-n", "legacy", "--no-headers")));
    const described = await harness.ok(kubectl, "describe", "rc", "nginx", "-n", "legacy");
    expect(described).toMatch(/Normal\s+SuccessfulCreate\s+.+\s+replication-controller\s+Created pod: nginx-/);
  });
});

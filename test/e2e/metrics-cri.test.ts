// Resource metrics and seccomp on a real containerd node (as root): the agent bundle joins on the
// cri runtime with its own containerd; a busybox pod spinning in a loop under a 200m CPU limit
// shows about 200m in `kubectl top pod` (CRI ListContainerStats, rates over the agent's 10 s
// housekeeping) and the node's own figures come from /proc; the Summary API carries the node's
// filesystem and processes. A RuntimeDefault seccomp profile filters the container's processes
// (Seccomp: 2 in /proc/1/status), a pod without one runs unconfined (0), as the kubelet's default,
// and a Localhost profile from the kubelet's seccomp directory refuses the calls it names. An HPA
// scales a Deployment of spinning pods on that real CPU load.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { criSuite } from "../support/agent-suite.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "metrics-cri";
const BRIDGE = "ep-metrics0";
/** A pod range clear of npm start's (10.244.0.0/16), the other cri e2e's (10.246–10.250) and bench:streams' (10.251). */
const CLUSTER_CIDR = "10.252.0.0/16";
/** A Localhost profile of this test, under the kubelet's seccomp directory: every call allowed but mkdir. */
const SECCOMP_DIR = "/var/lib/kubelet/seccomp";
const PROFILE = `edgeplane-e2e-${process.pid}-no-mkdir.json`;

const suite = criSuite({ prefix: "metrics-cri-e2e", node: NODE, bridge: BRIDGE, clusterCidr: CLUSTER_CIDR, intervalMs: 1000 });
const { until } = suite;
afterAll(() => rmSync(join(SECCOMP_DIR, PROFILE), { force: true }));

const pod = (name: string, command: string[], cpuLimit: string, seccompProfile?: { type: string }) => ({
  apiVersion: "v1", kind: "Pod", metadata: { name },
  spec: {
    terminationGracePeriodSeconds: 1,
    ...(seccompProfile ? { securityContext: { seccompProfile } } : {}),
    containers: [{ name: "main", image: "busybox", command, resources: { requests: { cpu: "100m", memory: "16Mi" }, limits: { cpu: cpuLimit, memory: "64Mi" } } }],
  },
});

/** "215m" → 215; "1" → 1000. */
const millicores = (text: string) => (text.endsWith("m") ? Number(text.slice(0, -1)) : Number(text) * 1000);
const mebibytes = (text: string) => (text.endsWith("Mi") ? Number(text.slice(0, -2)) : text.endsWith("Ki") ? Number(text.slice(0, -2)) / 1024 : Number(text) / 2 ** 20);

describe("resource metrics and seccomp on containerd", () => {
  it("the agent joins on containerd; a spinning pod and an idle one run", async () => {
    await suite.join();
    // The loop is held to a fifth of a core by its limit, so the test does not starve the machine.
    await suite.apply(pod("busy", ["sh", "-c", "while :; do :; done"], "200m", { type: "RuntimeDefault" }));
    await suite.apply(pod("idle", ["sleep", "3600"], "100m"));
    await suite.harness.ok(kubectl, "wait", "pod/busy", "pod/idle", "--for=condition=Ready", "--timeout=120s");
  });

  it("kubectl top pod shows the loop's CPU (about its 200m limit) and both pods' memory", async () => {
    const top = await until("both pods' metrics", async () => {
      const rows = (await suite.harness.ok(kubectl, "top", "pod", "--no-headers")).trim().split("\n").map((l) => l.trim().split(/\s+/));
      return rows.length === 2 ? Object.fromEntries(rows.map(([name, cpu, memory]) => [name!, { cpu: millicores(cpu!), memory: mebibytes(memory!) }])) : undefined;
    }, 90_000);
    expect(top.busy!.cpu).toBeGreaterThanOrEqual(120);
    expect(top.busy!.cpu).toBeLessThanOrEqual(260);
    expect(top.idle!.cpu).toBeLessThan(20);
    // kubectl prints whole MiB: busybox's shell may work in less than one; the API has the bytes.
    for (const name of ["busy", "idle"]) {
      expect(top[name]!.memory).toBeLessThan(64);
      const metrics = JSON.parse(await suite.harness.ok(kubectl, "get", "--raw", `/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/${name}`));
      expect(metrics.containers[0].name).toBe("main");
      expect(metrics.containers[0].usage.memory).toMatch(/^[1-9]\d*(Ki|Mi)?$/);
    }
    const containers = (await suite.harness.ok(kubectl, "top", "pod", "busy", "--containers", "--no-headers")).trim().split(/\s+/);
    expect(containers.slice(0, 2)).toEqual(["busy", "main"]);
  });

  it("kubectl top node and the Summary API show the host's own figures", async () => {
    const [name, cpu, cpuPercent, memory] = (await suite.harness.ok(kubectl, "top", "node", NODE, "--no-headers")).trim().split(/\s+/);
    expect(name).toBe(NODE);
    // At least the loop's share of a core; the host's other work counts too.
    expect(millicores(cpu!)).toBeGreaterThanOrEqual(120);
    expect(cpuPercent).toMatch(/^\d+%$/);
    expect(mebibytes(memory!)).toBeGreaterThan(64);
    const summary = JSON.parse(await suite.harness.ok(kubectl, "get", "--raw", `/api/v1/nodes/${NODE}/proxy/stats/summary`));
    expect(summary.node.nodeName).toBe(NODE);
    expect(summary.node.fs.capacityBytes).toBeGreaterThan(summary.node.fs.availableBytes);
    expect(summary.node.rlimit.curproc).toBeGreaterThan(1);
    const busy = summary.pods.find((p: { podRef: { name: string } }) => p.podRef.name === "busy");
    expect(busy.containers[0]).toMatchObject({ name: "main", cpu: { usageCoreNanoSeconds: expect.any(Number) }, memory: { workingSetBytes: expect.any(Number) } });
    expect(busy.containers[0].rootfs.usedBytes).toBeGreaterThanOrEqual(0);
  });

  it("a RuntimeDefault seccomp profile filters the container's processes; without one they run unconfined", async () => {
    expect(await suite.harness.ok(kubectl, "exec", "busy", "--", "grep", "^Seccomp:", "/proc/1/status")).toMatch(/^Seccomp:\s+2\n$/);
    expect(await suite.harness.ok(kubectl, "exec", "idle", "--", "grep", "^Seccomp:", "/proc/1/status")).toMatch(/^Seccomp:\s+0\n$/);
  });

  it("a Localhost seccomp profile refuses what it names", async () => {
    mkdirSync(SECCOMP_DIR, { recursive: true });
    writeFileSync(join(SECCOMP_DIR, PROFILE), JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }] }));
    const local = pod("local", ["sleep", "3600"], "100m");
    (local.spec.containers[0] as Record<string, unknown>).securityContext = { seccompProfile: { type: "Localhost", localhostProfile: PROFILE } };
    await suite.apply(local);
    await suite.harness.ok(kubectl, "wait", "pod/local", "--for=condition=Ready", "--timeout=120s");
    const refused = await suite.harness.kubectl(kubectl, "exec", "local", "--", "mkdir", "/tmp/made");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("Operation not permitted");
    expect((await suite.harness.kubectl(kubectl, "exec", "idle", "--", "mkdir", "/tmp/made")).code).toBe(0);
  });

  it("an HPA scales a Deployment of spinning pods on their real CPU load (kubectl autoscale)", async () => {
    // Each pod spins under a 200m limit against a 100m request: about 200% of its request, over the HPA's 50%.
    const template = pod("spin", ["sh", "-c", "while :; do :; done"], "200m");
    await suite.apply({
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "spin" },
      spec: { replicas: 1, selector: { matchLabels: { app: "spin" } }, template: { metadata: { labels: { app: "spin" } }, spec: template.spec } },
    });
    await suite.harness.ok(kubectl, "autoscale", "deployment", "spin", "--cpu-percent=50", "--min=1", "--max=2");
    await until("the HPA to scale the Deployment to 2", async () =>
      (await suite.harness.ok(kubectl, "get", "deployment", "spin", "-o", "jsonpath={.spec.replicas}")) === "2" ? true : undefined, 240_000);
    // The status that records the rescale is written just after the scale itself.
    const utilization = await until("the HPA's status to show the utilization", async () =>
      Number(await suite.harness.ok(kubectl, "get", "hpa", "spin", "-o", "jsonpath={.status.currentMetrics[0].resource.current.averageUtilization}")) || undefined);
    expect(utilization).toBeGreaterThan(50);
    const described = await suite.harness.ok(kubectl, "describe", "hpa", "spin");
    expect(described).toMatch(/SuccessfulRescale\s+.*New size: 2; reason: cpu resource utilization \(percentage of request\) above target/);
    await suite.harness.ok(kubectl, "delete", "deployment", "spin", "--wait=false");
  });
});

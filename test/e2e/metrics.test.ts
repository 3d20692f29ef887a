// Resource metrics end to end on hollow nodes run by the agent's simulated runtime (a child
// process, as a user runs it): the agent's /stats/summary through nodes/proxy; `kubectl top node`
// and `kubectl top pod` (--containers, -A, -l, --sort-by) with every kubectl 1.27–1.33, reading the
// figures the simulated.edgeplane.dev/cpu-usage annotation makes up; and a HorizontalPodAutoscaler
// made by `kubectl autoscale` that scales a Deployment up on that load, `kubectl get hpa` showing it.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../scripts/dev-server.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { KUBECTLS, startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { until as waitUntil } from "../support/until.ts";

const kubectl = "/usr/bin/kubectl";
const NS = "metrics";
const NODES = ["metrics-0", "metrics-1"];
let harness: KubectlHarness;
let agent: ChildProcess | undefined;
let agentOutput = "";
const dir = mkdtempSync(join(tmpdir(), "metrics-e2e-"));

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  waitUntil(what, probe, { timeoutMs, intervalMs: 500, detail: () => `agent output:\n${agentOutput.slice(-3000)}` });

async function apply(name: string, manifest: object): Promise<void> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(manifest));
  await harness.ok(kubectl, "apply", "-f", file);
}

/** A Deployment whose containers request CPU and memory and whose pods claim a made-up CPU usage. */
function deployment(name: string, replicas: number, cpuUsage: string, containers: { name: string; cpu: string; memory: string }[]) {
  return {
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: NS },
    spec: {
      replicas, selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: { "simulated.edgeplane.dev/cpu-usage": cpuUsage } },
        spec: { containers: containers.map((c) => ({ name: c.name, image: "busybox", resources: { requests: { cpu: c.cpu, memory: c.memory } } })) },
      },
    },
  };
}

/** kubectl's table as rows of cells. */
const rows = (text: string) => text.trim().split("\n").map((line) => line.trim().split(/\s+/));

beforeAll(async () => {
  harness = await startKubectlHarness("metrics-e2e-");
  const caHash = createHash("sha256").update(harness.plane.caPem!).digest("hex");
  agent = spawn(process.execPath, [join(PROJECT_ROOT, "node-agent/main.ts"), "join", "--server", harness.plane.url, "--token", await bootstrapToken(harness.plane),
    "--ca-cert-sha256", caHash, "--runtime", "simulated", "--nodes", String(NODES.length), "--node-name-prefix", "metrics-",
    "--state-dir", join(dir, "agent"), "--kill-pods-on-exit"], { stdio: ["ignore", "pipe", "pipe"] });
  agent.stdout!.on("data", (d) => (agentOutput += d));
  agent.stderr!.on("data", (d) => (agentOutput += d));
  await until("two Ready nodes with their tunnels", async () => {
    const ready = await harness.ok(kubectl, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{" "}{end}`);
    const tunnels = agentOutput.split("\n").filter((line) => line.includes('"tunnel connected"')).length;
    return NODES.every((n) => ready.includes(`${n}=True`)) && tunnels >= NODES.length ? true : undefined;
  });
  await harness.ok(kubectl, "create", "namespace", NS);
  await until("the default service account", async () => ((await harness.kubectl(kubectl, "get", "serviceaccount", "default", "-n", NS)).code === 0 ? true : undefined));
});

afterAll(async () => {
  agent?.kill("SIGKILL");
  await harness?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("resource metrics on simulated nodes", () => {
  it("the agent serves the kubelet's Summary API and /metrics/resource through nodes/proxy", async () => {
    const summary = JSON.parse(await harness.ok(kubectl, "get", "--raw", `/api/v1/nodes/${NODES[0]}/proxy/stats/summary`));
    expect(summary.node).toMatchObject({ nodeName: NODES[0], cpu: { usageNanoCores: 50_000_000 }, memory: { workingSetBytes: 256 * 2 ** 20, availableBytes: 64 * 2 ** 30 - 256 * 2 ** 20 } });
    expect(summary.node.fs).toMatchObject({ capacityBytes: 100 * 2 ** 30 });
    const text = await harness.ok(kubectl, "get", "--raw", `/api/v1/nodes/${NODES[0]}/proxy/metrics/resource`);
    expect(text).toContain("# TYPE node_cpu_usage_seconds_total counter");
    expect(text).toMatch(/^node_memory_working_set_bytes 268435456 \d+$/m);
    expect(text).toMatch(/^resource_scrape_error 0$/m);
  });

  it("kubectl top node: each node's usage against its allocatable, with every kubectl", async () => {
    for (const binary of KUBECTLS) {
      const table = await until(`${binary} top node`, async () => {
        const out = await harness.ok(binary, "top", "node");
        return NODES.every((n) => out.includes(n)) ? out : undefined;
      });
      // kubectl 1.32 wrote the percentages' headers as CPU(%) and MEMORY(%).
      expect([["NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%"], ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]], binary).toContainEqual(rows(table)[0]);
      // A hollow node's own 50m and 256 MiB, of 16 cores and 64 GiB.
      for (const node of NODES) expect(rows(table).find((r) => r[0] === node), binary).toEqual([node, "50m", "0%", "256Mi", "0%"]);
    }
    const one = rows(await harness.ok(kubectl, "top", "node", NODES[1]!, "--no-headers"));
    expect(one).toEqual([[NODES[1], "50m", "0%", "256Mi", "0%"]]);
  });

  it("kubectl top pod: per pod and per container, by label, across namespaces, sorted", async () => {
    await apply("web", deployment("web", 2, "app=200m,log=10m", [{ name: "app", cpu: "100m", memory: "64Mi" }, { name: "log", cpu: "50m", memory: "16Mi" }]));
    await apply("idle", deployment("idle", 1, "5m", [{ name: "app", cpu: "100m", memory: "32Mi" }]));
    const pods = await until("three pods with metrics", async () => {
      const out = await harness.ok(kubectl, "top", "pod", "-n", NS, "--no-headers");
      return rows(out).length === 3 ? rows(out) : undefined;
    });
    // Memory is half of each request: 32Mi + 8Mi for web, 16Mi for idle.
    expect(pods.map((r) => r.slice(1)).sort()).toEqual([["210m", "40Mi"], ["210m", "40Mi"], ["5m", "16Mi"]]);
    for (const binary of KUBECTLS) {
      const sorted = rows(await harness.ok(binary, "top", "pod", "-n", NS, "--sort-by=cpu", "--no-headers"));
      expect(sorted.map((r) => r[0]!.replace(/-.*/, "")), binary).toEqual(["web", "web", "idle"]);
      const byMemory = rows(await harness.ok(binary, "top", "pod", "-n", NS, "--sort-by=memory", "--no-headers"));
      expect(byMemory.at(-1)![0], binary).toMatch(/^idle-/);
    }
    const containers = rows(await harness.ok(kubectl, "top", "pod", "-n", NS, "-l", "app=web", "--containers"));
    expect(containers[0]).toEqual(["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]);
    expect(containers.slice(1).map((r) => r.slice(1)).sort()).toEqual([["app", "200m", "32Mi"], ["app", "200m", "32Mi"], ["log", "10m", "8Mi"], ["log", "10m", "8Mi"]]);
    const everywhere = rows(await harness.ok(kubectl, "top", "pod", "-A"));
    expect(everywhere[0]).toEqual(["NAMESPACE", "NAME", "CPU(cores)", "MEMORY(bytes)"]);
    expect(everywhere.filter((r) => r[0] === NS)).toHaveLength(3);
    const none = await harness.kubectl(kubectl, "top", "pod", "-n", NS, "-l", "app=nothing");
    expect(none.stderr.trim()).toBe(`No resources found in ${NS} namespace.`);
  });

  it("an HPA made by kubectl autoscale scales a Deployment up on its pods' CPU, and kubectl get hpa shows the utilization", async () => {
    // One pod requesting 100m and using 200m: 200% of its request against a 50% target asks for 4 pods, the maximum.
    await apply("busy", deployment("busy", 1, "200m", [{ name: "app", cpu: "100m", memory: "32Mi" }]));
    await harness.ok(kubectl, "autoscale", "deployment", "busy", "-n", NS, "--cpu-percent=50", "--min=1", "--max=4");
    await until("the HPA to scale busy to 4 replicas", async () => {
      const replicas = await harness.ok(kubectl, "get", "deployment", "busy", "-n", NS, "-o", "jsonpath={.spec.replicas}");
      return replicas === "4" ? true : undefined;
    }, 120_000);
    const hpa = rows(await harness.ok(kubectl, "get", "hpa", "busy", "-n", NS));
    expect(hpa[0]).toEqual(["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]);
    expect(hpa[1]!.slice(0, 2)).toEqual(["busy", "Deployment/busy"]);
    // kubectl 1.30+ names the metric in TARGETS.
    expect(hpa[1]!.slice(2, 5)).toEqual(["cpu:", "200%/50%", "1"]);
    expect(hpa[1]![5]).toBe("4");
    const described = await harness.ok(kubectl, "describe", "hpa", "busy", "-n", NS);
    expect(described).toMatch(/ScalingActive\s+True\s+ValidMetricFound/);
    expect(described).toMatch(/SuccessfulRescale\s+.*New size: 4; reason: cpu resource utilization \(percentage of request\) above target/);
    await until("four busy pods Running", async () => {
      const phases = await harness.ok(kubectl, "get", "pods", "-n", NS, "-l", "app=busy", "-o", "jsonpath={.items[*].status.phase}");
      return phases.split(" ").filter((p) => p === "Running").length === 4 ? true : undefined;
    });
  });
});

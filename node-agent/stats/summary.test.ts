// The Summary API from samples: CPU rates from two samples of cumulative time (the node's and each
// container's, a restarted container starting afresh), or as the source gives them; pods' sums;
// only_cpu_and_memory; the collector's housekeeping; /metrics/resource's text.
import { describe, expect, it } from "vitest";
import type { PodUsage } from "../runtime/runtime.ts";
import { StatsCollector } from "./collector.ts";
import type { HostSample } from "./host.ts";
import { buildSummary, cpuRates, resourceMetricsText, type StatsSample } from "./summary.ts";

const host = (timestamp: number, usageCoreNanoSeconds: number): HostSample => ({
  timestamp, bootTime: 0, usageCoreNanoSeconds,
  memory: { totalBytes: 4096 * 1000, usageBytes: 4096 * 600, workingSetBytes: 4096 * 500, rssBytes: 4096 * 100, pageFaults: 7, majorPageFaults: 1 },
  fs: { capacityBytes: 1000, availableBytes: 400, usedBytes: 600, inodes: 10, inodesFree: 4, inodesUsed: 6 },
});
const pod = (timestamp: number, cpu: Record<string, number>, startedAt = 1_000): PodUsage => ({
  ref: { uid: "u1", namespace: "ns", name: "web" }, startedAt: 1_000,
  containers: Object.entries(cpu).map(([name, ns]) => ({ name, startedAt, timestamp, usageCoreNanoSeconds: ns, workingSetBytes: 4096 * (name.length + 1) })),
});

describe("Summary API", () => {
  it("derives CPU rates from two samples; a container new or restarted since has none yet", () => {
    const before: StatsSample = { host: host(10_000, 5e9), pods: [pod(10_000, { app: 1e9, log: 1e8 })] };
    const after: StatsSample = { host: host(20_000, 15e9), pods: [pod(20_000, { app: 3e9, log: 2e8 }), { ...pod(20_000, { side: 4e8 }, 15_000), ref: { uid: "u2", namespace: "ns", name: "db" } }] };
    const rates = cpuRates(after, before);
    expect(rates.get("")).toBe(1e9);
    expect(rates.get("u1/app/1000")).toBe(2e8);
    expect(rates.get("u1/log/1000")).toBe(1e7);
    expect(rates.has("u2/side/15000")).toBe(false);
    const restarted: StatsSample = { host: host(30_000, 16e9), pods: [pod(30_000, { app: 1e6 }, 25_000)] };
    expect(cpuRates(restarted, after).has("u1/app/25000")).toBe(false);
    expect(cpuRates({ ...after, hostNanoCores: 42 }, undefined).get("")).toBe(42);
  });

  it("builds the kubelet's shape: node figures, pods with their containers and sums", () => {
    const before: StatsSample = { host: host(10_000, 5e9), pods: [pod(10_000, { app: 1e9, log: 1e8 })] };
    const after: StatsSample = { host: host(20_000, 15e9), pods: [pod(20_000, { app: 3e9, log: 2e8 })] };
    const summary = buildSummary("n1", after, cpuRates(after, before));
    expect(summary.node).toEqual({
      nodeName: "n1", startTime: "1970-01-01T00:00:00Z",
      cpu: { time: "1970-01-01T00:00:20Z", usageNanoCores: 1e9, usageCoreNanoSeconds: 15e9 },
      memory: { time: "1970-01-01T00:00:20Z", availableBytes: 4096 * 500, usageBytes: 4096 * 600, workingSetBytes: 4096 * 500, rssBytes: 4096 * 100, pageFaults: 7, majorPageFaults: 1 },
      fs: { time: "1970-01-01T00:00:20Z", capacityBytes: 1000, availableBytes: 400, usedBytes: 600, inodes: 10, inodesFree: 4, inodesUsed: 6 },
    });
    expect(summary.pods).toEqual([{
      podRef: { name: "web", namespace: "ns", uid: "u1" }, startTime: "1970-01-01T00:00:01Z",
      containers: [
        { name: "app", startTime: "1970-01-01T00:00:01Z", cpu: { time: "1970-01-01T00:00:20Z", usageNanoCores: 2e8, usageCoreNanoSeconds: 3e9 }, memory: { time: "1970-01-01T00:00:20Z", workingSetBytes: 4096 * 4 } },
        { name: "log", startTime: "1970-01-01T00:00:01Z", cpu: { time: "1970-01-01T00:00:20Z", usageNanoCores: 1e7, usageCoreNanoSeconds: 2e8 }, memory: { time: "1970-01-01T00:00:20Z", workingSetBytes: 4096 * 4 } },
      ],
      cpu: { time: "1970-01-01T00:00:20Z", usageNanoCores: 2.1e8, usageCoreNanoSeconds: 3.2e9 },
      memory: { time: "1970-01-01T00:00:20Z", workingSetBytes: 4096 * 8 },
    }]);
    expect(buildSummary("n1", after, new Map(), { onlyCpuAndMemory: true }).node.fs).toBeUndefined();
    // A pod whose containers have no rate yet has none either.
    expect(buildSummary("n1", after, new Map()).pods[0]!.cpu).toEqual({ time: "1970-01-01T00:00:20Z", usageCoreNanoSeconds: 3.2e9 });
  });

  it("keeps house: a real node answers from its latest sample, its rates over the interval", async () => {
    let now = 10_000;
    let cpu = 0;
    const collector = new StatsCollector({ nodeName: "n1", runtime: { containerStats: async () => [pod(now, { app: (cpu += 5e8) })] }, host: (_pods, at) => host(at, at * 1e5), now: () => now });
    expect((await collector.summary()).node.cpu!.usageNanoCores).toBeUndefined();
    await collector.housekeep();
    now = 20_000;
    await collector.housekeep();
    const summary = await collector.summary();
    expect(summary.node.cpu!.usageNanoCores).toBe(1e8);
    expect(summary.pods[0]!.containers[0]!.cpu!.usageNanoCores).toBe(5e7);
  });

  it("writes /metrics/resource as the kubelet does", () => {
    const sample: StatsSample = { host: host(20_000, 15e9), pods: [pod(20_000, { app: 3e9 })] };
    const text = resourceMetricsText(buildSummary("n1", sample, new Map()));
    expect(text).toContain("# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds\n# TYPE container_cpu_usage_seconds_total counter\n");
    expect(text).toContain('container_cpu_usage_seconds_total{container="app",namespace="ns",pod="web"} 3 20000\n');
    expect(text).toContain('container_memory_working_set_bytes{container="app",namespace="ns",pod="web"} 16384 20000\n');
    expect(text).toContain('container_start_time_seconds{container="app",namespace="ns",pod="web"} 1\n');
    expect(text).toContain("node_cpu_usage_seconds_total 15 20000\n");
    expect(text).toContain("node_memory_working_set_bytes 2048000 20000\n");
    expect(text).toContain('pod_cpu_usage_seconds_total{namespace="ns",pod="web"} 3 20000\n');
    expect(text.endsWith("resource_scrape_error 0\n")).toBe(true);
  });
});

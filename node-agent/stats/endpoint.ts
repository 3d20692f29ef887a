// The agent's stats endpoints, reached through nodes/proxy as the kubelet's port serves them:
// GET /stats/summary (JSON; `only_cpu_and_memory=true` as the kubelet takes it) and
// GET /metrics/resource (Prometheus text).
import type { AgentEndpoint } from "../tunnel/serve.ts";
import { Refusal } from "../tunnel/refusal.ts";
import type { StatsCollector } from "./collector.ts";
import { resourceMetricsText } from "./summary.ts";

const PATHS = new Set(["/stats/summary", "/stats/summary/", "/metrics/resource"]);

export function statsEndpoint(collector: StatsCollector): AgentEndpoint {
  return async (method, path) => {
    const url = new URL(path, "http://agent");
    if (!PATHS.has(url.pathname)) return undefined;
    if (method !== "GET" && method !== "HEAD") throw new Refusal(405, `the method ${method} is not allowed on ${url.pathname}`);
    if (url.pathname === "/metrics/resource") {
      return { headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }, body: resourceMetricsText(await collector.summary({ onlyCpuAndMemory: true })) };
    }
    const onlyCpuAndMemory = url.searchParams.get("only_cpu_and_memory") === "true";
    return { headers: { "Content-Type": "application/json" }, body: JSON.stringify(await collector.summary({ onlyCpuAndMemory })) };
  };
}

// One node's stats collector as the agent runs it: a real node reads its kernel and keeps house
// every 10 s; a hollow node makes its figures up from its pods when asked (simulated.ts).
import type { Runtime } from "../runtime/runtime.ts";
import { StatsCollector } from "./collector.ts";
import { readHost } from "./host.ts";
import { simulatedHost, simulatedHostNanoCores } from "./simulated.ts";

export interface NodeStatsOptions {
  nodeName: string;
  runtime: Runtime;
  /** A hollow node's machine (what its Node reports), or undefined for the host itself. */
  hollow?: { memoryBytes: number; ephemeralStorageBytes: number };
  /** The filesystem a real node reports (its state directory's). */
  stateDir: string;
  log: (message: string) => void;
}

export function startNodeStats({ nodeName, runtime, hollow, stateDir, log }: NodeStatsOptions): StatsCollector {
  if (hollow) {
    const bootTime = Date.now();
    return new StatsCollector({ nodeName, runtime, host: (pods, now) => simulatedHost(pods, hollow, bootTime, now), hostNanoCores: simulatedHostNanoCores, log });
  }
  const collector = new StatsCollector({ nodeName, runtime, host: (_pods, now) => readHost(stateDir, now), log });
  collector.start();
  return collector;
}

// A node's stats provider: samples the host and the runtime's containers, and answers the Summary
// API from the latest sample. A real node samples every 10 s (cAdvisor's housekeeping interval), so
// each CPU rate spans one interval and a request costs no runtime call; a hollow node's figures are
// computed when asked, its rates being known outright.
import type { PodUsage, Runtime } from "../runtime/runtime.ts";
import type { HostSample } from "./host.ts";
import { buildSummary, cpuRates, type StatsSample, type Summary, type SummaryOptions } from "./summary.ts";

/** cAdvisor's housekeeping interval, the span of a real node's CPU rates. */
export const HOUSEKEEPING_MS = 10_000;

export interface StatsCollectorOptions {
  nodeName: string;
  runtime: Pick<Runtime, "containerStats">;
  /** The node's own figures now, given its pods' (a hollow node derives its own from them). */
  host(pods: PodUsage[], now: number): HostSample;
  /** The node's CPU rate, when the source knows it outright (a hollow node). */
  hostNanoCores?(pods: PodUsage[]): number;
  now?: () => number;
  log?: (message: string) => void;
}

export class StatsCollector {
  private readonly options: StatsCollectorOptions;
  private previous: StatsSample | undefined;
  private latest: { sample: StatsSample; rates: Map<string, number> } | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: StatsCollectorOptions) {
    this.options = options;
  }

  /** Samples now and every housekeeping interval until stopped (a real node). */
  start(intervalMs = HOUSEKEEPING_MS): void {
    const tick = () => void this.housekeep().catch((e: Error) => this.options.log?.(`stats: ${e.message}`));
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Takes a sample and keeps it, with its rates against the one before. */
  async housekeep(): Promise<void> {
    const sample = await this.sample();
    this.latest = { sample, rates: cpuRates(sample, this.previous) };
    this.previous = sample;
  }

  /** The Summary: the latest housekeeping's when the node keeps house, else one sampled now. */
  async summary(options: SummaryOptions = {}): Promise<Summary> {
    if (!this.latest) {
      const sample = await this.sample();
      return buildSummary(this.options.nodeName, sample, cpuRates(sample, this.previous), options);
    }
    return buildSummary(this.options.nodeName, this.latest.sample, this.latest.rates, options);
  }

  private async sample(): Promise<StatsSample> {
    const now = (this.options.now ?? Date.now)();
    const pods = (await this.options.runtime.containerStats?.()) ?? [];
    const hostNanoCores = this.options.hostNanoCores?.(pods);
    return { host: this.options.host(pods, now), ...(hostNanoCores !== undefined ? { hostNanoCores } : {}), pods };
  }
}

// The service proxy of a node, as kube-proxy's proxiers run: once the Service and EndpointSlice
// caches are listed, the whole rule set is computed from them and put into effect by the mode's
// backend (modes.ts: one iptables-restore, one nft transaction, or the userspace listeners);
// every change asks for another sync, no sooner than minSyncPeriod (1 s) after the last. A sync
// writes only what changed since the last one (kube's partial sync); after start, after a failure
// and every syncPeriod (1 h, as kube's full sync) a full sync re-reads what the kernel holds,
// rewrites everything and deletes what is no longer wanted; so does a check every 30 s that finds
// our rules gone. Stopping leaves the rules in place (connections keep flowing while the agent
// restarts; `edgeplane-agent cleanup` removes them).
import { writeFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { IptablesBackend, type ProxyBackend, type SyncCost } from "./modes.ts";
import type { LocalOverride, ProxyNode, ProxyState } from "./rules.ts";
import type { ServiceInformers } from "./service-informers.ts";

const execFileAsync = promisify(execFile);

export const MIN_SYNC_PERIOD_MS = 1000;
export const SYNC_PERIOD_MS = 60 * 60_000;
/** How often the proxy checks that its chains still exist (kube-proxy checks its canary every 30 s). */
const CANARY_PERIOD_MS = 30_000;

export interface ServiceProxyOptions {
  informers: ServiceInformers;
  node: ProxyNode;
  overrides?: LocalOverride[];
  /** How rules are put into effect (iptables mode when not given). */
  backend?: ProxyBackend;
  log: (message: string) => void;
  minSyncPeriodMs?: number;
  syncPeriodMs?: number;
  /** Told after every sync that put its state into effect (the benchmark times changes with it). */
  onSynced?: (state: ProxyState, timing: SyncTiming) => void;
}

export interface SyncTiming extends SyncCost {
  services: number;
  full: boolean;
}

export class ServiceProxy {
  private readonly options: ServiceProxyOptions;
  readonly backend: ProxyBackend;
  private node: ProxyNode;
  private overrides: LocalOverride[];
  private lastSyncAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private fullSyncDue = true;
  /** The last sync's cost, for the log and the benchmark. */
  lastTiming: SyncTiming | undefined;

  constructor(options: ServiceProxyOptions) {
    this.options = options;
    this.backend = options.backend ?? new IptablesBackend();
    this.node = options.node;
    this.overrides = options.overrides ?? [];
    options.informers.onChange(() => this.requestSync());
  }

  /** The pod range this node's pods come from (its Node's podCIDR, once assigned). */
  setLocalCIDR(cidr: string): void {
    this.node = { ...this.node, localCIDR: cidr };
    this.requestSync();
  }

  /** Services this node answers itself (the cluster DNS at its own address). */
  setOverrides(overrides: LocalOverride[]): void {
    this.overrides = overrides;
    this.requestSync();
  }

  /** Syncs as the caches change until `signal` aborts; the rules stay when it does. */
  async run(signal: AbortSignal): Promise<void> {
    await prepareHost(this.options.log);
    const resync = setInterval(() => {
      this.fullSyncDue = true;
      this.requestSync();
    }, this.options.syncPeriodMs ?? SYNC_PERIOD_MS);
    const canary = setInterval(() => void this.checkCanary(), CANARY_PERIOD_MS);
    signal.addEventListener("abort", () => {
      clearInterval(resync);
      clearInterval(canary);
      clearTimeout(this.timer);
      void this.backend.close();
    });
    this.requestSync();
  }

  /**
   * Whether our rules are still there, as kube-proxy watches its canary chain: when someone flushed
   * the tables (a firewall reload, another agent's cleanup), everything is written again at once
   * rather than at the next hourly full sync.
   */
  private async checkCanary(): Promise<void> {
    if (await this.backend.intact()) return;
    this.options.log(`service proxy: our ${this.backend.mode} rules are gone; rewriting them all`);
    this.fullSyncDue = true;
    this.requestSync();
  }

  /** A sync now and then no more often than minSyncPeriod; changes meanwhile are folded into the next. */
  requestSync(): void {
    if (this.timer) return;
    if (!this.options.informers.hasSynced) {
      // The first sync waits for both lists, or it would reject every Service for a moment.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.requestSync();
      }, 100);
      return;
    }
    const wait = Math.max(0, this.lastSyncAt + (this.options.minSyncPeriodMs ?? MIN_SYNC_PERIOD_MS) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.syncOnce();
    }, wait);
  }

  /** One sync, after any running one; resolves once applied (or failed, which is logged and retried). */
  syncOnce(): Promise<void> {
    const previous = this.syncing ?? Promise.resolve();
    const run = previous.then(() => this.sync());
    this.syncing = run;
    return run;
  }

  private async sync(): Promise<void> {
    this.lastSyncAt = Date.now();
    const { informers } = this.options;
    try {
      const full = this.fullSyncDue;
      const state: ProxyState = { services: informers.serviceLister.list(), slices: informers.sliceLister.list(), node: this.node, overrides: this.overrides };
      const cost = await this.backend.sync(state, full);
      this.fullSyncDue = false;
      this.lastTiming = { ...cost, services: state.services.length, full };
      this.options.onSynced?.(state, this.lastTiming);
    } catch (error) {
      this.fullSyncDue = true;
      this.options.log(`service proxy: sync failed: ${(error as Error).message}`);
      this.requestSync();
    }
  }
}

/**
 * What the rules need of the kernel: forwarding, and bridged pod-to-pod traffic seen by iptables
 * (br_netfilter), or a pod reaching a Service backed by a pod on the same bridge gets no reply.
 */
async function prepareHost(log: (message: string) => void): Promise<void> {
  try {
    await execFileAsync("modprobe", ["br_netfilter"]);
  } catch {
    // built in, or not loadable here: the sysctl below says which
  }
  for (const [path, value] of [["/proc/sys/net/ipv4/ip_forward", "1"], ["/proc/sys/net/bridge/bridge-nf-call-iptables", "1"]] as const) {
    try {
      writeFileSync(path, value);
    } catch (error) {
      log(`service proxy: cannot set ${path} to ${value} (${(error as Error).message}): Services between pods of one node may not answer`);
    }
  }
}

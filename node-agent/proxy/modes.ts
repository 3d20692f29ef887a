// The service proxy's three ways of putting a rule set into effect, and the choice between them as
// kube-proxy's --proxy-mode makes it: nftables where the kernel and nft can run it, else iptables,
// else the userspace fallback (NodePorts only, see userspace.ts). Each backend keeps what it last
// applied, so that a sync after a change sends only the difference.
import { Iptables, hostCommands, type CommandRunner } from "./iptables.ts";
import { Nftables } from "./nftables.ts";
import { computeNftRules, NftRulesMemo, type NftExisting, type NftRules } from "./nft-rules.ts";
import { computeRules, MARK_MASQ_CHAIN, type ProxyRules, type ProxyState, type Table } from "./rules.ts";
import { UserspaceProxy } from "./userspace.ts";

export type ProxyMode = "iptables" | "nftables" | "userspace";
export const PROXY_MODES = ["iptables", "nftables", "userspace", "auto"] as const;
export type RequestedProxyMode = (typeof PROXY_MODES)[number];

export interface SyncCost {
  /** Computing the rules from the caches. */
  computeMs: number;
  /** Putting them into effect (iptables-restore, nft -f, listeners). */
  applyMs: number;
}

export interface ProxyBackend {
  readonly mode: ProxyMode;
  /** Puts `state` into effect; `full` rewrites everything and removes what is left over from before. */
  sync(state: ProxyState, full: boolean): Promise<SyncCost>;
  /** Whether what the last sync applied is still in place (someone may flush the tables). */
  intact(): Promise<boolean>;
  /** Stops what runs in the agent itself (the userspace listeners); kernel rules stay. */
  close(): Promise<void>;
}

function timed<T>(work: () => T): [T, number] {
  const started = performance.now();
  return [work(), performance.now() - started];
}

export class IptablesBackend implements ProxyBackend {
  readonly mode = "iptables";
  private readonly iptables: Iptables;
  private existing: Record<Table, string[]> | undefined;
  private applied: ProxyRules | undefined;

  constructor(iptables = new Iptables()) {
    this.iptables = iptables;
  }

  async sync(state: ProxyState, full: boolean): Promise<SyncCost> {
    const [rules, computeMs] = timed(() => computeRules(state));
    const started = performance.now();
    try {
      if (full || !this.existing) this.existing = await this.iptables.ourChains();
      await this.iptables.apply(rules, this.existing, full ? undefined : this.applied);
      if (full) await this.iptables.ensureJumps();
    } catch (error) {
      this.applied = undefined;
      this.existing = undefined;
      throw error;
    }
    this.existing = rules.chains;
    this.applied = rules;
    return { computeMs, applyMs: performance.now() - started };
  }

  intact(): Promise<boolean> {
    return this.existing ? this.iptables.hasChain("nat", MARK_MASQ_CHAIN) : Promise.resolve(true);
  }

  async close(): Promise<void> {}
}

export class NftablesBackend implements ProxyBackend {
  readonly mode = "nftables";
  private readonly nft: Nftables;
  private readonly memo = new NftRulesMemo();
  private applied: NftRules | undefined;

  constructor(nft = new Nftables()) {
    this.nft = nft;
  }

  async sync(state: ProxyState, full: boolean): Promise<SyncCost> {
    const [rules, computeMs] = timed(() => computeNftRules(state, this.memo));
    const started = performance.now();
    try {
      const existing: NftExisting | undefined = full || !this.applied ? await this.nft.existing() : undefined;
      await this.nft.apply(rules, full ? undefined : this.applied, existing);
    } catch (error) {
      // What the kernel holds is unknown now: the next sync is a full one.
      this.applied = undefined;
      throw error;
    }
    this.applied = rules;
    return { computeMs, applyMs: performance.now() - started };
  }

  intact(): Promise<boolean> {
    return this.applied ? this.nft.hasTable() : Promise.resolve(true);
  }

  async close(): Promise<void> {}
}

export class UserspaceBackend implements ProxyBackend {
  readonly mode = "userspace";
  private readonly proxy: UserspaceProxy;

  constructor(log: (message: string) => void) {
    this.proxy = new UserspaceProxy(log);
  }

  async sync(state: ProxyState): Promise<SyncCost> {
    const started = performance.now();
    await this.proxy.sync(state);
    return { computeMs: 0, applyMs: performance.now() - started };
  }

  async intact(): Promise<boolean> {
    return true;
  }

  close(): Promise<void> {
    return this.proxy.close();
  }
}

/** Whether iptables can hold our rules here: the tools run and the nat table can be read. */
export async function iptablesSupport(run: CommandRunner = hostCommands()): Promise<{ supported: true } | { supported: false; reason: string }> {
  try {
    await run("iptables-restore", ["--version"]);
    await run("iptables", ["-w", "5", "-t", "nat", "-S", "POSTROUTING"]);
    return { supported: true };
  } catch (error) {
    return { supported: false, reason: `iptables cannot be used (Debian package iptables): ${(error as Error).message}` };
  }
}

export interface ModeChoice {
  mode: ProxyMode;
  /** Why this mode, in a sentence for the log, the Node's annotation and its Event. */
  reason: string;
}

/**
 * The mode to run, as asked (`--proxy-mode`), with `auto` choosing the best this host supports.
 * A mode asked for by name that cannot run here is an error, as kube-proxy fails to start.
 */
export async function chooseProxyMode(requested: RequestedProxyMode, run: CommandRunner = hostCommands()): Promise<ModeChoice> {
  if (requested === "userspace") return { mode: "userspace", reason: "--proxy-mode=userspace: NodePorts only, through listeners in the agent; ClusterIPs are not proxied" };
  const nft = requested === "iptables" ? undefined : await new Nftables(run).support();
  if (nft?.supported) return { mode: "nftables", reason: `${requested === "auto" ? "--proxy-mode=auto: the kernel and" : "--proxy-mode=nftables:"} nft ${nft.version} support nftables mode` };
  if (requested === "nftables") throw new Error(`--proxy-mode=nftables: ${nft && !nft.supported ? nft.reason : "not supported"}`);
  const iptables = await iptablesSupport(run);
  if (iptables.supported) return { mode: "iptables", reason: requested === "auto" ? `--proxy-mode=auto: ${nft && !nft.supported ? nft.reason : "nftables unavailable"}; iptables works` : "--proxy-mode=iptables" };
  if (requested === "iptables") throw new Error(`--proxy-mode=iptables: ${iptables.reason}`);
  return {
    mode: "userspace",
    reason: `--proxy-mode=auto: neither nftables (${nft && !nft.supported ? nft.reason : "unavailable"}) nor iptables (${iptables.reason}) works; userspace fallback: NodePorts only, ClusterIPs are not proxied`,
  };
}

/**
 * Removes what the other modes left on this host (an agent that ran in another mode before), as
 * kube-proxy clears the other backends' rules at start: two sets of rules would both DNAT. Says
 * what it removed.
 */
export async function removeOtherModes(mode: ProxyMode, run: CommandRunner = hostCommands()): Promise<string[]> {
  const done: string[] = [];
  if (mode !== "iptables") done.push(...(await new Iptables(run).cleanup().catch(() => [])));
  if (mode !== "nftables") done.push(...(await new Nftables(run).cleanup().catch(() => [])));
  return done;
}

/** The backend of a mode, running its commands through `run` (a network namespace's, in tests). */
export function backendFor(mode: ProxyMode, log: (message: string) => void, run: CommandRunner = hostCommands()): ProxyBackend {
  if (mode === "nftables") return new NftablesBackend(new Nftables(run));
  if (mode === "iptables") return new IptablesBackend(new Iptables(run));
  return new UserspaceBackend(log);
}

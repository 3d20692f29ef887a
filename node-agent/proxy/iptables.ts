// The one place the proxy touches the kernel: applies a rule set with `iptables-restore --noflush`
// (our chains replaced, nobody else's touched, in one commit per table), keeps the jumps from the
// built-in chains into ours, and removes every rule and chain of ours on cleanup.
import { spawn } from "node:child_process";
import { CHAIN_PREFIX, changedRules, JUMP_RULES, restoreInput, type ProxyRules, type Table } from "./rules.ts";

/** Runs a command (with standard input) and resolves with its output; rejects with its stderr. */
export type CommandRunner = (command: string, args: string[], input?: string) => Promise<string>;

/** Runs on this host, or inside a network namespace when `netns` is given (`ip netns exec`). */
export function hostCommands(netns?: string): CommandRunner {
  return (command, args, input) => new Promise((resolve, reject) => {
    const [file, argv] = netns ? ["ip", ["netns", "exec", netns, command, ...args]] : [command, args];
    const child = spawn(file, argv, { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d));
    child.stderr!.on("data", (d: Buffer) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(" ")}: ${err.trim() || `exit status ${code}`}`))));
    // A command that fails before reading its input closes the pipe: its exit status says why.
    child.stdin?.on("error", () => {});
    child.stdin?.end(input);
  });
}

const TABLES: Table[] = ["filter", "nat"];

export class Iptables {
  private readonly run: CommandRunner;

  constructor(run: CommandRunner = hostCommands()) {
    this.run = run;
  }

  /** Our chains as they are in the kernel now, by table. */
  async ourChains(): Promise<Record<Table, string[]>> {
    const chains: Record<Table, string[]> = { nat: [], filter: [] };
    for (const table of TABLES) {
      const saved = await this.run("iptables-save", ["-t", table]);
      for (const line of saved.split("\n")) if (line.startsWith(`:${CHAIN_PREFIX}`)) chains[table].push(line.slice(1).split(" ")[0]!);
    }
    return chains;
  }

  /**
   * Makes our chains those of `rules` and deletes those of ours it no longer has (`existing`: what
   * the kernel holds, from `ourChains` or the previous apply). With `applied`, the rules the kernel
   * holds from the previous apply, only the chains that changed are written (a partial sync), and
   * chains no longer wanted are left, unreferenced, for the next full sync to delete: with
   * iptables-nft, flushing or deleting them costs seconds once the tables are large (kube-proxy
   * defers it too).
   */
  async apply(rules: ProxyRules, existing: Record<Table, string[]>, applied?: ProxyRules): Promise<void> {
    const stale: Record<Table, string[]> = { nat: [], filter: [] };
    for (const table of TABLES) {
      const wanted = new Set(rules.chains[table]);
      stale[table] = existing[table].filter((c) => !wanted.has(c));
    }
    await this.run("iptables-restore", ["-w", "5", "--noflush"], applied ? restoreInput(changedRules(rules, applied)) : restoreInput(rules, stale));
  }

  /** Whether a chain exists (it is listed, which for a chain of one rule costs little). */
  async hasChain(table: Table, chain: string): Promise<boolean> {
    try {
      await this.run("iptables", ["-w", "5", "-t", table, "-S", chain]);
      return true;
    } catch {
      return false;
    }
  }

  /** Adds the jumps from the built-in chains into ours where they are missing (our chains must exist). */
  async ensureJumps(): Promise<void> {
    for (const { table, chain, rule } of JUMP_RULES) {
      try {
        await this.run("iptables", ["-w", "5", "-t", table, "-C", chain, ...rule]);
      } catch {
        await this.run("iptables", ["-w", "5", "-t", table, "-I", chain, ...rule]);
      }
    }
  }

  /** Removes the jumps into our chains and then the chains themselves; says what it removed. */
  async cleanup(): Promise<string[]> {
    const done: string[] = [];
    for (const { table, chain, rule } of JUMP_RULES) {
      for (;;) {
        try {
          await this.run("iptables", ["-w", "5", "-t", table, "-D", chain, ...rule]);
          done.push(`removed the jump from ${table} ${chain}`);
        } catch {
          break;
        }
      }
    }
    const chains = await this.ourChains();
    if (chains.nat.length + chains.filter.length) {
      const lines: string[] = [];
      for (const table of TABLES) {
        lines.push(`*${table}`);
        for (const chain of chains[table]) lines.push(`:${chain} - [0:0]`);
        for (const chain of chains[table]) lines.push(`-X ${chain}`);
        lines.push("COMMIT");
      }
      await this.run("iptables-restore", ["-w", "5", "--noflush"], lines.join("\n") + "\n");
      done.push(`deleted ${chains.nat.length} nat and ${chains.filter.length} filter chains of the service proxy`);
    }
    return done;
  }
}

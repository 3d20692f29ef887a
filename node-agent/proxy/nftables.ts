// The nftables mode's one place that touches the kernel: applies the table's contents with `nft -f`
// (one transaction: all of it or none), reads which chains and sets the table holds, tells whether
// this kernel and nft can run the mode at all, and deletes the table on cleanup.
import { hostCommands, type CommandRunner } from "./iptables.ts";
import { MARK_MASQ, NFT_FAMILY, NFT_TABLE, nftScript, type NftExisting, type NftRules } from "./nft-rules.ts";

/** The oldest nft whose syntax the rules use (kube-proxy asks for 1.0.1 too). */
const MIN_NFT_VERSION = [1, 0, 1];

/**
 * What the mode needs, tried in a table of its own with `nft -c` (the kernel checks the
 * transaction and throws it away): verdict maps over concatenations, numgen, fib, dynamic sets
 * with timeouts, NAT chains.
 */
const PROBE = `add table ${NFT_FAMILY} edgeplane-probe
add set ${NFT_FAMILY} edgeplane-probe affinity { type ipv4_addr; flags dynamic,timeout; timeout 10s; }
add map ${NFT_FAMILY} edgeplane-probe services { type ipv4_addr . inet_proto . inet_service : verdict; }
add chain ${NFT_FAMILY} edgeplane-probe endpoint
add chain ${NFT_FAMILY} edgeplane-probe output { type nat hook output priority -100; }
add rule ${NFT_FAMILY} edgeplane-probe output ip daddr . meta l4proto . th dport vmap @services
add rule ${NFT_FAMILY} edgeplane-probe output fib daddr type local ip daddr != 127.0.0.0/8 numgen random mod 2 vmap { 0 : goto endpoint, 1 : goto endpoint }
add rule ${NFT_FAMILY} edgeplane-probe endpoint update @affinity { ip saddr }
add rule ${NFT_FAMILY} edgeplane-probe endpoint meta l4proto tcp dnat to 10.0.0.1:80
`;

/** Names declared in one table of an `nft list` output (`chain NAME {`, `set NAME {`). */
function namesIn(listing: string, kind: "chain" | "set"): string[] {
  const names: string[] = [];
  let inTable = false;
  for (const line of listing.split("\n")) {
    if (line.startsWith("table ")) inTable = line.trim() === `table ${NFT_FAMILY} ${NFT_TABLE} {`;
    else if (inTable) {
      const match = new RegExp(`^\\s+${kind} (\\S+) \\{`).exec(line);
      if (match) names.push(match[1]!);
    }
  }
  return names;
}

export class Nftables {
  private readonly run: CommandRunner;

  constructor(run: CommandRunner = hostCommands()) {
    this.run = run;
  }

  /**
   * Whether the mode can run here: nft installed and recent enough, and the kernel taking a
   * transaction with everything the rules use. Says why not.
   */
  async support(): Promise<{ supported: true; version: string } | { supported: false; reason: string }> {
    let version: string;
    try {
      version = /v(\d+\.\d+\.\d+)/.exec(await this.run("nft", ["--version"]))?.[1] ?? "";
    } catch (error) {
      return { supported: false, reason: `nft is not installed (Debian package nftables): ${(error as Error).message}` };
    }
    const parts = version.split(".").map(Number);
    const differs = MIN_NFT_VERSION.findIndex((n, i) => parts[i] !== n);
    if (!version || (differs >= 0 && parts[differs]! < MIN_NFT_VERSION[differs]!)) return { supported: false, reason: `nft ${version || "(unknown version)"} is older than ${MIN_NFT_VERSION.join(".")}` };
    try {
      await this.run("nft", ["-c", "-f", "-"], PROBE);
    } catch (error) {
      return { supported: false, reason: `the kernel refuses the rules nftables mode needs: ${(error as Error).message}` };
    }
    return { supported: true, version };
  }

  /** The chains and sets our table holds now (none when it does not exist). */
  async existing(): Promise<NftExisting> {
    if (!(await this.hasTable())) return { chains: [], sets: [] };
    const chains = namesIn(await this.run("nft", ["list", "chains", NFT_FAMILY]), "chain");
    const sets = namesIn(await this.run("nft", ["-t", "list", "sets", NFT_FAMILY]), "set");
    return { chains, sets };
  }

  /**
   * Makes the table hold `rules` in one transaction. With `applied` (what the previous apply put
   * there) only the difference is sent; without, everything is rewritten and what `existing`
   * holds beyond it is deleted.
   */
  async apply(rules: NftRules, applied?: NftRules, existing?: NftExisting): Promise<void> {
    const script = nftScript(rules, applied, existing);
    if (script) await this.run("nft", ["-f", "-"], script);
  }

  /** Whether our table is there (its masquerade-mark chain, which every rule set has, is listed). */
  async hasTable(): Promise<boolean> {
    try {
      await this.run("nft", ["list", "chain", NFT_FAMILY, NFT_TABLE, MARK_MASQ]);
      return true;
    } catch {
      return false;
    }
  }

  /** Deletes the table and everything in it; says what it removed. */
  async cleanup(): Promise<string[]> {
    try {
      await this.run("nft", ["list", "table", NFT_FAMILY, NFT_TABLE]);
    } catch {
      return [];
    }
    await this.run("nft", ["delete", "table", NFT_FAMILY, NFT_TABLE]);
    return [`deleted the nftables table ${NFT_FAMILY} ${NFT_TABLE} of the service proxy`];
  }
}

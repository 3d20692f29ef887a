// Traffic from the node's pods to anywhere outside their subnet leaves with the node's address:
// one nat chain per pod bridge, written once when the node gets its podCIDR, instead of the bridge
// plugin's ipMasq, which adds a chain and rules for every pod on every sandbox start (about six
// iptables runs per pod, a tenth of a pod start's CPU here). kubenet did the same: the bridge
// without ipMasq, and one masquerade rule for the node.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Runs iptables or iptables-restore with these arguments (and stdin); the host's by default, a recording one in tests. */
export type IptablesCommand = (command: "iptables" | "iptables-restore", args: string[], input?: string) => Promise<void>;

export const hostIptables: IptablesCommand = async (command, args, input) => {
  try {
    const child = execFileAsync(command, args);
    if (input !== undefined) child.child.stdin!.end(input);
    await child;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")}: ${(e.stderr || e.message).trim()}`);
  }
};

/** The chain's name: not under the service proxy's EDGEPLANE- prefix, whose cleanup deletes every chain it finds there. */
export function masqueradeChain(bridge: string): string {
  return `EP-MASQ-${bridge}`;
}

/** The jump from POSTROUTING into the chain; it never changes with the podCIDR, so it is added once. */
function jumpRule(bridge: string): string[] {
  return ["-t", "nat", "POSTROUTING", "-m", "comment", "--comment", `edgeplane pod network ${bridge}`, "-j", masqueradeChain(bridge)];
}

/**
 * The chain as `iptables-restore --noflush` input (declaring the chain flushes it): packets from
 * the pods' subnet to outside it, multicast excepted, are masqueraded, as the bridge plugin's
 * ipMasq rules do per pod.
 */
export function masqueradeRules(bridge: string, podCIDR: string): string {
  const chain = masqueradeChain(bridge);
  return [
    "*nat",
    `:${chain} - [0:0]`,
    `-A ${chain} ! -s ${podCIDR} -j RETURN`,
    `-A ${chain} -d ${podCIDR} -j RETURN`,
    `-A ${chain} -d 224.0.0.0/4 -j RETURN`,
    `-A ${chain} -j MASQUERADE`,
    "COMMIT",
    "",
  ].join("\n");
}

/** Writes the chain for `podCIDR` and makes sure POSTROUTING jumps to it. */
export async function applyPodMasquerade(bridge: string, podCIDR: string, run: IptablesCommand = hostIptables): Promise<void> {
  await run("iptables-restore", ["-w", "5", "--noflush"], masqueradeRules(bridge, podCIDR));
  const [table, tableName, chain, ...rule] = jumpRule(bridge);
  try {
    await run("iptables", ["-w", "5", table!, tableName!, "-C", chain!, ...rule]);
  } catch {
    await run("iptables", ["-w", "5", table!, tableName!, "-A", chain!, ...rule]);
  }
}

/** Removes the jump and the chain (`edgeplane-agent cleanup`); says what it removed. */
export async function removePodMasquerade(bridge: string, run: IptablesCommand = hostIptables): Promise<string[]> {
  const [table, tableName, chain, ...rule] = jumpRule(bridge);
  let jumps = 0;
  for (;;) {
    try {
      await run("iptables", ["-w", "5", table!, tableName!, "-D", chain!, ...rule]);
      jumps++;
    } catch {
      break;
    }
  }
  try {
    await run("iptables", ["-w", "5", "-t", "nat", "-F", masqueradeChain(bridge)]);
    await run("iptables", ["-w", "5", "-t", "nat", "-X", masqueradeChain(bridge)]);
  } catch {
    return jumps ? [`removed the pods' masquerade jump of ${bridge}`] : [];
  }
  return [`removed the pods' masquerade rules of ${bridge}`];
}

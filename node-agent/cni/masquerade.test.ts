// The pods' masquerade rules: what the agent writes, and how it adds and removes them.
import { describe, expect, it } from "vitest";
import { applyPodMasquerade, masqueradeRules, removePodMasquerade, type IptablesCommand } from "./masquerade.ts";

/** Records the commands; `-C` (check) and `-D` (delete) fail after `present` matching jumps. */
function recorder(present: number): { run: IptablesCommand; commands: string[] } {
  const commands: string[] = [];
  let jumps = present;
  const run: IptablesCommand = async (command, args) => {
    commands.push(`${command} ${args.join(" ")}`);
    if (args.includes("-C") && jumps === 0) throw new Error("iptables: Bad rule (does a matching rule exist in that chain?).");
    if (args.includes("-D") && jumps-- === 0) throw new Error("iptables: Bad rule (does a matching rule exist in that chain?).");
  };
  return { run, commands };
}

describe("pod masquerade rules", () => {
  it("masquerade what leaves the pods' subnet, except multicast, in a chain of the bridge's", () => {
    expect(masqueradeRules("edgeplane0", "10.244.3.0/24")).toBe([
      "*nat",
      ":EP-MASQ-edgeplane0 - [0:0]",
      "-A EP-MASQ-edgeplane0 ! -s 10.244.3.0/24 -j RETURN",
      "-A EP-MASQ-edgeplane0 -d 10.244.3.0/24 -j RETURN",
      "-A EP-MASQ-edgeplane0 -d 224.0.0.0/4 -j RETURN",
      "-A EP-MASQ-edgeplane0 -j MASQUERADE",
      "COMMIT",
      "",
    ].join("\n"));
  });

  it("are written with one iptables-restore, and the jump from POSTROUTING is added only when missing", async () => {
    const fresh = recorder(0);
    await applyPodMasquerade("edgeplane0", "10.244.3.0/24", fresh.run);
    const jump = "-t nat POSTROUTING -m comment --comment edgeplane pod network edgeplane0 -j EP-MASQ-edgeplane0";
    expect(fresh.commands).toEqual([
      "iptables-restore -w 5 --noflush",
      `iptables -w 5 ${jump.replace("POSTROUTING", "-C POSTROUTING")}`,
      `iptables -w 5 ${jump.replace("POSTROUTING", "-A POSTROUTING")}`,
    ]);
    const again = recorder(1);
    await applyPodMasquerade("edgeplane0", "10.244.4.0/24", again.run);
    expect(again.commands).toHaveLength(2);
  });

  it("are removed on cleanup: every jump, then the chain", async () => {
    const { run, commands } = recorder(2);
    expect(await removePodMasquerade("epbench0", run)).toEqual(["removed the pods' masquerade rules of epbench0"]);
    expect(commands.filter((c) => c.includes(" -D POSTROUTING"))).toHaveLength(3);
    expect(commands.slice(-2)).toEqual(["iptables -w 5 -t nat -F EP-MASQ-epbench0", "iptables -w 5 -t nat -X EP-MASQ-epbench0"]);
  });
});

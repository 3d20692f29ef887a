// The cri runtime's host checks: what a host without root, without containerd's programs or with
// a containerd socket that does not answer is told (the agent says it before it joins).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkHost } from "./cri-node.ts";

const emptyDir = mkdtempSync(join(tmpdir(), "edgeplane-cri-node-"));
afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));

/** Runs `check` with a PATH that holds nothing (the system's sbin folders are still searched). */
async function withEmptyPath<T>(check: () => Promise<T>): Promise<T> {
  const path = process.env.PATH;
  process.env.PATH = emptyDir;
  try {
    return await check();
  } finally {
    process.env.PATH = path;
  }
}

describe("host checks for the cri runtime", () => {
  it("needs root", async () => {
    await expect(checkHost({}, false)).rejects.toThrow("the cri runtime runs containers, which needs root: run edgeplane-agent as root (uid 0), or join with --runtime simulated");
  });

  it("names the programs it cannot find and the Debian package that installs them", async () => {
    // containerd and ctr live in /usr/bin, which this PATH lacks; runc, iptables and ip are in /usr/sbin.
    await expect(withEmptyPath(() => checkHost({}, true))).rejects.toThrow("the cri runtime needs containerd, ctr, which this host lacks: install containerd (apt-get install containerd)");
  });

  it("with a containerd socket given, needs no containerd or runc of its own, but the socket must answer", async () => {
    await expect(withEmptyPath(() => checkHost({ containerdSocket: join(emptyDir, "containerd.sock") }, true))).rejects.toThrow("the cri runtime needs ctr, which this host lacks: install containerd (apt-get install containerd)");
    await expect(checkHost({ containerdSocket: join(emptyDir, "containerd.sock") }, true)).rejects.toThrow(
      `cannot reach containerd at unix://${emptyDir}/containerd.sock: No connection established. Last error: Error: connect ENOENT ${emptyDir}/containerd.sock. (is containerd running, with its CRI plugin enabled? --containerd-socket names its socket)`);
  });

  it("passes on this host, which has everything", async () => {
    await expect(checkHost({}, true)).resolves.toBeUndefined();
  });
});

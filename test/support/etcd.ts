// Starts a private etcd 3.4 (Debian's etcd-server) on loopback with a throwaway data folder: the
// peer that the differential suite and the store benchmark measure us against.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../scripts/dev-server.ts";

export interface LocalEtcd {
  url: string;
  /** etcd's process id (benchmarks read its CPU time). */
  pid: number;
  stop(): Promise<void>;
}

export const ETCD_BINARY = process.env.ETCD_BINARY ?? "/usr/bin/etcd";

export async function startEtcd(): Promise<LocalEtcd> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "edgeplane-etcd-"));
  const url = `http://127.0.0.1:${clientPort}`;
  const child = spawn(ETCD_BINARY, [
    "--name", "peer", "--data-dir", dataDir,
    "--listen-client-urls", url, "--advertise-client-urls", url,
    "--listen-peer-urls", `http://127.0.0.1:${peerPort}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peerPort}`,
    "--initial-cluster", `peer=http://127.0.0.1:${peerPort}`, "--log-level", "error", "--logger", "zap",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output = (output + d).slice(-10_000)));
  child.stderr.on("data", (d) => (output = (output + d).slice(-10_000)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`${url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: "AA==" }) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not answer on ${url} within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, pid: child.pid!, stop };
}

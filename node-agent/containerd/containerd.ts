// A private containerd for the agent: its own config, root, state and socket under one directory,
// the CRI plugin pointed at the agent's CNI folders and a locally imported sandbox image, so the
// agent (and its tests) never touch the host's own containerd. Also imports image archives.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { CriClient } from "../cri/client.ts";
import { PAUSE_IMAGE } from "../image/oci-image.ts";

const execFileAsync = promisify(execFile);

export interface ContainerdOptions {
  /** Holds config.toml, root/, state/, containerd.sock and containerd.log. */
  dir: string;
  cniBinDir: string;
  cniConfDir: string;
  sandboxImage?: string;
  /** The containerd binary; found on PATH by default. */
  binary?: string;
  /** How long to wait for CRI to answer Status. */
  startSeconds?: number;
}

/** containerd's config: CRI with a local sandbox image; runc may not lower oom_score_adj (it fails here otherwise). */
export function containerdConfig(options: { dir: string; cniBinDir: string; cniConfDir: string; sandboxImage: string }): string {
  const quote = (s: string) => JSON.stringify(s);
  return [
    "version = 2",
    `root = ${quote(join(options.dir, "root"))}`,
    `state = ${quote(join(options.dir, "state"))}`,
    // Snapshotters this agent never uses; skipping them makes start faster and the log quieter.
    `disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]`,
    "",
    "[grpc]",
    `  address = ${quote(join(options.dir, "containerd.sock"))}`,
    "",
    `[plugins."io.containerd.grpc.v1.cri"]`,
    `  sandbox_image = ${quote(options.sandboxImage)}`,
    "  restrict_oom_score_adj = true",
    `  [plugins."io.containerd.grpc.v1.cri".cni]`,
    `    bin_dir = ${quote(options.cniBinDir)}`,
    `    conf_dir = ${quote(options.cniConfDir)}`,
    "",
  ].join("\n");
}

export class Containerd {
  readonly socket: string;
  private readonly process: ChildProcess;
  private readonly exited: Promise<number | null>;

  private constructor(dir: string, child: ChildProcess) {
    this.socket = join(dir, "containerd.sock");
    this.process = child;
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  /** Starts containerd and waits until its CRI answers Status. */
  static async start(options: ContainerdOptions): Promise<Containerd> {
    mkdirSync(options.dir, { recursive: true });
    const configPath = join(options.dir, "config.toml");
    writeFileSync(configPath, containerdConfig({ ...options, sandboxImage: options.sandboxImage ?? PAUSE_IMAGE }));
    const logPath = join(options.dir, "containerd.log");
    const log = openSync(logPath, "a");
    const binary = options.binary ?? "containerd";
    const child = spawn(binary, ["--config", configPath], { stdio: ["ignore", log, log] });
    closeSync(log);
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    const containerd = new Containerd(options.dir, child);
    const failure = Promise.race([spawnError.then((e) => `cannot run ${binary}: ${e.message}`), containerd.exited.then((code) => `containerd exited with ${code} (log: ${logPath}): ${lastLines(logPath)}`)]);
    const ready = containerd.waitReady((options.startSeconds ?? 20) * 1000, () => child.exitCode === null && child.signalCode === null && child.pid !== undefined);
    const outcome = await Promise.race([ready.then(() => undefined), failure]);
    if (outcome !== undefined) {
      throw new Error(outcome);
    }
    return containerd;
  }

  /** Polls CRI Status until it answers, the deadline passes, or the process is gone. */
  private async waitReady(timeoutMs: number, running: () => boolean): Promise<void> {
    const client = new CriClient(this.socket);
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        try {
          await client.status(2);
          return;
        } catch (error) {
          if (!running()) return new Promise(() => {}); // the exit is the failure start() reports
          if (Date.now() > deadline) throw new Error(`containerd did not answer on ${client.endpoint} within ${timeoutMs / 1000}s: ${(error as Error).message}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      client.close();
    }
  }

  /** SIGTERM, then SIGKILL after `graceSeconds`. Containers it ran keep running under their shims. */
  async stop(graceSeconds = 10): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill("SIGTERM");
    const timer = setTimeout(() => this.process.kill("SIGKILL"), graceSeconds * 1000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Loads an OCI or docker archive into the k8s.io namespace, where CRI finds images (`ctr -n k8s.io image import`). */
export async function importImage(socket: string, archivePath: string): Promise<void> {
  try {
    await execFileAsync("ctr", ["--address", socket, "--namespace", "k8s.io", "image", "import", archivePath]);
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`cannot import ${archivePath} into containerd at ${socket}: ${(e.stderr || e.message).trim()}`);
  }
}

function lastLines(path: string, count = 5): string {
  try {
    return readFileSync(path, "utf8").trim().split("\n").slice(-count).join("\n") || "(nothing logged)";
  } catch {
    return "(no log)";
  }
}

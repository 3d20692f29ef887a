// A real node's container runtime, from the host up: the host checked first (root, containerd,
// runc, the CNI plugins, iptables, busybox-static — each missing one named with its Debian package,
// before anything is registered), then containerd (the agent's own, with a private config, root,
// state and socket under the state directory, or the one at a given socket), the busybox and pause
// images imported, and the CRI runtime over it with the kubelet's garbage collection (cri/gc.ts). Stopping leaves the pods' containers running under
// their shims, as a kubelet restart does, unless asked to kill them; `cleanup` removes everything.
import { execFileSync } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import { DEFAULT_BRIDGE, findCniBinDir, type PodNetwork } from "./cni/config.ts";
import { removePodMasquerade } from "./cni/masquerade.ts";
import { removePodRoutes } from "./cni/routes.ts";
import { Containerd } from "./containerd/containerd.ts";
import { importAgentImages, startNodeRuntime } from "./containerd/node-runtime.ts";
import { CriClient } from "./cri/client.ts";
import { NodeGarbageCollector } from "./cri/gc.ts";
import { CriRuntime } from "./cri/runtime.ts";
import { findBusybox } from "./image/oci-image.ts";
import type { CriSettings } from "./state.ts";

const DEFAULT_POD_LOGS_DIR = "/var/log/pods";
const DEFAULT_CNI_CONF_DIR = "/etc/cni/net.d";
/** How long a container gets to stop when the agent kills its pods on exit. */
const EXIT_GRACE_SECONDS = 2;

/** A program the cri runtime runs, and the Debian package that installs it. */
const PROGRAMS: { name: string; pkg: string; ownContainerdOnly?: boolean }[] = [
  { name: "containerd", pkg: "containerd", ownContainerdOnly: true },
  { name: "ctr", pkg: "containerd" },
  { name: "runc", pkg: "runc", ownContainerdOnly: true },
  { name: "iptables", pkg: "iptables" },
  { name: "ip", pkg: "iproute2" },
];

function onPath(program: string): boolean {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * What the cri runtime needs of the host, or an error that says what to install. With a given
 * containerd socket, that it answers.
 */
export async function checkHost(settings: CriSettings = {}, isRoot = process.getuid?.() === 0): Promise<void> {
  if (!isRoot) throw new Error("the cri runtime runs containers, which needs root: run edgeplane-agent as root (uid 0), or join with --runtime simulated");
  const missing = PROGRAMS.filter((p) => !(p.ownContainerdOnly && settings.containerdSocket) && !onPath(p.name));
  if (missing.length) {
    const packages = [...new Set(missing.map((p) => p.pkg))];
    throw new Error(`the cri runtime needs ${missing.map((p) => p.name).join(", ")}, which this host lacks: install ${packages.join(" ")} (apt-get install ${packages.join(" ")})`);
  }
  findCniBinDir();
  findBusybox();
  if (settings.containerdSocket) await reachContainerd(settings.containerdSocket);
}

/** Asks the containerd at `socket` for its version; a clear error when nothing answers there. */
async function reachContainerd(socket: string): Promise<void> {
  const client = new CriClient(socket);
  try {
    await client.version();
  } catch (error) {
    throw new Error(`${(error as Error).message} (is containerd running, with its CRI plugin enabled? --containerd-socket names its socket)`);
  } finally {
    client.close();
  }
}

export interface CriNode {
  runtime: CriRuntime;
  /** Closes the runtime and stops the agent's own containerd; with `killPods`, stops every pod first. */
  stop(options?: { killPods?: boolean }): Promise<void>;
}

function criDir(stateDir: string): string {
  return join(stateDir, "cri");
}

/** The pids of processes run with this command-line argument (read from /proc). */
function processesWithArgument(argument: string): number[] {
  return readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(argument) ? [Number(pid)] : [];
    } catch {
      return []; // Gone meanwhile.
    }
  });
}

/**
 * A containerd an agent killed outright (SIGKILL, a crash) left running on this state directory:
 * stopped (SIGTERM, SIGKILL after 10 s) so that a new one can take its root; the containers it
 * ran keep running under their shims, and the new one finds them.
 */
async function stopLeftoverContainerd(dir: string): Promise<void> {
  const config = join(dir, "containerd", "config.toml");
  const pids = processesWithArgument(config);
  const deadline = Date.now() + 10_000;
  for (const pid of pids) signal(pid, "SIGTERM");
  while (processesWithArgument(config).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of processesWithArgument(config)) signal(pid, "SIGKILL");
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // It ended meanwhile.
  }
}

/** Starts (or reaches) containerd, imports the agent's images, and answers the runtime over it. */
export async function startCriNode(stateDir: string, settings: CriSettings = {}): Promise<CriNode> {
  await checkHost(settings);
  const dir = criDir(stateDir);
  const bridge = settings.bridge ?? DEFAULT_BRIDGE;
  let containerd: Containerd | undefined;
  let socket: string;
  let images: string[];
  let network: PodNetwork;
  if (settings.containerdSocket) {
    socket = settings.containerdSocket;
    images = await importAgentImages(socket, join(dir, "images"));
    network = { confDir: settings.cniConfDir ?? DEFAULT_CNI_CONF_DIR, bridge, ipamDataDir: join(dir, "ipam") };
  } else {
    await stopLeftoverContainerd(dir);
    const started = await startNodeRuntime({ dir, bridge });
    ({ containerd, images, network } = started);
    socket = containerd.socket;
  }
  const runtime = new CriRuntime({ endpoint: socket, logsDir: settings.podLogsDir ?? DEFAULT_POD_LOGS_DIR, podsDir: join(stateDir, "pods"), preloadedImages: images, network });
  const gc = new NodeGarbageCollector({
    client: runtime.client, preloadedImages: images,
    log: (message) => process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), component: "gc", msg: message }) + "\n"),
  });
  gc.start();
  return {
    runtime,
    async stop(options = {}) {
      gc.stop();
      if (options.killPods) await Promise.all((await runtime.listPods()).map((pod) => runtime.killPod(pod, EXIT_GRACE_SECONDS)));
      await runtime.close();
      await containerd?.stop();
    },
  };
}

/**
 * `edgeplane-agent cleanup` for a cri node: every pod stopped and removed, the agent's containerd
 * stopped and its folder removed (unless something is still mounted under it), the pods' bridge, its
 * masquerade rules and the routes to other nodes' pods deleted.
 */
export async function cleanupCriNode(stateDir: string, settings: CriSettings = {}): Promise<string[]> {
  const done: string[] = [];
  const node = await startCriNode(stateDir, settings);
  const pods = await node.runtime.listPods();
  await node.stop({ killPods: true });
  done.push(`stopped and removed ${pods.length} pod(s)`);
  await removePodRoutes();
  done.push("removed the routes to other nodes' pods");
  const bridge = settings.bridge ?? DEFAULT_BRIDGE;
  done.push(...(await removePodMasquerade(bridge)));
  try {
    execFileSync("ip", ["link", "del", bridge], { stdio: "ignore" });
    done.push(`deleted the bridge ${bridge}`);
  } catch {
    // No pod ever made the bridge.
  }
  if (!settings.containerdSocket) {
    const dir = criDir(stateDir);
    const mounted = mountsUnder(dir);
    if (mounted.length) done.push(`kept ${dir}: still mounted there: ${mounted.join(", ")}`);
    else {
      rmSync(dir, { recursive: true, force: true });
      done.push(`removed containerd's root, state and images in ${dir}`);
    }
  }
  return done;
}

/** Mount points at or below `dir` (removing files under a bind mount would remove the host's). */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

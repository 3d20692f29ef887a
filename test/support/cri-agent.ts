// Stopping a real-containerd agent an e2e suite joined: SIGTERM first, since the agent stops its
// own containerd on the way out (a killed agent would leave it running), SIGKILL after 30 s; then
// `edgeplane-agent cleanup` removes its pods, when it got as far as saving its state. `criSuite`
// sets a whole suite up around one such agent.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { buildAgent } from "../../scripts/build-agent.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { startKubectlHarness, type KubectlHarness } from "./kubectl.ts";
import { until } from "./until.ts";

/** The host's own Node for the agent bundle (Debian's, when installed), else this one. */
export const HOST_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;

export async function stopCriAgent(agent: ChildProcess | undefined, bundle: string, stateDir: string): Promise<void> {
  if (agent && agent.exitCode === null && agent.signalCode === null) {
    const exited = once(agent, "exit");
    agent.kill("SIGTERM");
    const timer = setTimeout(() => agent.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  }
  if (existsSync(join(stateDir, "agent.json"))) {
    try {
      execFileSync(HOST_NODE, [bundle, "cleanup", "--state-dir", stateDir], { stdio: "ignore", timeout: 60_000 });
    } catch {
      // Nothing left to clean.
    }
  }
}

/** One real-containerd e2e suite: a control plane for kubectl, the agent bundle, and its node. */
export interface CriSuite {
  readonly harness: KubectlHarness;
  /** The suite's scratch folder (removed afterwards) and the agent's state folder inside it. */
  readonly dir: string;
  readonly stateDir: string;
  /** Everything the agent printed so far. */
  output(): string;
  /** Joins the node with the bundle (`extraArgs` after the usual ones), then waits until its tunnel is connected and the node Ready. */
  join(extraArgs?: string[]): Promise<void>;
  /** `until` whose timeout message ends with the agent's last output. */
  until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  /** `kubectl apply -f` of one object, written to a file in the scratch folder. */
  apply(object: object): Promise<void>;
}

export interface CriSuiteOptions {
  /** Names the scratch folder and the control plane's state. */
  prefix: string;
  node: string;
  /** The CNI bridge, distinct per suite. */
  bridge: string;
  /** The pod range, distinct per suite (and clear of npm start's 10.244.0.0/16). */
  clusterCidr: string;
  /** How often `until` probes (ms). */
  intervalMs?: number;
}

/**
 * Registers the suite's beforeAll (build the agent bundle, start a control plane) and afterAll (stop
 * the agent and clean up its pods, stop the control plane, unmount what the runtime left mounted
 * under the scratch folder, remove it).
 */
export function criSuite(options: CriSuiteOptions): CriSuite {
  let harness: KubectlHarness | undefined;
  let dir = "";
  let agent: ChildProcess | undefined;
  let output = "";
  const bundle = () => join(dir, "edgeplane-agent.mjs");
  const stateDir = () => join(dir, "agent");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${options.prefix}-`));
    await buildAgent(bundle());
    harness = await startKubectlHarness(`${options.prefix}-`, { vars: { CLUSTER_CIDR: options.clusterCidr } });
  });

  afterAll(async () => {
    if (dir) await stopCriAgent(agent, bundle(), stateDir());
    await harness?.stop();
    if (!dir) return;
    // A sandbox's /dev/shm the runtime left mounted under the state folder would keep it busy.
    const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((line) => line.split(" ")[1] ?? "");
    for (const mount of mounts.filter((m) => m.startsWith(dir)).reverse()) {
      try {
        execFileSync("umount", ["-l", mount]);
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const suite: CriSuite = {
    get harness() {
      if (!harness) throw new Error("the suite's control plane is not started yet");
      return harness;
    },
    get dir() {
      return dir;
    },
    get stateDir() {
      return stateDir();
    },
    output: () => output,
    until: (what, probe, timeoutMs = 60_000) =>
      until(what, probe, { timeoutMs, intervalMs: options.intervalMs, detail: () => `agent output:\n${output.slice(-4000)}` }),
    async apply(object) {
      const file = join(dir, `object-${randomBytes(4).toString("hex")}.json`);
      writeFileSync(file, JSON.stringify(object));
      await suite.harness.ok("/usr/bin/kubectl", "apply", "-f", file);
    },
    async join(extraArgs = []) {
      const plane = suite.harness.plane;
      const caHash = createHash("sha256").update(plane.caPem!).digest("hex");
      agent = spawn(HOST_NODE, [bundle(), "join", "--server", plane.url, "--token", await bootstrapToken(plane), "--ca-cert-sha256", caHash,
        "--node-name", options.node, "--state-dir", stateDir(), "--bridge", options.bridge, "--pod-logs-dir", join(stateDir(), "logs"), ...extraArgs],
        { stdio: ["ignore", "pipe", "pipe"] });
      agent.stdout!.on("data", (d) => (output += d));
      agent.stderr!.on("data", (d) => (output += d));
      await suite.until("the tunnel to connect", async () => (output.includes("tunnel connected") ? true : undefined), 120_000);
      await suite.harness.ok("/usr/bin/kubectl", "wait", `node/${options.node}`, "--for=condition=Ready", "--timeout=120s");
    },
  };
  return suite;
}

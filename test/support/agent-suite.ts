// e2e suites around the node agent's bundle: `agentSuite` builds the bundle and starts a control
// plane for kubectl before the suite and stops both after it; `criSuite` does the same around one
// real-containerd node. A real-containerd agent is stopped with SIGTERM first, since it stops its
// own containerd on the way out (a killed agent would leave it running), SIGKILL after 30 s; then
// `edgeplane-agent cleanup` removes its pods, when it got as far as saving its state.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { buildAgent } from "../../scripts/build-agent.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import type { ControlPlaneOptions } from "../../scripts/dev-server.ts";
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

/** An e2e suite with the agent bundle and a control plane of its own. */
export interface AgentSuite {
  readonly harness: KubectlHarness;
  /** The suite's scratch folder (removed afterwards) and the agent's state folder inside it. */
  readonly dir: string;
  readonly stateDir: string;
  /** The agent process started last. */
  readonly agent: ChildProcess | undefined;
  /** Everything the agents printed so far (since `forgetOutput`). */
  output(): string;
  forgetOutput(): void;
  /** Starts the bundle with these arguments (an agent started earlier is left alone). */
  start(args: string[]): ChildProcess;
  /** `join` with this control plane's URL, a bootstrap token, its CA's hash, the node name and the state folder. */
  joinArgs(node: string): Promise<string[]>;
  /** `until` whose timeout message ends with the agent's last output. */
  until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  /** `kubectl apply -f` of one object, written to a file in the scratch folder. */
  apply(object: object): Promise<void>;
}

export interface AgentSuiteOptions {
  /** Names the scratch folder and the control plane's state. */
  prefix: string;
  plane?: ControlPlaneOptions;
  /** `until`'s default timeout and how often it probes (ms). */
  timeoutMs?: number;
  intervalMs?: number;
  /** How the last agent is stopped after the suite (default: SIGKILL). */
  stop?: (agent: ChildProcess | undefined, bundle: string, stateDir: string) => Promise<void>;
}

/**
 * Registers the suite's beforeAll (build the agent bundle, start a control plane) and afterAll (stop
 * the agent, stop the control plane, unmount what a runtime left mounted under the scratch folder,
 * remove it).
 */
export function agentSuite(options: AgentSuiteOptions): AgentSuite {
  let harness: KubectlHarness | undefined;
  let dir = "";
  let agent: ChildProcess | undefined;
  let output = "";
  const bundle = () => join(dir, "edgeplane-agent.mjs");
  const stateDir = () => join(dir, "agent");
  const stop = options.stop ?? (async (child: ChildProcess | undefined) => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    }
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${options.prefix}-`));
    await buildAgent(bundle());
    harness = await startKubectlHarness(`${options.prefix}-`, options.plane);
  });

  afterAll(async () => {
    if (dir) await stop(agent, bundle(), stateDir());
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

  const suite: AgentSuite = {
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
    get agent() {
      return agent;
    },
    output: () => output,
    forgetOutput: () => {
      output = "";
    },
    start(args) {
      agent = spawn(HOST_NODE, [bundle(), ...args], { stdio: ["ignore", "pipe", "pipe"] });
      agent.stdout!.on("data", (d) => (output += d));
      agent.stderr!.on("data", (d) => (output += d));
      return agent;
    },
    async joinArgs(node) {
      const plane = suite.harness.plane;
      const caHash = createHash("sha256").update(plane.caPem!).digest("hex");
      return ["join", "--server", plane.url, "--token", await bootstrapToken(plane), "--ca-cert-sha256", caHash, "--node-name", node, "--state-dir", stateDir()];
    },
    until: (what, probe, timeoutMs = options.timeoutMs ?? 30_000) =>
      until(what, probe, { timeoutMs, intervalMs: options.intervalMs, detail: () => `agent output:\n${output.slice(-4000)}` }),
    async apply(object) {
      const file = join(dir, `object-${randomBytes(4).toString("hex")}.json`);
      writeFileSync(file, JSON.stringify(object));
      await suite.harness.ok("/usr/bin/kubectl", "apply", "-f", file);
    },
  };
  return suite;
}

/** A real-containerd suite: `join()` joins its one node on the cri runtime and waits for its tunnel and Ready. */
export interface CriSuite extends AgentSuite {
  join(extraArgs?: string[]): Promise<void>;
}

export interface CriSuiteOptions {
  prefix: string;
  node: string;
  /** The CNI bridge, distinct per suite. */
  bridge: string;
  /** The pod range, distinct per suite (and clear of npm start's 10.244.0.0/16). */
  clusterCidr: string;
  intervalMs?: number;
}

export function criSuite(options: CriSuiteOptions): CriSuite {
  const suite = agentSuite({
    prefix: options.prefix, plane: { vars: { CLUSTER_CIDR: options.clusterCidr } }, timeoutMs: 60_000, intervalMs: options.intervalMs, stop: stopCriAgent,
  });
  return Object.assign(Object.create(suite) as AgentSuite, {
    async join(extraArgs: string[] = []) {
      suite.start([...await suite.joinArgs(options.node), "--bridge", options.bridge, "--pod-logs-dir", join(suite.stateDir, "logs"), ...extraArgs]);
      await suite.until("the tunnel to connect", async () => (suite.output().includes("tunnel connected") ? true : undefined), 120_000);
      await suite.harness.ok("/usr/bin/kubectl", "wait", `node/${options.node}`, "--for=condition=Ready", "--timeout=120s");
    },
  });
}

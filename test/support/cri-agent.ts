// Stopping a real-containerd agent an e2e suite joined: SIGTERM first, since the agent stops its
// own containerd on the way out (a killed agent would leave it running), SIGKILL after 30 s; then
// `edgeplane-agent cleanup` removes its pods, when it got as far as saving its state.
import { execFileSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { join } from "node:path";

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

// edgeplane-agent: the command line of the node agent.
//   join --server URL --token ID.SECRET [--ca-cert-sha256 HEX] [--node-name N] [--state-dir DIR]
//        [--runtime cri|simulated] [--node-ip IP] [--pod-manifest-path DIR] [--proxy-mode MODE] [cri runtime settings]
//        [--nodes N --node-name-prefix P] [simulated runtime settings]
//        joins the cluster (see join.ts), saves the node credentials, then runs;
//   run [--state-dir DIR] [--proxy-mode MODE]  runs from the saved state (what a systemd unit starts);
//   cleanup [--state-dir DIR]  stops what the runtime holds, removes the service proxy's rules, and forgets the saved state.
// The cri runtime is the default as root on a host with containerd, runc and the CNI plugins.
import { existsSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { join as joinPath, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createRuntime, hollowPodCIDRs, jsonLog, runAgent } from "./agent.ts";
import { checkHost, cleanupCriNode } from "./cri-node.ts";
import { join } from "./join.ts";
import { DEFAULT_POD_MANIFEST_PATH } from "./pods/static-pods.ts";
import { Iptables } from "./proxy/iptables.ts";
import { PROXY_MODES, type RequestedProxyMode } from "./proxy/modes.ts";
import { Nftables } from "./proxy/nftables.ts";
import { DEFAULT_STATE_DIR, readState, removeState, type AgentState, type CriSettings, type RuntimeKind } from "./state.ts";

const USAGE = `usage:
  edgeplane-agent join --server URL --token ID.SECRET [--ca-cert-sha256 HEX] [--node-name NAME] [--state-dir DIR]
                       [--runtime cri|simulated] [--node-ip IP] [--kill-pods-on-exit]
                       [--pod-manifest-path DIR]  static pods (default ${DEFAULT_POD_MANIFEST_PATH} for cri, none for simulated)
                       [--proxy-mode auto|nftables|iptables|userspace]  the service proxy's (default auto: nftables, else iptables, else userspace)
                       cri:       [--containerd-socket PATH [--cni-conf-dir DIR]] [--bridge NAME] [--pod-logs-dir DIR]
                       simulated: [--nodes N] [--node-name-prefix PREFIX]
                                  [--pod-start-delay MS] [--pod-ready-delay MS] [--complete-after MS] [--failure-rate 0..1]
  edgeplane-agent run [--state-dir DIR] [--kill-pods-on-exit] [--proxy-mode MODE]
  edgeplane-agent cleanup [--state-dir DIR]`;

const OPTIONS = {
  server: { type: "string" },
  token: { type: "string" },
  "ca-cert-sha256": { type: "string" },
  "node-name": { type: "string" },
  "state-dir": { type: "string" },
  runtime: { type: "string" },
  "node-ip": { type: "string" },
  "pod-manifest-path": { type: "string" },
  "proxy-mode": { type: "string" },
  "kill-pods-on-exit": { type: "boolean" },
  "containerd-socket": { type: "string" },
  "cni-conf-dir": { type: "string" },
  bridge: { type: "string" },
  "pod-logs-dir": { type: "string" },
  nodes: { type: "string" },
  "node-name-prefix": { type: "string" },
  "pod-start-delay": { type: "string" },
  "pod-ready-delay": { type: "string" },
  "complete-after": { type: "string" },
  "failure-rate": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Root keeps its state where a system service does; anyone else under their home folder. */
function defaultStateDir(): string {
  return process.getuid?.() === 0 ? DEFAULT_STATE_DIR : joinPath(homedir(), ".edgeplane-agent");
}

function proxyMode(text: string | undefined): RequestedProxyMode | undefined {
  if (text === undefined || (PROXY_MODES as readonly string[]).includes(text)) return text as RequestedProxyMode | undefined;
  throw new Error(`--proxy-mode ${text}: one of ${PROXY_MODES.join(", ")}`);
}

function number(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${flag} ${text}: not a number`);
  return value;
}

/** The node names to join: --nodes N hollow nodes named <prefix><i>, else one named --node-name or the host's name. */
function nodeNames(values: { nodes?: string; "node-name"?: string; "node-name-prefix"?: string }): string[] {
  const count = number("nodes", values.nodes);
  if (count === undefined || (count === 1 && !values["node-name-prefix"])) return [values["node-name"] ?? hostname().toLowerCase()];
  const prefix = values["node-name-prefix"] ?? "hollow-";
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

/**
 * Runs until SIGINT or SIGTERM. Pods keep running meanwhile (the next run adopts them) unless
 * `killPods` says the node is a throwaway one.
 */
async function runUntilSignalled(state: AgentState, stateDir: string, killPods: boolean): Promise<void> {
  const started = Date.now();
  const agent = await runAgent(state, stateDir);
  const who = state.nodes.length === 1 ? state.nodes[0]!.name : `${state.nodes.length} nodes`;
  jsonLog(who, `running on the ${state.runtime} runtime against ${state.server} (registered in ${Date.now() - started} ms)`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      jsonLog(who, `${signal}: stopping${killPods ? " and killing the pods" : "; pods keep running"}`);
      void agent.stop({ killPods }).then(() => process.exit(0), (e: Error) => {
        jsonLog(who, `stopping failed: ${e.message}`);
        process.exit(1);
      });
    });
  }
}

/** The cri runtime when this host can run containers, else the simulated one. */
async function defaultRuntime(cri: CriSettings): Promise<RuntimeKind> {
  try {
    await checkHost(cri);
    return "cri";
  } catch (e) {
    throw new Error(`${(e as Error).message}\n(or join with --runtime simulated for hollow pods without containers)`);
  }
}

/** The settings given, without the ones left out (so the state file lists only what was chosen). */
function withoutUnset<T extends object>(settings: T): T {
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as T;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || ["help", "--help", "-h"].includes(command)) {
    console.log(USAGE);
    return;
  }
  const { values } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: false });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  // Absolute: containerd's socket under it is a unix:// address, where a relative path would read as a host name.
  const stateDir = resolve(values["state-dir"] ?? defaultStateDir());
  if (command === "join") {
    if (!values.server || !values.token) throw new Error(`join needs --server and --token\n${USAGE}`);
    const cri: CriSettings = {
      containerdSocket: values["containerd-socket"], cniConfDir: values["cni-conf-dir"], bridge: values.bridge, podLogsDir: values["pod-logs-dir"],
    };
    const runtime = (values.runtime ?? (await defaultRuntime(cri))) as RuntimeKind;
    if (runtime !== "cri" && runtime !== "simulated") throw new Error(`--runtime ${runtime}: cri or simulated`);
    // Every check before anything is asked of the cluster: nothing half-registered.
    if (runtime === "cri" && values.runtime) await checkHost(cri);
    const names = nodeNames(values);
    if (names.length > 1 && runtime !== "simulated") throw new Error("--nodes: only the simulated runtime runs more than one node per agent");
    const simulated = runtime === "simulated" ? {
      startDelayMs: number("pod-start-delay", values["pod-start-delay"]), readyDelayMs: number("pod-ready-delay", values["pod-ready-delay"]),
      completeAfterMs: number("complete-after", values["complete-after"]), failureRate: number("failure-rate", values["failure-rate"]),
    } : undefined;
    const state = await join({
      server: values.server, token: values.token, caCertSha256: values["ca-cert-sha256"], nodeNames: names, stateDir, runtime, simulated,
      cri: runtime === "cri" ? withoutUnset(cri) : undefined, nodeIP: values["node-ip"],
      podManifestPath: values["pod-manifest-path"] ?? (runtime === "cri" ? DEFAULT_POD_MANIFEST_PATH : undefined),
      proxyMode: proxyMode(values["proxy-mode"]),
    });
    jsonLog(names.length === 1 ? names[0]! : `${names.length} nodes`, `joined ${state.server}; credentials saved in ${stateDir}`);
    await runUntilSignalled(state, stateDir, values["kill-pods-on-exit"] ?? false);
  } else if (command === "run") {
    const state = readState(stateDir);
    const mode = proxyMode(values["proxy-mode"]);
    await runUntilSignalled(mode ? { ...state, proxyMode: mode } : state, stateDir, values["kill-pods-on-exit"] ?? false);
  } else if (command === "cleanup") {
    const state = existsSync(joinPath(stateDir, "agent.json")) ? readState(stateDir) : undefined;
    if (state?.runtime === "cri") {
      for (const done of await cleanupCriNode(stateDir, state.cri)) console.log(done);
      for (const done of await new Iptables().cleanup().catch(() => [])) console.log(done);
      for (const done of await new Nftables().cleanup().catch(() => [])) console.log(done);
    } else if (state) {
      const cidrs = hollowPodCIDRs(state.nodes.map((n) => n.name));
      for (const node of state.nodes) {
        const { runtime, stop } = await createRuntime(state, stateDir, cidrs.get(node.name)!);
        for (const pod of await runtime.listPods()) await runtime.killPod(pod, 0);
        await stop();
      }
    }
    removeState(stateDir);
    console.log(`removed the agent's state in ${stateDir}; the Node objects stay until an administrator deletes them (kubectl delete node)`);
  } else {
    throw new Error(`unknown command ${command}\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`edgeplane-agent: ${e.message}\n`);
  process.exit(1);
});

// The agent's state directory: what joining saved (the server, the pinned CA, each node's own
// credential, the runtime) in one file only its owner can read, and the per-pod folders where
// volumes are written.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type RuntimeKind = "cri" | "simulated";

export interface NodeCredential {
  name: string;
  /** The bearer token of system:node:<name>, from POST /api/v1/nodes/<name>/token. */
  token: string;
  expirationTimestamp?: string;
}

export interface AgentState {
  server: string;
  /** The pinned CA (PEM); absent when the server's certificate is publicly trusted. */
  ca?: string;
  runtime: RuntimeKind;
  nodes: NodeCredential[];
  /** The simulated runtime's settings (node-agent/simulated/runtime.ts SimulatedOptions, less the pod range). */
  simulated?: { startDelayMs?: number; readyDelayMs?: number; completeAfterMs?: number; failureRate?: number };
  /** The cri runtime's settings (node-agent/cri-node.ts). */
  cri?: CriSettings;
  /** The node's InternalIP, as the kubelet's --node-ip; by default the host's first IPv4 address. */
  nodeIP?: string;
  /** Where static pod manifests are read from (the kubelet's --pod-manifest-path); none when absent. */
  podManifestPath?: string;
  /** The service proxy's --proxy-mode (iptables, nftables, userspace or auto; auto when absent). */
  proxyMode?: "iptables" | "nftables" | "userspace" | "auto";
}

export interface CriSettings {
  /** A containerd already running (the host's): its socket. Without it the agent runs its own. */
  containerdSocket?: string;
  /** Where that containerd reads its CNI configuration (default /etc/cni/net.d). */
  cniConfDir?: string;
  /** The pods' bridge (default edgeplane0). */
  bridge?: string;
  /** Where containers' logs go (default /var/log/pods, as the kubelet's). */
  podLogsDir?: string;
}

export const DEFAULT_STATE_DIR = "/var/lib/edgeplane-agent";
const STATE_FILE = "agent.json";

export function stateFile(dir: string): string {
  return join(dir, STATE_FILE);
}

export function readState(dir: string): AgentState {
  const file = stateFile(dir);
  if (!existsSync(file)) throw new Error(`no ${file}: join first (edgeplane-agent join --server URL --token ID.SECRET)`);
  return JSON.parse(readFileSync(file, "utf8")) as AgentState;
}

/** Written whole to a temporary file and renamed, mode 0600: a crash never leaves half a credential. */
export function writeState(dir: string, state: AgentState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = stateFile(dir);
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

/** Where one pod's volumes and files live on the host. */
export function podDir(dir: string, uid: string): string {
  return join(dir, "pods", uid);
}

/** Forgets everything: the saved credentials and every pod's files. */
export function removeState(dir: string): void {
  rmSync(stateFile(dir), { force: true });
  rmSync(join(dir, "pods"), { recursive: true, force: true });
}

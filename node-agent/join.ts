// Joining a cluster, as `kubeadm join` with a bootstrap token: find the server and trust its
// certificate (pinned by the hash the join command carries, else the system's trust store),
// present the bootstrap token to get each node's own long-lived credential (POST
// /api/v1/nodes/<name>/token, user system:node:<name>), and save them in the state directory. Every
// failure says what went wrong in words a person can act on, and nothing is registered or saved
// before every check has passed.
import { ApiClient } from "../lib/client/index.ts";
import { ApiError } from "../lib/k8s/status.ts";
import { discoverPinnedCa, httpsFetch } from "./http.ts";
import { writeState, type AgentState, type NodeCredential, type RuntimeKind } from "./state.ts";

export const BOOTSTRAP_TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;

export interface JoinOptions {
  server: string;
  token: string;
  caCertSha256?: string;
  nodeNames: string[];
  stateDir: string;
  runtime: RuntimeKind;
  /** Kept in the state for `run`: the simulated runtime's settings. */
  simulated?: AgentState["simulated"];
  /** Kept in the state for `run`: the cri runtime's settings and the node's InternalIP. */
  cri?: AgentState["cri"];
  nodeIP?: string;
  /** Kept in the state for `run`: the static pod manifest directory. */
  podManifestPath?: string;
  /** Kept in the state for `run`: the service proxy's --proxy-mode. */
  proxyMode?: AgentState["proxyMode"];
  isRoot?: boolean;
}

const UNTRUSTED = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT", "CERT_HAS_EXPIRED", "CERT_UNTRUSTED", "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** A transport or TLS failure in words that say which of the two it was. */
export function describeConnectionError(e: unknown, server: string): Error {
  if (e instanceof ApiError) return e;
  const error = e as NodeJS.ErrnoException;
  const code = error.code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code;
  if (code && UNTRUSTED.has(code)) {
    return new Error(`the server's certificate is not trusted (${error.message}): pass --ca-cert-sha256 with the hash \`npm run admin -- bootstrap-token\` printed, or give the server a publicly trusted certificate`);
  }
  return new Error(`cannot reach the control plane at ${server}: ${error.message}${code && !error.message.includes(code) ? ` (${code})` : ""}`);
}

/** Why the server refused the bootstrap token's request for a node credential. */
function describeRefusal(e: ApiError, server: string, node: string): Error {
  if (e.code === 401) return new Error(`the bootstrap token was refused (401 Unauthorized): it is wrong, expired or deleted; make a new one with \`npm run admin -- bootstrap-token\``);
  if (e.code === 403) return new Error(`the bootstrap token may not ask for a credential for node "${node}": ${e.message}`);
  if (e.code === 404) return new Error(`${server} does not serve the edgeplane API (POST /api/v1/nodes/${node}/token answered 404 Not Found)`);
  return new Error(`asking for node "${node}"'s credential failed: ${e.message}`);
}

/** Runs `work` over `items` with at most `limit` at a time. */
async function inBatches<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Checks, asks for every node's credential, saves the state; answers it for `run`. */
export async function join(options: JoinOptions): Promise<AgentState> {
  if (!BOOTSTRAP_TOKEN.test(options.token)) throw new Error(`--token: a bootstrap token looks like abcdef.0123456789abcdef ([a-z0-9]{6}.[a-z0-9]{16})`);
  let server: URL;
  try {
    server = new URL(options.server);
  } catch {
    throw new Error(`--server ${options.server}: not a URL (https://host:port)`);
  }
  if (server.protocol !== "https:") throw new Error(`--server ${options.server}: the control plane is reached over https only`);
  if (options.runtime === "cri" && !(options.isRoot ?? process.getuid?.() === 0)) {
    throw new Error("the cri runtime runs containers, which needs root: run edgeplane-agent as root (uid 0), or join with --runtime simulated");
  }
  const base = server.origin;
  let ca: string | undefined;
  try {
    ca = options.caCertSha256 ? await discoverPinnedCa(base, options.caCertSha256) : undefined;
  } catch (e) {
    throw (e as Error).message.startsWith("the server's certificate") ? e : describeConnectionError(e, base);
  }
  const bootstrap = new ApiClient({ fetch: httpsFetch(ca), baseUrl: base, token: options.token, userAgent: "edgeplane-agent/join" });
  const nodes = await inBatches(options.nodeNames, 16, async (name): Promise<NodeCredential> => {
    try {
      const answer = await bootstrap.json<{ status: { token: string; expirationTimestamp?: string } }>({
        method: "POST", path: `/api/v1/nodes/${encodeURIComponent(name)}/token`,
        body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} },
      });
      return { name, token: answer.status.token, expirationTimestamp: answer.status.expirationTimestamp };
    } catch (e) {
      throw e instanceof ApiError ? describeRefusal(e, base, name) : describeConnectionError(e, base);
    }
  });
  const state: AgentState = {
    server: base, ...(ca ? { ca } : {}), runtime: options.runtime, nodes,
    ...(options.simulated ? { simulated: options.simulated } : {}), ...(options.cri ? { cri: options.cri } : {}), ...(options.nodeIP ? { nodeIP: options.nodeIP } : {}),
    ...(options.podManifestPath ? { podManifestPath: options.podManifestPath } : {}), ...(options.proxyMode ? { proxyMode: options.proxyMode } : {}),
  };
  writeState(options.stateDir, state);
  return state;
}

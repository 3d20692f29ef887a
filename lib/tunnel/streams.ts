// The kinds of stream the control plane opens to a node through its tunnel, by the header's `type`.
// Each names what it is about; the agent answers with a reply (status) and then the stream's bytes.
// exec and attach carry channel records (channels.ts) both ways; port-forward the connection's bytes.
import type { StreamHeader } from "./mux.ts";

/** The header carrying a stream's StreamHeader (JSON) on a request to a node's tunnel object, and the agent's reply on the answer. */
export const STREAM_HEADER = "X-Tunnel-Stream";
export const REPLY_HEADER = "X-Tunnel-Reply";
/** A text message on a stream's WebSocket: the apiserver writes no more (a forwarded connection's half-close). */
export const END_OF_INPUT = "end";

/** A container's log, as the kubelet's /containerLogs serves it (PodLogOptions, validated by the apiserver). */
export interface LogStreamHeader extends StreamHeader {
  type: "log";
  namespace: string;
  pod: string;
  uid: string;
  container: string;
  follow?: boolean;
  previous?: boolean;
  timestamps?: boolean;
  /** RFC 3339: entries before it are skipped (sinceSeconds is turned into this by the apiserver). */
  sinceTime?: string;
  tailLines?: number;
  limitBytes?: number;
}

/** An HTTP request to the agent's own endpoints (nodes/proxy): /healthz, /logs/, and those the agent adds. */
export interface ProxyStreamHeader extends StreamHeader {
  type: "proxy";
  method: string;
  /** The path and query after /api/v1/nodes/<name>/proxy. */
  path: string;
}

/**
 * kubectl exec (a command run in the container) or attach (the container's own process): the
 * bytes both ways are channel records; the agent ends with a Status on the error channel.
 */
export interface ExecStreamHeader extends StreamHeader {
  type: "exec" | "attach";
  namespace: string;
  pod: string;
  uid: string;
  container: string;
  /** exec only. */
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  /** Only check that the container runs, run nothing (the answer a SPDY client gets depends on it). */
  check?: boolean;
}

/**
 * One forwarded connection of `kubectl port-forward` (pods/portforward): the stream's bytes are the
 * connection's, both ways; the agent refuses with the kubelet's words when the port cannot be reached.
 */
export interface PortForwardStreamHeader extends StreamHeader {
  type: "portforward";
  namespace: string;
  pod: string;
  uid: string;
  port: number;
  /** Only check that the pod is on this node, connect to nothing. */
  check?: boolean;
}

export type NodeStreamHeader = LogStreamHeader | ProxyStreamHeader | ExecStreamHeader | PortForwardStreamHeader;

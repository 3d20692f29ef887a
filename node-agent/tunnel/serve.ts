// What the agent serves on streams the control plane opens through its tunnel: a container's log
// (the kubelet's /containerLogs, with its checks and wording), its own HTTP endpoints for
// nodes/proxy (/healthz, the host's /logs/, and the endpoints the agent adds: /stats/summary),
// exec and attach sessions (exec.ts) and port-forward connections (portforward.ts). Each stream
// gets a reply first: 200, or the error kube's kubelet gives.
import type { TunnelStream } from "../../lib/tunnel/mux.ts";
import type { LogStreamHeader, NodeStreamHeader, ProxyStreamHeader } from "../../lib/tunnel/streams.ts";
import { streamLog } from "../logs/cri-log.ts";
import { serveSessionStream } from "./exec.ts";
import { isHostLogPath, serveHostLogs } from "./host-logs.ts";
import { servePortForward } from "./portforward.ts";
import { serveHttpProxyStream } from "./http-proxy.ts";
import { Refusal } from "./refusal.ts";
import type { ContainerObservation, Runtime } from "../runtime/runtime.ts";

/** An answer of one of the agent's own HTTP endpoints; failures are thrown as a Refusal. */
export interface AgentAnswer {
  headers: Record<string, string>;
  body: Uint8Array | string;
}

/** One of the agent's own HTTP endpoints (nodes/proxy): its answer, or undefined when the path is not its. */
export type AgentEndpoint = (method: string, path: string) => Promise<AgentAnswer | undefined>;

/** Serves one stream to its end; failures before the reply become the reply. */
export async function serveStream(stream: TunnelStream, runtime: Runtime, endpoints: AgentEndpoint[] = []): Promise<void> {
  if (stream.header.type === "http-proxy") return serveHttpProxyStream(stream, runtime);
  const header = stream.header as NodeStreamHeader;
  const abort = new AbortController();
  const interactive = header.type === "exec" || header.type === "attach";
  // Streams that read what the apiserver sends read it themselves; the others drain it.
  if (!interactive && header.type !== "portforward") void stream.readable.pipeTo(new WritableStream()).catch(() => abort.abort());
  try {
    if (header.type === "log") await serveLog(stream, header, runtime, abort.signal);
    else if (header.type === "proxy") await serveProxy(stream, header, endpoints);
    else if (interactive) await serveSessionStream(stream, header, runtime);
    else if (header.type === "portforward") await servePortForward(stream, header, runtime);
    else throw new Refusal(400, `stream type ${JSON.stringify((header as { type: string }).type)} is not supported by this node`);
    stream.end();
  } catch (e) {
    if (e instanceof Refusal) {
      stream.respond({ status: e.status, message: e.message });
      stream.end();
    } else {
      stream.reset((e as Error).message);
    }
  }
}

/** The container ID whose log is asked for, chosen and checked as the kubelet's validateContainerLogStatus does. */
function logContainerID(status: ContainerObservation | undefined, header: LogStreamHeader): string {
  const { container, pod } = header;
  if (!status) throw new Refusal(400, `container "${container}" in pod "${pod}" is not available`);
  const last = status.lastState && "terminated" in status.lastState ? status.lastState.terminated : undefined;
  if (header.previous) {
    if (!last?.containerID) throw new Refusal(400, `previous terminated container "${container}" in pod "${pod}" not found`);
    return last.containerID;
  }
  if ("running" in status.state && status.containerID) return status.containerID;
  if ("terminated" in status.state) {
    const id = status.state.terminated.containerID ?? status.containerID;
    if (!id) throw new Refusal(400, `container "${container}" in pod "${pod}" is terminated`);
    return id;
  }
  // A container waiting to restart answers with its last run's log.
  if (last?.containerID) return last.containerID;
  const reason = "waiting" in status.state ? status.state.waiting.reason : "ContainerCreating";
  const why = reason === "ErrImagePull" ? "image can't be pulled" : reason === "ImagePullBackOff" ? "trying and failing to pull image" : reason;
  throw new Refusal(400, `container "${container}" in pod "${pod}" is waiting to start: ${why}`);
}

async function serveLog(stream: TunnelStream, header: LogStreamHeader, runtime: Runtime, signal: AbortSignal): Promise<void> {
  const observation = await runtime.observe(header.uid);
  if (!observation) throw new Refusal(404, `pod "${header.pod}" cannot be found - no logs available`);
  const status = [...observation.containers, ...observation.initContainers].find((c) => c.name === header.container);
  const containerID = logContainerID(status, header);
  if (!runtime.containerLog) throw new Refusal(400, "this node's container runtime does not keep container logs");
  const log = await runtime.containerLog(header.uid, containerID);
  if (!log) throw new Refusal(400, `container "${header.container}" in pod "${header.pod}" is not available`);
  stream.respond({ status: 200 });
  const out = coalescedWrites((bytes) => stream.write(bytes));
  await streamLog(log, header, out.write, signal);
  await out.flush();
}

/** Most bytes held before a write waits for them to be sent. */
const COALESCE_BYTES = 64 * 1024;

/**
 * Joins many small writes (a log's lines, one write each) into stream writes of up to 64 KiB:
 * each crosses the tunnel as one frame and one flow-control credit instead of one per line. What
 * is held goes out once the writer yields to the event loop (a followed log's new lines at once),
 * or when 64 KiB have gathered, and the writer then waits for it to be sent.
 */
function coalescedWrites(send: (bytes: Uint8Array) => Promise<void>): { write(bytes: Uint8Array): Promise<void>; flush(): Promise<void> } {
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  let sending: Promise<void> = Promise.resolve();
  let scheduled = false;
  const flush = (): Promise<void> => {
    scheduled = false;
    if (heldBytes === 0) return sending;
    const chunk = Buffer.concat(held, heldBytes);
    held = [];
    heldBytes = 0;
    sending = sending.then(() => send(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    return sending;
  };
  return {
    async write(bytes) {
      held.push(bytes);
      heldBytes += bytes.byteLength;
      if (heldBytes >= COALESCE_BYTES) return flush();
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => void flush().catch(() => {}));
      }
      return sending;
    },
    flush,
  };
}

/** The agent's own endpoints, as the kubelet serves them on its port. */
async function serveProxy(stream: TunnelStream, header: ProxyStreamHeader, endpoints: AgentEndpoint[]): Promise<void> {
  const path = header.path.split("?")[0]!;
  if (isHostLogPath(path)) return serveHostLogs(stream, header.method, path);
  for (const endpoint of endpoints) {
    const answer = await endpoint(header.method, header.path);
    if (!answer) continue;
    stream.respond({ status: 200, headers: answer.headers });
    if (header.method !== "HEAD") await stream.write(typeof answer.body === "string" ? new TextEncoder().encode(answer.body) : answer.body);
    return;
  }
  if (path !== "/healthz") throw new Refusal(404, "404 page not found");
  if (header.method !== "GET" && header.method !== "HEAD") throw new Refusal(405, `the method ${header.method} is not allowed on ${path}`);
  stream.respond({ status: 200, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  if (header.method === "GET") await stream.write(new TextEncoder().encode("ok"));
}

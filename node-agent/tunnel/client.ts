// The agent's end of its node's tunnel: one outbound WebSocket to the control plane
// (/api/v1/nodes/<name>/tunnel, as the node's own credential), redialed with back-off (1 s doubling
// to 30 s) whenever it drops, and kept honest with a ping the tunnel object answers without waking.
// The control plane opens streams over it; the agent serves them (serve.ts) and opens none.
import { Agent } from "node:https";
import WebSocket from "ws";
import { TunnelMux } from "../../lib/tunnel/mux.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { trusting } from "../http.ts";
import { serveStream, type AgentEndpoint } from "./serve.ts";

export interface TunnelClientOptions {
  server: string;
  nodeName: string;
  token: string;
  /** The CA pinned at join (PEM). */
  ca?: string;
  runtime: Runtime;
  /** The agent's own HTTP endpoints served for nodes/proxy besides /healthz (/stats/summary). */
  endpoints?: AgentEndpoint[];
  log: (message: string) => void;
  /** How often the agent pings (PING_MS). */
  pingMs?: number;
}

const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** How often the agent pings; two pings unanswered and the connection is dropped and redialed. */
const PING_MS = 20_000;

const agents = new Map<string, Agent>();

/**
 * The tunnels' TLS client, one per pinned CA for the whole process: its context and its cache of
 * TLS sessions are shared, so the tunnels of many hollow nodes resume a session instead of each
 * doing a full handshake.
 */
function tunnelAgent(ca: string | undefined): Agent {
  let agent = agents.get(ca ?? "");
  if (!agent) agents.set(ca ?? "", (agent = new Agent({ ...trusting(ca), maxCachedSessions: 16 })));
  return agent;
}

export class TunnelClient {
  private readonly options: TunnelClientOptions;
  private socket: WebSocket | undefined;
  private stopped = false;
  private backoff = BACKOFF_INITIAL_MS;
  private retry: NodeJS.Timeout | undefined;

  constructor(options: TunnelClientOptions) {
    this.options = options;
  }

  start(): void {
    this.dial();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.socket?.terminate();
  }

  private url(): string {
    const url = new URL(`/api/v1/nodes/${encodeURIComponent(this.options.nodeName)}/tunnel`, this.options.server);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.toString();
  }

  private dial(): void {
    const { token, ca, runtime, endpoints, log } = this.options;
    const url = this.url();
    const pingMs = this.options.pingMs ?? PING_MS;
    const socket = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, agent: url.startsWith("wss:") ? tunnelAgent(ca) : undefined, perMessageDeflate: false });
    this.socket = socket;
    const mux = new TunnelMux({
      ids: "even",
      send: (frame) => socket.send(frame),
      onOpen: (stream) => void serveStream(stream, runtime, endpoints),
    });
    let lastPong = Date.now();
    let pinger: NodeJS.Timeout | undefined;
    socket.on("open", () => {
      this.backoff = BACKOFF_INITIAL_MS;
      // Silence is counted from now: an answer to the dial that took long (a busy control plane
      // answering a thousand nodes' dials) is no missed pong. Counted from the dial, every tunnel
      // whose answer took over 20 s was dropped at its first tick, hundreds at once.
      lastPong = Date.now();
      log("tunnel connected");
      pinger = setInterval(() => {
        if (Date.now() - lastPong > 2 * pingMs) return socket.terminate();
        socket.send("ping");
      }, pingMs);
    });
    socket.on("message", (data, isBinary) => {
      if (!isBinary) {
        lastPong = Date.now();
        return;
      }
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      mux.receive(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    });
    socket.on("unexpected-response", (_request, response) => {
      let body = "";
      response.on("data", (d: Buffer) => (body += d));
      response.on("end", () => {
        log(`tunnel refused: ${response.statusCode} ${body.slice(0, 300)}`);
        socket.terminate();
      });
    });
    socket.on("error", (error) => log(`tunnel: ${error.message}`));
    socket.on("close", () => {
      clearInterval(pinger);
      mux.close("the tunnel closed");
      if (this.stopped || this.socket !== socket) return;
      const delay = this.backoff;
      this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
      log(`tunnel closed; redialing in ${delay / 1000} s`);
      this.retry = setTimeout(() => this.dial(), delay);
      this.retry.unref();
    });
  }
}

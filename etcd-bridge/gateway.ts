// The client side of the Worker's admin-only etcd path (/etcd): etcd's v3 JSON gateway plus
// edgeplane's shard and snapshot endpoints, over HTTPS with the admin's bearer token. Answers come
// back as JSON objects; etcd's error bodies become GatewayErrors with their gRPC code.
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export type Json = Record<string, unknown>;

/** gRPC's status codes the bridge answers with when the gateway itself cannot be reached. */
const UNAVAILABLE = 14;
const INTERNAL = 13;

export class GatewayError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export interface GatewayOptions {
  /** The edgeplane URL (the Worker), e.g. https://127.0.0.1:8787. */
  server: string;
  /** The cluster admin's bearer token. */
  token: string;
  /** PEM of the CA that signed the server's certificate, when it is not publicly trusted. */
  ca?: string;
}

/** One shard of the cluster as /etcd/cluster describes it. */
export interface ShardInfo {
  name: string;
  prefix?: string;
  revision: number;
  compact_revision: number;
  db_size: number;
  cluster_id: string;
  member_id: string;
}

export interface ClusterInfo {
  cluster: string;
  shards: ShardInfo[];
}

/** An open watch stream: requests go in as JSON lines, responses come out as parsed lines. */
export interface GatewayStream {
  send(message: Json): void;
  close(): void;
}

export class Gateway {
  readonly server: string;
  private readonly token: string;
  private readonly ca: string | undefined;
  private readonly agent: HttpAgent;
  private readonly secure: boolean;

  constructor(options: GatewayOptions) {
    this.server = options.server.replace(/\/+$/, "");
    this.token = options.token;
    this.ca = options.ca;
    this.secure = this.server.startsWith("https:");
    this.agent = this.secure ? new HttpsAgent({ keepAlive: true, ca: this.ca }) : new HttpAgent({ keepAlive: true });
  }

  /** POST {server}/etcd{path} with a JSON body; the answer's JSON, or a GatewayError. */
  async post(path: string, body: object = {}): Promise<Json> {
    const { status, text } = await this.send("POST", path, JSON.stringify(body));
    return answer(path, status, text);
  }

  async get(path: string): Promise<Json> {
    const { status, text } = await this.send("GET", path);
    return answer(path, status, text);
  }

  /** The cluster's shards with their revisions, sizes and member identities. */
  async cluster(name?: string): Promise<ClusterInfo> {
    return (await this.get(`/cluster${name ? `?cluster=${encodeURIComponent(name)}` : ""}`)) as unknown as ClusterInfo;
  }

  /**
   * Opens a watch stream at `path` (/v3/watch or /shards/<s>/v3/watch) with `first` as its first
   * request; each response line is handed to `onMessage`, and `onEnd` hears once that the stream
   * is over (with the reason when it failed).
   */
  watch(path: string, first: Json, onMessage: (message: Json) => void, onEnd: (error?: GatewayError) => void): GatewayStream {
    let ended = false;
    const end = (error?: GatewayError) => {
      if (ended) return;
      ended = true;
      onEnd(error);
    };
    const req = this.request("POST", path, { "Transfer-Encoding": "chunked" });
    req.on("error", (e) => end(unreachable(this.server, e)));
    req.on("response", (res: IncomingMessage) => {
      res.setEncoding("utf8");
      let buffered = "";
      if ((res.statusCode ?? 0) >= 300) {
        res.on("data", (d: string) => (buffered += d));
        res.on("end", () => {
          try {
            answer(path, res.statusCode ?? 0, buffered);
            end(new GatewayError(INTERNAL, `edgeplane: the watch answered ${res.statusCode}`));
          } catch (e) {
            end(e as GatewayError);
          }
        });
        return;
      }
      res.on("data", (d: string) => {
        buffered += d;
        let at: number;
        while ((at = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, at).trim();
          buffered = buffered.slice(at + 1);
          if (!line || ended) continue;
          let parsed: Json;
          try {
            parsed = JSON.parse(line) as Json;
          } catch {
            end(new GatewayError(INTERNAL, `edgeplane: the watch sent a line that is not JSON: ${line.slice(0, 200)}`));
            req.destroy();
            return;
          }
          if (parsed.result && typeof parsed.result === "object") onMessage(parsed.result as Json);
          else if (typeof parsed.code === "number") end(new GatewayError(parsed.code, String(parsed.message ?? parsed.error)));
        }
      });
      res.on("end", () => end(new GatewayError(UNAVAILABLE, "edgeplane: the store closed the watch stream")));
      res.on("error", (e) => end(unreachable(this.server, e)));
    });
    req.write(JSON.stringify(first) + "\n");
    req.flushHeaders();
    return {
      send: (message) => {
        if (!ended) req.write(JSON.stringify(message) + "\n");
      },
      close: () => {
        ended = true;
        req.destroy();
      },
    };
  }

  close(): void {
    this.agent.destroy();
  }

  private request(method: string, path: string, headers: Record<string, string> = {}): ClientRequest {
    const url = new URL(`${this.server}/etcd${path}`);
    const options = {
      method, agent: this.agent,
      headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json", ...headers },
    };
    return this.secure ? httpsRequest(url, options) : httpRequest(url, options);
  }

  private send(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = this.request(method, path, body === undefined ? {} : { "Content-Length": String(Buffer.byteLength(body)) });
      req.on("error", (e) => reject(unreachable(this.server, e)));
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (e) => reject(unreachable(this.server, e)));
      });
      req.end(body);
    });
  }
}

function unreachable(server: string, e: Error): GatewayError {
  return new GatewayError(UNAVAILABLE, `edgeplane: cannot reach ${server}: ${e.message}`);
}

/** The JSON of an answer, unwrapping etcd's streamed `{"result": …}`; etcd error bodies throw. */
function answer(path: string, status: number, text: string): Json {
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    throw new GatewayError(status === 401 || status === 403 ? 16 : UNAVAILABLE,
      `edgeplane: ${path} answered ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (status >= 300 || (typeof parsed.code === "number" && typeof parsed.error === "string")) {
    throw new GatewayError(typeof parsed.code === "number" ? parsed.code : INTERNAL, String(parsed.message ?? parsed.error ?? `status ${status}`));
  }
  return parsed.result && typeof parsed.result === "object" ? (parsed.result as Json) : parsed;
}

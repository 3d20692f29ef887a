// The load generator every benchmark shares: a fixed-duration closed loop over one async
// operation, its latency percentiles, a small keep-alive HTTP(S) client and the printed table.
import { Agent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** Latency samples in milliseconds; exact percentiles by the nearest-rank method. */
export class LatencyRecorder {
  private samples = new Float64Array(1024);
  private size = 0;
  private sorted = true;

  get count(): number {
    return this.size;
  }

  record(ms: number): void {
    if (this.size === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.size++] = ms;
    this.sorted = false;
  }

  /** The smallest sample that at least p% of the samples are less than or equal to (p in 0..100]; NaN when empty. */
  percentile(p: number): number {
    if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
    if (this.size === 0) return NaN;
    const view = this.samples.subarray(0, this.size);
    if (!this.sorted) {
      view.sort();
      this.sorted = true;
    }
    return view[Math.ceil((p / 100) * this.size) - 1]!;
  }

  mean(): number {
    if (this.size === 0) return NaN;
    let sum = 0;
    for (let i = 0; i < this.size; i++) sum += this.samples[i]!;
    return sum / this.size;
  }
}

export interface LoadOptions {
  /** How many operations are in flight at once; each loop starts its next one when the last ends. */
  concurrency: number;
  /** The measured window. */
  durationMs: number;
  /** Run before the window and not counted: connections, JIT, caches. */
  warmupMs: number;
  /** One operation; `worker` is the loop's index, `seq` counts across all loops. A throw is an error. */
  op: (worker: number, seq: number) => Promise<void>;
}

export interface LoadResult {
  concurrency: number;
  durationMs: number;
  /** Operations that succeeded inside the window. */
  ops: number;
  /** Operations that failed inside the window. */
  errors: number;
  opsPerSecond: number;
  latency: LatencyRecorder;
  /** The first error seen anywhere, to say why a run failed. */
  firstError?: unknown;
}

/**
 * Runs `op` in `concurrency` closed loops for warm-up plus duration. An operation counts when
 * it finishes inside the window; the ones still in flight at its end are awaited, not counted.
 */
export async function runClosedLoop(options: LoadOptions): Promise<LoadResult> {
  const { concurrency, durationMs, warmupMs, op } = options;
  const latency = new LatencyRecorder();
  let ops = 0;
  let errors = 0;
  let seq = 0;
  let firstError: unknown;
  const start = performance.now();
  const windowStart = start + warmupMs;
  const windowEnd = windowStart + durationMs;

  const loop = async (worker: number) => {
    while (performance.now() < windowEnd) {
      const began = performance.now();
      let failed = false;
      try {
        await op(worker, seq++);
      } catch (e) {
        failed = true;
        firstError ??= e;
      }
      const ended = performance.now();
      if (ended < windowStart || ended >= windowEnd) continue;
      if (failed) errors++;
      else {
        ops++;
        latency.record(ended - began);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  return { concurrency, durationMs, ops, errors, opsPerSecond: ops / (durationMs / 1000), latency, firstError };
}

export interface BatchOptions {
  /** How many operations are in flight at once. */
  concurrency: number;
  /** How many operations to run in all. */
  count: number;
  /** Operation number `index` (0..count-1). A throw is an error. */
  op: (index: number) => Promise<void>;
}

export interface BatchResult {
  /** From the first operation's start to the last one's end. */
  elapsedMs: number;
  ops: number;
  errors: number;
  latency: LatencyRecorder;
  firstError?: unknown;
}

/** Runs operations 0..count-1, each exactly once, `concurrency` at a time, as fast as they go. */
export async function runBatch(options: BatchOptions): Promise<BatchResult> {
  const { concurrency, count, op } = options;
  const latency = new LatencyRecorder();
  let next = 0;
  let ops = 0;
  let errors = 0;
  let firstError: unknown;
  const start = performance.now();
  const loop = async () => {
    while (next < count) {
      const index = next++;
      const began = performance.now();
      try {
        await op(index);
        ops++;
        latency.record(performance.now() - began);
      } catch (e) {
        errors++;
        firstError ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, loop));
  return { elapsedMs: performance.now() - start, ops, errors, latency, firstError };
}

/** A whole answer: its status code and body. */
export interface HttpAnswer {
  status: number;
  body: Buffer;
}

/**
 * A keep-alive HTTP/1.1 client for one server, with as many sockets as the load has loops. An
 * https base is trusted through `ca` (PEM), e.g. the control plane's self-signed certificate.
 */
export class HttpTarget {
  readonly agent: Agent;
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly request: typeof httpRequest;

  constructor(base: string, headers: Record<string, string>, maxSockets: number, ca?: string) {
    this.url = new URL(base);
    this.headers = headers;
    const agentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets };
    if (this.url.protocol === "https:") {
      this.agent = new HttpsAgent({ ...agentOptions, ca });
      this.request = httpsRequest as typeof httpRequest;
    } else {
      this.agent = new Agent(agentOptions);
      this.request = httpRequest;
    }
  }

  /** Sends one request to base + path; resolves with the whole answer, whatever its status. */
  send(method: string, path: string, body?: Buffer, contentType = "application/json"): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const req = this.open(method, path, body, contentType, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      req.on("error", reject);
    });
  }

  /** POSTs `body` to base + path; resolves with the answer's text, rejects unless it is 200. */
  async post(path: string, body: Buffer): Promise<string> {
    const answer = await this.send("POST", path, body);
    const text = answer.body.toString("utf8");
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status} from ${path}: ${text.slice(0, 200)}`);
    return text;
  }

  /**
   * GETs a streamed answer (a watch): resolves with the response once its headers are in, for the
   * caller to read; rejects unless it is 200. Destroying the response closes its socket.
   */
  stream(path: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.open("GET", path, undefined, "application/json", (res) => {
        if (res.statusCode === 200) return resolve(res);
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => reject(new Error(`HTTP ${res.statusCode} from ${path}: ${Buffer.concat(chunks).toString("utf8").slice(0, 200)}`)));
      });
      req.on("error", reject);
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private open(method: string, path: string, body: Buffer | undefined, contentType: string, onResponse: (res: IncomingMessage) => void) {
    const headers: OutgoingHttpHeaders = { ...this.headers };
    if (body) Object.assign(headers, { "Content-Type": contentType, "Content-Length": body.length });
    const req = this.request({
      agent: this.agent,
      host: this.url.hostname,
      port: this.url.port,
      method,
      path: this.url.pathname.replace(/\/$/, "") + path,
      headers,
    }, onResponse);
    req.end(body);
    return req;
  }
}

/**
 * Cuts a byte stream into lines (without the newline) as chunks arrive, for JSON-lines streams
 * such as watches. A line may span chunks; a newline byte never occurs inside a UTF-8 character.
 */
export function lineSplitter(onLine: (line: string) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    const data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let start = 0;
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
      if (nl > start) onLine(data.toString("utf8", start, nl));
      start = nl + 1;
    }
    pending = start < data.length ? Buffer.from(data.subarray(start)) : Buffer.alloc(0);
  };
}

/** Left-aligned text columns, right-aligned numbers, one space-padded line per row. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === "number" || /^(-|-?[\d.]+x?)$/.test(String(row[i]))));
  const line = (row: string[]) =>
    row.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(cells[0]!), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)].join("\n");
}

/** A number with `digits` decimals, or "-" when it is not one. */
export function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

/** A benchmark setting from the environment: a non-negative number, or the fallback when unset. */
export function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(text)}`);
  return n;
}

/**
 * Worker vars for the control plane under test from BENCH_VARS ("NAME=value,NAME=value"), e.g.
 * KUBE_SCHEDULER_ENABLED=false to measure the apiserver without the scheduler acting on its writes.
 */
export function benchVars(): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const entry of (process.env.BENCH_VARS ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = entry.indexOf("=");
    if (eq < 1) throw new Error(`BENCH_VARS: ${JSON.stringify(entry)} is not NAME=value`);
    vars[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return vars;
}

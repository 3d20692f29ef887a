// The differential harness: a local etcd 3.4 and our control plane side by side, each request sent
// to both and the two answers compared field by field.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { startControlPlane, type ControlPlane } from "../../scripts/dev-server.ts";
import { startEtcd, type LocalEtcd } from "../support/etcd.ts";

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [field: string]: JsonValue;
}

export interface Answer {
  status: number;
  body: JsonObject;
  /** etcd ends streamed answers (lease keep-alive) with a line break and unary ones without. */
  lineBreak: boolean;
}

/** Where etcd itself is nondeterministic, as dotted paths into the body. */
export interface Leeway {
  /** Fields left out of the comparison (a TTL counting down). */
  ignore?: string[];
  /** Arrays compared as sets (etcd lists them from a Go map). */
  unordered?: string[];
}

/** One server as the harness talks to it: where its v3 API is and what every request carries. */
interface Peer {
  name: string;
  v3: string;
  headers: Record<string, string>;
}

/** Header fields that name the member, not the data; they differ between any two clusters. */
const MEMBER_FIELDS = ["cluster_id", "member_id", "raft_term"];
/** How long a watch stream may stay silent when the test expects a line from it. */
const WATCH_LINE_TIMEOUT_MS = 10_000;

export const b64 = (text: string): string => Buffer.from(text, "latin1").toString("base64");

/** The revision in an answer's header. */
export function revisionOf(answer: Answer): number {
  return Number((answer.body.header as JsonObject).revision ?? 0);
}

export class Peers {
  private readonly etcd: LocalEtcd;
  private readonly plane: ControlPlane;
  private readonly stateDir: string;

  private constructor(etcd: LocalEtcd, plane: ControlPlane, stateDir: string) {
    this.etcd = etcd;
    this.plane = plane;
    this.stateDir = stateDir;
  }

  /** Starts both servers at once; each begins empty at revision 1. */
  static async start(): Promise<Peers> {
    const stateDir = mkdtempSync(join(tmpdir(), "edgeplane-differential-"));
    const [etcd, plane] = await Promise.allSettled([startEtcd(), startControlPlane({ stateDir, vars: { STORE_SHARDS: "" }, readinessPath: "/livez" })]);
    if (etcd.status === "rejected" || plane.status === "rejected") {
      if (etcd.status === "fulfilled") await etcd.value.stop();
      if (plane.status === "fulfilled") await plane.value.stop();
      rmSync(stateDir, { recursive: true, force: true });
      throw etcd.status === "rejected" ? etcd.reason : (plane as PromiseRejectedResult).reason;
    }
    return new Peers(etcd.value, plane.value, stateDir);
  }

  async stop(): Promise<void> {
    await Promise.all([this.etcd.stop(), this.plane.stop()]);
    rmSync(this.stateDir, { recursive: true, force: true });
  }

  private get etcdPeer(): Peer {
    return { name: "etcd", v3: `${this.etcd.url}/v3`, headers: {} };
  }

  private get ourPeer(): Peer {
    return { name: "edgeplane", v3: `${this.plane.url}/etcd/v3`, headers: { Authorization: `Bearer ${this.plane.token}` } };
  }

  /** Sends one request to etcd, then to us; expects the same status and body and returns etcd's answer. */
  async both(path: string, body: object, leeway: Leeway = {}): Promise<Answer> {
    const theirs = await call(this.etcdPeer, path, body);
    const ours = await call(this.ourPeer, path, body);
    expect(comparable(ours, leeway), `${path} ${JSON.stringify(body)}`).toStrictEqual(comparable(theirs, leeway));
    return theirs;
  }

  /** Our answer alone, for the deliberate differences. */
  ours(path: string, body: object, headers?: Record<string, string>): Promise<Answer> {
    const peer = this.ourPeer;
    return call(headers ? { ...peer, headers } : peer, path, body);
  }

  /** Opens a watch stream on both servers with the same requests in its body. */
  async watch(requests: object[]): Promise<WatchPair> {
    const body = requests.map((r) => JSON.stringify(r)).join("\n");
    const [theirs, ours] = await Promise.all([WatchStream.open(this.etcdPeer, body), WatchStream.open(this.ourPeer, body)]);
    return new WatchPair(theirs, ours, body);
  }
}

async function call(peer: Peer, path: string, body: object): Promise<Answer> {
  const res = await fetch(`${peer.v3}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...peer.headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: JsonObject;
  try {
    parsed = JSON.parse(text) as JsonObject;
  } catch {
    throw new Error(`${peer.name} answered ${path} with ${res.status} and a body that is not JSON: ${text}`);
  }
  return { status: res.status, body: parsed, lineBreak: text.endsWith("\n") };
}

function comparable(answer: Answer, leeway: Leeway): Answer {
  const body = withoutMemberFields(answer.body) as JsonObject;
  for (const path of leeway.ignore ?? []) edit(body, path.split("."), () => undefined);
  for (const path of leeway.unordered ?? []) {
    edit(body, path.split("."), (list) => (Array.isArray(list) ? [...list].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) : list));
  }
  return { ...answer, body };
}

/** A deep copy without the member's identity in any header, nested txn responses included. */
function withoutMemberFields(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(withoutMemberFields);
  if (value === null || typeof value !== "object") return value;
  const out: JsonObject = {};
  for (const [field, inner] of Object.entries(value)) {
    if (field === "header" && inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
      out.header = Object.fromEntries(Object.entries(inner).filter(([f]) => !MEMBER_FIELDS.includes(f)));
    } else out[field] = withoutMemberFields(inner);
  }
  return out;
}

/** Replaces the field at `path` (through arrays too) with `change(value)`, or drops it for undefined. */
function edit(value: JsonValue | undefined, path: string[], change: (value: JsonValue) => JsonValue | undefined): void {
  if (value === null || value === undefined || typeof value !== "object") return;
  if (Array.isArray(value)) {
    for (const item of value) edit(item, path, change);
    return;
  }
  const [field, ...rest] = path;
  if (rest.length) return edit(value[field!], rest, change);
  if (!(field! in value)) return;
  const changed = change(value[field!]!);
  if (changed === undefined) delete value[field!];
  else value[field!] = changed;
}

/** One watch stream: a POST whose answer is a line of `{"result": WatchResponse}` per message. */
class WatchStream {
  private buffered = "";
  private readonly decoder = new TextDecoder();
  /** A read that outlived a timeout; the next call takes it over so no chunk is lost. */
  private pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;

  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly abort: AbortController;

  private constructor(reader: ReadableStreamDefaultReader<Uint8Array>, abort: AbortController) {
    this.reader = reader;
    this.abort = abort;
  }

  static async open(peer: Peer, body: string): Promise<WatchStream> {
    const abort = new AbortController();
    const res = await fetch(`${peer.v3}/watch`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...peer.headers },
      body,
      signal: abort.signal,
    });
    if (!res.ok || !res.body) throw new Error(`${peer.name} refused the watch with ${res.status}: ${await res.text()}`);
    return new WatchStream(res.body.getReader(), abort);
  }

  /** The next line, parsed; undefined if none arrives in time or the stream ends. */
  async next(): Promise<JsonObject | undefined> {
    const deadline = Date.now() + WATCH_LINE_TIMEOUT_MS;
    for (;;) {
      const end = this.buffered.indexOf("\n");
      if (end >= 0) {
        const line = this.buffered.slice(0, end).trim();
        this.buffered = this.buffered.slice(end + 1);
        if (line) return JSON.parse(line) as JsonObject;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), left)));
      this.pending ??= this.reader.read();
      const read = await Promise.race([this.pending, timeout]);
      clearTimeout(timer);
      if (read === "timeout") return undefined;
      this.pending = undefined;
      if (read.done) return undefined;
      this.buffered += this.decoder.decode(read.value, { stream: true });
    }
  }

  close(): void {
    this.abort.abort();
    this.reader.cancel().catch(() => {});
  }
}

/** The same watch stream on both servers, read in step. */
export class WatchPair {
  private readonly theirs: WatchStream;
  private readonly ours: WatchStream;
  private readonly requests: string;

  constructor(theirs: WatchStream, ours: WatchStream, requests: string) {
    this.theirs = theirs;
    this.ours = ours;
    this.requests = requests;
  }

  /** Reads `count` lines from each stream and expects them equal. */
  async expectLines(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const [theirs, ours] = await Promise.all([this.theirs.next(), this.ours.next()]);
      if (theirs === undefined) throw new Error(`etcd sent no line ${i + 1} on the watch ${this.requests}`);
      const label = `watch line ${i + 1} for ${this.requests}`;
      expect(ours === undefined ? "no line" : withoutMemberFields(ours), label).toStrictEqual(withoutMemberFields(theirs));
    }
  }

  close(): void {
    this.theirs.close();
    this.ours.close();
  }
}

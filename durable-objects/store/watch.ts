// Watch streams on hibernatable WebSockets: one socket is one etcd watch stream holding several
// watchers. Each message in either direction is one line of etcd's JSON gateway (`{"result":…}`),
// except events on a stream opened with `?events=binary` (the apiserver's), which go as binary
// frames (lib/etcd/watch-frames.ts). Watcher specs live in the socket's attachment, so they outlive
// the object's hibernation.
import { EtcdFailure } from "../../lib/etcd/errors.ts";
import { decodeWatchRequest, encodeEvent, encodeHeader, parseJsonBody, type HeaderIdentity } from "../../lib/etcd/gateway-json.ts";
import { isInverted, keyRange, rangeContains, type KeyRange } from "../../lib/etcd/keys.ts";
import type { Event, WatchCreateRequest } from "../../lib/etcd/messages.ts";
import { isPlainJson } from "../../lib/etcd/stored-text-filter.ts";
import { encodeWatchEvent, encodeWatchFrame } from "../../lib/etcd/watch-frames.ts";
import type { Commit, Mvcc } from "./mvcc.ts";

/** etcd sends at most this many revisions of replayed history in one response. */
const REPLAY_BATCH_REVISIONS = 1000;
/** Replay responses are cut near this size so they stay under WebSocket message limits. */
const REPLAY_BATCH_BYTES = 512 * 1024;

interface Watcher {
  id: number;
  range: KeyRange;
  /** Events below this revision are not this watcher's (it started later, or in the future). */
  minRevision: number;
  prevKv: boolean;
  /** With prevKv, only DELETE events carry the value before. */
  prevKvOnlyDeletes?: boolean;
  noPut: boolean;
  noDelete: boolean;
  progressNotify: boolean;
  /** Texts an event's value or previous value must hold to be sent (the apiserver's selective watches). */
  needles?: string[];
}

interface WatchStream {
  nextId: number;
  watchers: Watcher[];
  /** Events go as binary frames instead of JSON lines. */
  binary?: boolean;
  /** Watchers that heard something since the last progress notification (memory only). */
  busy: Set<number>;
}

type Attachment = Omit<WatchStream, "busy">;

/** A needle of the form `"key":"value"` (what the apiserver names), as its key and value. */
const KEY_VALUE_NEEDLE = /^"([^"\\]+)":"([^"\\]*)"$/;

/**
 * Values decoded as text once for every watcher that tests them. A needle `"key":"value"` is
 * answered from the values each key has in the text, found in one scan per key: twenty nodes'
 * watches of pods test one event with one scan, not twenty.
 */
class StoredTexts {
  private readonly decoded = new Map<Uint8Array, { text: string; values: Map<string, Set<string>> }>();
  private static readonly decoder = new TextDecoder();
  private static readonly needles = new Map<string, [string, string] | null>();

  /** Whether the text of `value` holds `needle` (as `text.includes(needle)` says). */
  holds(value: Uint8Array, needle: string): boolean {
    let entry = this.decoded.get(value);
    if (!entry) this.decoded.set(value, (entry = { text: StoredTexts.decoder.decode(value), values: new Map() }));
    let parsed = StoredTexts.needles.get(needle);
    if (parsed === undefined) {
      const m = KEY_VALUE_NEEDLE.exec(needle);
      StoredTexts.needles.set(needle, (parsed = m ? [m[1]!, m[2]!] : null));
    }
    if (!parsed) return entry.text.includes(needle);
    const [key, wanted] = parsed;
    let values = entry.values.get(key);
    if (!values) entry.values.set(key, (values = valuesOf(entry.text, `"${key}":"`)));
    return values.has(wanted);
  }
}

/** Every text that follows `opening` up to the next quote. */
function valuesOf(text: string, opening: string): Set<string> {
  const values = new Set<string>();
  for (let at = text.indexOf(opening); at >= 0; at = text.indexOf(opening, at + 1)) {
    const start = at + opening.length;
    const end = text.indexOf('"', start);
    if (end < 0) break;
    values.add(text.slice(start, end));
  }
  return values;
}

/** A list of events, each encoded when first needed, once per form, for every watcher it goes to. */
class EncodedEvents {
  private readonly jsonForms: [(string | undefined)[], (string | undefined)[]] = [[], []];
  private readonly binaryForms: [(Uint8Array | undefined)[], (Uint8Array | undefined)[]] = [[], []];

  constructor(private readonly events: Event[]) {}

  json(i: number, withPrevKv: boolean): string {
    return (this.jsonForms[withPrevKv ? 1 : 0][i] ??= JSON.stringify(encodeEvent(this.form(i, withPrevKv))));
  }

  binary(i: number, withPrevKv: boolean): Uint8Array {
    return (this.binaryForms[withPrevKv ? 1 : 0][i] ??= encodeWatchEvent(this.form(i, withPrevKv)));
  }

  event(i: number): Event {
    return this.events[i]!;
  }

  private form(i: number, withPrevKv: boolean): Event {
    const event = this.events[i]!;
    return withPrevKv || !event.prev_kv ? event : { type: event.type, kv: event.kv };
  }
}

/** Whether `watcher` is sent `event` with the value before it. */
const withPrev = (watcher: Watcher, event: Event) => watcher.prevKv && (!watcher.prevKvOnlyDeletes || event.type === "DELETE");

export class WatchHub {
  private readonly streams = new Map<WebSocket, WatchStream>();
  /** Binary watchers' events of this turn not yet sent, by stream and watch id (see pend). */
  private readonly pending = new Map<WebSocket, Map<number, { revision: number; events: Uint8Array[]; bytes: number }>>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly mvcc: Mvcc,
    private readonly identity: HeaderIdentity,
  ) {
    for (const ws of ctx.getWebSockets()) {
      const saved = ws.deserializeAttachment() as Attachment | null;
      this.streams.set(ws, { nextId: saved?.nextId ?? 0, watchers: saved?.watchers ?? [], binary: saved?.binary, busy: new Set() });
    }
  }

  /** Answers a WebSocket upgrade with a new, empty watch stream; `binary`: its events go as binary frames. */
  accept(binary: boolean): Response {
    const pair = new WebSocketPair();
    const [client, server] = Object.values(pair) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    const stream: WatchStream = { nextId: 0, watchers: [], busy: new Set(), ...(binary ? { binary } : {}) };
    this.streams.set(server, stream);
    this.save(server, stream);
    return new Response(null, { status: 101, webSocket: client });
  }

  get watcherCount(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.watchers.length;
    return n;
  }

  /** Whether a watcher will be sent the value a write to `key` replaces (it asked for prev_kv). */
  wantsPrevKv(key: Uint8Array): boolean {
    for (const s of this.streams.values()) {
      for (const w of s.watchers) if (w.prevKv && !w.prevKvOnlyDeletes && !w.noPut && rangeContains(w.range, key)) return true;
    }
    return false;
  }

  hasProgressWatchers(): boolean {
    for (const s of this.streams.values()) if (s.watchers.some((w) => w.progressNotify)) return true;
    return false;
  }

  onMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    this.sendPending();
    const stream = this.streams.get(ws);
    if (!stream) return;
    let request;
    try {
      request = decodeWatchRequest(parseJsonBody(typeof message === "string" ? message : new TextDecoder().decode(message)));
    } catch (e) {
      if (!(e instanceof EtcdFailure)) throw e;
      this.send(ws, JSON.stringify({ error: e.message, code: e.code, message: e.message }));
      ws.close(1008, "malformed watch request");
      return;
    }
    if ("create_request" in request) this.create(ws, stream, request.create_request);
    else if ("cancel_request" in request) this.cancel(ws, stream, request.cancel_request.watch_id);
    else this.send(ws, this.response(this.mvcc.revision, -1, ""));
  }

  onClose(ws: WebSocket): void {
    this.streams.delete(ws);
    this.pending.delete(ws);
  }

  private create(ws: WebSocket, stream: WatchStream, req: WatchCreateRequest): void {
    const range = keyRange(req.key, req.range_end);
    const rejected = (reason: string) =>
      this.send(ws, this.response(this.mvcc.revision, -1, `,"created":true,"canceled":true,"cancel_reason":${JSON.stringify(reason)}`));
    if (isInverted(range)) return rejected("mvcc: watcher range is empty");
    let id = req.watch_id ?? 0;
    if (id !== 0 && stream.watchers.some((w) => w.id === id)) return rejected("mvcc: duplicate watch ID provided on the WatchStream");
    if (id === 0) {
      while (stream.watchers.some((w) => w.id === stream.nextId)) stream.nextId++;
      id = stream.nextId++;
    }
    const filters = req.filters ?? [];
    const current = this.mvcc.revision;
    const start = req.start_revision && req.start_revision > 0 ? req.start_revision : current + 1;
    const watcher: Watcher = {
      id, range, minRevision: Math.max(start, current + 1), prevKv: !!req.prev_kv,
      noPut: filters.includes("NOPUT"), noDelete: filters.includes("NODELETE"), progressNotify: !!req.progress_notify,
      ...(req.value_contains ? { needles: req.value_contains } : {}),
      ...(req.prev_kv && req.prev_kv_only_deletes ? { prevKvOnlyDeletes: true } : {}),
    };
    this.send(ws, this.response(current, id, `,"created":true`));
    if (start < this.mvcc.compactRevision) {
      // etcd's compacted answer carries no revision in its header, only the compact revision.
      this.send(ws, this.response(0, id, `,"canceled":true,"compact_revision":"${this.mvcc.compactRevision}"`));
      return;
    }
    stream.watchers.push(watcher);
    if (!this.save(ws, stream)) {
      stream.watchers.pop();
      this.send(ws, this.response(current, id, `,"canceled":true,"cancel_reason":"too many watchers on one stream"`));
      return;
    }
    if (start <= current) this.replay(ws, stream, watcher, this.mvcc.history(range, start, !watcher.prevKv ? "none" : watcher.prevKvOnlyDeletes ? "deletes" : "all"));
    // A watcher that asked for progress notifications and named where to start hears the current
    // revision as soon as its replay is sent: it knows it has caught up to now (the apiserver makes
    // this a BOOKMARK). Events cannot slip in between: the replay and this answer go out in one turn.
    if (watcher.progressNotify && req.start_revision && start <= current + 1) this.send(ws, this.response(current, id, ""));
  }

  private replay(ws: WebSocket, stream: WatchStream, watcher: Watcher, history: Event[]): void {
    const encoded = new EncodedEvents(history);
    let batch: number[] = [];
    let bytes = 0;
    let revisions = 0;
    let lastRevision = 0;
    const texts = new StoredTexts();
    const flush = () => {
      if (batch.length) this.sendEvents(ws, stream, watcher, this.mvcc.revision, encoded, batch);
      batch = [];
      bytes = 0;
      revisions = 0;
    };
    history.forEach((event, i) => {
      if (!this.wants(watcher, event, texts)) return;
      if (event.kv.mod_revision !== lastRevision) {
        if (revisions >= REPLAY_BATCH_REVISIONS || bytes >= REPLAY_BATCH_BYTES) flush();
        revisions++;
        lastRevision = event.kv.mod_revision;
      }
      batch.push(i);
      bytes += stream.binary ? encoded.binary(i, withPrev(watcher, event)).length : encoded.json(i, withPrev(watcher, event)).length;
    });
    flush();
  }

  private cancel(ws: WebSocket, stream: WatchStream, id: number): void {
    const at = stream.watchers.findIndex((w) => w.id === id);
    if (at < 0) return;
    stream.watchers.splice(at, 1);
    this.save(ws, stream);
    this.send(ws, this.response(this.mvcc.revision, id, `,"canceled":true`));
  }

  /**
   * Sends a committed write's events to every watcher they concern: one response per watcher on
   * a JSON stream (etcd's clients see one per revision, as from etcd); on a binary stream, one
   * frame per watcher for all the commits of this turn (a commit group's writes), sent before
   * anything else can happen on the stream.
   */
  publish(commit: Commit): void {
    if (commit.events.length === 0 || this.streams.size === 0) return;
    const encoded = new EncodedEvents(commit.events);
    const texts = new StoredTexts();
    for (const [ws, stream] of this.streams) {
      for (const watcher of stream.watchers) {
        if (commit.revision < watcher.minRevision) continue;
        let wanted: number[] | undefined;
        commit.events.forEach((event, i) => {
          if (this.wants(watcher, event, texts)) (wanted ??= []).push(i);
        });
        if (!wanted) continue;
        stream.busy.add(watcher.id);
        if (stream.binary) this.pend(ws, watcher, commit.revision, wanted.map((i) => encoded.binary(i, withPrev(watcher, commit.events[i]!))));
        else this.sendEvents(ws, stream, watcher, commit.revision, encoded, wanted);
      }
    }
  }

  /** Holds a binary watcher's events until the end of this turn, so the turn's commits share one frame. */
  private pend(ws: WebSocket, watcher: Watcher, revision: number, events: Uint8Array[]): void {
    let held = this.pending.get(ws)?.get(watcher.id);
    if (!held) {
      if (!this.pending.size) queueMicrotask(() => this.sendPending());
      let byWatcher = this.pending.get(ws);
      if (!byWatcher) this.pending.set(ws, (byWatcher = new Map()));
      byWatcher.set(watcher.id, (held = { revision, events: [], bytes: 0 }));
    }
    held.revision = revision;
    for (const e of events) {
      held.events.push(e);
      held.bytes += e.length;
    }
    // A frame stays under WebSocket message limits, as replay batches do.
    if (held.bytes >= REPLAY_BATCH_BYTES) {
      this.send(ws, encodeWatchFrame(held.revision, watcher.id, held.events));
      this.pending.get(ws)!.delete(watcher.id);
    }
  }

  /** Sends what pend() holds. Runs at the end of the turn that published, and before any other message of a stream. */
  sendPending(): void {
    if (!this.pending.size) return;
    const pending = [...this.pending];
    this.pending.clear();
    for (const [ws, byWatcher] of pending) {
      for (const [id, held] of byWatcher) this.send(ws, encodeWatchFrame(held.revision, id, held.events));
    }
  }

  /** One response with events `which` of `encoded`, in the stream's form. */
  private sendEvents(ws: WebSocket, stream: WatchStream, watcher: Watcher, revision: number, encoded: EncodedEvents, which: number[]): void {
    const prev = (i: number) => withPrev(watcher, encoded.event(i));
    if (stream.binary) this.send(ws, encodeWatchFrame(revision, watcher.id, which.map((i) => encoded.binary(i, prev(i)))));
    else this.send(ws, this.eventsResponse(revision, watcher.id, which.map((i) => encoded.json(i, prev(i)))));
  }

  /** Tells idle watchers that asked for progress notifications how far the store has come. */
  notifyProgress(): void {
    this.sendPending();
    for (const [ws, stream] of this.streams) {
      for (const watcher of stream.watchers) {
        if (watcher.progressNotify && !stream.busy.has(watcher.id)) this.send(ws, this.response(this.mvcc.revision, watcher.id, ""));
      }
      stream.busy.clear();
    }
  }

  private wants(watcher: Watcher, event: Event, texts: StoredTexts): boolean {
    if (event.type === "PUT" ? watcher.noPut : watcher.noDelete) return false;
    if (!rangeContains(watcher.range, event.kv.key)) return false;
    return !watcher.needles || this.mayHoldNeedles(watcher, event, texts);
  }

  /**
   * Whether the new or the old value of `event` may hold the watcher's needles: a selective watch
   * needs an object that leaves its selection too (as a DELETED). An event whose old value is not
   * known (neither a create nor carrying prev_kv) is always sent, for the apiserver to judge.
   */
  private mayHoldNeedles(watcher: Watcher, event: Event, texts: StoredTexts): boolean {
    const prev = event.prev_kv?.value;
    const created = event.type === "PUT" && event.kv.version === 1;
    if (!prev?.length && !created) return true;
    const holds = (value: Uint8Array) => !isPlainJson(value) || watcher.needles!.every((needle) => texts.holds(value, needle));
    return (!!prev?.length && holds(prev)) || (event.type === "PUT" && event.kv.value.length > 0 && holds(event.kv.value));
  }

  private response(revision: number, watchId: number, rest: string): string {
    const id = watchId === 0 ? "" : `,"watch_id":"${watchId}"`;
    return `{"result":{"header":${JSON.stringify(encodeHeader(revision, this.identity))}${id}${rest}}}`;
  }

  private eventsResponse(revision: number, watchId: number, events: string[]): string {
    return this.response(revision, watchId, `,"events":[${events.join(",")}]`);
  }

  private send(ws: WebSocket, message: string | ArrayBuffer): void {
    try {
      ws.send(message);
    } catch {
      this.streams.delete(ws); // the peer is gone; its close event may never come
    }
  }

  private save(ws: WebSocket, stream: WatchStream): boolean {
    try {
      ws.serializeAttachment({ nextId: stream.nextId, watchers: stream.watchers, ...(stream.binary ? { binary: true } : {}) } satisfies Attachment);
      return true;
    } catch {
      return false;
    }
  }
}

// Watch events as binary WebSocket frames, for the apiserver's own watch streams to the store (it
// opens them with `?events=binary`): keys and values travel as bytes, with no base64 and no JSON to
// write in the store and to parse in the Worker. Everything else on those streams (created,
// canceled, progress, errors) stays etcd's gateway JSON in text frames.
//
// A frame: header revision (f64), watch id (f64), event count (u32), then per event a flags byte
// (1: DELETE, 2: carries prev_kv), the kv's mod/create revision, version and lease (f64 each),
// key length (u32) and key, value length (u32) and value; with prev_kv, its create/mod revision,
// version, lease and value the same way (its key is the event's). Little-endian throughout.
import type { Event } from "./messages.ts";

const DELETE = 1;
const HAS_PREV = 2;
const FRAME_HEADER_BYTES = 8 + 8 + 4;
const KV_NUMBERS_BYTES = 4 * 8;

/** One event, encoded once and shared by every frame (watcher) it goes to. */
export function encodeWatchEvent(event: Event): Uint8Array {
  const { kv } = event;
  const prev = event.prev_kv;
  const size = 1 + KV_NUMBERS_BYTES + 4 + kv.key.length + 4 + kv.value.length + (prev ? KV_NUMBERS_BYTES + 4 + prev.value.length : 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = (event.type === "DELETE" ? DELETE : 0) | (prev ? HAS_PREV : 0);
  let at = 1;
  at = writeNumbers(view, at, kv.mod_revision, kv.create_revision, kv.version, kv.lease);
  at = writeBytes(out, view, at, kv.key);
  at = writeBytes(out, view, at, kv.value);
  if (prev) {
    at = writeNumbers(view, at, prev.mod_revision, prev.create_revision, prev.version, prev.lease);
    writeBytes(out, view, at, prev.value);
  }
  return out;
}

/** A watch response holding `events` (each from encodeWatchEvent) for one watcher. */
export function encodeWatchFrame(revision: number, watchId: number, events: Uint8Array[]): ArrayBuffer {
  let size = FRAME_HEADER_BYTES;
  for (const e of events) size += e.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setFloat64(0, revision, true);
  view.setFloat64(8, watchId, true);
  view.setUint32(16, events.length, true);
  let at = FRAME_HEADER_BYTES;
  for (const e of events) {
    out.set(e, at);
    at += e.length;
  }
  return out.buffer;
}

export interface WatchFrame {
  revision: number;
  watchId: number;
  /** Keys and values are views into the frame, not copies. */
  events: Event[];
}

export function decodeWatchFrame(frame: ArrayBuffer): WatchFrame {
  const bytes = new Uint8Array(frame);
  const view = new DataView(frame);
  if (frame.byteLength < FRAME_HEADER_BYTES) throw new RangeError("a watch frame is shorter than its header");
  const revision = view.getFloat64(0, true);
  const watchId = view.getFloat64(8, true);
  const count = view.getUint32(16, true);
  const events: Event[] = [];
  let at = FRAME_HEADER_BYTES;
  const bytesAt = (): Uint8Array => {
    const length = view.getUint32(at, true);
    if (at + 4 + length > frame.byteLength) throw new RangeError("a watch frame ends inside a value");
    const out = bytes.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return out;
  };
  const number = () => {
    const n = view.getFloat64(at, true);
    at += 8;
    return n;
  };
  for (let i = 0; i < count; i++) {
    const flags = bytes[at++]!;
    const mod_revision = number(), create_revision = number(), version = number(), lease = number();
    const key = bytesAt();
    const event: Event = { type: flags & DELETE ? "DELETE" : "PUT", kv: { key, create_revision, mod_revision, version, lease, value: bytesAt() } };
    if (flags & HAS_PREV) {
      const mod = number(), create = number(), prevVersion = number(), prevLease = number();
      event.prev_kv = { key, create_revision: create, mod_revision: mod, version: prevVersion, lease: prevLease, value: bytesAt() };
    }
    events.push(event);
  }
  if (at !== frame.byteLength) throw new RangeError("a watch frame has bytes after its last event");
  return { revision, watchId, events };
}

function writeNumbers(view: DataView, at: number, ...numbers: number[]): number {
  for (const n of numbers) {
    view.setFloat64(at, n, true);
    at += 8;
  }
  return at;
}

function writeBytes(out: Uint8Array, view: DataView, at: number, bytes: Uint8Array): number {
  view.setUint32(at, bytes.length, true);
  out.set(bytes, at + 4);
  return at + 4 + bytes.length;
}

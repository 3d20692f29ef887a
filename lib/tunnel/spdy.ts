// SPDY/3.1 framing, the server's half, as kubectl port-forward speaks it: since kubectl 1.31 its
// SPDY connection runs inside a WebSocket (subprotocol "SPDY/3.1+portforward.k8s.io", KEP-4006)
// whose binary messages are a plain byte stream, so frames arrive split or joined at any point.
// Only what a port-forward server needs: SYN_STREAM in, SYN_REPLY out, DATA and RST_STREAM both
// ways, PING echoed, GOAWAY. Header blocks are zlib streams shared by the whole connection, one per
// direction: the client compresses with SPDY's preset dictionary (read with pako); ours are written
// as stored (uncompressed) deflate blocks, which any zlib reader takes without the dictionary.
import { Inflate, Z_SYNC_FLUSH } from "pako";
import { concatBytes } from "../bytes.ts";

export const SPDY_VERSION = 3;

export const CONTROL = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

/** RST_STREAM status codes (SPDY/3 §2.6.3). */
export const RST = { PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, CANCEL: 5, INTERNAL_ERROR: 6 } as const;

const FLAG_FIN = 0x01;
/** An empty stored deflate block: the end of a sync flush. */
const SYNC_MARKER = [0x00, 0x00, 0x00, 0xff, 0xff];
const MAX_DATA = 0xffffff;

/** Header names (lower case) to their values (a value block splits at NUL into several). */
export type SpdyHeaders = Record<string, string[]>;

export type SpdyFrame =
  | { kind: "syn_stream"; stream: number; fin: boolean; headers: SpdyHeaders }
  | { kind: "data"; stream: number; fin: boolean; data: Uint8Array }
  | { kind: "rst_stream"; stream: number; status: number }
  | { kind: "ping"; id: number }
  | { kind: "goaway"; lastStream: number; status: number }
  /** SYN_REPLY, HEADERS, SETTINGS, WINDOW_UPDATE: read (header blocks still inflated, to keep the shared zlib stream in step) and otherwise ignored. */
  | { kind: "ignored"; type: number };

export class SpdyProtocolError extends Error {}

/** SPDY/3's header compression dictionary (the draft's §2.6.10.1), as bytes. */
const DICTIONARY_BASE64 =
  "AAAAB29wdGlvbnMAAAAEaGVhZAAAAARwb3N0AAAAA3B1dAAAAAZkZWxldGUAAAAFdHJhY2UAAAAGYWNjZXB0AAAADmFjY2VwdC1jaGFyc2V0AAAAD2FjY2VwdC1lbmNvZGluZwAAAA9hY2NlcHQtbGFuZ3VhZ2UAAAANYWNjZXB0LXJhbmdlcwAAAANhZ2UAAAAFYWxsb3cAAAANYXV0aG9yaXphdGlvbgAAAA1jYWNoZS1jb250cm9sAAAACmNvbm5lY3Rpb24AAAAMY29udGVudC1iYXNlAAAAEGNvbnRlbnQtZW5jb2RpbmcAAAAQY29udGVudC1sYW5ndWFnZQAAAA5jb250ZW50LWxlbmd0aAAAABBjb250ZW50LWxvY2F0aW9uAAAAC2NvbnRlbnQtbWQ1AAAADWNvbnRlbnQtcmFuZ2UAAAAMY29udGVudC10eXBlAAAABGRhdGUAAAAEZXRhZwAAAAZleHBlY3QAAAAHZXhwaXJlcwAAAARmcm9tAAAABGhvc3QAAAAIaWYtbWF0Y2gAAAARaWYtbW9kaWZpZWQtc2luY2UAAAANaWYtbm9uZS1tYXRjaAAAAAhpZi1yYW5nZQAAABNpZi11bm1vZGlmaWVkLXNpbmNlAAAADWxhc3QtbW9kaWZpZWQAAAAIbG9jYXRpb24AAAAMbWF4LWZvcndhcmRzAAAABnByYWdtYQAAABJwcm94eS1hdXRoZW50aWNhdGUAAAATcHJveHktYXV0aG9yaXphdGlvbgAAAAVyYW5nZQAAAAdyZWZlcmVyAAAAC3JldHJ5LWFmdGVyAAAABnNlcnZlcgAAAAJ0ZQAAAAd0cmFpbGVyAAAAEXRyYW5zZmVyLWVuY29kaW5nAAAAB3VwZ3JhZGUAAAAKdXNlci1hZ2VudAAAAAR2YXJ5AAAAA3ZpYQAAAAd3YXJuaW5nAAAAEHd3dy1hdXRoZW50aWNhdGUAAAAGbWV0aG9kAAAAA2dldAAAAAZzdGF0dXMAAAAGMjAwIE9LAAAAB3ZlcnNpb24AAAAISFRUUC8xLjEAAAADdXJsAAAABnB1YmxpYwAAAApzZXQtY29va2llAAAACmtlZXAtYWxpdmUAAAAGb3JpZ2luMTAwMTAxMjAxMjAyMjA1MjA2MzAwMzAyMzAzMzA0MzA1MzA2MzA3NDAyNDA1NDA2NDA3NDA4NDA5NDEwNDExNDEyNDEzNDE0NDE1NDE2NDE3NTAyNTA0NTA1MjAzIE5vbi1BdXRob3JpdGF0aXZlIEluZm9ybWF0aW9uMjA0IE5vIENvbnRlbnQzMDEgTW92ZWQgUGVybWFuZW50bHk0MDAgQmFkIFJlcXVlc3Q0MDEgVW5hdXRob3JpemVkNDAzIEZvcmJpZGRlbjQwNCBOb3QgRm91bmQ1MDAgSW50ZXJuYWwgU2VydmVyIEVycm9yNTAxIE5vdCBJbXBsZW1lbnRlZDUwMyBTZXJ2aWNlIFVuYXZhaWxhYmxlSmFuIEZlYiBNYXIgQXByIE1heSBKdW4gSnVsIEF1ZyBTZXB0IE9jdCBOb3YgRGVjIDAwOjAwOjAwIE1vbiwgVHVlLCBXZWQsIFRodSwgRnJpLCBTYXQsIFN1biwgR01UY2h1bmtlZCx0ZXh0L2h0bWwsaW1hZ2UvcG5nLGltYWdlL2pwZyxpbWFnZS9naWYsYXBwbGljYXRpb24veG1sLGFwcGxpY2F0aW9uL3hodG1sK3htbCx0ZXh0L3BsYWluLHRleHQvamF2YXNjcmlwdCxwdWJsaWNwcml2YXRlbWF4LWFnZT1nemlwLGRlZmxhdGUsc2RjaGNoYXJzZXQ9dXRmLThjaGFyc2V0PWlzby04ODU5LTEsdXRmLSwqLGVucT0wLg==";

export const SPDY_DICTIONARY: Uint8Array = Uint8Array.from(atob(DICTIONARY_BASE64), (c) => c.charCodeAt(0));

const text = new TextEncoder();
const fromText = new TextDecoder();

/** Frames from the bytes of one direction of a connection, however they are cut into chunks. */
export class SpdyReader {
  private buffered = new Uint8Array(0);
  private readonly inflate = new Inflate({ dictionary: SPDY_DICTIONARY });
  private inflated: Uint8Array[] = [];

  constructor() {
    this.inflate.onData = (chunk: Uint8Array) => void this.inflated.push(chunk);
  }

  /** The frames completed by this chunk; throws SpdyProtocolError on bytes that are not SPDY/3. */
  push(chunk: Uint8Array): SpdyFrame[] {
    const joined = new Uint8Array(this.buffered.byteLength + chunk.byteLength);
    joined.set(this.buffered);
    joined.set(chunk, this.buffered.byteLength);
    const frames: SpdyFrame[] = [];
    let offset = 0;
    while (joined.byteLength - offset >= 8) {
      const view = new DataView(joined.buffer, joined.byteOffset + offset);
      const length = view.getUint32(4) & 0xffffff;
      if (joined.byteLength - offset - 8 < length) break;
      const flags = joined[offset + 4]!;
      const body = joined.subarray(offset + 8, offset + 8 + length);
      const first = view.getUint32(0);
      frames.push(first & 0x80000000 ? this.control((first >>> 16) & 0x7fff, first & 0xffff, flags, body) : { kind: "data", stream: first & 0x7fffffff, fin: (flags & FLAG_FIN) !== 0, data: body.slice() });
      offset += 8 + length;
    }
    this.buffered = joined.slice(offset);
    return frames;
  }

  private control(version: number, type: number, flags: number, body: Uint8Array): SpdyFrame {
    if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const need = (bytes: number) => {
      if (body.byteLength < bytes) throw new SpdyProtocolError(`control frame ${type} too short`);
    };
    switch (type) {
      case CONTROL.SYN_STREAM:
        need(10);
        return { kind: "syn_stream", stream: view.getUint32(0) & 0x7fffffff, fin: (flags & FLAG_FIN) !== 0, headers: this.headerBlock(body.subarray(10)) };
      case CONTROL.SYN_REPLY:
      case CONTROL.HEADERS:
        need(4);
        this.headerBlock(body.subarray(4));
        return { kind: "ignored", type };
      case CONTROL.RST_STREAM:
        need(8);
        return { kind: "rst_stream", stream: view.getUint32(0) & 0x7fffffff, status: view.getUint32(4) };
      case CONTROL.PING:
        need(4);
        return { kind: "ping", id: view.getUint32(0) };
      case CONTROL.GOAWAY:
        need(8);
        return { kind: "goaway", lastStream: view.getUint32(0) & 0x7fffffff, status: view.getUint32(4) };
      default:
        return { kind: "ignored", type };
    }
  }

  /** One header block: inflated as the next part of the connection's zlib stream, then parsed. */
  private headerBlock(compressed: Uint8Array): SpdyHeaders {
    this.inflated = [];
    if (!this.inflate.push(compressed, Z_SYNC_FLUSH) && this.inflate.err) throw new SpdyProtocolError(`header block: ${this.inflate.msg}`);
    const size = this.inflated.reduce((sum, c) => sum + c.byteLength, 0);
    const block = new Uint8Array(size);
    let at = 0;
    for (const c of this.inflated) {
      block.set(c, at);
      at += c.byteLength;
    }
    return parseHeaderBlock(block);
  }
}

function parseHeaderBlock(block: Uint8Array): SpdyHeaders {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  let at = 0;
  const u32 = () => {
    if (at + 4 > block.byteLength) throw new SpdyProtocolError("header block truncated");
    const value = view.getUint32(at);
    at += 4;
    return value;
  };
  const string = () => {
    const length = u32();
    if (at + length > block.byteLength) throw new SpdyProtocolError("header block truncated");
    const value = fromText.decode(block.subarray(at, at + length));
    at += length;
    return value;
  };
  const headers: SpdyHeaders = {};
  for (let count = u32(); count > 0; count--) {
    const name = string().toLowerCase();
    (headers[name] ??= []).push(...string().split("\0"));
  }
  return headers;
}

/** Frames of the server's direction, as bytes; `send` puts bytes on the connection. */
export class SpdyWriter {
  private readonly send: (bytes: Uint8Array) => void;
  private headerStreamStarted = false;

  constructor(send: (bytes: Uint8Array) => void) {
    this.send = send;
  }

  synReply(stream: number, headers: Record<string, string> = {}, fin = false): void {
    const block = this.headerBlock(headers);
    const body = new Uint8Array(4 + block.byteLength);
    new DataView(body.buffer).setUint32(0, stream & 0x7fffffff);
    body.set(block, 4);
    this.control(CONTROL.SYN_REPLY, fin ? FLAG_FIN : 0, body);
  }

  /** Bytes on a stream (split into frames of at most 16 MiB); `fin` ends this side of it. */
  data(stream: number, bytes: Uint8Array, fin = false): void {
    let offset = 0;
    do {
      const n = Math.min(bytes.byteLength - offset, MAX_DATA);
      const last = offset + n >= bytes.byteLength;
      const frame = new Uint8Array(8 + n);
      const view = new DataView(frame.buffer);
      view.setUint32(0, stream & 0x7fffffff);
      view.setUint32(4, n | ((last && fin ? FLAG_FIN : 0) << 24));
      frame.set(bytes.subarray(offset, offset + n), 8);
      this.send(frame);
      offset += n;
    } while (offset < bytes.byteLength);
  }

  rstStream(stream: number, status: number): void {
    const body = new Uint8Array(8);
    const view = new DataView(body.buffer);
    view.setUint32(0, stream & 0x7fffffff);
    view.setUint32(4, status);
    this.control(CONTROL.RST_STREAM, 0, body);
  }

  ping(id: number): void {
    const body = new Uint8Array(4);
    new DataView(body.buffer).setUint32(0, id);
    this.control(CONTROL.PING, 0, body);
  }

  goAway(lastStream: number, status = 0): void {
    const body = new Uint8Array(8);
    const view = new DataView(body.buffer);
    view.setUint32(0, lastStream & 0x7fffffff);
    view.setUint32(4, status);
    this.control(CONTROL.GOAWAY, 0, body);
  }

  private control(type: number, flags: number, body: Uint8Array): void {
    const frame = new Uint8Array(8 + body.byteLength);
    const view = new DataView(frame.buffer);
    view.setUint32(0, 0x80000000 | (SPDY_VERSION << 16) | type);
    view.setUint32(4, body.byteLength | (flags << 24));
    frame.set(body, 8);
    this.send(frame);
  }

  /**
   * A header block as the next part of this direction's zlib stream: the zlib header once (no
   * preset dictionary), then the block as one stored deflate block and the empty stored block that
   * ends a sync flush.
   */
  private headerBlock(headers: Record<string, string>): Uint8Array {
    const parts: Uint8Array[] = [];
    const u32 = (n: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, n);
      parts.push(b);
    };
    const entries = Object.entries(headers);
    u32(entries.length);
    for (const [name, value] of entries) {
      const n = text.encode(name.toLowerCase());
      const v = text.encode(value);
      u32(n.byteLength);
      parts.push(n);
      u32(v.byteLength);
      parts.push(v);
    }
    const raw = concatBytes(parts);
    if (raw.byteLength > 0xffff) throw new SpdyProtocolError("header block too large");
    const prefix = this.headerStreamStarted ? [] : [0x78, 0x01];
    this.headerStreamStarted = true;
    const out = new Uint8Array(prefix.length + 5 + raw.byteLength + SYNC_MARKER.length);
    out.set(prefix);
    const at = prefix.length;
    // BFINAL 0, BTYPE 00 (stored), then LEN and its one's complement, little-endian.
    out[at] = 0;
    out[at + 1] = raw.byteLength & 0xff;
    out[at + 2] = raw.byteLength >> 8;
    out[at + 3] = ~raw.byteLength & 0xff;
    out[at + 4] = (~raw.byteLength >> 8) & 0xff;
    out.set(raw, at + 5);
    // Go's flate reader hands a block's bytes over only when the next block header follows; without
    // this empty block (what a sync flush writes) it reads on past the frame and fails the connection.
    out.set(SYNC_MARKER, at + 5 + raw.byteLength);
    return out;
  }
}

/** The value of a header a port-forward client sends once (streamType, port, requestID). */
export function headerValue(headers: SpdyHeaders, name: string): string | undefined {
  return headers[name.toLowerCase()]?.[0];
}

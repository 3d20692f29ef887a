// SPDY/3.1 framing: header blocks compressed as a Go client compresses them (one zlib stream per
// direction, SPDY's dictionary, a sync flush per block) are read back whole however the bytes are
// cut; what the writer sends is readable by a plain zlib reader without the dictionary.
import { Deflate, Inflate, Z_SYNC_FLUSH } from "pako";
import { describe, expect, it } from "vitest";
import { CONTROL, SPDY_DICTIONARY, SpdyReader, SpdyWriter, type SpdyFrame } from "./spdy.ts";

/** A client's side: SYN_STREAM frames whose header blocks share one compressor, as spdystream writes them. */
function clientFrames() {
  const deflate = new Deflate({ level: 9, dictionary: SPDY_DICTIONARY });
  const out: Uint8Array[] = [];
  deflate.onData = (chunk: Uint8Array) => void out.push(chunk);
  const compress = (headers: Record<string, string>) => {
    const parts: number[] = [];
    const u32 = (n: number) => parts.push(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    const entries = Object.entries(headers);
    u32(entries.length);
    for (const [name, value] of entries) {
      for (const s of [name, value]) {
        const bytes = new TextEncoder().encode(s);
        u32(bytes.byteLength);
        parts.push(...bytes);
      }
    }
    out.length = 0;
    deflate.push(Uint8Array.from(parts), Z_SYNC_FLUSH);
    return Uint8Array.from(out.flatMap((c) => [...c]));
  };
  const control = (type: number, flags: number, body: Uint8Array) => {
    const frame = new Uint8Array(8 + body.byteLength);
    const view = new DataView(frame.buffer);
    view.setUint32(0, 0x80030000 | type);
    view.setUint32(4, body.byteLength | (flags << 24));
    frame.set(body, 8);
    return frame;
  };
  return {
    synStream(stream: number, headers: Record<string, string>) {
      const block = compress(headers);
      const body = new Uint8Array(10 + block.byteLength);
      new DataView(body.buffer).setUint32(0, stream);
      body.set(block, 10);
      return control(CONTROL.SYN_STREAM, 0, body);
    },
    ping(id: number) {
      const body = new Uint8Array(4);
      new DataView(body.buffer).setUint32(0, id);
      return control(CONTROL.PING, 0, body);
    },
  };
}

function frameBytes(frames: Uint8Array[]): Uint8Array {
  return Uint8Array.from(frames.flatMap((f) => [...f]));
}

describe("SPDY/3.1 framing", () => {
  it("reads SYN_STREAMs whose header blocks share the dictionary-primed zlib stream, cut at every byte", () => {
    const client = clientFrames();
    const bytes = frameBytes([
      client.synStream(1, { streamtype: "error", port: "80", requestid: "0" }),
      client.synStream(3, { streamtype: "data", port: "80", requestid: "0" }),
      client.ping(1),
      new Uint8Array([0, 0, 0, 3, 1, 0, 0, 2, 0x68, 0x69]),
    ]);
    const reader = new SpdyReader();
    const frames: SpdyFrame[] = [];
    for (let i = 0; i < bytes.byteLength; i++) frames.push(...reader.push(bytes.subarray(i, i + 1)));
    expect(frames).toEqual([
      { kind: "syn_stream", stream: 1, fin: false, headers: { streamtype: ["error"], port: ["80"], requestid: ["0"] } },
      { kind: "syn_stream", stream: 3, fin: false, headers: { streamtype: ["data"], port: ["80"], requestid: ["0"] } },
      { kind: "ping", id: 1 },
      { kind: "data", stream: 3, fin: true, data: new TextEncoder().encode("hi") },
    ]);
  });

  it("writes header blocks a zlib reader without the dictionary inflates, and data frames with FIN", () => {
    const sent: Uint8Array[] = [];
    const writer = new SpdyWriter((b) => sent.push(b));
    writer.synReply(1);
    writer.synReply(3, { a: "b" });
    writer.data(3, new TextEncoder().encode("hello"), true);
    const inflate = new Inflate();
    const blocks: Uint8Array[] = [];
    inflate.onData = (chunk: Uint8Array) => void blocks.push(chunk.slice());
    for (const frame of sent.slice(0, 2)) {
      expect(new DataView(frame.buffer).getUint32(0)).toBe(0x80030002);
      inflate.push(frame.subarray(12), Z_SYNC_FLUSH);
    }
    expect(inflate.err).toBe(0);
    // Each block ends as a sync flush does (an empty stored block): Go's reader needs it to stop at the frame's end.
    for (const frame of sent.slice(0, 2)) expect([...frame.subarray(-5)]).toEqual([0, 0, 0, 0xff, 0xff]);
    expect([...blocks[0]!]).toEqual([0, 0, 0, 0]);
    expect([...blocks[1]!]).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0x61, 0, 0, 0, 1, 0x62]);
    expect([...sent[2]!]).toEqual([0, 0, 0, 3, 1, 0, 0, 5, ...new TextEncoder().encode("hello")]);
  });
});

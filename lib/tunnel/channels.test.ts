// The channel records an exec stream carries through the tunnel: each record comes back whole and
// in order however the bytes are split (one byte at a time, several records in one chunk), empty
// payloads (a v5 close carries one byte, an EOF none) included.
import { describe, expect, it } from "vitest";
import { CHANNEL, ChannelDecoder, channelRecords, encodeChannelRecord } from "./channels.ts";

const text = (s: string) => new TextEncoder().encode(s);
const joined = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.byteLength) - p.byteLength);
  return out;
};

describe("exec channel records", () => {
  const records = [
    { channel: CHANNEL.STDOUT, payload: text("hello\n") },
    { channel: CHANNEL.STDERR, payload: new Uint8Array(0) },
    { channel: CHANNEL.CLOSE, payload: Uint8Array.of(CHANNEL.STDIN) },
    { channel: CHANNEL.STDIN, payload: new Uint8Array(70_000).fill(9) },
    { channel: CHANNEL.ERROR, payload: text('{"status":"Success"}') },
  ];
  const wire = joined(...records.map((r) => encodeChannelRecord(r.channel, r.payload)));

  it("are [channel][u32 length][payload]", () => {
    expect([...encodeChannelRecord(CHANNEL.RESIZE, text("ab"))]).toEqual([4, 0, 0, 0, 2, 97, 98]);
  });

  it("decode from one chunk holding them all", () => {
    expect(new ChannelDecoder().push(wire)).toEqual(records);
  });

  it("decode from one byte at a time, none before it is whole", () => {
    const decoder = new ChannelDecoder();
    const out = [];
    for (let i = 0; i < wire.byteLength; i++) {
      const got = decoder.push(wire.subarray(i, i + 1));
      if (i === 0) expect(got).toEqual([]);
      out.push(...got);
    }
    expect(out).toEqual(records);
    expect(decoder.pending).toBe(0);
  });

  it("decode from a byte stream split anywhere", async () => {
    const cuts = [3, 11, 12, 4000, 70_010];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        let from = 0;
        for (const cut of [...cuts, wire.byteLength]) {
          controller.enqueue(wire.slice(from, cut));
          from = cut;
        }
        controller.close();
      },
    });
    const out = [];
    for await (const record of channelRecords(stream)) out.push(record);
    expect(out).toEqual(records);
  });
});

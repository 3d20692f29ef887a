// Binary watch frames: events come back exactly as they went in, and a damaged frame is refused.
import { describe, expect, it } from "vitest";
import type { Event } from "./messages.ts";
import { decodeWatchFrame, encodeWatchEvent, encodeWatchFrame } from "./watch-frames.ts";

const b = (text: string) => new TextEncoder().encode(text);

describe("watch frames", () => {
  it("carry puts, deletes and previous values exactly, bytes and int64 numbers included", () => {
    const events: Event[] = [
      { type: "PUT", kv: { key: b("/registry/pods/ns/a"), create_revision: 5, mod_revision: 9, version: 3, lease: 0, value: b('{"kind":"Pod"}') } },
      {
        type: "PUT",
        kv: { key: new Uint8Array([0, 255, 1]), create_revision: 9, mod_revision: 9, version: 1, lease: 2 ** 52 + 1, value: new Uint8Array(0) },
      },
      {
        type: "DELETE",
        kv: { key: b("k"), create_revision: 0, mod_revision: 10, version: 0, lease: 0, value: new Uint8Array(0) },
        prev_kv: { key: b("k"), create_revision: 2, mod_revision: 8, version: 4, lease: 7, value: crypto.getRandomValues(new Uint8Array(3000)) },
      },
    ];
    const frame = encodeWatchFrame(12, 3, events.map(encodeWatchEvent));
    const decoded = decodeWatchFrame(frame);
    expect(decoded.revision).toBe(12);
    expect(decoded.watchId).toBe(3);
    expect(decoded.events).toEqual(events);
  });

  it("refuses a frame cut short or with bytes left over", () => {
    const frame = new Uint8Array(encodeWatchFrame(2, 0, [encodeWatchEvent({ type: "PUT", kv: { key: b("k"), create_revision: 2, mod_revision: 2, version: 1, lease: 0, value: b("v") } })]));
    expect(() => decodeWatchFrame(frame.slice(0, frame.length - 1).buffer)).toThrow(RangeError);
    const longer = new Uint8Array(frame.length + 1);
    longer.set(frame);
    expect(() => decodeWatchFrame(longer.buffer)).toThrow(/after its last event/);
    expect(() => decodeWatchFrame(new ArrayBuffer(3))).toThrow(/shorter than its header/);
  });
});

// The tunnel multiplexer between two ends joined by an in-memory channel: frames, the open/reply/
// data/end/reset life of a stream, flow control (a writer stops at the reader's window and goes on
// as it reads), a slow reader holding back only its own stream, a cancelling reader, refusals and a
// closed channel.
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, FRAME } from "./frames.ts";
import { TunnelMux, type TunnelStream } from "./mux.ts";

/** Two ends whose frames are delivered to each other asynchronously, as over a socket; `sent.data` counts the opener's DATA bytes. */
function pair(options: { window?: number; maxFrame?: number } = {}) {
  const accepted: TunnelStream[] = [];
  let onAccept: (stream: TunnelStream) => void = (stream) => accepted.push(stream);
  const sent = { data: 0 };
  const deliver = (to: () => TunnelMux) => (frame: Uint8Array) => {
    if (to === toAcceptor && decodeFrame(frame)?.type === FRAME.DATA) sent.data += frame.byteLength - 5;
    queueMicrotask(() => to().receive(frame));
  };
  const toAcceptor = () => acceptor;
  const opener: TunnelMux = new TunnelMux({ ids: "odd", send: deliver(toAcceptor), ...options });
  const acceptor: TunnelMux = new TunnelMux({ ids: "even", send: deliver(() => opener), onOpen: (s) => onAccept(s), ...options });
  return { opener, acceptor, accepted, sent, setOnAccept: (f: (stream: TunnelStream) => void) => (onAccept = f) };
}

const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill);
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

async function readAll(stream: ReadableStream<Uint8Array>): Promise<number> {
  let total = 0;
  for await (const chunk of stream) total += chunk.byteLength;
  return total;
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in 5 s");
    await tick();
  }
}

describe("frames", () => {
  it("round-trip type, stream id and payload; reject short or unknown messages", () => {
    const frame = decodeFrame(encodeFrame(FRAME.DATA, 0xfffffffe, new Uint8Array([1, 2, 3])))!;
    expect(frame.type).toBe(FRAME.DATA);
    expect(frame.stream).toBe(0xfffffffe);
    expect([...frame.payload]).toEqual([1, 2, 3]);
    expect(decodeFrame(new Uint8Array([3, 0, 0]))).toBeUndefined();
    expect(decodeFrame(new Uint8Array([99, 0, 0, 0, 1]))).toBeUndefined();
  });
});

describe("TunnelMux", () => {
  it("opens a stream with a header, answers with a reply, carries data both ways and ends", async () => {
    const { opener, acceptor, setOnAccept } = pair();
    setOnAccept(async (stream) => {
      expect(stream.header).toEqual({ type: "echo", name: "x" });
      stream.respond({ status: 200 });
      for await (const chunk of stream.readable) await stream.write(chunk);
      stream.end();
    });
    const stream = opener.open({ type: "echo", name: "x" });
    expect(await stream.reply).toEqual({ status: 200 });
    const echoed = readAll(stream.readable);
    await stream.write(new TextEncoder().encode("hello"));
    await stream.write(bytes(300_000));
    stream.end();
    expect(await echoed).toBe(300_005);
    await until(() => opener.size === 0 && acceptor.size === 0);
  });

  it("stops a writer at the reader's window and lets it go on as the reader reads", async () => {
    const { opener, accepted, sent } = pair({ window: 1000, maxFrame: 100 });
    const stream = opener.open({ type: "sink" });
    await until(() => accepted.length === 1);
    let written = false;
    const writing = stream.write(bytes(2500)).then(() => (written = true));
    await until(() => sent.data === 1000);
    for (let i = 0; i < 10; i++) await tick();
    expect(sent.data).toBe(1000);
    expect(written).toBe(false);
    const reader = accepted[0]!.readable.getReader();
    let read = 0;
    while (read < 2500) read += (await reader.read()).value!.byteLength;
    await writing;
    expect(read).toBe(2500);
  });

  it("gives credit back in half-window steps: a short answer costs no credit frame, a long one flows without stalling", async () => {
    const credits: number[] = [];
    const { opener, accepted, setOnAccept } = pair({ window: 1000, maxFrame: 100 });
    const send = (opener as unknown as { options: { send(frame: Uint8Array): void } }).options;
    const original = send.send;
    send.send = (frame) => {
      const decoded = decodeFrame(frame)!;
      if (decoded.type === FRAME.WINDOW) credits.push(new DataView(decoded.payload.buffer, decoded.payload.byteOffset).getUint32(0));
      original(frame);
    };
    setOnAccept(async (stream) => {
      stream.respond({ status: 200 });
      await stream.write(bytes(Number(stream.header.size)));
      stream.end();
    });
    expect(await readAll(opener.open({ type: "answer", size: 300 }).readable)).toBe(300);
    expect(credits).toEqual([]);
    expect(await readAll(opener.open({ type: "answer", size: 2500 }).readable)).toBe(2500);
    expect(credits.length).toBeGreaterThan(0);
    expect(credits.every((n) => n >= 500)).toBe(true);
    expect(accepted).toHaveLength(0);
  });

  it("a stream opened with a larger window lets the other side send that much before it stops", async () => {
    const { opener, acceptor, setOnAccept } = pair({ window: 1000, maxFrame: 100 });
    let written = 0;
    setOnAccept(async (stream) => {
      stream.respond({ status: 200 });
      for (let i = 0; i < 50; i++) {
        await stream.write(bytes(100));
        written += 100;
      }
      stream.end();
    });
    const small = opener.open({ type: "bulk" });
    await small.reply;
    await until(() => written === 1000);
    for (let i = 0; i < 10; i++) await tick();
    expect(written).toBe(1000);
    const large = opener.open({ type: "bulk" }, { window: 3000 });
    await large.reply;
    await until(() => written === 4000);
    for (let i = 0; i < 10; i++) await tick();
    expect(written).toBe(4000);
    expect(await readAll(large.readable)).toBe(5000);
    expect(await readAll(small.readable)).toBe(5000);
    small.end();
    large.end();
    await until(() => opener.size === 0 && acceptor.size === 0);
  });

  it("a reader that does not read holds back its own stream, not another", async () => {
    const { opener, accepted } = pair({ window: 64 * 1024 });
    const slow = opener.open({ type: "slow" });
    const fast = opener.open({ type: "fast" });
    await until(() => accepted.length === 2);
    let slowDone = false;
    void slow.write(bytes(1024 * 1024)).then(() => (slowDone = true), () => {});
    const received = readAll(accepted[1]!.readable);
    await fast.write(bytes(4 * 1024 * 1024));
    fast.end();
    expect(await received).toBe(4 * 1024 * 1024);
    expect(slowDone).toBe(false);
    slow.reset("done");
  });

  it("a reader that cancels resets the stream: the writer's next write fails with the reason", async () => {
    const { opener, accepted } = pair({ window: 100 });
    const stream = opener.open({ type: "log", follow: true });
    await until(() => accepted.length === 1);
    const follower = accepted[0]!;
    await follower.write(bytes(10));
    const reader = stream.readable.getReader();
    expect((await reader.read()).value!.byteLength).toBe(10);
    await reader.cancel("the client went away");
    await until(() => follower.resetBy !== undefined);
    await expect(follower.write(bytes(10))).rejects.toThrow("the client went away");
    await until(() => opener.size === 0 && accepted.length === 1);
  });

  it("an end with no handler for opens refuses them; a reset reaches the reader with its reason", async () => {
    const { opener, acceptor, setOnAccept } = pair();
    const refused = acceptor.open({ type: "from-the-node" });
    await expect(refused.reply).rejects.toThrow("stream refused");
    setOnAccept((stream) => stream.reset("no such container"));
    const stream = opener.open({ type: "log" });
    await expect(stream.reply).rejects.toThrow("no such container");
    await expect(readAll(stream.readable)).rejects.toThrow("no such container");
  });

  it("a sender past the window is reset; a closed channel ends every stream and refuses new ones", async () => {
    const { opener, accepted } = pair({ window: 10 });
    const stream = opener.open({ type: "x" });
    await until(() => accepted.length === 1);
    accepted[0]!.receive({ type: FRAME.DATA, stream: stream.id, payload: bytes(11) });
    expect(accepted[0]!.resetBy).toBe("flow control window exceeded");

    const other = opener.open({ type: "y" });
    opener.close("the tunnel closed");
    await expect(readAll(other.readable)).rejects.toThrow("the tunnel closed");
    expect(() => opener.open({ type: "z" })).toThrow("the tunnel closed");
  });
});

// Many streams over one message channel (the node tunnel's WebSocket), runtime-neutral: the tunnel
// Durable Object opens streams, the node agent accepts them. Each stream has its own flow-control
// window in each direction: a sender may have at most `window` bytes unread by the other side, and
// the reader gives credit back only as its consumer reads, so a slow `logs -f` reader holds back
// its own stream and no other. Credit goes back in steps of half a window (a sender never waits for
// it while the reader keeps up), not a frame per chunk read: a short request and answer send none.
import { decodeFrame, encodeFrame, encodeWindow, FRAME, windowOf, type Frame } from "./frames.ts";

/** What a stream is for, sent with OPEN: its `type` says which protocol its bytes speak. */
export interface StreamHeader {
  type: string;
  [key: string]: unknown;
}

/** The acceptor's answer to an OPEN, before any data: an HTTP-like status, and why when it fails. */
export interface StreamReply {
  status: number;
  message?: string;
  headers?: Record<string, string>;
}

export interface TunnelMuxOptions {
  /** Puts one frame on the channel. */
  send(frame: Uint8Array): void;
  /** Streams this side opens get ids 1, 3, 5, … ("odd") or 2, 4, 6, … ("even"). */
  ids: "odd" | "even";
  /** Called for each stream the other side opens; without it, opens are refused. */
  onOpen?(stream: TunnelStream): void;
  /** Bytes a sender may have in flight per stream (default 256 KiB). */
  window?: number;
  /** Largest DATA payload (default 64 KiB). */
  maxFrame?: number;
}

const DEFAULT_WINDOW = 256 * 1024;
const DEFAULT_MAX_FRAME = 64 * 1024;
const text = new TextEncoder();
const fromText = new TextDecoder();

export class TunnelMux {
  private readonly options: TunnelMuxOptions;
  private readonly streams = new Map<number, TunnelStream>();
  private nextId: number;
  private closedReason: string | undefined;

  constructor(options: TunnelMuxOptions) {
    this.options = options;
    this.nextId = options.ids === "odd" ? 1 : 2;
  }

  get window(): number {
    return this.options.window ?? DEFAULT_WINDOW;
  }

  get maxFrame(): number {
    return this.options.maxFrame ?? DEFAULT_MAX_FRAME;
  }

  /** Streams open now. */
  get size(): number {
    return this.streams.size;
  }

  /**
   * Opens a stream to the other side; its `reply` says whether the other side took it. A `window`
   * larger than the mux's lets the other side send that much unread to this one (a bulk download
   * over a long round trip): the extra is granted as credit right after the OPEN, so a peer that
   * knows nothing of it simply has more credit.
   */
  open(header: StreamHeader, options: { window?: number } = {}): TunnelStream {
    if (this.closedReason !== undefined) throw new Error(this.closedReason);
    const id = this.nextId;
    this.nextId += 2;
    const receiveWindow = Math.max(this.window, options.window ?? 0);
    const stream = new TunnelStream(this, id, header, receiveWindow);
    this.streams.set(id, stream);
    this.send(encodeFrame(FRAME.OPEN, id, text.encode(JSON.stringify(header))));
    if (receiveWindow > this.window) this.send(encodeWindow(id, receiveWindow - this.window));
    return stream;
  }

  /** Handles one message from the channel. */
  receive(message: Uint8Array): void {
    const frame = decodeFrame(message);
    if (!frame) return;
    if (frame.type === FRAME.OPEN) return this.accept(frame);
    const stream = this.streams.get(frame.stream);
    if (!stream) {
      if (frame.type !== FRAME.RESET) this.send(encodeFrame(FRAME.RESET, frame.stream, text.encode("no such stream")));
      return;
    }
    stream.receive(frame);
  }

  /** The channel is gone: every stream ends with `reason`, and no more can be opened. */
  close(reason: string): void {
    this.closedReason = reason;
    for (const stream of [...this.streams.values()]) stream.gone(reason);
  }

  send(frame: Uint8Array): void {
    if (this.closedReason === undefined) this.options.send(frame);
  }

  forget(id: number): void {
    this.streams.delete(id);
  }

  private accept(frame: Frame): void {
    let header: StreamHeader | undefined;
    try {
      header = JSON.parse(fromText.decode(frame.payload));
    } catch {
      header = undefined;
    }
    if (!this.options.onOpen || this.streams.has(frame.stream) || typeof header?.type !== "string") {
      this.send(encodeFrame(FRAME.RESET, frame.stream, text.encode("stream refused")));
      return;
    }
    const stream = new TunnelStream(this, frame.stream, header);
    this.streams.set(frame.stream, stream);
    this.options.onOpen(stream);
  }
}

/** One stream: a readable of what the other side writes, writes under the other side's window, a reply. */
export class TunnelStream {
  readonly id: number;
  readonly header: StreamHeader;
  readonly readable: ReadableStream<Uint8Array>;
  /** The acceptor's reply (for the side that opened); rejects if the stream is reset first. */
  readonly reply: Promise<StreamReply>;
  private readonly mux: TunnelMux;
  /** Bytes the other side may have sent and this side not read yet. */
  private readonly receiveWindow: number;
  private readonly incoming: Uint8Array[] = [];
  private wakeReader: (() => void) | undefined;
  private sendWindow: number;
  /** Bytes the consumer has read that the other side has not been given back as credit yet. */
  private unreturned = 0;
  private wakeWriter: (() => void) | undefined;
  private resolveReply!: (reply: StreamReply) => void;
  private rejectReply!: (error: Error) => void;
  private remoteEnded = false;
  private localEnded = false;
  private resetReason: string | undefined;

  constructor(mux: TunnelMux, id: number, header: StreamHeader, receiveWindow = mux.window) {
    this.mux = mux;
    this.receiveWindow = receiveWindow;
    this.id = id;
    this.header = header;
    this.sendWindow = mux.window;
    this.reply = new Promise((resolve, reject) => {
      this.resolveReply = resolve;
      this.rejectReply = reject;
    });
    this.reply.catch(() => {});
    // highWaterMark 0: pull runs only when the consumer waits for a chunk, so credit follows its reading.
    this.readable = new ReadableStream<Uint8Array>({
      pull: (controller) => this.pull(controller),
      cancel: (reason) => this.reset(reason instanceof Error ? reason.message : String(reason ?? "cancelled")),
    }, { highWaterMark: 0 });
  }

  /** Why the stream was reset, if it was. */
  get resetBy(): string | undefined {
    return this.resetReason;
  }

  /** The acceptor answers the OPEN, once, before writing. */
  respond(reply: StreamReply): void {
    this.mux.send(encodeFrame(FRAME.REPLY, this.id, text.encode(JSON.stringify(reply))));
  }

  /** Sends bytes, waiting for window as the other side reads; rejects once the stream is reset. */
  async write(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.resetReason !== undefined) throw new Error(this.resetReason);
      if (this.localEnded) throw new Error("write after end");
      if (this.sendWindow <= 0) {
        await new Promise<void>((resolve) => (this.wakeWriter = resolve));
        continue;
      }
      const n = Math.min(chunk.byteLength - offset, this.sendWindow, this.mux.maxFrame);
      this.mux.send(encodeFrame(FRAME.DATA, this.id, chunk.subarray(offset, offset + n)));
      this.sendWindow -= n;
      offset += n;
    }
  }

  /** This side writes no more. */
  end(): void {
    if (this.localEnded || this.resetReason !== undefined) return;
    this.localEnded = true;
    this.mux.send(encodeFrame(FRAME.END, this.id));
    this.forgetWhenDone();
  }

  /** Ends the stream both ways and tells the other side why. */
  reset(reason: string): void {
    if (this.resetReason !== undefined) return;
    this.mux.send(encodeFrame(FRAME.RESET, this.id, text.encode(reason)));
    this.gone(reason);
  }

  /** The stream is over without telling the other side (it reset it, or the channel closed). */
  gone(reason: string): void {
    if (this.resetReason !== undefined) return;
    this.resetReason = reason;
    this.rejectReply(new Error(reason));
    this.wakeReader?.();
    this.wakeWriter?.();
    this.mux.forget(this.id);
  }

  receive(frame: Frame): void {
    switch (frame.type) {
      case FRAME.REPLY:
        try {
          this.resolveReply(JSON.parse(fromText.decode(frame.payload)));
        } catch {
          this.reset("malformed reply");
        }
        return;
      case FRAME.DATA:
        // A sender past its window breaks the protocol: it would let one stream take all memory.
        if (this.queuedBytes() + frame.payload.byteLength > this.receiveWindow) return this.reset("flow control window exceeded");
        this.incoming.push(frame.payload.slice());
        this.wakeReader?.();
        return;
      case FRAME.END:
        this.remoteEnded = true;
        this.wakeReader?.();
        this.forgetWhenDone();
        return;
      case FRAME.RESET:
        this.gone(fromText.decode(frame.payload) || "stream reset");
        return;
      case FRAME.WINDOW:
        this.sendWindow += windowOf(frame);
        this.wakeWriter?.();
        return;
    }
  }

  private queuedBytes(): number {
    return this.incoming.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  }

  private async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      const chunk = this.incoming.shift();
      if (chunk) {
        controller.enqueue(chunk);
        this.credit(chunk.byteLength);
        return;
      }
      if (this.resetReason !== undefined) return controller.error(new Error(this.resetReason));
      if (this.remoteEnded) return controller.close();
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
      this.wakeReader = undefined;
    }
  }

  /**
   * Gives read bytes back as credit once half a window has gathered: the sender then still has half
   * a window to send while the credit travels, and never waits for it unless this reader is slower.
   * A sender that has ended needs none.
   */
  private credit(bytes: number): void {
    this.unreturned += bytes;
    if (this.resetReason !== undefined || this.remoteEnded || this.unreturned < this.receiveWindow / 2) return;
    this.mux.send(encodeWindow(this.id, this.unreturned));
    this.unreturned = 0;
  }

  private forgetWhenDone(): void {
    if (this.localEnded && this.remoteEnded) this.mux.forget(this.id);
  }
}

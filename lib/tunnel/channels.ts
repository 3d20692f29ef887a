// The channels of an exec, attach or port-forward stream as they cross the node tunnel: the
// stream's bytes are a sequence of [channel: u8][length: u32 big-endian][payload] records, so each
// WebSocket message of kube's channel protocol (its first byte the channel) crosses whole, however
// the tunnel splits or joins the bytes. The channel numbers are kube's remotecommand ones.

export const CHANNEL = {
  STDIN: 0,
  STDOUT: 1,
  STDERR: 2,
  /** The command's end: a Status (metav1), Success or Failure with the exit code. */
  ERROR: 3,
  /** A terminal size, JSON {"Width":…,"Height":…}. */
  RESIZE: 4,
  /** v5.channel.k8s.io: the payload's one byte names a channel the sender writes no more to. */
  CLOSE: 255,
} as const;

export interface ChannelRecord {
  channel: number;
  payload: Uint8Array;
}

const HEADER_BYTES = 5;

/** One record as bytes. */
export function encodeChannelRecord(channel: number, payload: Uint8Array): Uint8Array {
  const record = new Uint8Array(HEADER_BYTES + payload.byteLength);
  record[0] = channel;
  new DataView(record.buffer).setUint32(1, payload.byteLength);
  record.set(payload, HEADER_BYTES);
  return record;
}

/** Records from bytes as they arrive in chunks of any size: `push` answers the records completed so far. */
export class ChannelDecoder {
  private buffered = new Uint8Array(0);

  push(chunk: Uint8Array): ChannelRecord[] {
    const joined = new Uint8Array(this.buffered.byteLength + chunk.byteLength);
    joined.set(this.buffered);
    joined.set(chunk, this.buffered.byteLength);
    const records: ChannelRecord[] = [];
    let offset = 0;
    while (joined.byteLength - offset >= HEADER_BYTES) {
      const length = new DataView(joined.buffer, offset + 1, 4).getUint32(0);
      if (joined.byteLength - offset - HEADER_BYTES < length) break;
      records.push({ channel: joined[offset]!, payload: joined.slice(offset + HEADER_BYTES, offset + HEADER_BYTES + length) });
      offset += HEADER_BYTES + length;
    }
    this.buffered = joined.slice(offset);
    return records;
  }

  /** Bytes of a record not yet complete. */
  get pending(): number {
    return this.buffered.byteLength;
  }
}

/** Every record of a byte stream, in order. */
export async function* channelRecords(bytes: ReadableStream<Uint8Array>): AsyncGenerator<ChannelRecord> {
  const decoder = new ChannelDecoder();
  for await (const chunk of bytes) yield* decoder.push(chunk);
}

/** A terminal size as kube's resize channel carries it. */
export interface TerminalSize {
  Width: number;
  Height: number;
}

// The node tunnel's wire format: every WebSocket binary message is one frame of one stream,
// [type: u8][stream id: u32 big-endian][payload]. A stream is opened by its header (what kind of
// stream and for what), answered once by a reply (status), carries data both ways under per-stream
// flow-control windows, and ends with END (one direction done) or RESET (both, with a reason).

export const FRAME = {
  /** Payload: the stream's header as JSON (StreamHeader). */
  OPEN: 1,
  /** Payload: the acceptor's answer as JSON (StreamReply), sent once before any data. */
  REPLY: 2,
  /** Payload: bytes of the stream. */
  DATA: 3,
  /** No payload: the sender writes no more (the other direction stays open). */
  END: 4,
  /** Payload: why, as UTF-8: the stream is over in both directions. */
  RESET: 5,
  /** Payload: u32, bytes the receiver has consumed and the sender may send again. */
  WINDOW: 6,
} as const;

export type FrameType = (typeof FRAME)[keyof typeof FRAME];

export interface Frame {
  type: FrameType;
  stream: number;
  payload: Uint8Array;
}

const HEADER_BYTES = 5;
const EMPTY = new Uint8Array(0);

export function encodeFrame(type: FrameType, stream: number, payload: Uint8Array = EMPTY): Uint8Array {
  const frame = new Uint8Array(HEADER_BYTES + payload.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint8(0, type);
  view.setUint32(1, stream);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

/** The frame a message holds; undefined for a message too short or of an unknown type. */
export function decodeFrame(message: Uint8Array): Frame | undefined {
  if (message.byteLength < HEADER_BYTES) return undefined;
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const type = view.getUint8(0);
  if (type < FRAME.OPEN || type > FRAME.WINDOW) return undefined;
  return { type: type as FrameType, stream: view.getUint32(1), payload: message.subarray(HEADER_BYTES) };
}

export function encodeWindow(stream: number, bytes: number): Uint8Array {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setUint32(0, bytes);
  return encodeFrame(FRAME.WINDOW, stream, payload);
}

export function windowOf(frame: Frame): number {
  return frame.payload.byteLength === 4 ? new DataView(frame.payload.buffer, frame.payload.byteOffset, 4).getUint32(0) : 0;
}

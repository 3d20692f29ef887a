// The protobuf wire format: varints, fixed-width numbers and length-delimited fields, read over one
// byte array (each malformed input a ProtobufError) and written into one growing buffer.

export class ProtobufError extends Error {
  override name = "ProtobufError";
}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export class ProtoReader {
  readonly bytes: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as an unsigned 64-bit BigInt; 10 bytes at most. */
  varintBig(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw new ProtobufError("truncated varint");
      const byte = this.bytes[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asUintN(64, result);
    }
    throw new ProtobufError("varint longer than 10 bytes");
  }

  /** A varint that must fit a JavaScript number exactly (tags, lengths, non-negative counts). */
  varint(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new ProtobufError("truncated varint");
      const byte = this.bytes[this.pos++]!;
      result += (byte & 0x7f) * multiplier;
      if (byte < 0x80) return result;
      multiplier *= 0x80;
    }
    this.pos -= 8;
    const big = this.varintBig();
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtobufError("varint out of range");
    return Number(big);
  }

  tag(): { field: number; wire: number } {
    const key = this.varint();
    const field = Math.floor(key / 8);
    if (field === 0) throw new ProtobufError("field number 0");
    return { field, wire: key % 8 };
  }

  /** The bounds of a length-delimited field's payload, consumed. */
  delimited(): { start: number; end: number } {
    const length = this.varint();
    const start = this.pos;
    if (length > this.end - start) throw new ProtobufError("truncated length-delimited field");
    this.pos = start + length;
    return { start, end: start + length };
  }

  bytesField(): Uint8Array {
    const { start, end } = this.delimited();
    return this.bytes.subarray(start, end);
  }

  string(): string {
    try {
      return utf8.decode(this.bytesField());
    } catch (e) {
      if (e instanceof ProtobufError) throw e;
      throw new ProtobufError("string field is not valid UTF-8");
    }
  }

  fixed(width: 4 | 8): DataView {
    if (this.end - this.pos < width) throw new ProtobufError("truncated fixed-width field");
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, width);
    this.pos += width;
    return view;
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT: this.varintBig(); return;
      case WIRE_FIXED64: this.fixed(8); return;
      case WIRE_BYTES: this.delimited(); return;
      case WIRE_FIXED32: this.fixed(4); return;
      default: throw new ProtobufError(`unsupported wire type ${wire}`);
    }
  }
}

const utf8Encoder = new TextEncoder();

/**
 * Writes the wire format into one growing buffer. A length-delimited field is opened with `fork`
 * (tag and a one-byte length placeholder) and closed with `join`, which widens the length in place
 * when the payload reached 128 bytes.
 */
export class ProtoWriter {
  private buffer: Uint8Array<ArrayBuffer> = new Uint8Array(1024);
  private pos = 0;

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.pos + bytes) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.pos));
    this.buffer = grown;
  }

  /** A non-negative integer below 2^53 as a varint. */
  varint(value: number): void {
    this.reserve(10);
    while (value >= 0x80) {
      this.buffer[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buffer[this.pos++] = value;
  }

  /** An integer as a 64-bit varint: negative numbers in two's complement, ten bytes. */
  int64(value: number): void {
    if (value >= 0) return this.varint(value);
    let big = BigInt.asUintN(64, BigInt(value));
    this.reserve(10);
    while (big >= 0x80n) {
      this.buffer[this.pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.buffer[this.pos++] = Number(big);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  fixed(width: 4 | 8, write: (view: DataView) => void): void {
    this.reserve(width);
    write(new DataView(this.buffer.buffer, this.buffer.byteOffset + this.pos, width));
    this.pos += width;
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WIRE_BYTES);
    this.varint(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.pos);
    this.pos += value.length;
  }

  string(field: number, value: string): void {
    const start = this.fork(field);
    this.reserve(value.length * 3);
    // ASCII byte by byte: cheaper than the encoder for the short strings objects are made of.
    let i = 0;
    for (; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code >= 0x80) break;
      this.buffer[this.pos++] = code;
    }
    if (i < value.length) this.pos += utf8Encoder.encodeInto(value.slice(i), this.buffer.subarray(this.pos)).written;
    this.join(start);
  }

  /** Opens a length-delimited field; returns where its length goes. */
  fork(field: number): number {
    this.tag(field, WIRE_BYTES);
    this.reserve(1);
    return this.pos++;
  }

  join(lengthAt: number): void {
    const length = this.pos - lengthAt - 1;
    if (length < 0x80) {
      this.buffer[lengthAt] = length;
      return;
    }
    let width = 1;
    for (let rest = length; rest >= 0x80; rest = Math.floor(rest / 0x80)) width++;
    this.reserve(width - 1);
    this.buffer.copyWithin(lengthAt + width, lengthAt + 1, this.pos);
    this.pos += width - 1;
    let at = lengthAt;
    let rest = length;
    for (; rest >= 0x80; rest = Math.floor(rest / 0x80)) this.buffer[at++] = (rest % 0x80) | 0x80;
    this.buffer[at] = rest;
  }

  raw(bytes: ArrayLike<number>): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  finish(): Uint8Array<ArrayBuffer> {
    return this.buffer.slice(0, this.pos);
  }
}

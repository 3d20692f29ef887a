// The protobuf wire format, read: varints, fixed-width numbers and length-delimited fields over one
// byte array, each malformed input a ProtobufError (shared by the decoder and its schema generator).

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

// A cheap test of an object's stored JSON before it is parsed: does its text hold every needle
// (`"nodeName":"node-1"`)? The apiserver writes values with JSON.stringify, so a field with a plain
// value always appears as `"key":"value"`; an object whose text lacks one cannot match a selector
// that requires it. Values are tested as bytes (read from the store) or as the base64 text the
// store's watch stream carries them in, without decoding: each needle is looked for in the three
// forms base64 gives it, by where it starts within a 3-byte group. A value that is not plain JSON
// (sealed at rest) always passes, to be parsed and checked as usual.
import { toBase64 } from "../../lib/etcd/gateway-json.ts";

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const OPEN_BRACE = 0x7b;
/** Base64 of `{"`, the start of every object JSON.stringify writes. */
const JSON_OBJECT_BASE64 = "ey";

/**
 * The base64 characters that only `needle`'s bytes determine, for each of the three offsets (mod 3)
 * at which it may start: wherever the needle is in the bytes, one of these is in their base64.
 */
function base64Forms(needle: Uint8Array): string[] {
  const forms: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const shifted = new Uint8Array(offset + needle.length);
    shifted.set(needle, offset);
    // Character j covers bits [6j, 6j+6): keep those inside the needle's bits [8·offset, 8·(offset+length)).
    const first = Math.ceil((8 * offset) / 6);
    const end = Math.floor((8 * (offset + needle.length)) / 6);
    forms.push(toBase64(shifted).slice(first, end));
  }
  return forms;
}

export class StoredTextFilter {
  private readonly needles: string[];
  private readonly forms: string[][];

  /** `needles`: texts every matching object's JSON holds (at least 3 bytes each). */
  constructor(needles: string[]) {
    if (needles.some((n) => utf8.encode(n).length < 3)) throw new RangeError("a needle must be at least 3 bytes");
    this.needles = needles;
    this.forms = needles.map((n) => base64Forms(utf8.encode(n)));
  }

  /** Whether stored bytes may hold an object that matches. */
  bytes(value: Uint8Array): boolean {
    if (value[0] !== OPEN_BRACE) return true;
    const text = utf8Decoder.decode(value);
    return this.needles.every((needle) => text.includes(needle));
  }

  /** The same for a value as base64 text (a false "may" is possible, a false "cannot" is not). */
  base64(text: string): boolean {
    if (!text.startsWith(JSON_OBJECT_BASE64)) return true;
    return this.forms.every((forms) => forms.some((form) => text.includes(form)));
  }
}

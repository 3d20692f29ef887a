// A cheap test of an object's stored JSON before it is parsed: does its text hold every needle
// (`"nodeName":"node-1"`)? The apiserver writes values with JSON.stringify, so a field with a plain
// value always appears as `"key":"value"`; an object whose text lacks one cannot match a selector
// that requires it. The apiserver applies it to what it lists; the store applies it to the events
// of a watch that names needles (`value_contains`), so it never sends what the watcher cannot want.
// A value that is not plain JSON (sealed at rest) always passes, to be parsed and checked as usual.

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const OPEN_BRACE = 0x7b;

export class StoredTextFilter {
  /** Texts every matching object's JSON holds (at least 3 bytes each). */
  readonly needles: readonly string[];

  constructor(needles: readonly string[]) {
    if (needles.some((n) => utf8.encode(n).length < 3)) throw new RangeError("a needle must be at least 3 bytes");
    this.needles = needles;
  }

  /** Whether stored bytes may hold an object that matches. */
  bytes(value: Uint8Array): boolean {
    return !isPlainJson(value) || this.text(utf8Decoder.decode(value));
  }

  /** The same for a plain JSON value already decoded (a watch decodes each value once for all its watchers). */
  text(text: string): boolean {
    return this.needles.every((needle) => text.includes(needle));
  }
}

/** Whether stored bytes are a JSON object as the apiserver writes them (not sealed at rest), which needles can rule out. */
export function isPlainJson(value: Uint8Array): boolean {
  return value[0] === OPEN_BRACE;
}

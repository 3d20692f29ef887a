// What the isolate's watch streams made of the latest events, shared between them: every apiserver
// watch in an isolate opens its own store stream (a stream belongs to the request that opened it),
// so an event many clients watch arrives once per watch; what is built from it (the parsed object,
// the line a client is sent) is the same for each and is built once. An entry is found by the
// store key and revision and answered only if the stored bytes it was made from are the same, so a
// revision that means something else (another cluster, a store restored from a snapshot) is never
// mistaken for it. Only the newest entries are kept: live watchers see an event within moments of
// each other, and catch-ups that come later build their own. Equal bytes make an equal result, so
// the key and revision only find the candidate.

/** How many entries a cache keeps; a pod's parsed object is ~10 KB of heap, its line ~2 KB. */
const DEFAULT_ENTRIES = 256;

interface Entry<T> {
  bytes: Uint8Array;
  value: T;
}

export class RecentValues<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(private readonly max = DEFAULT_ENTRIES) {}

  /** What was made from `bytes`, stored at `key` at `revision`, if it is still kept. */
  get(key: string, revision: number, bytes: Uint8Array): T | undefined {
    const entry = this.entries.get(entryKey(key, revision));
    return entry && sameBytes(entry.bytes, bytes) ? entry.value : undefined;
  }

  /** Keeps `value`, made from `bytes` stored at `key` at `revision`; answers it. */
  set(key: string, revision: number, bytes: Uint8Array, value: T): T {
    const k = entryKey(key, revision);
    this.entries.delete(k);
    // A copy: the bytes are often a view into a whole frame of events, which it would keep alive.
    this.entries.set(k, { bytes: bytes.slice(), value });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }
}

const entryKey = (key: string, revision: number) => `${revision}\0${key}`;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

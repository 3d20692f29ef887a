// etcd key-range rules: a key alone, [key, range_end), or every key from key on when range_end is "\0".

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}

/** The smallest key greater than every key that starts with `prefix` (etcd's clientv3.GetPrefixRangeEnd). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i]! += 1;
      return end;
    }
  }
  return new Uint8Array([0]); // all 0xff: no upper bound
}

/** A key range as the store reads it: `end` undefined means the single key; null means unbounded. */
export interface KeyRange {
  key: Uint8Array;
  end: Uint8Array | null | undefined;
}

export function keyRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyRange {
  if (!rangeEnd || rangeEnd.length === 0) return { key, end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { key, end: null };
  return { key, end: rangeEnd };
}

export function isInverted(range: KeyRange): boolean {
  return range.end != null && compareBytes(range.end, range.key) <= 0;
}

export function rangeContains(range: KeyRange, key: Uint8Array): boolean {
  if (range.end === undefined) return bytesEqual(range.key, key);
  if (compareBytes(key, range.key) < 0) return false;
  return range.end === null || compareBytes(key, range.end) < 0;
}

/** Whether two ranges share a key (etcd's interval check for duplicate keys in a txn). */
export function rangesOverlap(a: KeyRange, b: KeyRange): boolean {
  const aEnd = a.end === undefined ? null : a.end;
  const bEnd = b.end === undefined ? null : b.end;
  if (a.end === undefined) return rangeContains(b, a.key);
  if (b.end === undefined) return rangeContains(a, b.key);
  const aBeforeB = aEnd !== null && compareBytes(aEnd, b.key) <= 0;
  const bBeforeA = bEnd !== null && compareBytes(bEnd, a.key) <= 0;
  return !aBeforeB && !bBeforeA;
}

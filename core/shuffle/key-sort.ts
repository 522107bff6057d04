/**
 * Sorting records by their encoded key, stably. A comparator over strings costs about 100 ns a call,
 * which made sorting most of a map task's spill. Instead each record gets one number, a few leading
 * bytes of its key (after the bytes every key shares) above its index; a Float64Array of those sorts
 * in native code, and only records whose leading bytes tie are compared in full (then by index,
 * which keeps emit order among equal keys).
 */

/** Enough index bits for any buffer; the rest of a double's 53 bits hold key bytes. */
const WIDE = { indexBits: 29, keyBytes: 3 };
const NARROW = { indexBits: 21, keyBytes: 4 };
/** Keys compared past this many shared leading bytes still sort right, through the tie-break. */
const MAX_SHARED = 8;

export interface SortKeys {
  /** How many records. */
  readonly n: number;
  /** Byte `k` of record i's encoded key, or -1 past its end. */
  byte(i: number, k: number): number;
  /** Compares two records' whole encoded keys (byte order). */
  compare(i: number, j: number): number;
}

/** Record indices in key order, emit order among equal keys. */
export function keyOrder(keys: SortKeys): Int32Array {
  const n = keys.n;
  if (n < 2) return Int32Array.from({ length: n }, (_, i) => i);
  if (n >= 2 ** WIDE.indexBits) throw new RangeError(`${n} records are too many to sort at once; lower --sort-buffer`);
  const { indexBits, keyBytes } = n < 2 ** NARROW.indexBits ? NARROW : WIDE;
  const skip = sharedPrefix(keys);
  const scale = 2 ** indexBits;
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let k = 0; k < keyBytes; k++) v = v * 256 + Math.max(0, keys.byte(i, skip + k)); // a shorter key ties, then sorts first in full
    packed[i] = v * scale + i;
  }
  packed.sort();
  const order = new Int32Array(n);
  const tied: number[] = [];
  const byKey = (a: number, b: number) => keys.compare(a, b) || a - b;
  for (let i = 0; i < n; ) {
    const bytes = Math.floor(packed[i]! / scale);
    let j = i + 1;
    while (j < n && Math.floor(packed[j]! / scale) === bytes) j++;
    if (j - i === 1) order[i] = packed[i]! - bytes * scale;
    else {
      tied.length = 0;
      for (let k = i; k < j; k++) tied.push(packed[k]! - bytes * scale);
      tied.sort(byKey);
      for (let k = 0; k < tied.length; k++) order[i + k] = tied[k]!;
    }
    i = j;
  }
  return order;
}

/** How many leading bytes every key shares (up to MAX_SHARED: a type tag, a common prefix). */
function sharedPrefix(keys: SortKeys): number {
  let shared = 0;
  while (shared < MAX_SHARED && keys.byte(0, shared) >= 0) shared++;
  for (let i = 1; i < keys.n && shared > 0; i++) {
    let k = 0;
    while (k < shared && keys.byte(i, k) === keys.byte(0, k)) k++;
    shared = k;
  }
  return shared;
}

/**
 * Sorting records by their encoded key, stably. A comparator over strings costs about 100 ns a call,
 * which made sorting most of a map task's spill. Instead each record gets one number, a few leading
 * bytes of its key (after the bytes every key shares) above its index; an array of those sorts in
 * native code, and only records whose leading bytes tie are compared in full (then by index, which
 * keeps emit order among equal keys).
 */
import { SpareArray } from "../spare-buffer.js";
import { SheafError } from "../errors.js";

/**
 * Each record's sort word is 64 bits: four key bytes, then (below 2^24 records) a fifth key byte
 * and a 24-bit index, else a 32-bit index. BigUint64Array sorts them natively, about twice as fast
 * as the Float64Array of 53-bit words this used to sort; the words are written and read as 32-bit
 * halves, so no BigInt is made.
 */
const NARROW_BELOW = 1 << 24;
/** The words' array, kept between sorts (see SpareArray). */
const sparePacked = new SpareArray<BigUint64Array>();
/** Where a word's high and low halves sit among the Uint32Array's pairs. */
const [HI, LO] = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? [1, 0] : [0, 1];

export interface SortKeys {
  /** How many records. */
  readonly n: number;
  /** Byte `k` of record i's encoded key, or -1 past its end. */
  byte(i: number, k: number): number;
  /** Compares two records' whole encoded keys (byte order). */
  compare(i: number, j: number): number;
  /**
   * Each key's first HEAD_BYTES bytes, zero past its end, as two big-endian words per record (see
   * `keyHead`): read in place of `byte` where they reach, they spare a cache miss per record on keys
   * written long ago to a large buffer.
   */
  readonly head: Uint32Array;
}

/** Bytes of a key's head. Padding with zero keeps the order (no byte is below it); ties are compared in full. */
export const HEAD_BYTES = 8;

/** Writes the head of the key at bytes [at, at + length) as words `into[w]`, `into[w + 1]`. */
export function keyHead(bytes: Uint8Array, at: number, length: number, into: Uint32Array | Int32Array, w: number): void {
  let hi = 0, lo = 0;
  for (let k = 0; k < 4; k++) hi = (hi << 8) | (k < length ? bytes[at + k]! : 0);
  for (let k = 4; k < HEAD_BYTES; k++) lo = (lo << 8) | (k < length ? bytes[at + k]! : 0);
  into[w] = hi;
  into[w + 1] = lo;
}

/** Record indices in key order, emit order among equal keys. (`narrowBelow`: tests lower it, to sort with wide words.) */
export function keyOrder(keys: SortKeys, narrowBelow = NARROW_BELOW): Int32Array {
  const n = keys.n;
  if (n < 2) return Int32Array.from({ length: n }, (_, i) => i);
  if (n > 0xffffffff) throw new SheafError("BAD_OPTION", `${n} records are too many to sort at once; lower --sort-buffer`);
  const narrow = n < Math.min(narrowBelow, NARROW_BELOW);
  const head = keys.head;
  const skip = sharedHead(head, n);
  const packed = sparePacked.take(n)?.subarray(0, n) ?? new BigUint64Array(n);
  const words = new Uint32Array(packed.buffer, packed.byteOffset, 2 * n);
  // A shorter key reads as 0 past its end: it ties, then sorts first in full.
  const at = (i: number, k: number) => {
    const b = skip + k;
    if (b >= HEAD_BYTES) return Math.max(0, keys.byte(i, b));
    return (head[2 * i + (b >> 2)]! >>> (24 - 8 * (b & 3))) & 0xff;
  };
  for (let i = 0; i < n; i++) {
    words[2 * i + HI] = ((at(i, 0) << 24) | (at(i, 1) << 16) | (at(i, 2) << 8) | at(i, 3)) >>> 0;
    words[2 * i + LO] = narrow ? ((at(i, 4) << 24) | i) >>> 0 : i;
  }
  packed.sort();
  const giveBack = () => sparePacked.give(new BigUint64Array(packed.buffer)); // the whole array, for the next sort
  const order = new Int32Array(n);
  const indexMask = narrow ? NARROW_BELOW - 1 : 0xffffffff;
  const keyMask = narrow ? ~indexMask >>> 0 : 0;
  const tied: number[] = [];
  const byKey = (a: number, b: number) => keys.compare(a, b) || a - b;
  for (let i = 0; i < n; ) {
    const hi = words[2 * i + HI]!, lo = (words[2 * i + LO]! & keyMask) >>> 0;
    let j = i + 1;
    while (j < n && words[2 * j + HI] === hi && (words[2 * j + LO]! & keyMask) >>> 0 === lo) j++;
    if (j - i === 1) order[i] = (words[2 * i + LO]! & indexMask) >>> 0;
    else {
      tied.length = 0;
      for (let k = i; k < j; k++) tied.push((words[2 * k + LO]! & indexMask) >>> 0);
      tied.sort(byKey);
      for (let k = 0; k < tied.length; k++) order[i + k] = tied[k]!;
    }
    i = j;
  }
  giveBack();
  return order;
}

/**
 * How many leading bytes every key's head shares (a type tag, a common prefix; padding included, see
 * HEAD_BYTES): keys alike past them still sort right, through the tie-break.
 */
function sharedHead(head: Uint32Array, n: number): number {
  let hi = 0, lo = 0;
  for (let w = 2; w < 2 * n; w += 2) {
    hi |= head[w]! ^ head[0]!;
    lo |= head[w + 1]! ^ head[1]!;
  }
  return hi !== 0 ? Math.clz32(hi) >> 3 : lo !== 0 ? 4 + (Math.clz32(lo) >> 3) : HEAD_BYTES;
}

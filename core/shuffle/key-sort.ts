/**
 * Sorts records by their encoded key (a binary string: one char per byte), stably. A comparator
 * over strings costs about 100 ns a call, which made sorting most of a map task's spill. Instead
 * each record gets one number, a few leading bytes of its key (after the bytes every key shares)
 * above its index, and a Float64Array of those sorts in native code; only records whose leading
 * bytes tie are compared as strings (then by index, which keeps emit order among equal keys).
 */

/** Enough index bits for any buffer; the rest of a double's 53 bits hold key bytes. */
const WIDE = { indexBits: 29, keyBytes: 3 };
const NARROW = { indexBits: 21, keyBytes: 4 };

export function sortByKey<T extends { ek: string }>(items: T[]): T[] {
  const n = items.length;
  if (n < 2) return items;
  if (n >= 2 ** WIDE.indexBits) return items.sort(compareEk); // Array.prototype.sort is stable
  const { indexBits, keyBytes } = n < 2 ** NARROW.indexBits ? NARROW : WIDE;
  const skip = sharedPrefix(items);
  const scale = 2 ** indexBits;
  const order = new Float64Array(n);
  for (let i = 0; i < n; i++) order[i] = leading(items[i]!.ek, skip, keyBytes) * scale + i;
  order.sort();
  const out = new Array<T>(n);
  for (let i = 0; i < n; ) {
    // A run of records whose leading bytes tie: ordered by their whole keys, then by index.
    const bytes = Math.floor(order[i]! / scale);
    let j = i + 1;
    while (j < n && Math.floor(order[j]! / scale) === bytes) j++;
    if (j - i === 1) out[i] = items[order[i]! - bytes * scale]!;
    else {
      const tied: T[] = [];
      for (let k = i; k < j; k++) tied.push(items[order[k]! - bytes * scale]!);
      tied.sort(compareEk); // stable, and `tied` is in index order
      for (let k = 0; k < tied.length; k++) out[i + k] = tied[k]!;
    }
    i = j;
  }
  return out;
}

function compareEk(a: { ek: string }, b: { ek: string }): number {
  return a.ek < b.ek ? -1 : a.ek > b.ek ? 1 : 0;
}

/** How many leading chars every key shares (at most 8: a tag, a common prefix). */
function sharedPrefix(items: readonly { ek: string }[]): number {
  const first = items[0]!.ek;
  let shared = Math.min(first.length, 8);
  for (let i = 1; i < items.length && shared > 0; i++) {
    const ek = items[i]!.ek;
    let k = 0;
    while (k < shared && ek.charCodeAt(k) === first.charCodeAt(k)) k++;
    shared = k;
  }
  return shared;
}

/** `count` bytes of `ek` from `from`, big-endian, a missing byte as 0 (a shorter key ties, then sorts first as a string). */
function leading(ek: string, from: number, count: number): number {
  let v = 0;
  for (let k = 0; k < count; k++) {
    const c = from + k < ek.length ? ek.charCodeAt(from + k) : 0;
    v = v * 256 + c;
  }
  return v;
}

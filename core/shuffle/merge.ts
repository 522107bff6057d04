/**
 * K-way merge of sorted runs. Equal keys come out in run order (then record order within a run),
 * so the values of a key reach reduce by map task, then in the order they were emitted.
 */
import { decodeKey } from "../keys.js";
import type { Key } from "../api/types.js";
import type { RunReader } from "./run-reader.js";
import { CorruptSegmentError } from "./segment.js";

/** Decodes the merge's current key; an undecodable one is a corrupt run, blamed on the run it came from. */
export function decodeFrom(merger: Merger, encoded: string): Key {
  try {
    return decodeKey(encoded);
  } catch (err) {
    throw new CorruptSegmentError(merger.reader.segment, `undecodable key: ${(err as Error).message}`);
  }
}

/** Runs merged at once, at most: each holds an open file and a read buffer. */
export const MERGE_FAN_IN = 64;

export class Merger {
  private heap: number[] = [];
  private current = -1;

  constructor(private readonly readers: RunReader[]) {
    for (let i = 0; i < readers.length; i++) if (readers[i]!.next()) this.push(i);
  }

  /** Moves to the next record of the merged stream; false when every run is exhausted. */
  next(): boolean {
    if (this.current >= 0 && this.readers[this.current]!.next()) this.push(this.current);
    this.current = this.pop();
    return this.current >= 0;
  }

  /** The reader holding the current record. */
  get reader(): RunReader {
    return this.readers[this.current]!;
  }

  close(): void {
    for (const r of this.readers) r.close();
  }

  private less(a: number, b: number): boolean {
    const ra = this.readers[a]!, rb = this.readers[b]!;
    if (ra.head !== rb.head) return ra.head < rb.head;
    const ka = ra.key, kb = rb.key;
    return ka < kb || (ka === kb && a < b);
  }

  private push(i: number): void {
    const h = this.heap;
    let n = h.push(i) - 1;
    while (n > 0) {
      const parent = (n - 1) >> 1;
      if (!this.less(h[n]!, h[parent]!)) break;
      [h[n], h[parent]] = [h[parent]!, h[n]!];
      n = parent;
    }
  }

  private pop(): number {
    const h = this.heap;
    if (h.length === 0) return -1;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let n = 0;
      for (;;) {
        const l = 2 * n + 1, r = l + 1;
        let m = n;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === n) break;
        [h[n], h[m]] = [h[m]!, h[n]!];
        n = m;
      }
    }
    return top;
  }
}

/**
 * Walks a merged stream key by key. For each key, `values()` streams that key's values; whatever
 * the caller leaves unread is skipped when it moves to the next key.
 */
export class Grouper {
  private pending: boolean;
  private groupKey = "";
  private inGroup = false;

  constructor(private readonly merger: Merger) {
    this.pending = merger.next();
  }

  /** Moves to the next key; returns its encoding, or undefined at the end. */
  nextKey(): string | undefined {
    if (this.inGroup) while (this.pending && this.merger.reader.key === this.groupKey) this.pending = this.merger.next();
    if (!this.pending) return undefined;
    this.groupKey = this.merger.reader.key;
    this.inGroup = true;
    return this.groupKey;
  }

  /** The current key's values, decoded, as a one-pass iterable. */
  values(): Iterable<unknown> {
    return new KeyValues(this, this.groupKey, readValue);
  }

  /** The current key's values as raw bytes (valid only until the iterator moves on). */
  rawValues(): Iterable<Buffer> {
    return new KeyValues(this, this.groupKey, readRawValue);
  }

  /** The current record's reader, if it holds `key`'s next value. */
  at(key: string): RunReader | undefined {
    return this.pending && this.merger.reader.key === key ? this.merger.reader : undefined;
  }

  /** Moves past the current record. */
  advance(): void {
    this.pending = this.merger.next();
  }
}

const readValue = (r: RunReader): unknown => r.value();
const readRawValue = (r: RunReader): Buffer => r.rawValue();

/**
 * One key's values, bound to the key: kept past nextKey() it yields nothing, never another key's
 * values. An iterator object rather than a generator: a TeraSort reduce makes one per record, and
 * a generator's creation and resumptions were a twentieth of it.
 */
class KeyValues<T> implements IterableIterator<T> {
  /** A value was handed out: the merge moves past it when the next is asked for. */
  private handedOut = false;

  constructor(private readonly groups: Grouper, private readonly key: string, private readonly read: (r: RunReader) => T) {}

  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }

  next(): IteratorResult<T> {
    if (this.handedOut) {
      this.handedOut = false;
      if (this.groups.at(this.key)) this.groups.advance();
    }
    const reader = this.groups.at(this.key);
    if (!reader) return { value: undefined, done: true };
    this.handedOut = true;
    return { value: this.read(reader), done: false };
  }
}

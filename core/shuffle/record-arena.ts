/**
 * Map output pairs held as the bytes they will be written as (Hadoop's kvbuffer): all pairs of a
 * map without a combiner, and a combining map's table when it is written out. Each record
 * `varint keyLength, key, value` is appended to one growing buffer, plus six ints of metadata. A
 * pair as JS objects (the record, its key encoding, its value) took about 250 bytes for a 100-byte
 * record, and writing it out in key order touched three scattered objects per record; here a
 * record costs its bytes plus 24, and writing copies contiguous bytes.
 */
import type { RunWriter } from "./run-writer.js";
import { keyHead, keyOrder } from "./key-sort.js";
import { encodedValueSize, encodeValueInto, writeVarint } from "./values.js";
import { writeAsciiStringKey } from "../keys.js";
import { SpareArray, SpareBuffer } from "../spare-buffer.js";

/** Metadata per record: where it starts, where its key starts, the key's length, its partition, its key's head (two words, see keyHead). */
const META = 6;

/** Growing a fresh buffer to the budget for every task, by doubling, was a tenth of a TeraSort map task. */
const spare = new SpareBuffer();

/**
 * The metadata and writeTo's working arrays, kept the same way: allocated afresh, they were tens of
 * megabytes of new zeroed pages per TeraSort map task.
 */
const spareMeta = new SpareArray<Int32Array>();
const spareGrouped = new SpareArray<Int32Array>();
const spareRecs = new SpareArray<Int32Array>();
const spareHeads = new SpareArray<Uint32Array>();

/** Nothing held yet: an arena takes its memory on its first record (most tiny tasks emit none). */
const NONE: Buffer = Buffer.alloc(0);

/** The partition of a key encoded at [at, at + length) of `bytes`, whose default hash is `hash`. */
export type PartitionInPlace = (hash: number, bytes: Uint8Array, at: number, length: number) => number;

export class RecordArena {
  private bytes: Buffer = NONE;
  private used = 0;
  private meta: Int32Array = new Int32Array(0);
  count = 0;

  /** `budget`: the bytes the owner spills at, so that growing by doubling does not overshoot it by half. */
  constructor(private readonly budget: number) {}

  /** Hands the buffer on to the thread's next task (the arena is not used again). */
  release(): void {
    if (this.bytes !== NONE) spare.give(this.bytes);
    this.bytes = NONE;
    spareMeta.give(this.meta);
    this.meta = new Int32Array(0);
    this.clear();
  }

  /** Bytes held: the records and their metadata. */
  get size(): number {
    return this.used + this.count * META * 4;
  }

  add(ek: string, partition: number, value: unknown): void {
    const size = encodedValueSize(value);
    const keyAt = this.begin(ek.length, size);
    const buf = this.bytes;
    if (ek.length <= 32) for (let k = 0; k < ek.length; k++) buf[keyAt + k] = ek.charCodeAt(k);
    else buf.write(ek, keyAt, "latin1");
    this.end(keyAt, ek.length, partition, value, size);
  }

  /**
   * Adds a pair whose key is a plain ASCII string, encoding the key in place (no encoding string to
   * make) and partitioning it there; false, with nothing added, for any other string.
   */
  addAsciiKey(key: string, partitionOf: PartitionInPlace, value: unknown): boolean {
    const size = encodedValueSize(value);
    const keyLength = key.length + 3;
    const keyAt = this.begin(keyLength, size);
    const hash = writeAsciiStringKey(this.bytes, keyAt, key);
    if (hash < 0) return false;
    this.end(keyAt, keyLength, partitionOf(hash, this.bytes, keyAt, keyLength), value, size);
    return true;
  }

  /** Makes room for a record and writes its key's length; returns where its key goes. */
  private begin(keyLength: number, valueSize: number | Buffer): number {
    this.ensure(5 + keyLength + (typeof valueSize === "number" ? valueSize : valueSize.length + 6));
    return writeVarint(this.bytes, this.used, keyLength);
  }

  /** Writes the value after the key and records the record's metadata. */
  private end(keyAt: number, keyLength: number, partition: number, value: unknown, valueSize: number | Buffer): void {
    const start = this.used;
    this.used = encodeValueInto(this.bytes, keyAt + keyLength, value, typeof valueSize === "number" ? undefined : valueSize);
    if ((this.count + 1) * META > this.meta.length) {
      const bigger = spareMeta.take((this.count + 1) * META) ?? new Int32Array(Math.max(this.meta.length * 2, META << 8));
      bigger.set(this.meta.subarray(0, this.count * META));
      this.meta = bigger;
    }
    const m = this.count++ * META;
    this.meta[m] = start;
    this.meta[m + 1] = keyAt;
    this.meta[m + 2] = keyLength;
    this.meta[m + 3] = partition;
    keyHead(this.bytes, keyAt, keyLength, this.meta, m + 4); // while the key is in cache
  }

  /** Writes the records as one segment per partition, each sorted by key (emit order among equal keys). */
  writeTo(writer: RunWriter, partitions: number): ReturnType<RunWriter["endSegment"]>[] {
    const { meta, bytes } = this;
    // Group record indices by partition (counting sort; stable).
    const starts = new Int32Array(partitions + 1);
    for (let i = 0; i < this.count; i++) starts[meta[i * META + 3]! + 1]!++;
    for (let p = 0; p < partitions; p++) starts[p + 1]! += starts[p]!;
    const grouped = spareGrouped.take(this.count) ?? new Int32Array(this.count);
    const fill = starts.slice(0, partitions);
    for (let i = 0; i < this.count; i++) grouped[fill[meta[i * META + 3]!]!++] = i;

    // Each partition's records as [start, key start, key length, end], side by side: sorting and
    // copying then read a quarter of the metadata, in one place (a third faster for TeraSort).
    const segments = [];
    let most = 0;
    for (let p = 0; p < partitions; p++) most = Math.max(most, starts[p + 1]! - starts[p]!);
    const recs = spareRecs.take(most * 4) ?? new Int32Array(most * 4);
    const head = spareHeads.take(most * 2) ?? new Uint32Array(most * 2);
    for (let p = 0; p < partitions; p++) {
      const n = starts[p + 1]! - starts[p]!;
      for (let k = 0, r = 0; k < n; k++, r += 4) {
        const i = grouped[starts[p]! + k]!, m = i * META;
        recs[r] = meta[m]!;
        recs[r + 1] = meta[m + 1]!;
        recs[r + 2] = meta[m + 2]!;
        recs[r + 3] = i + 1 < this.count ? meta[m + META]! : this.used;
        head[2 * k] = meta[m + 4]!;
        head[2 * k + 1] = meta[m + 5]!;
      }
      const keyAt = (i: number) => recs[i * 4 + 1]!;
      const keyLen = (i: number) => recs[i * 4 + 2]!;
      const order = keyOrder({
        n,
        byte: (i, k) => (k < keyLen(i) ? bytes[keyAt(i) + k]! : -1),
        compare: (i, j) => bytes.compare(bytes, keyAt(j), keyAt(j) + keyLen(j), keyAt(i), keyAt(i) + keyLen(i)),
        head,
      });
      writer.beginSegment();
      for (let k = 0; k < n; k++) {
        const r = order[k]! * 4;
        writer.writeEncoded(bytes, recs[r]!, recs[r + 3]!);
      }
      segments.push(writer.endSegment());
    }
    spareGrouped.give(grouped);
    spareRecs.give(recs);
    spareHeads.give(head);
    return segments;
  }

  clear(): void {
    this.used = 0;
    this.count = 0;
  }

  private ensure(n: number): void {
    if (this.used + n <= this.bytes.length) return;
    if (this.bytes === NONE) {
      this.bytes = spare.take(n) ?? Buffer.allocUnsafe(Math.max(n, Math.min(1 << 20, this.budget + 64)));
      return;
    }
    const bigger = Buffer.allocUnsafe(Math.max(this.used + n, Math.min(this.bytes.length * 2, this.budget + 64)));
    this.bytes.copy(bigger, 0, 0, this.used);
    this.bytes = bigger;
  }
}

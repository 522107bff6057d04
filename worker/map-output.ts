/**
 * The map side of the shuffle: partitions emitted pairs, pre-aggregates them with the combiner,
 * and when the memory budget is reached sorts them and spills a run to disk. At the end the runs
 * merge into the task's one output file, one sorted segment per partition.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Key } from "../core/api/types.js";
import { encodeKey, hashEncodedKey } from "../core/keys.js";
import { RecordArena, type PartitionInPlace } from "../core/shuffle/record-arena.js";
import { RunWriter } from "../core/shuffle/run-writer.js";
import { MERGE_FAN_IN } from "../core/shuffle/merge.js";
import { mergeRuns, type Combiner, type RunFile } from "./run-merge.js";
import type { Partitioner } from "./user-code.js";

export interface MapOutputOptions {
  partitions: number;
  /** Memory budget for buffered pairs, in (estimated) bytes. */
  budget: number;
  /** Folder for spill files (the attempt's private scratch folder). */
  dir: string;
  /** Creates `dir`, called before each file written there: an attempt that writes none makes no folder. */
  makeDir?: () => void;
  partitioner?: Partitioner;
  combine?: Combiner;
  /** Runs already on disk, from the checkpoint this attempt resumes. */
  spills?: RunFile[];
}

/** How many values a key collects before the combiner folds them into one. */
const COMBINE_EVERY = 64;
const ENTRY_OVERHEAD = 96;
/** A string key's scalar accumulator held in the Map: its slot and the key's string. */
const SCALAR_SLOT = 48;

interface Entry {
  key: Key;
  /** The key's encoding. */
  ek: string;
  partition: number;
  /**
   * The key's values so far. While folding does not grow them (scalars: counts, sums, maxima; or
   * objects of a fixed size: a batch job's { n, sum } partials) each new one is folded in at once,
   * as Spark's reduceByKey does, and `acc` holds the one value; a fold that grows the value switches
   * the key to collecting `values`, folded every COMBINE_EVERY (a combiner that concatenates would
   * be quadratic if folded pair by pair). Objects collected until the task's end outlived the young
   * generation: a group-by over 10 M rows did three times the hand loop's full collections.
   */
  acc: unknown;
  values: unknown[] | undefined;
  bytes: number;
}

function isScalar(v: unknown): boolean {
  const t = typeof v;
  return t === "number" || t === "bigint" || t === "boolean";
}

export function estimateSize(v: unknown): number {
  switch (typeof v) {
    case "number": case "boolean": case "undefined": return 8;
    case "string": return 16 + v.length * 2;
    case "bigint": return 32;
    case "object": {
      if (v === null) return 8;
      let n = 32;
      if (Array.isArray(v)) for (const x of v) n += 8 + estimateSize(x);
      else for (const k in v) n += 16 + k.length * 2 + estimateSize((v as Record<string, unknown>)[k]);
      return n;
    }
    default: return 64;
  }
}

/** A string key's scalar accumulator (a count, a sum), kept in the Map itself, or its Entry. */
type StringSlot = number | bigint | boolean | Entry;

/** One level of the index of array keys (see `arrays`): an element to the next level, the last one to the key's Entry. */
type ArrayLevel = Map<unknown, ArrayLevel | Entry>;
/** What a level of the index holds per element, beside the Entry's own bytes. */
const LEVEL_SLOT = 64;

/** An element an array key can be indexed by: Map compares these as encodeKey does (0 and -0 alike, NaN equal to itself). */
function isFlatElement(k: unknown): boolean {
  const t = typeof k;
  return t === "string" || t === "number" || t === "boolean" || t === "bigint";
}

export class MapOutputBuffer {
  /**
   * With a combiner: pairs by string key, and by encoding for the other key types. A string key
   * whose values are scalars keeps its accumulator as the Map's value, as a hand-written counting
   * loop does: no entry object to reach per pair (its encoding and partition are computed when it
   * is written out, once per distinct key).
   */
  private strings = new Map<string, StringSlot>();
  private table = new Map<string, Entry>();
  /**
   * With a combiner: the entries of array keys of strings, numbers, booleans and bigints (a
   * composite key, e.g. [country, category]) by their elements, one Map level per element below
   * one per length; each entry is in `table` too. An emit of such a key then makes no encoding:
   * encoding it and hashing the string was most of an emit (a batch job's per-batch partials).
   */
  private arrays = new Map<number, ArrayLevel>();
  /** Without a combiner: pairs in emit order, as the bytes they will be written as. With one, where the table is sorted and written. */
  private arena: RecordArena;
  private used = 0;
  private spills: RunFile[] = [];
  records = 0;

  /** Partitions an ASCII string key's encoding as written into the arena (see `toArena`), when the partitioner can. */
  private readonly inPlace: PartitionInPlace | undefined;

  constructor(private readonly opts: MapOutputOptions) {
    this.spills = [...(opts.spills ?? [])];
    this.arena = new RecordArena(opts.budget);
    const { partitions, partitioner } = opts;
    const ofBytes = partitioner?.ofBytes;
    this.inPlace = !partitioner ? (hash) => hash % partitions : ofBytes ? (_hash, bytes, at, length) => ofBytes(bytes, at, length) : undefined;
  }

  /** The latest snapshot of the buffer (see `flushToDisk`), and how many were taken. */
  private snapshot: RunFile | undefined;
  private snapshots = 0;

  /**
   * Puts every pair added so far on disk, for a checkpoint; returns the runs that hold them. What is
   * buffered is written as a snapshot run but kept: a spill would cut map-side aggregation short (a
   * combining map over 100,000 words would write all of them again after every checkpoint), and
   * would leave runs to merge at the end, a second pass over the task's output. Each snapshot
   * replaces the previous one.
   */
  flushToDisk(): RunFile[] {
    if (this.used === 0) return [...this.spills];
    const previous = this.snapshot;
    this.snapshot = this.writeRun(join(this.opts.dir, `snapshot-${String(++this.snapshots).padStart(5, "0")}`));
    if (previous) rmSync(previous.path, { force: true }); // a checkpoint that named it holds a link of its own
    return [...this.spills, this.snapshot];
  }

  private dropSnapshot(): void {
    if (this.snapshot) rmSync(this.snapshot.path, { force: true });
    this.snapshot = undefined;
  }

  add(key: Key, value: unknown): void {
    this.records++;
    const combine = this.opts.combine;
    if (!combine) {
      this.toArena(key, value);
      this.used = this.arena.size;
    } else if (typeof key === "string") this.addString(key, value, combine);
    else if (!Array.isArray(key) || !this.addArray(key, value, combine)) {
      const ek = encodeKey(key);
      const e = this.table.get(ek);
      if (e === undefined) this.table.set(ek, this.newEntry(key, ek, value));
      else this.fold(e, value, combine);
    }
    if (this.used >= this.opts.budget) this.spill();
  }

  /** String keys (the common case) are looked up as they are: encoding happens once per distinct key. */
  private addString(key: string, value: unknown, combine: Combiner): void {
    const slot = this.strings.get(key);
    if (slot === undefined) {
      if (isScalar(value)) {
        this.strings.set(key, value as number);
        this.used += SCALAR_SLOT + 2 * key.length;
      } else this.strings.set(key, this.newEntry(key, encodeKey(key), value));
    } else if (typeof slot !== "object") {
      const pair = this.pair;
      pair[0] = slot;
      pair[1] = value;
      const folded = combine(key, pair);
      if (isScalar(folded)) this.strings.set(key, folded as number);
      else {
        // No longer scalars: the key gets an entry that collects its values.
        this.used -= SCALAR_SLOT + 2 * key.length;
        this.strings.set(key, this.newEntry(key, encodeKey(key), folded));
      }
    } else this.fold(slot, value, combine);
  }

  /** Adds a pair of an array key through the index of array keys; false, with nothing added, for a key it cannot index. */
  private addArray(key: readonly Key[], value: unknown, combine: Combiner): boolean {
    const n = key.length;
    if (n === 0) return false;
    for (let i = 0; i < n; i++) if (!isFlatElement(key[i])) return false;
    let level = this.arrays.get(n);
    if (level === undefined) this.arrays.set(n, (level = new Map()));
    for (let i = 0; i < n - 1; i++) {
      let next = level.get(key[i]) as ArrayLevel | undefined;
      if (next === undefined) {
        level.set(key[i], (next = new Map()));
        this.used += LEVEL_SLOT;
      }
      level = next;
    }
    const e = level.get(key[n - 1]) as Entry | undefined;
    if (e !== undefined) this.fold(e, value, combine);
    else {
      const ek = encodeKey(key);
      const entry = this.newEntry(key, ek, value);
      this.table.set(ek, entry);
      level.set(key[n - 1], entry);
      this.used += LEVEL_SLOT;
    }
    return true;
  }

  /** A key's entry holding its first value; its bytes are counted. */
  private newEntry(key: Key, ek: string, value: unknown): Entry {
    const e: Entry = { key, ek, partition: this.partition(key, ek), acc: value, values: undefined, bytes: ENTRY_OVERHEAD + ek.length + estimateSize(value) };
    this.used += e.bytes;
    return e;
  }

  /** Folds a value into a key's entry: at once while folding does not grow it, else collected. */
  private fold(e: Entry, value: unknown, combine: Combiner): void {
    if (e.values !== undefined) return this.collect(e, value, combine);
    const pair = this.pair;
    pair[0] = e.acc;
    pair[1] = value;
    const folded = combine(e.key, pair, e.ek);
    if (isScalar(folded)) {
      e.acc = folded;
      return;
    }
    const bytes = ENTRY_OVERHEAD + e.ek.length + estimateSize(folded);
    if (bytes <= e.bytes) {
      e.acc = folded;
      return;
    }
    e.values = [folded];
    e.acc = undefined;
    this.used += bytes - e.bytes;
    e.bytes = bytes;
  }

  /** Two values folded by the combiner: one array, reused. */
  private readonly pair: unknown[] = [undefined, undefined];

  /** Adds a value to a key that collects them, folding every COMBINE_EVERY. */
  private collect(e: Entry, value: unknown, combine: Combiner): void {
    const values = e.values!;
    values.push(value);
    const size = estimateSize(value);
    e.bytes += size;
    this.used += size;
    if (values.length >= COMBINE_EVERY) this.foldValues(e, combine);
  }

  /** A key's one value: its accumulator, or its values folded (kept so, should a snapshot write it again). */
  private folded(e: Entry, combine: Combiner): unknown {
    if (e.values === undefined) return e.acc;
    if (e.values.length > 1) this.foldValues(e, combine);
    return e.values[0];
  }

  /** Folds a collecting key's values into one. */
  private foldValues(e: Entry, combine: Combiner): void {
    const values = e.values!;
    const folded = combine(e.key, values, e.ek);
    values.length = 1; // keeps the array's storage for the next values
    values[0] = folded;
    const bytes = ENTRY_OVERHEAD + e.ek.length + estimateSize(folded);
    this.used += bytes - e.bytes;
    e.bytes = bytes;
  }

  /** Bytes buffered in memory (what a checkpoint's snapshot writes). */
  get buffered(): number {
    return this.used;
  }

  /** Runs spilled to disk so far (0 when everything fit in the budget). */
  spillCount = 0;

  /** Nothing was emitted, and nothing resumed: the task has no output to write. */
  get empty(): boolean {
    return this.records === 0 && this.spills.length === 0;
  }

  /** Writes the task's output file and removes the spills; returns its segments. */
  finish(path: string): RunFile {
    this.dropSnapshot();
    try {
      return this.spills.length === 0 ? this.writeRun(path) : this.mergeSpills(path);
    } finally {
      this.arena.release();
    }
  }

  /** Spills what is left, then merges every run into `path` (in passes of at most MERGE_FAN_IN). */
  private mergeSpills(path: string): RunFile {
    if (this.used > 0) this.spill();
    let runs = this.spills;
    let pass = 0;
    while (runs.length > MERGE_FAN_IN) {
      const merged = mergeRuns(runs.slice(0, MERGE_FAN_IN), this.opts.partitions, join(this.opts.dir, `merge-${pass++}`), this.opts.combine);
      for (const r of runs.slice(0, MERGE_FAN_IN)) rmSync(r.path, { force: true });
      runs = [merged, ...runs.slice(MERGE_FAN_IN)];
    }
    const out = mergeRuns(runs, this.opts.partitions, path, this.opts.combine);
    for (const r of runs) rmSync(r.path, { force: true });
    this.spills = [];
    return out;
  }

  /** Adds a pair to the arena: a plain ASCII string key encoded and partitioned in place where it can be, any other through encodeKey. */
  private toArena(key: Key, value: unknown): void {
    if (typeof key === "string" && this.inPlace && this.arena.addAsciiKey(key, this.inPlace, value)) return;
    const ek = encodeKey(key);
    this.arena.add(ek, this.partition(key, ek), value);
  }

  private partition(key: Key, ek: string): number {
    return this.opts.partitioner ? this.opts.partitioner(key, ek) : hashEncodedKey(ek) % this.opts.partitions;
  }

  private spill(): void {
    this.spillCount++;
    this.spills.push(this.writeRun(join(this.opts.dir, `spill-${String(this.spills.length).padStart(5, "0")}`)));
    this.dropSnapshot(); // the spill holds what it held
    this.strings = new Map();
    this.table = new Map();
    this.arrays = new Map();
    this.arena.clear();
    this.used = 0;
  }

  /** Sorts what is buffered by (partition, key), keeping emit order among equal keys, and writes it as one run; the buffer stays. */
  private writeRun(path: string): RunFile {
    const { partitions, combine } = this.opts;
    this.opts.makeDir?.();
    const writer = new RunWriter(path);
    const segments: RunFile["segments"] = [];
    try {
      if (combine) {
        // The table, one folded pair per key, goes through the arena (idle with a combiner) to be sorted and written.
        for (const [key, slot] of this.strings) {
          if (typeof slot === "object") this.arena.add(slot.ek, slot.partition, this.folded(slot, combine));
          else this.toArena(key, slot);
        }
        for (const e of this.table.values()) this.arena.add(e.ek, e.partition, this.folded(e, combine));
        segments.push(...this.arena.writeTo(writer, partitions));
        this.arena.clear();
      } else segments.push(...this.arena.writeTo(writer, partitions));
      writer.close();
    } catch (err) {
      writer.abandon();
      throw err;
    }
    return { path, segments };
  }
}

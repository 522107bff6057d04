/**
 * The one reader/writer interface every format implements (lines, jsonl, csv, arrow, parquet,
 * postgres). Map and reduce tasks call only these; `registry.ts` picks the implementation.
 */
import type { OutputLock } from "../output-writer-lock.js";
import type { RecordLocation } from "../api/types.js";
import type { Key } from "../api/types.js";
import type { InputFile } from "../inputs.js";
import type { Split } from "../splits.js";
import type { JobConfig, PartFile } from "../tasks.js";

/** A run of records read from a split; valid only during the callback that receives it. */
export interface ReadBatch {
  /** The records as `map` receives them (lines, JSON values, row objects). Columnar readers make them on first use. */
  readonly records: unknown[];
  /** What `mapBatch` receives: the records, or an apache-arrow RecordBatch for columnar inputs. */
  readonly batch: unknown;
  /** How many records the batch holds (without making them). */
  readonly length: number;
  /** Input bytes consumed through the end of this batch, counted from the start of this read. */
  readonly bytes: number;
  /** Where a read resumed after this batch continues: the fields to set on the split. */
  readonly resume: Partial<Split>;
  /** Where records[i] came from. */
  location(i: number): RecordLocation;
}

export interface ReadStats {
  bytes: number;
  records: number;
}

export interface ReadOptions {
  /** Relative paths of the split are resolved against it (the submitter's working directory). */
  cwd: string;
  /**
   * A record the reader cannot decode (a CSV row that does not parse, a value that does not fit
   * its column type): the reader reports it and goes on, unless this throws (no skip budget left).
   */
  onBadRecord(location: RecordLocation, message: string): void;
}

export interface InputReader {
  /**
   * Cuts the listed files (or, for a table source, the table) into splits. `parallelism`, when the
   * planner knows it (a local run's threads), is how many tasks can run at once: a reader that
   * groups whole units (row groups) groups no more than a fair share of them, as Spark does.
   */
  plan(files: readonly InputFile[], splitSize: number, cwd: string, parallelism?: number): Promise<Split[]>;
  /** Reads one split in batches; awaits `onBatch` when it returns a promise. */
  read(split: Split, onBatch: (batch: ReadBatch) => void | Promise<void>, options: ReadOptions): Promise<ReadStats>;
}

/** Whose part a writer writes: sinks name their staging by it. */
export interface WriteTarget {
  /** The part file's path (under the attempt's folder in `<output>/_temporary/`). */
  path: string;
  job: JobConfig;
  taskId: string;
  /** The attempt's unique name (`attempt-2-1a2b3c4d`). */
  attempt: string;
}

export interface WriteProgress {
  bytes: number;
  records: number;
}

export interface RecordWriter {
  /** Awaited when it returns a promise (a writer applying backpressure). */
  write(key: Key, value: unknown): void | Promise<void>;
  /** Bytes written so far, about. */
  readonly size: number;
  /** For a sink: where the part is staged (a table), reported as the part's path instead of the file. */
  readonly staged?: string;
  /**
   * Flushes and syncs, for a checkpoint: the durable prefix of the part. Undefined when the format
   * cannot continue a part from a prefix (columnar files, database staging): then the task
   * checkpoints nothing and a retry starts the part over.
   */
  sync(): WriteProgress | undefined;
  /** Finishes the part (a columnar footer, a COPY); returns what it holds. */
  close(): Promise<WriteProgress>;
  /** Drops what was written: a failed attempt leaves nothing behind. */
  abandon(): Promise<void>;
}

/**
 * Where committed parts go when the job commits. Files are renamed into the output folder
 * (engine/committer.ts); a sink such as PostgreSQL loads its staged parts in one transaction.
 */
export interface OutputSink {
  /** Checks the destination is reachable and fit before any task runs (a finished output is refused unless `overwrite`, where that applies). */
  check(overwrite?: boolean): Promise<void>;
  /**
   * Makes every committed part visible at once, exactly once per job: a second call for the same
   * job (a coordinator that resumed a half-done commit) changes nothing. A pipeline stage's
   * `fingerprint` is recorded in the same transaction, beside what it loaded.
   */
  commit(jobId: string, parts: readonly PartFile[], fingerprint?: string, afterStep?: (step: "parts" | "swapped") => void): Promise<void>;
  /**
   * The fingerprint of the load the destination still holds: the last one, if it recorded one and
   * the destination was not replaced since (a dropped, recreated or truncated table); else undefined.
   */
  committedFingerprint(): Promise<string | undefined>;
  /** Removes one losing attempt's staged part. */
  discard(part: PartFile): Promise<void>;
  /** Removes everything staged for the job; the destination stays as it was. */
  abort(jobId: string): Promise<void>;
  /** The destination's writer lock: one job writes it at a time. */
  lock(): OutputLock;
}

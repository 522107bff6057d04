/** A scalar or composite key. Keys have one total order, identical on every machine (see core/keys.ts). */
export type Key = string | number | bigint | boolean | readonly Key[];

/** Emits one key/value pair from map: a job with a reduce groups values, so every pair has one. */
export type Emit<K extends Key = Key, V = unknown> = (key: K, value: V) => void;

/**
 * Emits one output record from a map-only job: `emit(key, value)`, or `emit(key)` alone, which the
 * output writes as it would a key with no value (a line of `lines()`, a `key` row of `tsv()`).
 */
export type MapOnlyEmit<K extends Key = Key, V = unknown> = (key: K, value?: V) => void;

/** A named counter, summed over the committed attempts of a job. */
export interface Counter {
  inc(by?: number): void;
}

/** Where the record being processed came from. */
export interface RecordLocation {
  /** The input file, as listed by the planner. */
  file: string;
  /** Byte offset of the record's first byte in the file (for compressed input: in the decompressed stream). */
  offset: number;
  /** 1-based line number, when the input format counts lines (`lines({ lineNumbers: true })`, `csv()`). */
  line?: number;
  /** 0-based row number within the file or table, for tabular inputs that have no byte offsets (Arrow, Parquet, PostgreSQL). */
  row?: number;
}

/** What user code sees of the task it runs in. */
export interface TaskContext {
  /** Parameters from `--param k=v`. */
  readonly params: Readonly<Record<string, string>>;
  /** The task's id, unique within the job, e.g. `map-00017` or `reduce-00003`. */
  readonly taskId: string;
  /** The attempt number, from 1. */
  readonly attempt: number;
  /** The job's name. */
  readonly jobName: string;
  /** The record currently being mapped (map tasks only; undefined in reduce). */
  readonly input: RecordLocation | undefined;
  counter(name: string): Counter;
}

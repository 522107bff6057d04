import type { RecordBatch } from "apache-arrow";
import type { Emit, Key, MapOnlyEmit, TaskContext } from "./types.js";
import { lines, tsv, type BatchOf, type InputFormat, type LinesInput, type OutputFormat, type RecordOf } from "./formats.js";

/**
 * Anything but a promise, whose type becomes the message its error shows. An async `map` or
 * `reduce` is refused at run time (ASYNC_USER_CODE: one await per record would cost a microtask
 * each), so it is refused at compile time too. A `void` return type would not do: TypeScript lets
 * a `() => Promise<void>` stand for a `() => void`.
 */
export type Sync<T> = T extends PromiseLike<unknown> ? "map and reduce must be synchronous (ASYNC_USER_CODE): do async work in mapBatch, setup or cleanup" : T;

/**
 * What an annotation of `map`'s record may claim, per input format. Lines are strings; rows are
 * objects whose shape the reader does not check, so `map(o: Order)` stays an assertion the caller
 * makes (as before) while `map(line: string)` on Parquet input fails.
 */
export type RecordBound<F> = F extends { format: "lines" } ? string : F extends { format: "jsonl" } ? unknown : object;
/** The same for `mapBatch`: row arrays may be annotated with their row type; lines and Arrow batches (csv, arrow, parquet) are what they are. */
export type BatchBound<F> = F extends { format: "arrow" | "parquet" | "csv" } ? RecordBatch
  : F extends { format: "lines" } ? ReadonlyLines<BatchOf<F>>
  : F extends { format: "jsonl" } ? readonly unknown[] : readonly object[];
type ReadonlyLines<B> = B extends string[] ? readonly string[] : B;
// What F reads, as the defaults of R and B: Extract changes neither type, but lets TypeScript see it within its bound.
type RecordIn<F> = Extract<RecordOf<F>, RecordBound<F>>;
type BatchIn<F> = Extract<BatchOf<F>, BatchBound<F>>;

/** Fields every job has, whatever it does with its keys. */
interface JobFields<K extends Key, F extends InputFormat> {
  /** Shown in progress, status and errors. Letters, digits, `.`, `_` and `-`. */
  name: string;
  /** Types `map`'s record and `mapBatch`'s batch (see the format's own type). @defaultValue lines() */
  input?: F;
  /** @defaultValue tsv() */
  output?: OutputFormat;
  /** Number of reduce tasks. @defaultValue 4, on `sheaf run` and a cluster alike (`--partitions` overrides it) */
  partitions?: number;
  /**
   * Chooses a key's partition, an integer in [0, n). `"range"` gives a total order: partitions hold
   * key ranges whose boundaries are sampled from the input while planning (as Hadoop's
   * TotalOrderPartitioner), so the part files read in order are one sorted sequence.
   * @defaultValue a stable hash of the key's encoding
   */
  partitioner?: ((key: K, n: number) => number) | "range";
  /**
   * An attempt running longer than this (ms) is stopped, its thread terminated, and retried.
   * @defaultValue 1800000 (30 minutes)
   */
  taskTimeout?: number;
  /**
   * Records whose map throws that may be skipped, over the whole job; each is counted and listed in
   * `<output>/_bad_records`. One more fails the job. @defaultValue 0
   */
  skipBadRecords?: number;
  /**
   * Near the end of a stage, give a task running much longer than the others a backup attempt;
   * the first to commit wins. @defaultValue true
   */
  speculative?: boolean;
  /** Called once per task before its first record; an async one is awaited. */
  setup?: (ctx: TaskContext) => void | Promise<void>;
  /** Called once per task after its last record; an async one is awaited. */
  cleanup?: (ctx: TaskContext) => void | Promise<void>;
}

/** `map` or `mapBatch`, with the emit `E` of the job's kind; M is what map returns (never a promise). */
interface MapFunctions<R, B, E, M> {
  /** Called once per record (`R`: the input format's record); `emit` any number of times. Synchronous. */
  map?: (record: R, emit: E, ctx: TaskContext) => Sync<M>;
  /**
   * Instead of `map`: called once per batch (`B`: an array of records, the bytes of `lines({ raw:
   * true })`, or an apache-arrow `RecordBatch` for `arrow()` and `parquet()`). May be async: awaited.
   */
  mapBatch?: (batch: B, emit: E, ctx: TaskContext) => void | Promise<void>;
}

/**
 * A job as the user writes it: R is `map`'s record, B `mapBatch`'s batch, K and V the emitted key
 * and value, O what reduce returns, F the input format, M what map returns. Written as a type of
 * its own (`const spec: JobSpec<Row> = …`) it takes what it is given, B `any` unless named;
 * `defineJob` infers all of them from the spec.
 */
export interface JobSpec<R = any, K extends Key = any, V = any, O = any, B = any, F extends InputFormat = InputFormat, M = unknown>
  extends JobFields<K, F>, MapFunctions<R, B, Emit<K, V>, M> {
  /** Map-side pre-aggregation: may run zero or more times on any subset of a key's values. */
  combine?: (key: K, values: Iterable<V>, ctx: TaskContext) => V;
  /** Called once per key, in key order within a partition. Omit for a map-only job. `undefined` writes nothing. Synchronous. */
  reduce?: (key: K, values: Iterable<V>, ctx: TaskContext) => Sync<O> | undefined;
}

/** A job with a reduce: every emitted pair is grouped, so `emit(key, value)` needs its value. */
export interface MapReduceJobSpec<R = any, K extends Key = any, V = any, O = any, B = any, F extends InputFormat = InputFormat, M = unknown>
  extends JobSpec<R, K, V, O, B, F, M> {
  reduce: (key: K, values: Iterable<V>, ctx: TaskContext) => Sync<O> | undefined;
}

/** A map-only job: each `emit` writes one output record, and `emit(key)` alone is one too. */
export interface MapOnlyJobSpec<R = any, K extends Key = any, V = any, B = any, F extends InputFormat = InputFormat, M = unknown>
  extends JobFields<K, F>, MapFunctions<R, B, MapOnlyEmit<K, V>, M> {
  combine?: undefined;
  reduce?: undefined;
}

/** A validated job, as the default export of a job module. */
export interface Job<R = any, K extends Key = any, V = any, O = any, B = any> extends Readonly<JobSpec<R, K, V, O, B>> {
  readonly name: string;
  readonly input: InputFormat;
  readonly output: OutputFormat;
  readonly sheafJob: 1;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const FUNCTIONS = ["map", "mapBatch", "combine", "reduce", "setup", "cleanup"] as const;
const KNOWN = new Set<string>(["name", "input", "output", "partitions", "partitioner", "taskTimeout", "skipBadRecords", "speculative", ...FUNCTIONS]);
const INPUTS = new Set(["lines", "jsonl", "csv", "arrow", "parquet", "postgres"]);
const OUTPUTS = new Set(["tsv", "lines", "jsonl", "csv", "arrow", "parquet", "postgres"]);

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return `${typeof value} ${String(value)}`;
}

/**
 * Validates a job once, at the edge, with errors that name the field and what was expected.
 *
 * Typing: F is inferred from `input` (lines() when absent), and R and B default to what F reads,
 * so `map(record)` and `mapBatch(batch)` need no annotation; an annotation is checked against the
 * format's bound (RecordBound, BatchBound). The overloads are tried in order: a spec with a
 * `reduce` gets the emit that needs a value; one without gets the map-only emit. TypeScript skips
 * an overload whose required `reduce` is missing before it types any callback, so a map-only job
 * never sees the first overload's emit. The last overload takes a spec held in a `JobSpec`
 * variable, whose `reduce` is optional.
 */
export function defineJob<F extends InputFormat = LinesInput<string[]>, R extends RecordBound<F> = RecordIn<F>, B extends BatchBound<F> = BatchIn<F>, K extends Key = any, V = any, O = any, M = unknown>(
  spec: MapReduceJobSpec<R, K, V, O, B, F, M>,
): Job<R, K, V, O, B>;
export function defineJob<F extends InputFormat = LinesInput<string[]>, R extends RecordBound<F> = RecordIn<F>, B extends BatchBound<F> = BatchIn<F>, K extends Key = any, V = any, M = unknown>(
  spec: MapOnlyJobSpec<R, K, V, B, F, M>,
): Job<R, K, V, never, B>;
export function defineJob<F extends InputFormat = LinesInput<string[]>, R extends RecordBound<F> = RecordIn<F>, B extends BatchBound<F> = BatchIn<F>, K extends Key = any, V = any, O = any, M = unknown>(
  spec: JobSpec<R, K, V, O, B, F, M>,
): Job<R, K, V, O, B>;
export function defineJob(spec: JobSpec): Job {
  if (spec === null || typeof spec !== "object") throw new TypeError(`defineJob expects an object, got ${describe(spec)}`);
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new TypeError(`job.${field} must be ${expected}, got ${describe(got)}`);
  };
  for (const field of Object.keys(spec)) {
    // `sort: "none"` was accepted and ignored (grouping by key needs sorted keys): it is gone, and a job naming it learns why.
    if (field === "sort") throw new TypeError(`job.sort is no longer a job field: Sheaf always sorts each partition's keys (reduce groups by them), so sort: "none" changed nothing; remove it`);
    if (!KNOWN.has(field)) throw new TypeError(`job.${field} is not a job field (known: ${[...KNOWN].join(", ")})`);
  }
  if (typeof spec.name !== "string" || !NAME.test(spec.name)) fail("name", "a name of letters, digits, '.', '_' or '-'", spec.name);
  for (const f of FUNCTIONS) if (spec[f] !== undefined && typeof spec[f] !== "function") fail(f, "a function", spec[f]);
  if (!spec.map && !spec.mapBatch) throw new TypeError(`job "${spec.name}" needs a map or mapBatch function`);
  if (spec.map && spec.mapBatch) throw new TypeError(`job "${spec.name}" has both map and mapBatch: give one`);
  if (spec.combine && !spec.reduce) throw new TypeError(`job "${spec.name}" has combine but no reduce: a map-only job has nothing to combine`);
  if (spec.partitions !== undefined && !(Number.isInteger(spec.partitions) && spec.partitions >= 1 && spec.partitions <= 100_000)) {
    fail("partitions", "an integer from 1 to 100000", spec.partitions);
  }
  if (spec.partitioner !== undefined && spec.partitioner !== "range" && typeof spec.partitioner !== "function") fail("partitioner", `a function or "range"`, spec.partitioner);
  if (spec.taskTimeout !== undefined && !(Number.isInteger(spec.taskTimeout) && spec.taskTimeout >= 1)) fail("taskTimeout", "a positive integer of milliseconds", spec.taskTimeout);
  if (spec.skipBadRecords !== undefined && !(Number.isInteger(spec.skipBadRecords) && spec.skipBadRecords >= 0)) fail("skipBadRecords", "a non-negative integer", spec.skipBadRecords);
  if (spec.speculative !== undefined && typeof spec.speculative !== "boolean") fail("speculative", "true or false", spec.speculative);
  const input = spec.input ?? lines();
  if (typeof input !== "object" || input === null || !INPUTS.has((input as InputFormat).format)) {
    fail("input", `an input format (${[...INPUTS].map((f) => f + "()").join(", ")})`, input);
  }
  const output = spec.output ?? tsv();
  if (typeof output !== "object" || output === null || !OUTPUTS.has((output as OutputFormat).format)) {
    fail("output", `an output format (${[...OUTPUTS].map((f) => f + "()").join(", ")})`, output);
  }
  if (input.format === "postgres" && input.table === undefined && input.query === undefined) fail("input", "postgres({ table | query })", input);
  if (output.format === "postgres" && output.table === undefined) fail("output", "postgres({ table })", output);
  if (output.format === "postgres" && output.query !== undefined) fail("output", "postgres({ table }) without a query (a sink loads a table)", output);

  return Object.freeze({ ...spec, input, output, sheafJob: 1 as const });
}

/** True for the value `defineJob` returns (also across bundles, where classes differ). */
export function isJob(value: unknown): value is Job {
  return typeof value === "object" && value !== null && (value as { sheafJob?: unknown }).sheafJob === 1;
}

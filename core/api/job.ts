import type { Emit, Key, TaskContext } from "./types.js";
import { lines, tsv, type InputFormat, type OutputFormat } from "./formats.js";

/** A job as the user writes it. */
export interface JobSpec<R = any, K extends Key = any, V = any, O = any> {
  /** Shown in progress, status and errors. Letters, digits, `.`, `_` and `-`. */
  name: string;
  /** @defaultValue lines() */
  input?: InputFormat;
  /** Called once per record; `emit(key, value)` any number of times. */
  map?: (record: R, emit: Emit<K, V>, ctx: TaskContext) => void;
  /**
   * Instead of `map`: called once per batch of records: an array of records (lines, parsed JSON
   * values, CSV row objects), or an apache-arrow `RecordBatch` for `arrow()` and `parquet()` inputs.
   */
  mapBatch?: (records: any, emit: Emit<K, V>, ctx: TaskContext) => void | Promise<void>;
  /** Map-side pre-aggregation: may run zero or more times on any subset of a key's values. */
  combine?: (key: K, values: Iterable<V>, ctx: TaskContext) => V;
  /** Called once per key, in key order within a partition. Omit for a map-only job. `undefined` writes nothing. */
  reduce?: (key: K, values: Iterable<V>, ctx: TaskContext) => O | undefined;
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
  /**
   * `"none"` tells the engine the job does not need its keys sorted. Accepted as a hint: Sheaf
   * still sorts (grouping by key relies on it), so output is the same either way. @defaultValue "key"
   */
  sort?: "key" | "none";
  /** Called once per task before its first record; an async one is awaited. */
  setup?: (ctx: TaskContext) => void | Promise<void>;
  /** Called once per task after its last record; an async one is awaited. */
  cleanup?: (ctx: TaskContext) => void | Promise<void>;
}

/** A validated job, as the default export of a job module. */
export interface Job<R = any, K extends Key = any, V = any, O = any> extends Readonly<JobSpec<R, K, V, O>> {
  readonly name: string;
  readonly input: InputFormat;
  readonly output: OutputFormat;
  readonly sheafJob: 1;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const FUNCTIONS = ["map", "mapBatch", "combine", "reduce", "setup", "cleanup"] as const;
const KNOWN = new Set<string>(["name", "input", "output", "partitions", "partitioner", "taskTimeout", "skipBadRecords", "speculative", "sort", ...FUNCTIONS]);
const INPUTS = new Set(["lines", "jsonl", "csv", "arrow", "parquet", "postgres"]);
const OUTPUTS = new Set(["tsv", "lines", "jsonl", "csv", "arrow", "parquet", "postgres"]);

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return `${typeof value} ${String(value)}`;
}

/** Validates a job once, at the edge, with errors that name the field and what was expected. */
export function defineJob<R = any, K extends Key = any, V = any, O = any>(spec: JobSpec<R, K, V, O>): Job<R, K, V, O> {
  if (spec === null || typeof spec !== "object") throw new TypeError(`defineJob expects an object, got ${describe(spec)}`);
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new TypeError(`job.${field} must be ${expected}, got ${describe(got)}`);
  };
  for (const field of Object.keys(spec)) {
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
  if (spec.sort !== undefined && spec.sort !== "key" && spec.sort !== "none") fail("sort", `"key" or "none"`, spec.sort);
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

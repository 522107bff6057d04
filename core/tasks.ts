/** The messages between whoever schedules tasks and whoever runs them: plain data, structured-clone safe. */
import type { InputFormat, OutputFormat } from "./api/formats.js";
import type { RecordLocation } from "./api/types.js";
import type { JobId, TaskId } from "./ids.js";
import type { ReduceInputs } from "./shuffle/reduce-inputs.js";
import type { Split } from "./splits.js";

/** What every task of a job needs to know about the job. */
export interface JobConfig {
  jobId: JobId;
  name: string;
  /**
   * The sha256 of the bundled job module, never a path: workers load `<workdir>/artifacts/<sha256>.mjs`
   * and check its hash before importing it.
   */
  artifact: string;
  /** Absolute path of the shared work directory (artifacts, intermediate files). */
  workdir: string;
  params: Record<string, string>;
  /** The submitter's working directory: relative input paths are resolved against it. */
  cwd: string;
  /** Number of reduce partitions (0 for a map-only job). */
  partitions: number;
  /** Absolute path of the job's output folder (for a sink such as PostgreSQL: where attempts keep their scratch). */
  output: string;
  /** The job's input and output formats, as its module declares them. */
  formats: { input: InputFormat; output: OutputFormat };
  /** For a pipeline stage: its name (the artifact's default export is the pipeline), and the fingerprint its output records. */
  stage?: string;
  fingerprint?: string;
  /** Absolute path of the job's folder for intermediate files. */
  scratch: string;
  /**
   * `partitioner: "range"`: the sampled boundaries, key encodings (base64) in ascending order;
   * partition p holds the keys from boundary p-1 (inclusive) to boundary p (exclusive).
   */
  rangeBoundaries?: string[];
  /** Map-side sort buffer, in bytes: past it, sorted runs spill to disk. */
  sortBufferBytes: number;
  /** An attempt's deadline, in ms. */
  taskTimeoutMs: number;
  /** Bad records a task may skip (the job-wide limit; the driver enforces the total). */
  skipBadRecords: number;
  /** Backup attempts for stragglers near the end of a stage. */
  speculative: boolean;
  /** Tasks checkpoint after this many bytes (input for map, output for reduce)… */
  checkpointBytes: number;
  /** …or this many ms, whichever comes first… */
  checkpointMs: number;
  /**
   * …spending at most this share of a task's time on checkpoints (the default cadence: a combining
   * map's checkpoint writes its whole table). Absent when the user set the size, which then bounds
   * the work a retry redoes exactly.
   */
  checkpointShare?: number;
}

/** What every task message carries. */
interface TaskBase {
  job: JobConfig;
  taskId: TaskId;
  index: number;
  /**
   * The attempt number, from 1: failed attempts of the task that counted against its limit, plus 1.
   * A backup attempt and a re-run of a map task whose output was lost do not add to it.
   */
  attempt: number;
  /** A backup attempt for a straggler: its failure does not fail the task (the attempt it backs up goes on). */
  backup?: boolean;
  /**
   * Which run of the task this is, from 0: a backup attempt, a retry the scheduler decided on, or a
   * map task re-run because its output was lost.
   */
  copy?: number;
  /**
   * Unique name of a run after the first (copy > 0), so that a queue keys it apart from every
   * earlier run, those of a previous coordinator included. The first run has none: a resuming
   * coordinator must find the same queue job again.
   */
  runId?: string;
}

export interface MapTask extends TaskBase {
  kind: "map";
  split: Split;
}

export interface ReduceTask extends TaskBase {
  kind: "reduce";
  /** The committed map outputs, in map-task order: this partition's run of each is read through its segment index. */
  inputs: ReduceInputs;
}

export type Task = MapTask | ReduceTask;

export interface TaskStats {
  recordsIn: number;
  bytesIn: number;
  recordsOut: number;
  bytesOut: number;
  spills: number;
  millis: number;
  /** What a resumed attempt did not redo: input bytes (map) or keys (reduce) covered by its checkpoint. */
  resumed?: number;
}

/** A file written by an attempt, to be committed into the output (or a sink's staged part). */
export interface PartFile {
  /** Where the attempt wrote it (under `<output>/_temporary/`); for a sink, where it staged it (a table). */
  path: string;
  /** Its final name in the output folder. */
  name: string;
  bytes: number;
  records: number;
}

export interface TaskResult {
  kind: Task["kind"];
  taskId: TaskId;
  attempt: number;
  /**
   * Map tasks of a job with reduce: the map output file, and the CRC of its segment index (one
   * segment per partition, beside it). Absent when the task emitted nothing (stats.recordsOut 0):
   * it wrote no file, and reduce tasks skip it.
   */
  mapOutput?: { path: string; indexCrc: number };
  /** Reduce tasks, and map tasks of a map-only job. */
  part?: PartFile;
  counters: Record<string, number>;
  stats: TaskStats;
  /** Records skipped because map threw on them (with `skipBadRecords`). */
  badRecords?: BadRecord[];
}

export interface BadRecord {
  file: string;
  offset: number;
  line?: number;
  row?: number;
  error: string;
}

/** An error that crossed a thread or process boundary, as data. */
export interface TaskFailure {
  code: string;
  message: string;
  /** False when retrying cannot help (FatalError, a job module that does not load). */
  retryable: boolean;
  taskId: TaskId;
  attempt: number;
  /** The record being processed, when the error came from user code. */
  input?: RecordLocation & { key?: string };
  /** For map outputs found corrupt or missing: the map task to re-run, and the file that was lost. */
  producer?: TaskId;
  lost?: string;
  stack?: string;
}

export type TaskOutcome = { ok: true; result: TaskResult } | { ok: false; failure: TaskFailure };

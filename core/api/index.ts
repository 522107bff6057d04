/** The public API: what a job module imports `from "sheaf"`. Keep this free of engine internals. */
export { defineJob, isJob } from "./job.js";
export type { Job, JobSpec, MapReduceJobSpec, MapOnlyJobSpec, Sync, RecordBound, BatchBound } from "./job.js";
export { definePipeline, isPipeline } from "./pipeline.js";
export type { Pipeline, PipelineSpec, Stage, StageSpec } from "./pipeline.js";
export { lines, jsonl, tsv, csv, arrow, parquet, postgres } from "./formats.js";
export type {
  InputFormat,
  OutputFormat,
  LinesOptions,
  CsvOptions,
  ArrowOptions,
  ParquetOptions,
  ParquetCompression,
  PostgresOptions,
  ColumnType,
  Schema,
  ColumnValues,
  Row,
  CsvRow,
  RecordOf,
  BatchOf,
  Reads,
  LinesInput,
  JsonlFormat,
  CsvFormat,
  ArrowFormat,
  ParquetFormat,
  PostgresFormat,
} from "./formats.js";
export { sum, count, min, max, toArray } from "./helpers.js";
export { countWords } from "./words.js";
export { FatalError } from "./errors.js";
export type { Key, Emit, MapOnlyEmit, Counter, TaskContext, RecordLocation } from "./types.js";

/**
 * Picks the reader, writer and sink of a format. CSV, columnar and database formats are imported on
 * first use, so a text job never loads csv-parse, the Parquet wasm module or a PostgreSQL driver.
 */
import type { InputFormat, OutputFormat } from "../api/formats.js";
import type { InputReader, OutputSink, RecordWriter, WriteProgress, WriteTarget } from "./format.js";
import { LineWriter, csvLines, jsonlLine, plainLine, tsvLine } from "./output-writer.js";
import { textReader } from "./text.js";
import { folderLock, type OutputLock } from "../output-writer-lock.js";

export async function inputReader(format: InputFormat): Promise<InputReader> {
  switch (format.format) {
    case "lines":
    case "jsonl":
      return textReader(format);
    case "csv":
      return (await import("./csv.js")).csvReader(format);
    case "arrow":
      return (await import("./arrow.js")).arrowReader;
    case "parquet":
      return (await import("./parquet.js")).parquetReader(format.columns);
    case "postgres":
      return (await import("./postgres-source.js")).postgresReader(format);
  }
}

/**
 * Loads the modules a job's formats read and write with (csv-parse, apache-arrow, the Parquet wasm
 * module), ahead of its first task: a thread does it while the job is still being planned.
 */
export async function loadFormats(input: InputFormat, output: OutputFormat): Promise<void> {
  const modules: Promise<unknown>[] = [];
  if (input.format === "csv") modules.push(import("./csv.js"));
  for (const f of [input.format, output.format]) {
    if (f === "arrow") modules.push(import("./arrow.js"));
    if (f === "parquet") modules.push(import("./parquet.js"));
  }
  await Promise.all(modules);
}

/** True for inputs that read no files (a table source): a job with one needs no `--input`. */
export function readsFiles(format: InputFormat): boolean {
  return format.format !== "postgres";
}

/**
 * A writer for one part. With `from`, it continues a part a checkpoint kept (only formats whose
 * `sync()` returned progress are ever continued).
 */
export async function createRecordWriter(format: OutputFormat, target: WriteTarget, from?: WriteProgress): Promise<RecordWriter> {
  const { objectOutput } = target.job;
  if (objectOutput) return new (await import("../store/object-output.js")).ObjectPartWriter(await fileWriter(format, target), target, objectOutput);
  return fileWriter(format, target, from);
}

async function fileWriter(format: OutputFormat, target: WriteTarget, from?: WriteProgress): Promise<RecordWriter> {
  switch (format.format) {
    case "tsv":
      return new LineWriter(target.path, tsvLine, from);
    case "lines":
      return new LineWriter(target.path, plainLine, from);
    case "jsonl":
      return new LineWriter(target.path, jsonlLine, from);
    case "csv": {
      const { line, header } = csvLines(format, from && { path: target.path });
      return new LineWriter(target.path, line, from, header);
    }
    case "arrow":
      return (await import("./arrow.js")).createArrowWriter(format, target);
    case "parquet":
      return (await import("./parquet.js")).createParquetWriter(format, target);
    case "postgres":
      return (await import("./postgres-sink.js")).createPostgresWriter(format, target);
  }
}

/** The part files' extension: `part-00000.parquet`. */
export function extensionOf(format: OutputFormat): string {
  switch (format.format) {
    case "tsv":
    case "lines":
    case "postgres":
      return "";
    default:
      return `.${format.format}`;
  }
}

/**
 * The sink a job's committed parts are loaded into: a database's, or an object store's for files
 * written to `objectOutput` (s3://); undefined for files in an output folder.
 */
export async function outputSink(format: OutputFormat, objectOutput?: string): Promise<OutputSink | undefined> {
  if (objectOutput) return (await import("../store/object-output.js")).objectSink(objectOutput);
  if (format.format !== "postgres") return undefined;
  return (await import("./postgres-sink.js")).postgresSink(format);
}

/** The writer lock of a job's output: its folder's, or its sink's. */
export async function outputLock(format: OutputFormat, output: string, objectOutput?: string): Promise<OutputLock> {
  return writesFiles(format) && !objectOutput ? folderLock(output) : (await outputSink(format, objectOutput))!.lock();
}

/** True for outputs that write no files (a database sink): a job with one needs no `--output`. */
export function writesFiles(format: OutputFormat): boolean {
  return format.format !== "postgres";
}

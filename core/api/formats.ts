/**
 * Input and output formats are plain descriptors: the job artifact carries them as data,
 * and the engine that runs the job supplies the readers and writers (core/formats/).
 * Every descriptor is JSON-safe, so a plan stored in Redis carries it unchanged.
 */
import type { RecordBatch } from "apache-arrow";

/** The one column type vocabulary: CSV typing, output schemas, PostgreSQL tables. */
export type ColumnType = "string" | "int32" | "int64" | "float64" | "bool" | "date" | "timestamp";
export const COLUMN_TYPES: readonly ColumnType[] = ["string", "int32", "int64", "float64", "bool", "date", "timestamp"];

/** Column name → type, in column order. */
export type Schema = Readonly<Record<string, ColumnType>>;

/** What a column of each type holds in a row object (see the README's column types). */
export interface ColumnValues {
  string: string;
  int32: number;
  int64: bigint;
  float64: number;
  bool: boolean;
  date: Date;
  timestamp: Date;
}

/** A row of a table input: column name → value, as the reader decodes it. */
export type Row = Record<string, unknown>;

/**
 * A CSV row: the columns `columns` types hold their type, or null for a null text (`nullValues`,
 * an empty field by default); the other columns hold strings or null, typed `unknown` here because
 * an index signature cannot say "string" without clashing with the typed columns.
 */
export type CsvRow<C extends Schema = {}> = { [K in keyof C]: ColumnValues[C[K]] | null } & Row;

/**
 * Type-only, never set at run time: what an input hands `map` (one record) and `mapBatch` (one
 * batch). It rides on the descriptor so `defineJob` can type both from `input` alone; a symbol key
 * keeps it out of JSON and out of the way of the descriptor's real fields.
 */
declare const reads: unique symbol;
export interface Reads<R, B> {
  readonly [reads]?: { readonly record: R; readonly batch: B };
}

export interface LinesOptions {
  /**
   * Give each record its 1-based line number in `ctx.input.line`. Costs one extra scan of each
   * file while planning (to count the lines before each split).
   * @defaultValue false
   */
  lineNumbers?: boolean;
  /**
   * The fast path for hot jobs: `mapBatch` receives each batch as raw bytes, a `Uint8Array` of
   * whole lines (terminators included, 16 MiB or so), instead of an array of strings; pair it with
   * a byte-level helper such as `countWords`. `map` still receives one string per line.
   * @defaultValue false
   */
  raw?: boolean;
}

/** `lines()`: `map` gets a string; `mapBatch` gets `B`, the lines as strings, or as bytes with `raw`. */
export interface LinesInput<B extends string[] | Uint8Array = string[] | Uint8Array> extends Reads<string, B> {
  readonly format: "lines";
  readonly lineNumbers: boolean;
  readonly raw?: boolean;
}
/** `jsonl<T>()`: each record is a parsed JSON value, `unknown` unless `T` asserts its shape. */
export interface JsonlFormat<T = unknown> extends Reads<T, T[]> {
  readonly format: "jsonl";
}

export interface CsvOptions<C extends Schema = Schema> {
  /** Input: the first line of each file names the columns. Output: write a header line. @defaultValue true */
  header?: boolean;
  /** One character. @defaultValue "," */
  delimiter?: string;
  /** Input: types of the named columns (the others stay strings). Without a header, names every column in order. */
  columns?: C;
  /** Input: quoted fields may hold newlines; each file is read as one split. @defaultValue false */
  multiline?: boolean;
  /** Input: field texts read as null, in every column, compared exactly (after unquoting), e.g. `["", "NULL"]`. @defaultValue [""] */
  nullValues?: readonly string[];
  /** Output: the columns and their types, in order. @defaultValue inferred from the first row */
  schema?: Schema;
}
/** `csv()`: `map` gets a row object, `mapBatch` an apache-arrow RecordBatch (typed columns as declared, the others Utf8). */
export interface CsvFormat<R = Row> extends Reads<R, RecordBatch> {
  readonly format: "csv";
  readonly header: boolean;
  readonly delimiter: string;
  readonly columns: Schema;
  readonly multiline: boolean;
  /** Absent for the default, `[""]`: a format written before the option fingerprints as it did. */
  readonly nullValues?: readonly string[];
  readonly schema?: Schema;
}

export interface ArrowOptions {
  /** Output: the columns and their types, in order. @defaultValue inferred from the first row */
  schema?: Schema;
}
/** `arrow<R>()`: `map` gets a row object (R asserts its shape), `mapBatch` an apache-arrow RecordBatch. */
export interface ArrowFormat<R = Row> extends Reads<R, RecordBatch> {
  readonly format: "arrow";
  readonly schema?: Schema;
}

export type ParquetCompression = "zstd" | "snappy" | "gzip" | "lz4" | "none";
export interface ParquetOptions {
  /** Input: read only these columns (the others are not decoded). @defaultValue every column */
  columns?: readonly string[];
  /** Output codec. @defaultValue "zstd" */
  compression?: ParquetCompression;
  /** Output: the columns and their types, in order. @defaultValue inferred from the first row */
  schema?: Schema;
}
/** `parquet<R>()`: `map` gets a row object (R asserts its shape), `mapBatch` an apache-arrow RecordBatch. */
export interface ParquetFormat<R = Row> extends Reads<R, RecordBatch> {
  readonly format: "parquet";
  readonly columns?: readonly string[];
  readonly compression: ParquetCompression;
  readonly schema?: Schema;
}

export interface PostgresOptions {
  /** Connection URL. @defaultValue `DATABASE_URL`, else the standard `PG*` variables */
  url?: string;
  /** Source: the table to read. Sink: the table to load (created from the schema when absent). */
  table?: string;
  /** Source: a query to read instead of a table. */
  query?: string;
  /** Source: an integer column whose value ranges cut the input into tasks. */
  splitBy?: string;
  /** Source, with splitBy: how many tasks. @defaultValue 4 */
  splits?: number;
  /** Sink: replace the table's rows, append to them, or merge on `key`. @defaultValue "replace" */
  mode?: "replace" | "append" | "upsert";
  /** Sink, upsert: the column (or columns) rows are matched on. */
  key?: string | readonly string[];
  /** Sink: the columns and their types, in order. @defaultValue the table's, else inferred from the first row */
  schema?: Schema;
  /**
   * Sink: the table recording each load (its job, rows, outcome and, for a pipeline stage, the
   * fingerprint a rerun skips on). @defaultValue `sheaf_loads` in the target table's schema
   */
  loadsTable?: string;
}
/** `postgres<R>()` as a source: `map` gets a row object (R asserts its shape), `mapBatch` an array of them. */
export interface PostgresFormat<R = Row> extends Reads<R, R[]> {
  readonly format: "postgres";
  readonly url?: string;
  readonly table?: string;
  readonly query?: string;
  readonly splitBy?: string;
  readonly splits: number;
  readonly mode: "replace" | "append" | "upsert";
  readonly key?: readonly string[];
  readonly schema?: Schema;
  readonly loadsTable?: string;
}

export interface TsvOutput {
  readonly format: "tsv";
}

// `any` row types: a descriptor of any row type is an input (its type only ever narrows user code).
export type InputFormat = LinesInput | JsonlFormat<any> | CsvFormat<any> | ArrowFormat<any> | ParquetFormat<any> | PostgresFormat<any>;
/** As an output, `lines()` writes each value as one line as it is (a string; anything else as JSON), and no key. */
export type OutputFormat = TsvOutput | LinesInput | JsonlFormat<any> | CsvFormat<any> | ArrowFormat<any> | ParquetFormat<any> | PostgresFormat<any>;

/** The record `map` gets from an input format. */
export type RecordOf<F> = F extends Reads<infer R, unknown> ? R : never;
/** The batch `mapBatch` gets from an input format. */
export type BatchOf<F> = F extends Reads<unknown, infer B> ? B : never;
/** @deprecated the name of JsonlFormat used as an input */
export type JsonlInput = JsonlFormat;
/** @deprecated the name of JsonlFormat used as an output */
export type JsonlOutput = JsonlFormat;

const IDENT = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

function fail(fn: string, field: string, expected: string, got: unknown): never {
  throw new TypeError(`${fn}: ${field} must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
}

function checkKeys(fn: string, options: object, known: readonly string[]): void {
  for (const k of Object.keys(options)) if (!known.includes(k)) throw new TypeError(`${fn}: unknown option ${k} (known: ${known.join(", ")})`);
}

/** Checks a schema's shape: every column a name with a type of the vocabulary. */
export function checkSchema(fn: string, field: string, schema: unknown): Schema | undefined {
  if (schema === undefined) return undefined;
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) fail(fn, field, "an object of column: type", schema);
  const entries = Object.entries(schema as object);
  if (field === "schema" && entries.length === 0) fail(fn, field, "at least one column", schema);
  for (const [name, type] of entries) {
    if (!COLUMN_TYPES.includes(type as ColumnType)) fail(fn, `${field}.${name}`, `one of ${COLUMN_TYPES.join(", ")}`, type);
  }
  return Object.freeze({ ...(schema as Schema) });
}

/** One record per text line (without its terminator), splittable by byte range. */
export function lines(options: LinesOptions & { raw: true }): LinesInput<Uint8Array>;
export function lines(options?: LinesOptions & { raw?: false }): LinesInput<string[]>;
export function lines(options?: LinesOptions): LinesInput;
export function lines(options: LinesOptions = {}): LinesInput {
  checkKeys("lines()", options, ["lineNumbers", "raw"]);
  if (options.raw !== undefined && typeof options.raw !== "boolean") fail("lines()", "raw", "true or false", options.raw);
  return { format: "lines", lineNumbers: options.lineNumbers === true, ...(options.raw ? { raw: true } : {}) };
}

/** One JSON value per line: as an input, each parsed line is a record; as an output, `{"key":…,"value":…}` per line. */
export function jsonl<T = unknown>(): JsonlFormat<T> {
  return { format: "jsonl" };
}

/** key<TAB>value per line; a composite key takes one column per element. */
export function tsv(): TsvOutput {
  return { format: "tsv" };
}

/** RFC 4180 CSV: as an input, one row object per line (typed by `columns`); as an output, one line per row. */
export function csv<const C extends Schema = {}>(options: CsvOptions<C> = {}): CsvFormat<CsvRow<C>> {
  checkKeys("csv()", options, ["header", "delimiter", "columns", "multiline", "nullValues", "schema"]);
  const { header = true, delimiter = ",", multiline = false } = options;
  if (typeof header !== "boolean") fail("csv()", "header", "true or false", header);
  if (typeof multiline !== "boolean") fail("csv()", "multiline", "true or false", multiline);
  if (typeof delimiter !== "string" || delimiter.length !== 1 || delimiter === '"' || delimiter === "\n" || delimiter === "\r") {
    fail("csv()", "delimiter", "one character other than a quote or a newline", delimiter);
  }
  const columns = checkSchema("csv()", "columns", options.columns) ?? {};
  const schema = checkSchema("csv()", "schema", options.schema);
  const { nullValues } = options;
  if (nullValues !== undefined && (!Array.isArray(nullValues) || nullValues.some((v) => typeof v !== "string"))) fail("csv()", "nullValues", "a list of strings", nullValues);
  const nulls = nullValues && !(nullValues.length === 1 && nullValues[0] === "") ? { nullValues: Object.freeze([...nullValues]) } : {};
  return { format: "csv", header, delimiter, columns, multiline, ...nulls, ...(schema ? { schema } : {}) };
}

/** Arrow IPC: as an input, files in the file or stream format, split by record batch; as an output, IPC files. */
export function arrow<R = Row>(options: ArrowOptions = {}): ArrowFormat<R> {
  checkKeys("arrow()", options, ["schema"]);
  const schema = checkSchema("arrow()", "schema", options.schema);
  return { format: "arrow", ...(schema ? { schema } : {}) };
}

/** Parquet: as an input, any codec, split by row group; as an output, `compression` (zstd) files. */
export function parquet<R = Row>(options: ParquetOptions = {}): ParquetFormat<R> {
  checkKeys("parquet()", options, ["columns", "compression", "schema"]);
  const columns = options.columns === undefined ? undefined : [...options.columns];
  if (columns && (columns.length === 0 || columns.some((c) => typeof c !== "string" || c === ""))) fail("parquet()", "columns", "a list of column names", options.columns);
  const compression = options.compression ?? "zstd";
  if (!["zstd", "snappy", "gzip", "lz4", "none"].includes(compression)) fail("parquet()", "compression", `"zstd", "snappy", "gzip", "lz4" or "none"`, compression);
  const schema = checkSchema("parquet()", "schema", options.schema);
  return { format: "parquet", ...(columns ? { columns } : {}), compression, ...(schema ? { schema } : {}) };
}

/**
 * PostgreSQL: as an input, a table or query read as rows, cut into `splits` tasks by ranges of
 * `splitBy`; as an output, a table loaded all or nothing when the job commits.
 */
export function postgres<R = Row>(options: PostgresOptions): PostgresFormat<R> {
  if (options === null || typeof options !== "object") fail("postgres()", "options", "an object", options);
  checkKeys("postgres()", options, ["url", "table", "query", "splitBy", "splits", "mode", "key", "schema", "loadsTable"]);
  const { url, table, query, splitBy, splits = 4, mode = "replace", loadsTable } = options;
  if (loadsTable !== undefined && (typeof loadsTable !== "string" || !IDENT.test(loadsTable))) fail("postgres()", "loadsTable", "a table name (schema.table allowed)", loadsTable);
  if (url !== undefined && typeof url !== "string") fail("postgres()", "url", "a connection URL", url);
  if (table !== undefined && (typeof table !== "string" || !IDENT.test(table))) fail("postgres()", "table", "a table name (schema.table allowed)", table);
  if (query !== undefined && (typeof query !== "string" || query.trim() === "")) fail("postgres()", "query", "an SQL query", query);
  if (table === undefined && query === undefined) throw new TypeError("postgres(): give a table (or, for a source, a query)");
  if (table !== undefined && query !== undefined) throw new TypeError("postgres(): give a table or a query, not both");
  if (splitBy !== undefined && (typeof splitBy !== "string" || !IDENT.test(splitBy))) fail("postgres()", "splitBy", "a column name", splitBy);
  if (!Number.isInteger(splits) || splits < 1 || splits > 10_000) fail("postgres()", "splits", "an integer from 1 to 10000", splits);
  if (!["replace", "append", "upsert"].includes(mode)) fail("postgres()", "mode", `"replace", "append" or "upsert"`, mode);
  const key = options.key === undefined ? undefined : typeof options.key === "string" ? [options.key] : [...options.key];
  if (key && (key.length === 0 || key.some((k) => typeof k !== "string" || !IDENT.test(k)))) fail("postgres()", "key", "a column name or a list of them", options.key);
  if (mode === "upsert" && !key) throw new TypeError(`postgres(): mode "upsert" needs a key`);
  const schema = checkSchema("postgres()", "schema", options.schema);
  return {
    format: "postgres",
    ...(url !== undefined ? { url } : {}),
    ...(table !== undefined ? { table } : {}),
    ...(query !== undefined ? { query } : {}),
    ...(splitBy !== undefined ? { splitBy } : {}),
    splits,
    mode,
    ...(key ? { key } : {}),
    ...(schema ? { schema } : {}),
    ...(loadsTable !== undefined ? { loadsTable } : {}),
  };
}

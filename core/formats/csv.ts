/**
 * `csv()` input (RFC 4180: quoted fields, `""` escapes, CRLF). Without `multiline`, a record is a
 * line: files are cut into byte-range splits like `lines()`, and each batch of lines is parsed from
 * its bytes straight into Arrow columns (csv-scan.ts): `mapBatch` gets that RecordBatch, `map` row
 * objects made from it. With `multiline` (a quoted field may hold newlines: each file is one split)
 * or a delimiter of more than one byte, csv-parse reads the rows, and the batch is made from them.
 * The header (first line of each file) names the columns; `columns` types them.
 */
import { createReadStream, closeSync, openSync, readSync } from "node:fs";
import { Readable } from "node:stream";
import { resolve } from "node:path";
import { constants as zlibConstants, createGunzip, gunzipSync } from "node:zlib";
import { parse as parseStream, type Info } from "csv-parse";
import { parse as parseSync } from "csv-parse/sync";
import type { ColumnType, CsvFormat } from "../api/formats.js";
import type { RecordLocation } from "../api/types.js";
import { SheafError, messageOf } from "../errors.js";
import { closest } from "../did-you-mean.js";
import type { Split } from "../splits.js";
import type { InputReader, ReadBatch, ReadOptions } from "./format.js";
import { ValueError, parseValue } from "./csv-values.js";
import { isGzip } from "./gzip-lines.js";
import type { LineBatch } from "./line-reader.js";
import { lineLocation, planTextSplits, readLineBatches } from "./text.js";
import { isObjectUrl } from "../store/location.js";
import { readBytes, readRange } from "../store/s3.js";
import type { RecordBatch } from "apache-arrow";
import { ArrowBatchBuilder, batchRows } from "./arrow-rows.js";
import { CsvLineParser, CsvShape, type RowPlaces } from "./csv-scan.js";
import { LineCounter } from "./line-count.js";

const MULTILINE_BATCH = 4096;
/**
 * Bytes of whole lines parsed into one record batch (about 12k rows of the benchmark's orders), as
 * `lines()` reads them: 4 MiB measured no faster, and a checkpoint may follow any batch.
 */
const CSV_BATCH_BYTES = 1 << 20;

/** Column names and types of a file, and how to turn a parsed record into a row object. */
class RowShape {
  readonly types: (ColumnType | undefined)[];
  /** The field texts read as null; undefined for the default, the empty field alone (a cheaper test). */
  private readonly nulls: Set<string> | undefined;
  constructor(readonly names: string[], format: CsvFormat) {
    this.types = names.map((n) => format.columns[n]);
    if (format.nullValues) this.nulls = new Set(format.nullValues);
  }
  /** A row object, or a message saying why the fields do not make one. */
  toRow(fields: string[]): Record<string, unknown> | string {
    const { names, types } = this;
    if (fields.length !== names.length) return `expected ${names.length} fields, got ${fields.length}`;
    const row: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) {
      const text = fields[i]!;
      const type = types[i];
      if (this.nulls ? this.nulls.has(text) : text === "") row[names[i]!] = null;
      else if (type === undefined || type === "string") row[names[i]!] = text;
      else {
        try {
          row[names[i]!] = parseValue(type, text);
        } catch (err) {
          if (!(err instanceof ValueError)) throw err;
          return `column ${names[i]}: ${JSON.stringify(text.length > 60 ? text.slice(0, 60) + "…" : text)} ${err.message}`;
        }
      }
    }
    return row;
  }
}

/** Rows read by csv-parse; `mapBatch` gets them as a record batch, as from the bytes reader. */
class CsvBatch implements ReadBatch {
  private columns: RecordBatch | undefined;
  constructor(
    readonly records: unknown[],
    private readonly locations: (i: number) => RecordLocation,
    readonly bytes: number,
    readonly resume: Partial<Split>,
    private readonly shape: () => RowShape | undefined,
  ) {}
  get batch(): RecordBatch {
    return (this.columns ??= rowsToBatch(this.shape(), this.records as Record<string, unknown>[]));
  }
  get length(): number {
    return this.records.length;
  }
  location(i: number): RecordLocation {
    return this.locations(i);
  }
}

/** A record batch of rows already typed by RowShape (all of a file's columns, strings where untyped). */
function rowsToBatch(shape: RowShape | undefined, rows: Record<string, unknown>[]): RecordBatch {
  const names = shape?.names ?? [];
  const schema = Object.fromEntries(names.map((n, j) => [n, shape!.types[j] ?? "string"]));
  const builder = new ArrowBatchBuilder(schema);
  const cols = Object.keys(schema);
  for (const row of rows) builder.append(cols.map((c) => row[c] ?? null));
  return builder.flush();
}

/** A batch parsed from bytes into Arrow columns; row objects are made only if `map` asks for them. */
class CsvColumnBatch implements ReadBatch {
  private rows: unknown[] | undefined;
  constructor(
    readonly batch: RecordBatch,
    private readonly places: RowPlaces,
    /** The file offset and line number (when counted) of the batch's region. */
    private readonly offset: number,
    private readonly firstLine: number | undefined,
    private readonly file: string,
    readonly bytes: number,
    readonly resume: Partial<Split>,
    private readonly lineAt: ((offset: number) => number) | undefined,
  ) {}
  get records(): unknown[] {
    return (this.rows ??= batchRows(this.batch));
  }
  get length(): number {
    return this.batch.numRows;
  }
  location(i: number): RecordLocation {
    const offset = this.offset + this.places.offsets[i]!;
    const loc: RecordLocation = { file: this.file, offset };
    if (this.firstLine !== undefined) loc.line = this.firstLine + this.places.lines[i]!;
    else if (this.lineAt) loc.line = this.lineAt(offset);
    return loc;
  }}

export function csvReader(format: CsvFormat): InputReader {
  const options = { delimiter: format.delimiter, record_delimiter: ["\r\n", "\n"], skip_empty_lines: true, relax_column_count: true };
  const parseOne = (text: string | Buffer): string[][] => parseSync(text, options) as string[][];
  const bytesReader = Buffer.byteLength(format.delimiter) === 1;

  /** The names of a file's columns: its header, else `columns` in order, then `_c<i>` as Spark names them. */
  const namesOf = (header: string[] | undefined, width: number): string[] => {
    if (header) return header;
    const declared = Object.keys(format.columns);
    return Array.from({ length: width }, (_, i) => declared[i] ?? `_c${i}`);
  };

  return {
    async plan(files, splitSize, cwd) {
      await checkDeclaredColumns(format, files, cwd, parseOne);
      if (format.multiline) return files.filter((f) => f.size > 0).map((f) => ({ file: f.path, start: 0, end: f.size, unit: "whole" as const, bytes: f.size }));
      // The bytes reader counts lines only when it names one (line-count.ts); csv-parse's path counts them here.
      return planTextSplits(files, splitSize, !bytesReader, cwd);
    },

    async read(split, onBatch, opts) {
      if (format.multiline) return readMultiline(split, format, onBatch, opts, namesOf);
      if (bytesReader) return readColumns(split, format, onBatch, opts, namesOf, parseOne);
      let shape: RowShape | undefined;
      const headerFromFile = format.header && split.unit !== "whole" && split.start > 0 ? await readHeader(split.file, opts.cwd, parseOne) : undefined;
      if (headerFromFile) shape = new RowShape(headerFromFile, format);
      let records = 0;
      // A resumed gzip split starts past its header: read it first (readLineBatches' callback is synchronous on the hot path).
      const resumedHeader = format.header && (split.skip ?? 0) > 0 ? await readHeader(split.file, opts.cwd, parseOne) : undefined;
      const stats = await readLineBatches(split, opts.cwd, (lines, bytes, resume) => {
        let first = 0;
        if (format.header && !shape) {
          // This split holds the file's first line: the header.
          if ((lines.firstLine ?? 1) === 1 && lines.lines.length > 0 && (split.skip ?? 0) === 0) {
            shape = new RowShape(parseOne(lines.lines[0]!)[0] ?? [], format);
            first = 1;
          } else if ((split.skip ?? 0) > 0) {
            shape = new RowShape(resumedHeader ?? [], format);
          }
        }
        const { rows, index } = parseLines(lines, first, split.file, opts, parseOne, (width) => (shape ??= new RowShape(namesOf(undefined, width), format)));
        records += rows.length;
        return onBatch(new CsvBatch(rows, (i) => lineLocation(lines, split.file, index[i]!), bytes, resume, () => shape));
      });
      return { bytes: stats.bytes, records };
    },
  };
}

/** A split of whole-line records, parsed from bytes into Arrow columns batch by batch. */
async function readColumns(
  split: Split,
  format: CsvFormat,
  onBatch: (b: ReadBatch) => void | Promise<void>,
  opts: ReadOptions,
  namesOf: (header: string[] | undefined, width: number) => string[],
  parseOne: (text: string | Buffer) => string[][],
) {
  const skip = split.skip ?? 0;
  let shape: CsvShape | undefined;
  // A split past the file's start, or a resumed gzip split, reads the header from the file's first line.
  if (format.header && ((split.unit !== "whole" && split.start > 0) || skip > 0)) shape = new CsvShape(await readHeader(split.file, opts.cwd, parseOne), format.columns);
  // Lines of a local file not counted at planning are counted when a location needs one (an object's records carry byte offsets only).
  const counter = split.firstLine === undefined && !isObjectUrl(split.file) ? new LineCounter(resolve(opts.cwd, split.file)) : undefined;
  const lineAt = counter && ((offset: number) => counter.lineAt(offset));
  const parser = new CsvLineParser({
    delimiter: Buffer.from(format.delimiter)[0]!,
    nulls: format.nullValues?.map((t) => Buffer.from(t)),
    problem: (line) => lineProblem(line, parseOne),
    bad: opts.onBadRecord,
    lineAt,
  });
  const shapeFor = (width: number) => (shape ??= new CsvShape(namesOf(undefined, width), format.columns));
  let records = 0;
  const stats = await readLineBatches(split, opts.cwd, (lines, bytes, resume) => {
    const region = lines.region;
    let from = 0;
    let fromLine = 0;
    if (format.header && !shape && (lines.firstLine ?? 1) === 1 && region.length > 0) {
      // This split holds the file's first line: the header.
      const nl = region.indexOf(10);
      const end = nl < 0 ? region.length : nl;
      shape = new CsvShape(parseOne(region.toString("utf8", 0, end).replace(/\r$/, ""))[0] ?? [], format.columns);
      from = nl < 0 ? region.length : nl + 1;
      fromLine = 1;
    }
    const places: RowPlaces = { offsets: [], lines: [] };
    const { rows } = parser.parse(region, from, lines.offset, lines.firstLine, fromLine, split.file, shapeFor, places);
    records += rows;
    const batch = (shape ?? new CsvShape([], {})).columns.finish(rows);
    return onBatch(new CsvColumnBatch(batch, places, lines.offset, lines.firstLine, split.file, bytes, resume, lineAt));
  }, true, CSV_BATCH_BYTES);
  return { bytes: stats.bytes, records };
}

/** Why csv-parse refuses one line (the bytes reader found it bad: both name it alike). */
function lineProblem(line: Buffer, parseOne: (text: string | Buffer) => string[][]): string {
  try {
    const parsed = parseOne(line.toString("utf8"));
    if (parsed.length !== 1) return "a quoted field runs past the end of the line (use csv({ multiline: true }) for fields with line breaks)";
  } catch (err) {
    return csvProblem(err);
  }
  return "the line does not parse as CSV (a quote inside a field that does not start with one?)";
}

/**
 * Parses lines [first, end) of a batch into rows: one csv-parse call for the batch, and line by
 * line only when that call fails or a quote swallowed a line break, so a bad row names its line.
 */
function parseLines(
  lines: LineBatch,
  first: number,
  file: string,
  opts: ReadOptions,
  parseOne: (text: string | Buffer) => string[][],
  shapeFor: (width: number) => RowShape,
): { rows: unknown[]; index: number[] } {
  const text = lines.lines;
  const index: number[] = [];
  for (let i = first; i < text.length; i++) if (text[i] !== "") index.push(i);
  let records: string[][] | undefined;
  try {
    const region = first === 0 ? lines.region : lines.region.subarray(lines.offsetOf(first) - lines.offset);
    records = parseOne(region);
    if (records.length !== index.length) records = undefined;
  } catch {
    records = undefined;
  }
  const rows: unknown[] = [];
  const kept: number[] = [];
  const bad = (i: number, why: string) => opts.onBadRecord(lineLocation(lines, file, i), `bad CSV row: ${why}`);
  for (let r = 0; r < index.length; r++) {
    const i = index[r]!;
    let fields: string[] | undefined = records?.[r];
    if (!fields) {
      try {
        const parsed = parseOne(text[i]!);
        if (parsed.length !== 1) { bad(i, "a quoted field runs past the end of the line (use csv({ multiline: true }) for fields with line breaks)"); continue; }
        fields = parsed[0]!;
      } catch (err) {
        bad(i, csvProblem(err));
        continue;
      }
    }
    const row = shapeFor(fields.length).toRow(fields);
    if (typeof row === "string") { bad(i, row); continue; }
    rows.push(row);
    kept.push(i);
  }
  return { rows, index: kept };
}

/** What csv-parse found wrong with one line, without its line count (the caller names the line). */
function csvProblem(err: unknown): string {
  if ((err as { code?: string }).code === "CSV_QUOTE_NOT_CLOSED") return "a quoted field is not closed";
  return messageOf(err).replace(/ at line \d+/, "");
}

/**
 * Refuses, when planning, a typed column that a file's header does not have: it would stay an
 * untyped string in every row (`amout: "float64"` left `amount` a string, compared as text).
 */
async function checkDeclaredColumns(format: CsvFormat, files: readonly { path: string; size: number }[], cwd: string, parseOne: (text: string) => string[][]): Promise<void> {
  const declared = Object.keys(format.columns);
  if (!format.header || declared.length === 0) return;
  for (const f of files) {
    if (f.size === 0) continue;
    const header = await readHeader(f.path, cwd, parseOne);
    const missing = declared.filter((c) => !header.includes(c));
    if (missing.length === 0) continue;
    const meant = missing.map((m) => [m, closest(m, header)] as const).filter(([, c]) => c !== undefined);
    const hint = meant.length ? `; did you mean ${meant.map(([m, c]) => `${c} (for ${m})`).join(", ")}?` : "";
    throw new SheafError("BAD_COLUMNS", `csv() columns ${missing.join(", ")} are not in the header of ${f.path} (${header.join(", ")})${hint}`);
  }
}

/** The header of a file, read from its first line (splits other than the first need it too). */
async function readHeader(file: string, cwd: string, parseOne: (text: string) => string[][]): Promise<string[]> {
  const object = isObjectUrl(file);
  const fd = object ? -1 : openSync(resolve(cwd, file), "r");
  try {
    const chunks: Buffer[] = [];
    const buf = Buffer.allocUnsafe(1 << 16);
    for (let pos = 0; ; ) {
      const n = object ? (await readBytes(file, pos, pos + buf.length)).copy(buf) : readSync(fd, buf, 0, buf.length, pos);
      const nl = buf.subarray(0, n).indexOf(10);
      chunks.push(Buffer.from(buf.subarray(0, nl >= 0 && !isGzip(file) ? nl : n)));
      if (nl >= 0 || n === 0 || isGzip(file)) break;
      pos += n;
    }
    let head = Buffer.concat(chunks);
    if (isGzip(file)) {
      // A resumed gzip split: decompress just the start (a partial stream, flushed as far as it goes).
      head = gunzipSync(head.subarray(0, 1 << 16), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      const nl = head.indexOf(10);
      if (nl >= 0) head = head.subarray(0, nl);
    }
    return parseOne(head.toString("utf8").replace(/\r$/, ""))[0] ?? [];
  } finally {
    if (!object) closeSync(fd);
  }
}


/** A whole file (plain or gzip) whose quoted fields may hold line breaks, as a csv-parse stream. */
async function readMultiline(
  split: Split,
  format: CsvFormat,
  onBatch: (b: ReadBatch) => void | Promise<void>,
  opts: ReadOptions,
  namesOf: (header: string[] | undefined, width: number) => string[],
) {
  const source: Readable = isObjectUrl(split.file) ? ((await readRange(split.file, 0, split.end)) ?? Readable.from([])) : createReadStream(resolve(opts.cwd, split.file));
  let bytesRead = 0;
  source.on("data", (c: Buffer) => void (bytesRead += c.length));
  const skipErrors: { err: Error; line: number }[] = [];
  const parser = parseStream({
    delimiter: format.delimiter,
    record_delimiter: ["\r\n", "\n"],
    skip_empty_lines: true,
    relax_column_count: true,
    info: true,
    skip_records_with_error: true,
    on_skip: (err: Error | undefined) => void (err && skipErrors.push({ err, line: (err as { lines?: number }).lines ?? 0 })),
  });
  const input = isGzip(split.file) ? source.pipe(createGunzip()) : source;
  input.on("error", (err: Error) => parser.destroy(err));
  input.pipe(parser);
  let shape: RowShape | undefined;
  let rows: unknown[] = [];
  let locs: RecordLocation[] = [];
  let seen = 0; // data records so far, for skip
  let records = 0;
  let lastBytes = 0;
  let lastLine = 0;
  const skip = split.skip ?? 0;
  const flush = async () => {
    if (rows.length === 0 && seen <= skip) return;
    const batchLocs = locs;
    const batch = new CsvBatch(rows, (i) => batchLocs[i]!, bytesRead, { skip: seen }, () => shape);
    records += rows.length;
    rows = [];
    locs = [];
    await onBatch(batch);
  };
  const reportSkips = () => {
    for (const { err, line } of skipErrors.splice(0)) opts.onBadRecord({ file: split.file, offset: lastBytes, line }, `bad CSV row: ${csvProblem(err)}`);
  };
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      reportSkips();
      const loc: RecordLocation = { file: split.file, offset: lastBytes, line: lastLine + 1 };
      lastBytes = info.bytes;
      lastLine = info.lines;
      if (!shape) {
        shape = new RowShape(namesOf(format.header ? record : undefined, record.length), format);
        if (format.header) continue;
      }
      if (++seen <= skip) continue;
      const row = shape.toRow(record);
      if (typeof row === "string") opts.onBadRecord(loc, `bad CSV row: ${row}`);
      else {
        rows.push(row);
        locs.push(loc);
      }
      if (rows.length >= MULTILINE_BATCH) await flush();
    }
    reportSkips();
    await flush();
  } catch (err) {
    if (err instanceof SheafError) throw err;
    const code = (err as { code?: string }).code;
    if (code === "CSV_QUOTE_NOT_CLOSED" || code?.startsWith("CSV_")) {
      opts.onBadRecord({ file: split.file, offset: lastBytes, line: lastLine + 1 }, `bad CSV row: ${csvProblem(err)}`);
      await flush();
    } else if (code === "ENOENT") throw new SheafError("MISSING_INPUT", `input not found: ${split.file}`);
    else if (code?.startsWith("Z_")) throw new SheafError("BAD_INPUT", `${split.file} is not a valid gzip file: ${messageOf(err)}`);
    else throw err;
  } finally {
    source.destroy();
  }
  return { bytes: bytesRead, records };
}

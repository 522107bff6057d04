/** Line-oriented outputs: tsv, jsonl and csv, written by one buffered LineWriter that can continue a part from a checkpoint. */
import { diskFull } from "../errors.js";
import { closeSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import type { CsvFormat } from "../api/formats.js";
import type { Key } from "../api/types.js";
import { formatLine, formatName, formatValue } from "./csv-values.js";
import type { RecordWriter, WriteProgress } from "./format.js";
import { asRow, fitRow, inferSchema } from "./schema.js";

/**
 * Turns one output record into its line, without the newline (the writer adds it as a byte: `line +
 * "\n"` made a string of each line only to copy it again), or undefined for none.
 */
export type LineFormat = (key: Key, value: unknown) => string | undefined;

const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n" };
const NEEDS_ESCAPE = /[\\\t\n]/;

function tsvField(v: unknown): string {
  switch (typeof v) {
    case "string": return NEEDS_ESCAPE.test(v) ? v.replace(/[\\\t\n]/g, (c) => ESCAPES[c]!) : v;
    case "number": case "bigint": case "boolean": return String(v);
    case "undefined": return "";
    default: return tsvField(json(v));
  }
}

/** Compact JSON; bigints become their decimal digits (JSON has no bigint). */
function json(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)) ?? "null";
}

export function tsvLine(key: Key, value: unknown): string {
  let out = Array.isArray(key) ? key.map(tsvField).join("\t") : tsvField(key);
  if (value !== undefined) out += "\t" + tsvField(value);
  return out;
}

/** `lines()` as an output: the value as it is (a string holding newlines writes several lines), never the key. */
export function plainLine(_key: Key, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : json(value);
}

export function jsonlLine(key: Key, value: unknown): string {
  return value === undefined ? `{"key":${json(key)}}` : `{"key":${json(key)},"value":${json(value)}}`;
}

const FLUSH_AT = 1 << 20;

/**
 * CSV lines in the schema's column order, after a header line. The header is written with the
 * first row (or at close, for an empty part with a declared schema); a part continued from a
 * checkpoint already holds it, and its column names are read back from the file.
 */
export function csvLines(format: CsvFormat, continued?: { path: string }): { line: LineFormat; header(): string | undefined } {
  let schema = format.schema;
  let names = schema ? Object.keys(schema) : undefined;
  let headerDue = format.header && !continued;
  if (continued && !schema) names = readFirstLine(continued.path)?.split(format.delimiter);
  const header = (): string | undefined => {
    if (!headerDue || !names) return undefined;
    headerDue = false;
    return formatLine(names.map((n) => formatName(n, format.delimiter)), format.delimiter);
  };
  const line: LineFormat = (key, value) => {
    const row = asRow(key, value);
    if (!schema) {
      schema = inferSchema(row, key);
      if (!names) names = Object.keys(schema);
      else schema = Object.fromEntries(names.map((n) => [n, schema![n] ?? "string"]));
    }
    const values = fitRow(schema, names!, row, key);
    const fields = values.map((v, i) => formatValue(schema![names![i]!]!, v, format.delimiter));
    const text = formatLine(fields, format.delimiter);
    const head = header();
    return head === undefined ? text : `${head}\n${text}`;
  };
  return { line, header };
}

function readFirstLine(path: string): string | undefined {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(1 << 16);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const nl = buf.subarray(0, n).indexOf(10);
    return nl < 0 ? undefined : buf.toString("utf8", 0, nl);
  } finally {
    closeSync(fd);
  }
}

export class LineWriter implements RecordWriter {
  private fd: number;
  /**
   * Lines as UTF-8, written as they come into one reused buffer. Joining a megabyte of line strings
   * (each a concatenation: key, value, newline) and encoding the join was a tenth of a TeraSort reduce.
   */
  private buf = Buffer.allocUnsafe(FLUSH_AT);
  private pos = 0;
  private bytes = 0;
  private records = 0;

  constructor(private readonly path: string, private readonly line: LineFormat, from?: WriteProgress, private readonly trailer?: () => string | undefined) {
    this.fd = openSync(path, from ? "a" : "w");
    this.bytes = from?.bytes ?? 0;
    this.records = from?.records ?? 0;
  }

  get size(): number {
    return this.bytes + this.pos;
  }

  sync(): { bytes: number; records: number } {
    this.flush();
    fsyncSync(this.fd);
    return { bytes: this.bytes, records: this.records };
  }

  write(key: Key, value: unknown): void {
    const line = this.line(key, value);
    if (line !== undefined) this.append(line);
    this.records++;
  }

  /** Writes a line and its newline. */
  private append(text: string): void {
    const most = text.length * 3 + 1;
    if (this.pos + most > this.buf.length) {
      this.flush();
      if (most > this.buf.length) this.buf = Buffer.allocUnsafe(most);
    }
    this.pos += this.buf.write(text, this.pos, "utf8");
    this.buf[this.pos++] = 0x0a;
  }

  async close(): Promise<WriteProgress> {
    const last = this.trailer?.();
    if (last) this.append(last);
    this.flush();
    try {
      fsyncSync(this.fd); // a filesystem may report a full disk only now
    } catch (err) {
      throw diskFull(err, this.path, "its part file") ?? err;
    }
    closeSync(this.fd);
    this.fd = -1;
    return { bytes: this.bytes, records: this.records };
  }

  async abandon(): Promise<void> {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private flush(): void {
    let written = 0;
    try {
      while (written < this.pos) written += writeSync(this.fd, this.buf, written, this.pos - written);
    } catch (err) {
      throw diskFull(err, this.path, "its part file") ?? err;
    }
    this.bytes += this.pos;
    this.pos = 0;
  }
}

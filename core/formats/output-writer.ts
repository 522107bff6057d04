/** Writes output records (key, value) in the job's output format, to one part file. */
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import type { OutputFormat } from "../api/formats.js";
import type { Key } from "../api/types.js";

export interface RecordWriter {
  write(key: Key, value: unknown): void;
  /** Bytes written so far, about (pending ones counted as characters). */
  readonly size: number;
  /** Flushes and syncs what was written, for a checkpoint; returns bytes and records so far. */
  sync(): { bytes: number; records: number };
  /** Flushes and syncs; returns bytes and records written. */
  close(): { bytes: number; records: number };
  abandon(): void;
}

export function extensionOf(format: OutputFormat): string {
  return format.format === "jsonl" ? ".jsonl" : "";
}

/** With `from`, appends to a part file that already holds that many bytes and records (a resumed attempt). */
export function createRecordWriter(format: OutputFormat, path: string, from?: { bytes: number; records: number }): RecordWriter {
  const line = format.format === "jsonl" ? jsonlLine : tsvLine;
  return new LineWriter(path, line, from);
}

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

function tsvLine(key: Key, value: unknown): string {
  let out = Array.isArray(key) ? key.map(tsvField).join("\t") : tsvField(key);
  if (value !== undefined) out += "\t" + tsvField(value);
  return out + "\n";
}

function jsonlLine(key: Key, value: unknown): string {
  return (value === undefined ? `{"key":${json(key)}}` : `{"key":${json(key)},"value":${json(value)}}`) + "\n";
}

const FLUSH_AT = 1 << 20;

class LineWriter implements RecordWriter {
  private fd: number;
  private pending: string[] = [];
  private pendingChars = 0;
  private bytes = 0;
  private records = 0;

  constructor(path: string, private readonly line: (key: Key, value: unknown) => string, from?: { bytes: number; records: number }) {
    this.fd = openSync(path, from ? "a" : "w");
    this.bytes = from?.bytes ?? 0;
    this.records = from?.records ?? 0;
  }

  get size(): number {
    return this.bytes + this.pendingChars;
  }

  sync(): { bytes: number; records: number } {
    this.flush();
    fsyncSync(this.fd);
    return { bytes: this.bytes, records: this.records };
  }

  write(key: Key, value: unknown): void {
    const text = this.line(key, value);
    this.pending.push(text);
    this.pendingChars += text.length;
    this.records++;
    if (this.pendingChars >= FLUSH_AT) this.flush();
  }

  close(): { bytes: number; records: number } {
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
    return { bytes: this.bytes, records: this.records };
  }

  abandon(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const buf = Buffer.from(this.pending.join(""), "utf8");
    let written = 0;
    while (written < buf.length) written += writeSync(this.fd, buf, written, buf.length - written);
    this.bytes += buf.length;
    this.pending = [];
    this.pendingChars = 0;
  }
}

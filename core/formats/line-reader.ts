/**
 * Streams the lines a split owns, in batches (see core/splits.ts for which lines those are).
 * `\n` and `\r\n` end a line; a last line without a newline is still a record; invalid UTF-8
 * becomes U+FFFD. A newline byte never occurs inside a multi-byte UTF-8 sequence, so decoding a
 * run of whole lines at once gives the same text as decoding each line alone.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { resolve } from "node:path";
import { SheafError } from "../errors.js";
import { SpareBuffer } from "../spare-buffer.js";
import type { Split } from "../splits.js";

const NL = 10;
const CR = 13;
/** The longest line a reader buffers (records of line-based formats). */
export const MAX_LINE = 64 << 20;
/** A split's buffer holds the split and this much more (its last line's end), up to the buffer size asked for. */
const SLACK = 16 << 10;

/** A run of whole lines; valid only during the callback that receives it. */
export class LineBatch {
  private scanIndex = 0;
  private scanOffset: number;
  private decoded: string[] | undefined;
  private counted = -1;

  constructor(
    /** The lines, or undefined to decode them from `region` only when asked (a raw read). */
    lines: string[] | undefined,
    /** The raw bytes of the lines, terminators included. */
    readonly region: Buffer,
    /** File offset of lines[0]. */
    readonly offset: number,
    /** Line number of lines[0], when counted. */
    readonly firstLine: number | undefined,
    /** Whether the last line ends with a newline (a file's last line may not). */
    private readonly terminated = true,
  ) {
    this.scanOffset = offset;
    this.decoded = lines;
  }

  /** The lines as strings, without terminators. */
  get lines(): string[] {
    return (this.decoded ??= decodeLines(this.region, this.terminated));
  }

  /** How many lines the batch holds, counted without decoding them. */
  get count(): number {
    if (this.decoded) return this.decoded.length;
    if (this.counted < 0) {
      let n = 0;
      for (let i = this.region.indexOf(NL); i >= 0; i = this.region.indexOf(NL, i + 1)) n++;
      this.counted = this.terminated ? n : n + 1;
    }
    return this.counted;
  }

  /** File offset just past the last line (and its newline). */
  get end(): number {
    return this.offset + this.region.length;
  }

  /** File offset of lines[i]; cheap when asked in increasing order. */
  offsetOf(i: number): number {
    if (i < this.scanIndex) { this.scanIndex = 0; this.scanOffset = this.offset; }
    while (this.scanIndex < i) {
      this.scanOffset = this.offset + this.region.indexOf(NL, this.scanOffset - this.offset) + 1;
      this.scanIndex++;
    }
    return this.scanOffset;
  }
}

/**
 * Bytes decoded into one string at a time, at most (cut after a newline). A longer string is a
 * "large object" to V8, given fresh pages every time: decoding 1 MiB batches whole was half of a
 * TeraSort's page faults, about a second of system time per GiB read.
 */
const DECODE_PIECE = 64 << 10;

/** Whole lines from their bytes (`terminated`: the last one ends with a newline); `\r\n` ends a line too. */
function decodeLines(region: Buffer, terminated: boolean): string[] {
  const end = terminated ? region.length - 1 : region.length;
  let lines: string[] = [];
  let from = 0;
  for (;;) {
    let cut = end - from > DECODE_PIECE ? region.lastIndexOf(NL, from + DECODE_PIECE) : -1;
    if (cut < from && end - from > DECODE_PIECE) cut = region.indexOf(NL, from + DECODE_PIECE); // a line longer than a piece
    const last = cut < from || cut >= end; // no newline to cut at: the rest is one piece
    const piece = region.toString("utf8", from, last ? end : cut).split("\n");
    if (from === 0 && last) lines = piece;
    else for (let i = 0; i < piece.length; i++) lines.push(piece[i]!);
    if (last) break;
    from = cut + 1;
  }
  if (region.indexOf(CR) >= 0) {
    const last = terminated ? lines.length : lines.length - 1; // an unterminated last line keeps its \r
    for (let i = 0; i < last; i++) {
      const l = lines[i]!;
      if (l.charCodeAt(l.length - 1) === CR) lines[i] = l.slice(0, -1);
    }
  }
  return lines;
}

/**
 * A local copy of part of the split's file (an object's bytes fetched by range): `path` holds the
 * file's bytes from offset `base` on, through the end of the split's last line.
 */
export interface LocalWindow {
  path: string;
  base: number;
}

export interface LineReadStats {
  bytes: number;
  lines: number;
}

/** Calls `onBatch` with the split's lines, in order, a buffer's worth at a time. */
export function readLines(split: Split, onBatch: (batch: LineBatch) => void, bufferSize = 1 << 20, cwd = process.cwd()): LineReadStats {
  const batches = lineBatches(split, bufferSize, cwd);
  for (;;) {
    const next = batches.next();
    if (next.done) return next.value;
    onBatch(next.value);
  }
}

/**
 * The split's lines as a generator of batches: each batch stays valid until the next one is asked
 * for, so a consumer may await between batches. Returns the read's stats; closes the file however
 * the iteration ends.
 */
export function* lineBatches(split: Split, bufferSize = 1 << 20, cwd = process.cwd(), raw = false, window?: LocalWindow): Generator<LineBatch, LineReadStats, void> {
  const fd = openSync(window ? window.path : resolve(cwd, split.file), "r");
  const scanner = new LineScanner(fd, split, bufferSize, raw, window?.base);
  try {
    return yield* scanner.run();
  } finally {
    closeSync(fd);
    scanner.release();
  }
}

/** A thread's read buffer, for its next read (see SpareBuffer: a fresh 64 MiB raw batch). */
const spare = new SpareBuffer();
/** Smaller buffers are not worth keeping. */
const KEEP_FROM = 1 << 20;

function takeBuffer(size: number): Buffer {
  const kept = size >= KEEP_FROM ? spare.take(size) : undefined;
  return kept ? kept.subarray(0, size) : Buffer.allocUnsafe(size);
}

class LineScanner {
  private buf: Buffer;
  private len = 0; // valid bytes in buf
  private bufStart = 0; // file offset of buf[0]
  private eof = false;
  private lineNo: number | undefined;
  private stats: LineReadStats = { bytes: 0, lines: 0 };

  constructor(private fd: number, private split: Split, bufferSize: number, private readonly raw = false, private readonly base = 0) {
    // A small split gets a small buffer (it grows for a longer line): a fresh MiB per task, its pages
    // touched, was most of what a tiny task cost.
    const span = split.end - split.start + SLACK;
    this.buf = takeBuffer(span > 0 && span < bufferSize ? span : bufferSize);
    this.lineNo = split.firstLine;
  }

  *run(): Generator<LineBatch, LineReadStats, void> {
    const { start, end } = this.split;
    if (start > 0) {
      // Skip to just after the first newline at or past start-1.
      const first = this.afterNewline(start - 1);
      if (first < 0) return this.stats;
      this.bufStart = first;
    }
    // Lines starting before `end` are ours: stop at the first newline at or past end-1.
    for (;;) {
      // bufStart is always the start of the next line: past the end, the rest is the next split's.
      if (this.bufStart >= end) return this.stats;
      const from = Math.max(0, end - 1 - this.bufStart);
      const stop = this.indexOfNl(from);
      if (stop >= 0) {
        yield* this.emit(stop + 1, true);
        return this.stats;
      }
      if (this.eof) {
        yield* this.emit(this.len, false);
        return this.stats;
      }
      const lastNl = this.len > 0 ? this.filled().lastIndexOf(NL) : -1;
      if (lastNl >= 0) yield* this.emit(lastNl + 1, true);
      if (this.len === this.buf.length) this.grow();
      this.read();
    }
  }

  /**
   * The file offset just past the first newline at or after `from`, or -1 if there is none. Read
   * through a small buffer of its own: filling the large one, then moving all but the skipped
   * bytes to its front, cost a 64 MiB copy per raw split.
   */
  private afterNewline(from: number): number {
    const probe = Buffer.allocUnsafe(Math.min(this.buf.length, 64 << 10));
    for (let at = from; ; ) {
      const n = readSync(this.fd, probe, 0, probe.length, at - this.base);
      if (n <= 0) return -1;
      const nl = probe.subarray(0, n).indexOf(NL);
      if (nl >= 0) return at + nl + 1;
      at += n;
    }
  }

  /**
   * Searches stay within the bytes read: past them a large buffer is stale or never touched, and
   * scanning it faulted in every page (a fifth of a raw batch's time).
   */
  private filled(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  private indexOfNl(from: number): number {
    return this.filled().indexOf(NL, from);
  }

  /** Emits buf[0, upto) as whole lines (the last ending in a newline when `terminated`), then drops it. */
  private *emit(upto: number, terminated: boolean): Generator<LineBatch, void, void> {
    if (upto === 0) return;
    const region = this.buf.subarray(0, upto);
    const batch = new LineBatch(this.raw ? undefined : decodeLines(region, terminated), region, this.bufStart, this.lineNo, terminated);
    yield batch;
    const lines = batch.count;
    if (this.lineNo !== undefined) this.lineNo += lines;
    this.stats.lines += lines;
    this.stats.bytes += upto;
    this.consume(upto);
  }

  private consume(n: number): void {
    this.buf.copy(this.buf, 0, n, this.len);
    this.len -= n;
    this.bufStart += n;
  }

  /** A line that outgrows MAX_LINE is refused rather than buffered without bound (outside the thread's heap limit). */
  /** Hands the buffer to the thread's next read (its batches are no longer valid). */
  release(): void {
    if (this.buf.length >= KEEP_FROM) spare.give(this.buf);
  }

  private grow(): void {
    if (this.buf.length >= MAX_LINE) {
      throw new SheafError("RECORD_TOO_LARGE", `a line longer than ${MAX_LINE / (1 << 20)} MiB at ${this.split.file} byte ${this.bufStart}`);
    }
    const bigger = Buffer.allocUnsafe(Math.min(this.buf.length * 2, MAX_LINE));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }

  private read(): void {
    const n = readSync(this.fd, this.buf, this.len, this.buf.length - this.len, this.bufStart + this.len - this.base);
    if (n <= 0) this.eof = true;
    this.len += n;
  }
}

/**
 * `lines()` and `jsonl()` inputs: byte-range splits of plain files (core/splits.ts), one split per
 * `.gz` file. Both read through the same LineBatch, so a record always knows its file, byte
 * offset and (when counted) line.
 */
import type { JsonlFormat, LinesInput } from "../api/formats.js";
import type { RecordLocation } from "../api/types.js";
import { messageOf } from "../errors.js";
import type { InputFile } from "../inputs.js";
import { planSplits, type Split } from "../splits.js";
import type { InputReader, ReadBatch, ReadOptions } from "./format.js";
import { isGzip, readGzipLines } from "./gzip-lines.js";
import { lineBatches, type LineBatch } from "./line-reader.js";
import { isObjectUrl } from "../store/location.js";
import { fetchLineWindow } from "../store/line-window.js";

/** Byte-range splits for plain files; a gzip file is one split, read whole (lines counted for free). */
export function planTextSplits(files: readonly InputFile[], splitSize: number, countLines: boolean, cwd: string): Split[] {
  const splits: Split[] = [];
  for (const f of files) {
    if (f.size === 0) continue;
    if (isGzip(f.path)) splits.push({ file: f.path, start: 0, end: f.size, unit: "whole", firstLine: 1, bytes: f.size });
    else splits.push(...planSplits([f], splitSize, countLines, cwd));
  }
  return splits;
}

/** The size of a batch of `lines({ raw: true })`. */
const RAW_BATCH_BYTES = 64 << 20;

class LinesReadBatch implements ReadBatch {
  constructor(
    private readonly lines: LineBatch,
    private readonly file: string,
    /** The records (jsonl); undefined for lines, which are the batch's own. */
    private readonly parsed: unknown[] | undefined,
    readonly bytes: number,
    readonly resume: Partial<Split>,
    /** For jsonl: the line of each record (blank and bad lines hold none). */
    private readonly lineIndex?: number[],
    /** `lines({ raw: true })`: mapBatch receives the bytes. */
    private readonly raw = false,
  ) {}
  get records(): unknown[] {
    return this.parsed ?? this.lines.lines;
  }
  get batch(): unknown {
    return this.raw ? this.lines.region : this.records;
  }
  get length(): number {
    return this.parsed ? this.parsed.length : this.lines.count;
  }
  location(i: number): RecordLocation {
    return lineLocation(this.lines, this.file, this.lineIndex ? this.lineIndex[i]! : i);
  }
}

export function lineLocation(lines: LineBatch, file: string, i: number): RecordLocation {
  const loc: RecordLocation = { file, offset: lines.offsetOf(i) };
  if (lines.firstLine !== undefined) loc.line = lines.firstLine + i;
  return loc;
}

/**
 * Reads a split's lines in batches, plain or gzip, telling each batch how many input bytes the
 * read consumed and where a resumed read would continue. Awaits `onLines` when it returns a promise.
 */
export async function readLineBatches(
  split: Split,
  cwd: string,
  onLines: (lines: LineBatch, bytes: number, resume: Partial<Split>) => void | Promise<void>,
  raw = false,
  /** Bytes per raw batch, when not the default. */
  rawBytes = RAW_BATCH_BYTES,
): Promise<{ bytes: number; lines: number }> {
  if (split.unit === "whole") {
    return readGzipLines(split, (lines, compressed, through) => onLines(lines, compressed, { skip: through }), cwd);
  }
  // The byte-range scanner is synchronous (the hot path); a batch stays valid until the next is asked for.
  // Raw batches are larger: what they cost per batch (emitting a chunk's distinct keys) is then paid less often.
  const window = isObjectUrl(split.file) ? await fetchLineWindow(split) : undefined;
  const batches = lineBatches(split, raw ? rawBytes : undefined, cwd, raw, window);
  try {
    for (;;) {
      const next = batches.next();
      if (next.done) return next.value;
      const lines = next.value;
      const resume: Partial<Split> = { start: lines.end, firstLine: lines.firstLine === undefined ? undefined : lines.firstLine + lines.count };
      const pending = onLines(lines, lines.end - split.start, resume);
      if (pending) await pending;
    }
  } finally {
    batches.return(undefined as never); // a batch that threw: close the file (and free the buffer) now, not at GC
    await window?.remove();
  }
}

export function textReader(format: LinesInput | JsonlFormat): InputReader {
  const countLines = format.format === "lines" && format.lineNumbers;
  const raw = format.format === "lines" && format.raw === true;
  return {
    async plan(files, splitSize, cwd) {
      return planTextSplits(files, splitSize, countLines, cwd);
    },
    async read(split, onBatch, options: ReadOptions) {
      let records = 0;
      const stats = await readLineBatches(split, options.cwd, (lines, bytes, resume) => {
        const batch = format.format === "lines"
          ? new LinesReadBatch(lines, split.file, undefined, bytes, resume, undefined, raw)
          : parseJsonl(lines, split.file, bytes, resume, options);
        records += batch.length;
        return onBatch(batch);
      }, raw);
      return { bytes: stats.bytes, records };
    },
  };
}

function parseJsonl(lines: LineBatch, file: string, bytes: number, resume: Partial<Split>, options: ReadOptions): LinesReadBatch {
  const records: unknown[] = [];
  const lineIndex: number[] = [];
  const text = lines.lines;
  for (let i = 0; i < text.length; i++) {
    const line = text[i]!;
    if (line.trim() === "") continue; // blank lines separate nothing in JSON Lines
    try {
      records.push(JSON.parse(line));
    } catch (err) {
      options.onBadRecord(lineLocation(lines, file, i), `invalid JSON: ${messageOf(err)}`);
      continue;
    }
    lineIndex.push(i);
  }
  return new LinesReadBatch(lines, file, records, bytes, resume, lineIndex);
}

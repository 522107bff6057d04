/** Reads the records of a split in the job's input format, in batches that know where each record came from. */
import type { InputFormat } from "../api/formats.js";
import type { RecordLocation } from "../api/types.js";
import { SheafError, messageOf } from "../errors.js";
import type { Split } from "../splits.js";
import { readLines, type LineBatch, type LineReadStats } from "./line-reader.js";

export interface RecordBatch {
  readonly records: unknown[];
  /** File offset just past the batch's last line: where the next batch starts. */
  readonly end: number;
  /** Line number of the next batch's first line, when lines are counted. */
  readonly nextLine: number | undefined;
  /** Where records[i] came from. */
  location(i: number): RecordLocation;
}

class LinesRecordBatch implements RecordBatch {
  constructor(private readonly batch: LineBatch, private readonly file: string, readonly records: unknown[], private readonly lineIndex?: number[]) {}
  get end(): number {
    return this.batch.end;
  }
  get nextLine(): number | undefined {
    return this.batch.firstLine === undefined ? undefined : this.batch.firstLine + this.batch.lines.length;
  }
  location(i: number): RecordLocation {
    const li = this.lineIndex ? this.lineIndex[i]! : i;
    const loc: RecordLocation = { file: this.file, offset: this.batch.offsetOf(li) };
    if (this.batch.firstLine !== undefined) loc.line = this.batch.firstLine + li;
    return loc;
  }
}

/** `split.file` is opened relative to `cwd` and reported as it is. */
export function readRecords(split: Split, format: InputFormat, onBatch: (batch: RecordBatch) => void, cwd?: string, bufferSize?: number): LineReadStats {
  if (format.format === "lines") {
    return readLines(split, (batch) => onBatch(new LinesRecordBatch(batch, split.file, batch.lines)), bufferSize, cwd);
  }
  return readLines(split, (batch) => {
    const records: unknown[] = [];
    const lineIndex: number[] = [];
    batch.lines.forEach((line, i) => {
      if (line.trim() === "") return; // blank lines separate nothing in JSON Lines
      try {
        records.push(JSON.parse(line));
      } catch (err) {
        const line_ = batch.firstLine !== undefined ? `, line ${batch.firstLine + i}` : "";
        throw new SheafError("BAD_RECORD", `invalid JSON at ${split.file} byte ${batch.offsetOf(i)}${line_}: ${messageOf(err)}`);
      }
      lineIndex.push(i);
    });
    onBatch(new LinesRecordBatch(batch, split.file, records, lineIndex));
  }, bufferSize, cwd);
}

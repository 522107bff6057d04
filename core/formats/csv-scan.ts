/**
 * Whole CSV lines (one record per line: the `multiline: false` case) parsed from bytes into Arrow
 * columns. The field rules are csv-parse's with Sheaf's options (RFC 4180): a field is quoted only
 * from its first byte, `""` inside quotes is one quote, a quote elsewhere in a field, anything but a
 * delimiter or the line's end after a closing quote, or a quote left open at the end of the line
 * make the line a bad row; `\r\n` ends a line as `\n` does; an empty line is no record. A bad row's
 * message comes from csv-parse itself (it re-reads just that line), so both readers word it alike.
 */
import { isUtf8 } from "node:buffer";
import type { RecordBatch } from "apache-arrow";
import type { ColumnType } from "../api/formats.js";
import type { RecordLocation } from "../api/types.js";
import { CsvColumns, STRING, type ColumnBuilder } from "./csv-columns.js";

const NL = 10, CR = 13, QUOTE = 34;

/**
 * Where each row of a batch came from, relative to the batch (small integers, which V8 stores
 * unboxed, where file offsets past 1 GiB would each be a heap number): its line's byte offset in
 * the region, and its line's index among the region's lines (kept only when lines are counted).
 */
export interface RowPlaces {
  offsets: number[];
  lines: number[];
}

export interface CsvLineOptions {
  /** The delimiter's one byte. */
  delimiter: number;
  /** The texts read as null, as bytes; undefined for the default, the empty field alone. */
  nulls: Uint8Array[] | undefined;
  /** The message for a line whose fields do not parse (csv-parse's own words). */
  problem(line: Buffer): string;
  /** A bad row: reported, and skipped (unless this throws). */
  bad(at: RecordLocation, message: string): void;
  /** Where lines were not counted: the number of the line starting at a file offset, counted when asked (line-count.ts). */
  lineAt?: (offset: number) => number;
}

/** A file's column names and types, with its batch under construction. */
export class CsvShape {
  readonly types: (ColumnType | undefined)[];
  private cols: CsvColumns;
  constructor(readonly names: string[], columns: Record<string, ColumnType>) {
    this.types = names.map((n) => (Object.hasOwn(columns, n) ? columns[n] : undefined));
    this.cols = new CsvColumns(names, this.types);
  }
  get columns(): CsvColumns {
    return this.cols;
  }
}

/** Splits lines into fields (positions reused from line to line) and appends them to a shape's columns. */
export class CsvLineParser {
  private starts = new Int32Array(64);
  private ends = new Int32Array(64);
  private escaped = new Uint8Array(64);
  private scratch = Buffer.allocUnsafe(1 << 12);

  constructor(private readonly o: CsvLineOptions) {}

  /**
   * Fields of the line b[s, e) (no terminator): their count, or -1 when the line does not parse.
   * Quoted fields' positions are inside the quotes; `escaped` marks those holding `""`.
   */
  fields(b: Uint8Array, s: number, e: number): number {
    const d = this.o.delimiter;
    let n = 0;
    let i = s;
    for (;;) {
      if (n === this.starts.length) this.more();
      if (i < e && b[i] === QUOTE) {
        let j = i + 1;
        let esc = 0;
        for (;;) {
          while (j < e && b[j] !== QUOTE) j++;
          if (j >= e) return -1; // not closed on this line
          if (j + 1 < e && b[j + 1] === QUOTE) {
            esc = 1;
            j += 2;
            continue;
          }
          break;
        }
        this.starts[n] = i + 1;
        this.ends[n] = j;
        this.escaped[n++] = esc;
        i = j + 1;
        if (i === e) return n;
        if (b[i] !== d) return -1;
        i++;
      } else {
        let j = i;
        while (j < e) {
          const c = b[j]!;
          if (c === d) break;
          if (c === QUOTE) return -1;
          j++;
        }
        this.starts[n] = i;
        this.ends[n] = j;
        this.escaped[n++] = 0;
        if (j === e) return n;
        i = j + 1;
      }
    }
  }

  private more(): void {
    const grow = <T extends Int32Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(a.length * 2);
      b.set(a);
      return b;
    };
    this.starts = grow(this.starts);
    this.ends = grow(this.ends);
    this.escaped = grow(this.escaped);
  }

  /**
   * Parses the whole lines of `region` from byte `from` into the shape's columns (made by `shapeFor`
   * from the first row's width when the file has no header). `offset` is region[0]'s file offset and
   * `firstLine` its line number (undefined when not counted).
   */
  parse(
    region: Buffer,
    from: number,
    offset: number,
    firstLine: number | undefined,
    fromLine: number,
    file: string,
    shapeFor: (width: number) => CsvShape,
    places: RowPlaces,
  ): { shape: CsvShape | undefined; rows: number } {
    const sanitize = !isUtf8(region.subarray(from));
    // Valid UTF-8 and the default null (the empty field): lines take the one-pass path, the others this one.
    const fast = !sanitize && this.o.nulls === undefined;
    let shape: CsvShape | undefined;
    let rows = 0;
    let line = fromLine;
    const len = region.length;
    for (let s = from; s < len; line++) {
      const nl = region.indexOf(NL, s);
      const next = nl < 0 ? len : nl + 1;
      // A terminated line loses its \r before the \n; an unterminated last line keeps it (as csv-parse does).
      const e = nl < 0 ? len : nl > s && region[nl - 1] === CR ? nl - 1 : nl;
      const at = s;
      s = next;
      if (e === at) continue;
      if (fast && shape) {
        shape.columns.reserve();
        if (this.fastRow(region, at, e, shape.columns.columns)) {
          places.offsets.push(at);
          if (firstLine !== undefined) places.lines.push(line);
          rows++;
          continue;
        }
      }
      const n = this.fields(region, at, e);
      if (n < 0) {
        this.o.bad(this.place(file, offset + at, firstLine, line), `bad CSV row: ${this.o.problem(region.subarray(at, e))}`);
        continue;
      }
      if (!shape) {
        shape = shapeFor(n);
        if (sanitize) for (const c of shape.columns.columns) c.sanitize = true;
      }
      shape.columns.reserve();
      const why = this.row(region, n, shape);
      if (why !== undefined) {
        this.o.bad(this.place(file, offset + at, firstLine, line), `bad CSV row: ${why}`);
        continue;
      }
      places.offsets.push(at);
      if (firstLine !== undefined) places.lines.push(line);
      rows++;
    }
    return { shape, rows };
  }

  /**
   * One pass over a well-formed line b[s, e): each field located and appended as it is found, a
   * string's bytes copied (its `""` made one quote) while its end is looked for. False, with nothing
   * appended, for any line it does not take whole (a bad one, a typed field holding `""` or a value
   * the byte parsers refuse): `fields` and `row` then read it, and word what is wrong with it.
   */
  private fastRow(b: Buffer, s: number, e: number, cols: ColumnBuilder[]): boolean {
    const d = this.o.delimiter;
    const before = cols[0]!.length;
    let i = s; // the next field's start; e + 1 once the line's last field is read
    let ok = true;
    for (let j = 0; j < cols.length && ok; j++) {
      if (i > e) { ok = false; break; } // fewer fields than columns
      const col = cols[j]!;
      if (col.kind === STRING) {
        const out = col.room(e - i);
        const from = col.used;
        let at = from;
        let k = i;
        if (b[i] === QUOTE) {
          for (k++; ; ) {
            if (k >= e) { ok = false; break; } // not closed on this line
            const c = b[k++]!;
            if (c === QUOTE) {
              if (k < e && b[k] === QUOTE) { out[at++] = QUOTE; k++; continue; }
              break;
            }
            out[at++] = c;
          }
          if (k < e && b[k] !== d) ok = false;
        } else {
          for (; k < e; k++) {
            const c = b[k]!;
            if (c === d) break;
            if (c === QUOTE) { ok = false; break; }
            out[at++] = c;
          }
        }
        i = k + 1;
        if (at === from) col.appendNull();
        else col.endString(at);
      } else {
        let fs = i, k = i;
        if (i < e && b[i] === QUOTE) {
          for (k++; k < e && b[k] !== QUOTE; k++);
          // Not closed, `""` inside, or more after the closing quote: the careful path.
          if (k >= e || (k + 1 < e && b[k + 1] !== d)) { ok = false; break; }
          fs = i + 1;
          i = k + 2;
        } else {
          for (; k < e; k++) {
            const c = b[k]!;
            if (c === d) break;
            if (c === QUOTE) { ok = false; break; }
          }
          i = k + 1;
        }
        if (!ok) break;
        if (fs === k) col.appendNull();
        else if (col.append(b, fs, k) !== undefined) ok = false;
      }
    }
    if (ok && i === e + 1) return true;
    for (const c of cols) c.truncate(before);
    return false;
  }

  private place(file: string, offset: number, firstLine: number | undefined, line: number): RecordLocation {
    const loc: RecordLocation = { file, offset };
    if (firstLine !== undefined) loc.line = firstLine + line;
    else if (this.o.lineAt) loc.line = this.o.lineAt(offset);
    return loc;
  }

  /** Appends one row's n fields; undefined, or why the row is bad (then nothing of it stays). */
  private row(b: Buffer, n: number, shape: CsvShape): string | undefined {
    const cols = shape.columns.columns;
    if (n !== cols.length) return `expected ${cols.length} fields, got ${n}`;
    const nulls = this.o.nulls;
    const before = shape.columns.length;
    const starts = this.starts, ends = this.ends, escaped = this.escaped;
    for (let j = 0; j < n; j++) {
      let src: Uint8Array = b;
      let s = starts[j]!;
      let e = ends[j]!;
      if (escaped[j]) {
        src = this.unescape(b, s, e);
        e = this.unescapedLength;
        s = 0;
      }
      const col = cols[j]!;
      if (nulls ? isNull(src, s, e, nulls) : s === e) {
        col.appendNull();
        continue;
      }
      const why = col.append(src, s, e);
      if (why !== undefined) {
        for (let k = 0; k <= j; k++) cols[k]!.truncate(before);
        return `column ${shape.names[j]}: ${why}`;
      }
    }
    return undefined;
  }

  private unescapedLength = 0;
  /** b[s, e) with each `""` made one quote, in a scratch buffer (valid until the next call). */
  private unescape(b: Uint8Array, s: number, e: number): Uint8Array {
    if (this.scratch.length < e - s) this.scratch = Buffer.allocUnsafe(2 * (e - s));
    const out = this.scratch;
    let k = 0;
    for (let i = s; i < e; i++) {
      out[k++] = b[i]!;
      if (b[i] === QUOTE) i++;
    }
    this.unescapedLength = k;
    return out;
  }
}


function isNull(b: Uint8Array, s: number, e: number, nulls: Uint8Array[]): boolean {
  outer: for (const t of nulls) {
    if (t.length !== e - s) continue;
    for (let k = 0; k < t.length; k++) if (b[s + k] !== t[k]) continue outer;
    return true;
  }
  return false;
}

/** The rows parsed so far as a record batch (the shape's columns start over). */
export function finishBatch(shape: CsvShape, rows: number): RecordBatch {
  return shape.columns.finish(rows);
}

/**
 * Arrow columns filled from CSV field bytes: numbers, dates and timestamps parsed from the bytes,
 * strings copied as UTF-8 (no JS string per field). A row is appended field by field and can be
 * taken back (`truncate`) when a later field of it turns out bad, so a bad row leaves no trace.
 */
import { Field, makeData, RecordBatch, Schema as ArrowSchema, Struct, type Bool, type Data, type DataType, type Float64, type Int32, type Int64, type Utf8 } from "./arrow-lib.js";
import { arrowType } from "./arrow-rows.js";
import type { ColumnType } from "../api/formats.js";
import { ValueError, parseValue } from "./csv-values.js";
import { dateFromBytes, floatFromBytes, intFromBytes, timestampFromBytes } from "./csv-bytes.js";

const DAY_MS = 86_400_000;
const TWO32 = 2 ** 32;

/** The Arrow schema of a CSV file's columns: typed ones as declared, the others strings. */
export function csvArrowSchema(names: readonly string[], types: readonly (ColumnType | undefined)[]): ArrowSchema {
  return new ArrowSchema(names.map((n, j) => new Field(n, arrowType(types[j] ?? "string"), true)));
}

function grow<T extends Uint8Array | Int32Array | Float64Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/** Column kinds as small integers: the row loop switches on them (cheaper than on the type's name). */
export const STRING = 0, INT32 = 1, FLOAT64 = 2, INT64 = 3, TIMESTAMP = 4, DATE = 5, BOOL = 6;
const KINDS: Record<ColumnType, number> = { string: STRING, int32: INT32, float64: FLOAT64, int64: INT64, timestamp: TIMESTAMP, date: DATE, bool: BOOL };

/**
 * One column: a validity bitmap and the values of its type. Room for `capacity` rows is made once per
 * row for every column (CsvColumns.reserve), so appending a value is a plain store; the bitmap's
 * bits are set until a null clears one (nulls are rare: a valid value costs nothing there).
 */
export class ColumnBuilder {
  length = 0;
  readonly kind: number;
  private nulls = 0;
  private capacity = 0;
  private valid = new Uint8Array(0);
  /** int32, date: Int32; float64: Float64; int64, timestamp: two Int32 words per value; bool: bits; string: bytes. */
  private i32 = new Int32Array(0);
  private f64 = new Float64Array(0);
  /** A string column's UTF-8 bytes (`used` of them so far), written by the scanner through `room`/`endString` or by `append`. */
  bytes = new Uint8Array(0);
  private offsets = new Int32Array(1);
  used = 0;
  /** Set when the batch's bytes are not valid UTF-8: string fields with high bytes are re-encoded (U+FFFD), as decoding does. */
  sanitize = false;

  constructor(readonly type: ColumnType, capacity: number) {
    this.kind = KINDS[type];
    if (type === "string") this.bytes = new Uint8Array(capacity * 16);
    this.reserve(capacity);
  }

  /** Room for `rows` rows (strings' bytes aside: `room` makes theirs). */
  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    const cap = Math.max(rows, this.capacity * 2);
    const bitmap = (cap + 7) >> 3;
    const was = this.valid.length;
    this.valid = grow(this.valid, bitmap);
    this.valid.fill(0xff, was);
    switch (this.kind) {
      case STRING: this.offsets = grow(this.offsets, cap + 1); break;
      case FLOAT64: this.f64 = grow(this.f64, cap); break;
      case INT64: case TIMESTAMP: this.i32 = grow(this.i32, 2 * cap); break;
      case BOOL: this.bytes = grow(this.bytes, bitmap); break;
      default: this.i32 = grow(this.i32, cap);
    }
    this.capacity = cap;
  }

  /** A string column's byte array with room for `n` more bytes past `used`. */
  room(n: number): Uint8Array {
    if (this.used + n > this.bytes.length) this.bytes = grow(this.bytes, this.used + n);
    return this.bytes;
  }

  /** Ends a string value whose bytes the scanner wrote into `bytes` from `used` to `end`. */
  endString(end: number): void {
    this.used = end;
    this.offsets[++this.length] = end;
  }

  appendNull(): void {
    const i = this.length++;
    this.valid[i >> 3]! &= ~(1 << (i & 7));
    this.nulls++;
    if (this.kind === STRING) this.offsets[i + 1] = this.used;
    else this.store(i, 0);
  }

  /**
   * Appends the field b[s, e) (already unquoted); returns undefined, or the ValueError message
   * for a value that does not fit (nothing appended then).
   */
  append(b: Uint8Array, s: number, e: number): string | undefined {
    const i = this.length;
    switch (this.kind) {
      case STRING: {
        if (this.sanitize && hasHighByte(b, s, e)) {
          b = Buffer.from(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8", s, e));
          s = 0;
          e = b.length;
        }
        const n = e - s;
        const out = this.room(n);
        let at = this.used;
        // Short fields copy faster in a loop than through a native call.
        if (n < 32) for (let k = s; k < e; k++) out[at++] = b[k]!;
        else {
          out.set(b.subarray(s, e), at);
          at += n;
        }
        this.endString(at);
        return undefined;
      }
      case INT32: {
        let v = intFromBytes(b, s, e);
        if (v === undefined || v < -(2 ** 31) || v > 2 ** 31 - 1) {
          const r = this.slow(b, s, e);
          if (typeof r === "string") return r;
          v = r as number;
        }
        this.i32[i] = v;
        break;
      }
      case FLOAT64: {
        let v = floatFromBytes(b, s, e);
        if (v === undefined) {
          const r = this.slow(b, s, e);
          if (typeof r === "string") return r;
          v = r as number;
        }
        this.f64[i] = v;
        break;
      }
      case INT64: {
        const v = intFromBytes(b, s, e);
        if (v !== undefined) this.store(i, v);
        else {
          const r = this.slow(b, s, e);
          if (typeof r === "string") return r;
          new BigInt64Array(this.i32.buffer, 0, this.i32.length >> 1)[i] = r as bigint;
        }
        break;
      }
      case TIMESTAMP: {
        let v = timestampFromBytes(b, s, e);
        if (v === undefined) {
          const r = this.slow(b, s, e);
          if (typeof r === "string") return r;
          v = (r as Date).getTime();
        }
        this.store(i, v);
        break;
      }
      case DATE: {
        let v = dateFromBytes(b, s, e);
        if (v === undefined) {
          const r = this.slow(b, s, e);
          if (typeof r === "string") return r;
          v = Math.floor((r as Date).getTime() / DAY_MS);
        }
        this.i32[i] = v;
        break;
      }
      case BOOL: {
        const r = this.slow(b, s, e);
        if (typeof r === "string") return r;
        this.store(i, r ? 1 : 0);
        break;
      }
    }
    this.length = i + 1;
    return undefined;
  }

  /** The text path: parseValue on the decoded field, its value or its complaint. */
  private slow(b: Uint8Array, s: number, e: number): unknown {
    const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8", s, e);
    try {
      return parseValue(this.type, text);
    } catch (err) {
      if (err instanceof ValueError) return `${JSON.stringify(text.length > 60 ? text.slice(0, 60) + "…" : text)} ${err.message}`;
      throw err;
    }
  }

  /** A number (an integer exact in a double for int64 and timestamp) at row i, in reserved room. */
  private store(i: number, v: number): void {
    switch (this.kind) {
      case FLOAT64:
        this.f64[i] = v;
        return;
      case INT64:
      case TIMESTAMP: {
        // Little-endian two's complement words of a safe integer.
        const hi = Math.floor(v / TWO32);
        this.i32[2 * i] = (v - hi * TWO32) | 0;
        this.i32[2 * i + 1] = hi | 0;
        return;
      }
      case BOOL:
        if (v) this.bytes[i >> 3]! |= 1 << (i & 7);
        else this.bytes[i >> 3]! &= ~(1 << (i & 7));
        return;
      default:
        this.i32[i] = v;
    }
  }

  /** Takes back the rows from n on (a bad row's fields already appended); their validity bits are set again. */
  truncate(n: number): void {
    for (let i = n; i < this.length; i++) {
      if (((this.valid[i >> 3]! >> (i & 7)) & 1) === 0) {
        this.nulls--;
        this.valid[i >> 3]! |= 1 << (i & 7);
      }
    }
    this.length = n;
    if (this.kind === STRING) this.used = this.offsets[n]!;
  }

  /** The column as Arrow data; the builder starts over. */
  finish(arrow: DataType): Data {
    const n = this.length;
    let nullBitmap: Uint8Array | undefined;
    if (this.nulls > 0) {
      nullBitmap = this.valid.slice(0, (n + 7) >> 3);
      if (n & 7) nullBitmap[n >> 3]! &= (1 << (n & 7)) - 1; // bits past the last row are 0, as Arrow writers leave them
    }
    const props = { type: arrow, length: n, nullCount: this.nulls, ...(nullBitmap ? { nullBitmap } : {}) };
    let data: Data;
    switch (this.kind) {
      case STRING:
        data = makeData({ ...props, type: arrow as Utf8, valueOffsets: this.offsets.slice(0, n + 1), data: this.bytes.slice(0, this.used) });
        break;
      case FLOAT64:
        data = makeData({ ...props, type: arrow as Float64, data: this.f64.slice(0, n) });
        break;
      case INT64:
      case TIMESTAMP:
        data = makeData({ ...props, type: arrow as Int64, data: new BigInt64Array(this.i32.slice(0, 2 * n).buffer) });
        break;
      case BOOL:
        data = makeData({ ...props, type: arrow as Bool, data: this.bytes.slice(0, (n + 7) >> 3) });
        break;
      default:
        data = makeData({ ...props, type: arrow as Int32, data: this.i32.slice(0, n) });
    }
    if (this.nulls > 0) this.valid.fill(0xff, 0, (n + 7) >> 3);
    this.length = 0;
    this.nulls = 0;
    this.used = 0;
    this.sanitize = false;
    return data;
  }
}

function hasHighByte(b: Uint8Array, s: number, e: number): boolean {
  for (let k = s; k < e; k++) if (b[k]! >= 0x80) return true;
  return false;
}

/** The columns of one batch, for a file's names and types. */
export class CsvColumns {
  readonly schema: ArrowSchema;
  readonly columns: ColumnBuilder[];
  constructor(names: readonly string[], readonly types: readonly (ColumnType | undefined)[], private capacity = 1024) {
    this.schema = csvArrowSchema(names, types);
    this.columns = types.map((t) => new ColumnBuilder(t ?? "string", capacity));
  }
  get length(): number {
    return this.columns.length ? this.columns[0]!.length : 0;
  }
  /** Room in every column for one more row (called before each row). */
  reserve(): void {
    const rows = this.length + 1;
    if (rows <= this.capacity) return;
    this.capacity = Math.max(rows, this.capacity * 2);
    for (const c of this.columns) c.reserve(this.capacity);
  }
  /** The rows appended so far as one record batch; the columns start over. */
  finish(rows: number): RecordBatch {
    const children = this.columns.map((c, j) => c.finish(this.schema.fields[j]!.type));
    return new RecordBatch(this.schema, makeData({ type: new Struct(this.schema.fields), length: rows, nullCount: 0, children }));
  }
}

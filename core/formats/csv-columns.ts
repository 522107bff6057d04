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

/** One column: a validity bitmap and the values of its type. */
export class ColumnBuilder {
  length = 0;
  private nulls = 0;
  private valid = new Uint8Array(1024);
  /** int32, date: Int32; float64: Float64; int64, timestamp: two Int32 words per value; bool: bits; string: bytes. */
  private i32 = new Int32Array(0);
  private f64 = new Float64Array(0);
  private bytes = new Uint8Array(0);
  private offsets = new Int32Array(0);
  private used = 0; // string bytes used
  /** Set when the batch's bytes are not valid UTF-8: string fields with high bytes are re-encoded (U+FFFD), as decoding does. */
  sanitize = false;

  constructor(readonly type: ColumnType, capacity: number) {
    this.valid = new Uint8Array((capacity + 7) >> 3);
    if (type === "string") {
      this.offsets = new Int32Array(capacity + 1);
      this.bytes = new Uint8Array(capacity * 16);
    } else if (type === "float64") this.f64 = new Float64Array(capacity);
    else if (type === "int64" || type === "timestamp") this.i32 = new Int32Array(capacity * 2);
    else if (type === "bool") this.bytes = new Uint8Array((capacity + 7) >> 3);
    else this.i32 = new Int32Array(capacity);
  }

  private mark(i: number, ok: boolean): void {
    if (i >> 3 >= this.valid.length) this.valid = grow(this.valid, (i >> 3) + 1);
    if (ok) this.valid[i >> 3]! |= 1 << (i & 7);
    else {
      this.valid[i >> 3]! &= ~(1 << (i & 7));
      this.nulls++;
    }
  }

  appendNull(): void {
    const i = this.length++;
    this.mark(i, false);
    if (this.type === "string") {
      this.offsets = grow(this.offsets, i + 2);
      this.offsets[i + 1] = this.used;
    } else this.store(i, 0);
  }

  /**
   * Appends the field b[s, e) (already unquoted); returns undefined, or the ValueError message
   * for a value that does not fit (nothing appended then).
   */
  append(b: Uint8Array, s: number, e: number): string | undefined {
    const i = this.length;
    switch (this.type) {
      case "string": {
        if (this.sanitize && hasHighByte(b, s, e)) {
          b = Buffer.from(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8", s, e));
          s = 0;
          e = b.length;
        }
        const n = e - s;
        this.offsets = grow(this.offsets, i + 2);
        this.bytes = grow(this.bytes, this.used + n);
        const out = this.bytes;
        let at = this.used;
        // Short fields copy faster in a loop than through a native call.
        if (n < 32) for (let k = s; k < e; k++) out[at++] = b[k]!;
        else {
          out.set(b.subarray(s, e), at);
          at += n;
        }
        this.used = at;
        this.offsets[i + 1] = at;
        break;
      }
      case "int32": {
        let v = intFromBytes(b, s, e);
        if (v === undefined || v < -(2 ** 31) || v > 2 ** 31 - 1) {
          const r = this.slow(b, s, e);
          if (typeof r === "string") return r;
          v = r as number;
        }
        this.store(i, v);
        break;
      }
      case "float64": {
        let v = floatFromBytes(b, s, e);
        if (v === undefined) {
          const r = this.slow(b, s, e);
          if (typeof r === "string") return r;
          v = r as number;
        }
        this.store(i, v);
        break;
      }
      case "int64": {
        const v = intFromBytes(b, s, e);
        if (v !== undefined) this.store(i, v);
        else {
          const r = this.slow(b, s, e);
          if (typeof r === "string") return r;
          this.storeBig(i, r as bigint);
        }
        break;
      }
      case "timestamp": {
        let v = timestampFromBytes(b, s, e);
        if (v === undefined) {
          const r = this.slow(b, s, e);
          if (typeof r === "string") return r;
          v = (r as Date).getTime();
        }
        this.store(i, v);
        break;
      }
      case "date": {
        let v = dateFromBytes(b, s, e);
        if (v === undefined) {
          const r = this.slow(b, s, e);
          if (typeof r === "string") return r;
          v = Math.floor((r as Date).getTime() / DAY_MS);
        }
        this.store(i, v);
        break;
      }
      case "bool": {
        const r = this.slow(b, s, e);
        if (typeof r === "string") return r;
        this.store(i, r ? 1 : 0);
        break;
      }
    }
    this.length = i + 1;
    this.mark(i, true);
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

  /** A number (an integer exact in a double for int64 and timestamp) at row i. */
  private store(i: number, v: number): void {
    switch (this.type) {
      case "float64":
        this.f64 = grow(this.f64, i + 1);
        this.f64[i] = v;
        return;
      case "int64":
      case "timestamp": {
        this.i32 = grow(this.i32, 2 * i + 2);
        // Little-endian two's complement words of a safe integer.
        const hi = Math.floor(v / TWO32);
        this.i32[2 * i] = (v - hi * TWO32) | 0;
        this.i32[2 * i + 1] = hi | 0;
        return;
      }
      case "bool":
        this.bytes = grow(this.bytes, (i >> 3) + 1);
        if (v) this.bytes[i >> 3]! |= 1 << (i & 7);
        else this.bytes[i >> 3]! &= ~(1 << (i & 7));
        return;
      default:
        this.i32 = grow(this.i32, i + 1);
        this.i32[i] = v;
    }
  }

  private storeBig(i: number, v: bigint): void {
    this.i32 = grow(this.i32, 2 * i + 2);
    new BigInt64Array(this.i32.buffer, 0, this.i32.length >> 1)[i] = v;
  }

  /** Takes back the rows from n on (a bad row's fields already appended). */
  truncate(n: number): void {
    for (let i = n; i < this.length; i++) if (((this.valid[i >> 3]! >> (i & 7)) & 1) === 0) this.nulls--;
    this.length = n;
    if (this.type === "string") this.used = this.offsets[n]!;
  }

  /** The column as Arrow data; the builder starts over. */
  finish(arrow: DataType): Data {
    const n = this.length;
    const props = { type: arrow, length: n, nullCount: this.nulls, ...(this.nulls > 0 ? { nullBitmap: this.valid.slice(0, (n + 7) >> 3) } : {}) };
    let data: Data;
    switch (this.type) {
      case "string":
        data = makeData({ ...props, type: arrow as Utf8, valueOffsets: this.offsets.slice(0, n + 1), data: this.bytes.slice(0, this.used) });
        break;
      case "float64":
        data = makeData({ ...props, type: arrow as Float64, data: this.f64.slice(0, n) });
        break;
      case "int64":
      case "timestamp":
        data = makeData({ ...props, type: arrow as Int64, data: new BigInt64Array(this.i32.slice(0, 2 * n).buffer) });
        break;
      case "bool":
        data = makeData({ ...props, type: arrow as Bool, data: this.bytes.slice(0, (n + 7) >> 3) });
        break;
      default:
        data = makeData({ ...props, type: arrow as Int32, data: this.i32.slice(0, n) });
    }
    this.length = 0;
    this.nulls = 0;
    this.used = 0;
    this.sanitize = false;
    this.valid.fill(0);
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
  constructor(names: readonly string[], readonly types: readonly (ColumnType | undefined)[], capacity = 1024) {
    this.schema = csvArrowSchema(names, types);
    this.columns = types.map((t) => new ColumnBuilder(t ?? "string", capacity));
  }
  get length(): number {
    return this.columns.length ? this.columns[0]!.length : 0;
  }
  /** The rows appended so far as one record batch; the columns start over. */
  finish(rows: number): RecordBatch {
    const children = this.columns.map((c, j) => c.finish(this.schema.fields[j]!.type));
    return new RecordBatch(this.schema, makeData({ type: new Struct(this.schema.fields), length: rows, nullCount: 0, children }));
  }
}

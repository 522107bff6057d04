/**
 * Between apache-arrow record batches and row objects, for the Arrow and Parquet formats.
 * Reading converts column by column over the raw buffers (far faster than `batch.get(i)` proxies);
 * writing buffers fitted rows (schema.ts) per column and builds a batch from typed arrays.
 */
import {
  Bool, DateDay, Field, Float64, Int32, Int64, makeData, RecordBatch, Schema as ArrowSchema, Struct, TimeUnit, Timestamp, Type, Utf8,
  type Data, type DataType, type Vector,
} from "./arrow-lib.js";
import type { ColumnType, Schema } from "../api/formats.js";
import type { Key, RecordLocation } from "../api/types.js";
import type { Split } from "../splits.js";
import type { ReadBatch, ReadStats } from "./format.js";
import { asRow, fitRow, inferSchema, type Row } from "./schema.js";

const DAY_MS = 86_400_000;

/** An epoch count in `per` units to milliseconds, floored; exact for any int64 (Number() alone is not past 2^53). */
function toMs(v: bigint, per: number, perBig: bigint): number {
  const x = Number(v);
  if (Number.isSafeInteger(x)) return per === 1 ? x : Math.floor(x / per);
  const q = v / perBig;
  return Number(v % perBig < 0n ? q - 1n : q);
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** An unscaled two's-complement integer (little-endian 32-bit words) as decimal text with `scale` digits after the point. */
function decimalText(words: Uint32Array, at: number, width: number, scale: number): string {
  let v = 0n;
  for (let k = width - 1; k >= 0; k--) v = (v << 32n) | BigInt(words[at + k]!);
  if (words[at + width - 1]! >= 0x8000_0000) v -= 1n << BigInt(32 * width);
  const neg = v < 0n;
  let digits = (neg ? -v : v).toString();
  if (scale <= 0) return (neg ? "-" : "") + digits + "0".repeat(-scale);
  digits = digits.padStart(scale + 1, "0");
  return (neg ? "-" : "") + digits.slice(0, -scale) + "." + digits.slice(-scale);
}

/**
 * One column's values as JS values: Int64/Uint64 → bigint, timestamps and dates → Date, other
 * numbers → number, strings, booleans, decimals → text, null → null; any other type → what
 * apache-arrow's `get` gives. Fixed-width buffers are already sliced to the data's offset; the
 * validity and boolean bitmaps are not (they count bits from `data.offset`).
 */
function columnValues(data: Data<DataType>, vector: () => Vector): unknown[] {
  const n = data.length;
  const out = new Array<unknown>(n);
  const type = data.type as DataType & { bitWidth?: number; unit?: number; scale?: number; precision?: number };
  const off = data.offset;
  const bitmap = data.nullCount > 0 ? data.nullBitmap : undefined;
  const valid = bitmap ? (i: number) => ((bitmap[(off + i) >> 3]! >> ((off + i) & 7)) & 1) === 1 : () => true;
  const values = data.values as ArrayLike<unknown>;
  switch (data.typeId) {
    case Type.Int:
    case Type.Float: {
      if (data.typeId === Type.Float && type.precision === 0) break; // Float16 holds bits: apache-arrow decodes them
      // Int64/Uint64 are Big(U)Int64Arrays, giving bigints; the other typed arrays give numbers.
      for (let i = 0; i < n; i++) out[i] = valid(i) ? values[i] : null;
      return out;
    }
    case Type.Bool: {
      const v = data.values as Uint8Array;
      for (let i = 0; i < n; i++) out[i] = valid(i) ? ((v[(off + i) >> 3]! >> ((off + i) & 7)) & 1) === 1 : null;
      return out;
    }
    case Type.Utf8:
    case Type.LargeUtf8: {
      const bytes = data.values as Uint8Array;
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const vo = data.valueOffsets as Int32Array | BigInt64Array;
      // ASCII text (the common case) decodes faster as latin1, which makes one-byte strings directly.
      const encoding = isAscii(buf.subarray(Number(vo[0]), Number(vo[n]))) ? "latin1" : "utf8";
      for (let i = 0; i < n; i++) out[i] = valid(i) ? buf.toString(encoding, Number(vo[i]), Number(vo[i + 1])) : null;
      return out;
    }
    case Type.Timestamp: {
      const v = values as BigInt64Array;
      const per = [1e-3, 1, 1e3, 1e6][type.unit ?? TimeUnit.MILLISECOND]!;
      if (per < 1) for (let i = 0; i < n; i++) out[i] = valid(i) ? new Date(Number(v[i]) * 1000) : null;
      else {
        const perBig = BigInt(per);
        for (let i = 0; i < n; i++) out[i] = valid(i) ? new Date(toMs(v[i]!, per, perBig)) : null;
      }
      return out;
    }
    case Type.Date: {
      if (values instanceof Int32Array) for (let i = 0; i < n; i++) out[i] = valid(i) ? new Date(values[i]! * DAY_MS) : null;
      else for (let i = 0; i < n; i++) out[i] = valid(i) ? new Date(Number((values as BigInt64Array)[i])) : null;
      return out;
    }
    case Type.Decimal: {
      const width = (type.bitWidth ?? 128) / 32;
      const words = data.values as Uint32Array;
      for (let i = 0; i < n; i++) out[i] = valid(i) ? decimalText(words, i * width, width, type.scale ?? 0) : null;
      return out;
    }
  }
  const vec = vector();
  for (let i = 0; i < n; i++) out[i] = vec.get(i);
  return out;
}

/** The batch's rows: one plain object per row, keyed by column name in column order. */
export function batchRows(batch: RecordBatch): Row[] {
  const fields = batch.schema.fields;
  const n = batch.numRows;
  const names = fields.map((f) => f.name);
  const cols = fields.map((_, j) => columnValues(batch.data.children[j]!, () => batch.getChildAt(j)!));
  const rows = new Array<Row>(n);
  // Assigning "__proto__" would set the prototype: such a column is defined as an own property.
  const plain = !names.includes("__proto__");
  for (let i = 0; i < n; i++) {
    const row: Row = {};
    for (let j = 0; j < names.length; j++) {
      if (plain || names[j] !== "__proto__") row[names[j]!] = cols[j]![i];
      else Object.defineProperty(row, "__proto__", { value: cols[j]![i], enumerable: true, writable: true, configurable: true });
    }
    rows[i] = row;
  }
  return rows;
}

/** A batch of a columnar split: the apache-arrow batch for `mapBatch`, rows made on first use. */
export class ColumnarReadBatch implements ReadBatch {
  private rows: Row[] | undefined;
  readonly resume: Partial<Split>;
  constructor(readonly batch: RecordBatch, readonly bytes: number, done: number, private readonly file: string, private readonly firstRow: number) {
    this.resume = { skip: done };
  }
  get length(): number {
    return this.batch.numRows;
  }
  get records(): unknown[] {
    return (this.rows ??= batchRows(this.batch));
  }
  location(i: number): RecordLocation {
    return { file: this.file, offset: 0, row: this.firstRow + i };
  }
}

/** Estimated bytes through the first k records of units (batches, row groups) of known rows and bytes. */
export function bytesThrough(units: readonly { rows: number; bytes: number }[], k: number): number {
  let bytes = 0;
  for (const u of units) {
    if (k < u.rows) return bytes + (u.bytes * k) / u.rows;
    bytes += u.bytes;
    k -= u.rows;
  }
  return bytes;
}

/**
 * Walks a split's records in order: passes over the first `split.skip` (done by an earlier
 * attempt), hands the rest to `onBatch`, and counts input bytes from the point it resumed at.
 */
export class SplitCursor {
  /** Records of the split passed so far, skipped ones included. */
  done = 0;
  private records = 0;
  private readonly skip: number;
  private skipBytes = 0;
  private lastBytes = 0;

  constructor(private readonly split: Split, private readonly firstRow: number, private readonly onBatch: (batch: ReadBatch) => void | Promise<void>) {
    this.skip = split.skip ?? 0;
  }

  /** True when the next n records are all skipped: the caller need not read them. */
  skips(n: number): boolean {
    return this.skip > 0 && this.done + n <= this.skip;
  }

  /** Passes the next n records (`batch` undefined when skipped unread); before/after: split bytes through the previous and this batch. */
  async pass(batch: RecordBatch | undefined, n: number, before: number, after: number): Promise<void> {
    const from = this.done;
    this.done += n;
    this.lastBytes = after;
    if (this.skip > 0 && this.done <= this.skip) {
      this.skipBytes = after;
      return;
    }
    if (!batch || n === 0) return;
    const cut = Math.max(0, this.skip - from);
    if (cut > 0) {
      this.skipBytes = before + ((after - before) * cut) / n;
      batch = batch.slice(cut);
    }
    this.records += batch.numRows;
    await this.onBatch(new ColumnarReadBatch(batch, this.bytes, this.done, this.split.file, this.firstRow + from + cut));
  }

  /** The input was fully read: its size is known at last. */
  end(bytes: number): void {
    this.lastBytes = bytes;
  }

  private get bytes(): number {
    return Math.round(this.lastBytes - this.skipBytes);
  }

  stats(): ReadStats {
    return { bytes: this.bytes, records: this.records };
  }
}

/** What differs between two files' schemas (names and types, in order; nullability aside), or undefined. */
export function schemaDifference(a: ArrowSchema, b: ArrowSchema): string | undefined {
  const show = (s: ArrowSchema) => s.fields.map((f) => `${f.name}: ${f.type}`).join(", ");
  if (a.fields.length !== b.fields.length) return `${b.fields.length} columns (${show(b)}) instead of ${a.fields.length} (${show(a)})`;
  for (let i = 0; i < a.fields.length; i++) {
    const fa = a.fields[i]!, fb = b.fields[i]!;
    if (fa.name !== fb.name || String(fa.type) !== String(fb.type)) return `column ${i + 1} is ${fb.name}: ${fb.type} instead of ${fa.name}: ${fa.type}`;
  }
  return undefined;
}

/**
 * The Arrow type of each column type. A timestamp is an instant (a JS Date), so it is UTC-adjusted
 * milliseconds: DuckDB reads it as TIMESTAMP WITH TIME ZONE, pyarrow as timestamp[ms, tz=UTC].
 */
export function arrowType(type: ColumnType): DataType {
  switch (type) {
    case "string": return new Utf8();
    case "int32": return new Int32();
    case "int64": return new Int64();
    case "float64": return new Float64();
    case "bool": return new Bool();
    case "date": return new DateDay();
    case "timestamp": return new Timestamp(TimeUnit.MILLISECOND, "UTC");
  }
}

export function arrowSchema(schema: Schema): ArrowSchema {
  return new ArrowSchema(Object.entries(schema).map(([name, type]) => new Field(name, arrowType(type), true)));
}

/**
 * Buffers rows fitted by `fitRow` (values in schema order) and builds record batches from them.
 * The caller flushes when `full`: every `maxRows` rows or about `maxBytes` buffered.
 */
export class ArrowBatchBuilder {
  readonly schema: ArrowSchema;
  private readonly types: ColumnType[];
  private cols: unknown[][];
  private rows = 0;
  private estimate = 0;

  constructor(schema: Schema, private readonly maxRows = 65_536, private readonly maxBytes = 32 << 20) {
    this.schema = arrowSchema(schema);
    this.types = Object.values(schema);
    this.cols = this.types.map(() => []);
  }

  get length(): number {
    return this.rows;
  }
  /** Buffered bytes, about (strings by their length, other values 8 bytes). */
  get bytes(): number {
    return this.estimate;
  }
  get full(): boolean {
    return this.rows >= this.maxRows || this.estimate >= this.maxBytes;
  }

  append(values: readonly unknown[]): void {
    for (let j = 0; j < this.cols.length; j++) {
      const v = values[j];
      this.cols[j]!.push(v);
      this.estimate += typeof v === "string" ? v.length + 4 : 8;
    }
    this.rows++;
  }

  /** The buffered rows as one batch (possibly empty, to carry the schema); the buffer starts over. */
  flush(): RecordBatch {
    const n = this.rows;
    const children = this.types.map((type, j) => columnData(type, this.schema.fields[j]!.type, this.cols[j]!, n));
    this.cols = this.types.map(() => []);
    this.rows = 0;
    this.estimate = 0;
    return new RecordBatch(this.schema, makeData({ type: new Struct(this.schema.fields), length: n, nullCount: 0, children }));
  }
}

/** One column's buffered values (null or the column's representation) as Arrow data with a validity bitmap. */
function columnData(type: ColumnType, arrow: DataType, values: unknown[], n: number): Data {
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    if (values[i] === null) nulls++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  const props = { type: arrow, length: n, nullCount: nulls, ...(nulls > 0 ? { nullBitmap: bitmap } : {}) };
  switch (type) {
    case "string": {
      const offsets = new Int32Array(n + 1);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v !== null) total += Buffer.byteLength(v as string);
        offsets[i + 1] = total;
      }
      const bytes = Buffer.allocUnsafe(total);
      for (let i = 0; i < n; i++) if (values[i] !== null) bytes.write(values[i] as string, offsets[i]!, "utf8");
      return makeData({ ...props, type: arrow as Utf8, valueOffsets: offsets, data: new Uint8Array(bytes.buffer, bytes.byteOffset, total) });
    }
    case "bool": {
      const bits = new Uint8Array((n + 7) >> 3);
      for (let i = 0; i < n; i++) if (values[i] === true) bits[i >> 3]! |= 1 << (i & 7);
      return makeData({ ...props, type: arrow as Bool, data: bits });
    }
    case "int32":
    case "float64": {
      const data = type === "int32" ? new Int32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) if (values[i] !== null) data[i] = values[i] as number;
      return makeData({ ...props, type: arrow as Int32, data });
    }
    case "int64": {
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) if (values[i] !== null) data[i] = values[i] as bigint;
      return makeData({ ...props, type: arrow as Int64, data });
    }
    case "date": {
      const data = new Int32Array(n);
      for (let i = 0; i < n; i++) if (values[i] !== null) data[i] = Math.floor((values[i] as Date).getTime() / DAY_MS);
      return makeData({ ...props, type: arrow as DateDay, data });
    }
    case "timestamp": {
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) if (values[i] !== null) data[i] = BigInt((values[i] as Date).getTime());
      return makeData({ ...props, type: arrow as Timestamp, data });
    }
  }
}

/** The part's schema, fixed by the first row unless the format gives one. */
export class RowFitter {
  schema: Schema | undefined;
  builder: ArrowBatchBuilder | undefined;
  private names: string[] = [];
  constructor(private readonly given: Schema | undefined) {}
  /** Buffers the value as a row; true when the builder should be flushed. */
  add(key: Key, value: unknown): boolean {
    const row = asRow(key, value);
    if (!this.builder) {
      const schema = this.given ?? inferSchema(row, key);
      this.builder = new ArrowBatchBuilder(schema);
      this.schema = schema;
      this.names = Object.keys(schema);
    }
    this.builder.append(fitRow(this.schema!, this.names, row, key));
    return this.builder.full;
  }
  /** The builder, made from the given schema (or none: zero columns) when no row came. */
  finalBuilder(): ArrowBatchBuilder {
    return (this.builder ??= new ArrowBatchBuilder(this.given ?? {}));
  }
}

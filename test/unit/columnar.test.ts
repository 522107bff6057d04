/**
 * Arrow IPC and Parquet readers and writers. Parquet fixtures come from DuckDB and what Sheaf
 * writes is read back by DuckDB; Arrow fixtures and read-backs use apache-arrow's own IPC code.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance, type DuckDBConnection, type DuckDBInstance as Instance } from "@duckdb/node-api";
import {
  Bool, DateDay, Float64, Int32, Int64, makeData, RecordBatch, Schema as ArrowSchema, Field, Struct, Table, TimestampMicrosecond, Utf8,
  makeVector, tableFromIPC, tableToIPC, type DataType,
} from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arrow, parquet, type Schema } from "../../core/api/formats.js";
import type { RecordLocation } from "../../core/api/types.js";
import { SheafError } from "../../core/errors.js";
import { arrowReader, createArrowWriter } from "../../core/formats/arrow.js";
import type { InputReader, RecordWriter, WriteTarget } from "../../core/formats/format.js";
import { createParquetWriter, parquetReader } from "../../core/formats/parquet.js";
import type { Split } from "../../core/splits.js";

const dir = mkdtempSync(join(tmpdir(), "sheaf-columnar-"));
let db: Instance;
let duck: DuckDBConnection;
beforeAll(async () => {
  db = await DuckDBInstance.create(":memory:", { threads: "2" });
  duck = await db.connect();
});
afterAll(() => {
  duck?.closeSync();
  db?.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

const path = (name: string) => join(dir, name);
const input = (name: string) => ({ path: path(name), size: statSync(path(name)).size });
const options = { cwd: dir, onBadRecord: () => {} };
const DAY = 86_400_000;
/** Floor division: a timestamp before 1970 with a sub-millisecond part belongs to the earlier millisecond. */
const floorDiv = (a: bigint, b: bigint) => (a % b < 0n ? a / b - 1n : a / b);

type Row = Record<string, unknown>;
interface Read {
  rows: Row[];
  rowNumbers: number[];
  resumes: number[];
  bytes: number[];
  stats: { bytes: number; records: number };
}

async function readSplit(reader: InputReader, split: Split): Promise<Read> {
  const out: Read = { rows: [], rowNumbers: [], resumes: [], bytes: [], stats: { bytes: 0, records: 0 } };
  out.stats = await reader.read(split, (batch) => {
    expect(batch.batch).toBeInstanceOf(RecordBatch);
    expect((batch.batch as RecordBatch).numRows).toBe(batch.length);
    const records = batch.records;
    expect(batch.records).toBe(records); // made once
    expect(records).toHaveLength(batch.length);
    for (let i = 0; i < records.length; i++) {
      out.rows.push(records[i] as Row);
      const loc: RecordLocation = batch.location(i);
      if (loc.file !== split.file) expect(loc.file).toBe(split.file); // (expect per row is slow)
      out.rowNumbers.push(loc.row!);
    }
    out.resumes.push(batch.resume.skip!);
    out.bytes.push(batch.bytes);
  }, options);
  return out;
}

/** Plans the files, checks the splits cover each file's units once, reads them all in order. */
async function readAllSplits(reader: InputReader, names: string[], splitSize: number, units: Record<string, number>): Promise<{ splits: Split[]; rows: Row[]; rowNumbers: number[] }> {
  const splits = await reader.plan(names.map(input), splitSize, dir);
  for (const name of names) {
    const own = splits.filter((s) => s.file === path(name));
    expect(own[0]!.start).toBe(0);
    own.forEach((s, i) => {
      expect(s.end).toBeGreaterThan(s.start);
      if (i > 0) expect(s.start).toBe(own[i - 1]!.end);
    });
    expect(own.at(-1)!.end).toBe(units[name]);
  }
  const rows: Row[] = [];
  const rowNumbers: number[] = [];
  for (const split of splits) {
    const got = await readSplit(reader, split);
    expect(got.stats.records).toBe(got.rows.length);
    expect(got.stats.bytes).toBe(split.bytes);
    expect(got.bytes).toEqual([...got.bytes].sort((a, b) => a - b));
    rows.push(...got.rows);
    rowNumbers.push(...got.rowNumbers);
  }
  return { splits, rows, rowNumbers };
}

/** Resuming at several points gives exactly the rest of the split, with the right row numbers. */
async function checkSkips(reader: InputReader, split: Split): Promise<void> {
  const full = await readSplit(reader, split);
  const n = full.rows.length;
  for (const skip of [...new Set([1, 999, 1000, 1001, 2500, Math.floor(n / 2), n - 1, n])].filter((k) => k <= n)) {
    const got = await readSplit(reader, { ...split, skip });
    expectRows(got.rows, full.rows.slice(skip));
    expect(got.rowNumbers).toEqual(full.rowNumbers.slice(skip));
    expect(got.stats.records).toBe(n - skip);
    if (got.resumes.length > 0) expect(got.resumes.at(-1)).toBe(n);
    expect(got.stats.bytes).toBeLessThanOrEqual(split.bytes!);
  }
  // A resume point reported mid-split continues where it says.
  if (full.resumes.length > 1) {
    const skip = full.resumes[0]!;
    expectRows((await readSplit(reader, { ...split, skip })).rows, full.rows.slice(skip));
  }
}

/** Row lists compared fast (a deep toEqual over 150k rows is slow), keys in order and types exact; the first difference is shown. */
function expectRows(actual: Row[], expected: Row[]): void {
  const tag = (v: unknown): string =>
    v === null ? "null" : typeof v === "bigint" ? `${v}n` : v instanceof Date ? `D${v.getTime()}` : typeof v === "string" ? JSON.stringify(v) : `${typeof v}:${String(v)}`;
  const text = (r: Row) => Object.entries(r).map(([k, v]) => `${k}=${tag(v)}`).join("|");
  const a = actual.map(text);
  const e = expected.map(text);
  const i = a.findIndex((x, k) => x !== e[k]);
  if (i >= 0) expect({ row: i, value: actual[i] }).toEqual({ row: i, value: expected[i] });
  expect(a.length).toBe(e.length);
}

async function duckRows(sql: string): Promise<Row[]> {
  return (await duck.runAndReadAll(sql)).getRowObjects() as Row[];
}

/** DuckDB's values as the readers should give them, converted here independently of Sheaf. */
function fromDuck(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    if (v !== null && typeof v === "object" && "micros" in v) out[k] = new Date(Number(floorDiv((v as { micros: bigint }).micros, 1000n)));
    else if (v !== null && typeof v === "object" && "days" in v) out[k] = new Date((v as { days: number }).days * DAY);
    else out[k] = v;
  }
  return out;
}

describe("parquet input", () => {
  const select = `SELECT
      CASE WHEN i % 7 = 3 THEN NULL ELSE (i - 5000)::BIGINT * 1000003 + 9007199254740993 END AS big,
      i / 3.0 AS d,
      CASE WHEN i % 5 = 0 THEN NULL ELSE 'vé' || i || '😀' END AS s,
      TIMESTAMP '1969-12-31 23:59:59.999500' + INTERVAL (i * 1234567) MICROSECOND AS ts,
      DATE '1969-12-25' + (i % 4000)::INT AS dt,
      (i * 7919 % 100000 - 50000)::INT AS i32,
      CASE WHEN i % 11 = 0 THEN NULL ELSE i % 2 = 0 END AS b
    FROM range(12000) t(i)`;
  beforeAll(async () => {
    await duck.run(`COPY (${select}) TO '${path("z.parquet")}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048)`);
    await duck.run(`COPY (${select}) TO '${path("s.parquet")}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 2048)`);
  });

  for (const name of ["z.parquet", "s.parquet"]) {
    it(`reads ${name} split by row group, exactly as DuckDB does`, async () => {
      const expected = (await duckRows(`SELECT * EXCLUDE (file_row_number) FROM read_parquet('${path(name)}', file_row_number = true) ORDER BY file_row_number`)).map(fromDuck);
      expect(expected).toHaveLength(12000);
      const meta = await duckRows(`SELECT count(DISTINCT row_group_id)::INT AS groups, sum(total_compressed_size)::BIGINT AS bytes FROM parquet_metadata('${path(name)}')`);
      const groups = meta[0]!.groups as number;
      expect(groups).toBeGreaterThan(4);
      for (const splitSize of [1, 20_000, 60_000, 1 << 30]) {
        const { splits, rows, rowNumbers } = await readAllSplits(parquetReader(), [name], splitSize, { [name]: groups });
        expect(splits.every((s) => s.unit === "rowGroups")).toBe(true);
        expect(splits.reduce((a, s) => a + s.bytes!, 0)).toBe(Number(meta[0]!.bytes));
        if (splitSize === 1) expect(splits).toHaveLength(groups);
        if (splitSize === 1 << 30) expect(splits).toHaveLength(1);
        expectRows(rows, expected);
        expect(rowNumbers).toEqual(expected.map((_, i) => i));
      }
      const first = (await readSplit(parquetReader(), (await parquetReader().plan([input(name)], 1 << 30, dir))[0]!)).rows;
      expect(typeof first[1]!.big).toBe("bigint");
      expect(first[1]!.big).toBe(9007199254740993n - 4999n * 1000003n);
      expect(first[0]!.ts).toEqual(new Date(-1)); // 1969-12-31 23:59:59.9995 floors to the earlier millisecond
      expect(first[0]!.dt).toEqual(new Date(Date.UTC(1969, 11, 25)));
      expect(first[0]!.s).toBeNull();
      expect(typeof first[1]!.i32).toBe("number");
      expect(first[1]!.b).toBe(false);
      expect(Object.keys(first[0]!)).toEqual(["big", "d", "s", "ts", "dt", "i32", "b"]);
    });
  }

  it("groups small row groups into no fewer splits than the tasks that can run at once", async () => {
    // Six row groups far below the split size: one split, unless the planner knows that 2 or 4 tasks can run.
    const meta = await duckRows(`SELECT count(DISTINCT row_group_id)::INT AS groups FROM parquet_metadata('${path("z.parquet")}')`);
    const groups = meta[0]!.groups as number;
    expect(await parquetReader().plan([input("z.parquet")], 64 << 20, dir)).toHaveLength(1);
    for (const parallelism of [2, 4]) {
      const splits = await parquetReader().plan([input("z.parquet")], 64 << 20, dir, parallelism);
      expect(splits.length).toBeGreaterThanOrEqual(parallelism);
      expect(splits.map((s) => [s.start, s.end])).toEqual(splits.map((s, i) => [i === 0 ? 0 : splits[i - 1]!.end, s.end]));
      expect(splits.at(-1)!.end).toBe(groups);
    }
    // More tasks than row groups: one split per row group; the split size still caps.
    expect(await parquetReader().plan([input("z.parquet")], 64 << 20, dir, 1000)).toHaveLength(groups);
    expect(await parquetReader().plan([input("z.parquet")], 1, dir, 2)).toHaveLength(groups);
  });

  it("converts decimals, small and unsigned integers, floats and odd column names", async () => {
    await duck.run(`COPY (SELECT
        CASE WHEN i = 3 THEN NULL ELSE ((i * 1234567 - 5000000) / 1000)::DECIMAL(18,3) END AS dec18,
        CASE i % 2 WHEN 0 THEN '-1234567890123456789012345678.0000000001'::DECIMAL(38,10) ELSE ('0.00000000' || i)::DECIMAL(38,10) END AS dec38,
        (i * 37 % 256 - 128)::TINYINT AS tiny,
        (18446744073709551615 - i)::UBIGINT AS ubig,
        (i / 8)::FLOAT AS real,
        i AS "__proto__"
      FROM range(8) t(i)) TO '${path("types.parquet")}' (FORMAT parquet)`);
    const types = await duckRows(`SELECT column_type FROM (DESCRIBE SELECT * FROM '${path("types.parquet")}')`);
    expect(types.map((t) => t.column_type)).toEqual(["DECIMAL(18,3)", "DECIMAL(38,10)", "TINYINT", "UBIGINT", "FLOAT", "BIGINT"]);
    // DuckDB's row objects would lose a "__proto__" column (it sets the prototype): it is renamed here.
    const duckText = await duckRows(`SELECT dec18::VARCHAR AS dec18, dec38::VARCHAR AS dec38, tiny::INT AS tiny, ubig, real, "__proto__" AS p FROM '${path("types.parquet")}'`);
    const [split] = await parquetReader().plan([input("types.parquet")], 1 << 30, dir);
    const rows = (await readSplit(parquetReader(), split!)).rows;
    expect(rows.map((r) => Object.entries(r))).toEqual(duckText.map(({ p, ...r }) => Object.entries({ ...r, ["__proto__"]: p })));
    expect(rows[3]!.dec18).toBeNull();
    expect(rows[0]!.dec18).toBe("-5000.000");
    expect(rows[0]!.dec38).toBe("-1234567890123456789012345678.0000000001");
    expect(rows[1]!.dec38).toBe("0.0000000010");
    expect(rows[0]!.ubig).toBe(18446744073709551615n);
    expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
    expect(Object.keys(rows[0]!)).toEqual(["dec18", "dec38", "tiny", "ubig", "real", "__proto__"]);
  });

  it("resumes a split at any record count", async () => {
    const splits = await parquetReader().plan([input("z.parquet")], 40_000, dir);
    const split = splits.find((s) => s.end - s.start >= 2) ?? splits[0]!;
    await checkSkips(parquetReader(), split);
  });
});


/** Known columns for the Arrow fixtures, and the rows they hold. */
function arrowFixture(sizes: number[]): { table: Table; rows: Row[] } {
  const schema = new ArrowSchema([
    new Field("big", new Int64(), true), new Field("d", new Float64(), true), new Field("s", new Utf8(), true),
    new Field("ts", new TimestampMicrosecond(), true), new Field("dt", new DateDay(), true), new Field("i32", new Int32(), true), new Field("b", new Bool(), true),
  ]);
  const rows: Row[] = [];
  const batches: RecordBatch[] = [];
  let at = 0;
  for (const n of sizes) {
    const valid = (i: number, every: number) => (at + i) % every !== 1;
    const bitmap = (every: number) => Uint8Array.from({ length: (n + 7) >> 3 }, (_, b) => {
      let byte = 0;
      for (let k = 0; k < 8 && b * 8 + k < n; k++) if (valid(b * 8 + k, every)) byte |= 1 << k;
      return byte;
    });
    const nulls = (every: number) => Array.from({ length: n }, (_, i) => !valid(i, every)).filter(Boolean).length;
    const big = BigInt64Array.from({ length: n }, (_, i) => 2n ** 62n - BigInt((at + i) * 997));
    const d = Float64Array.from({ length: n }, (_, i) => (at + i) * 0.25 - 3);
    const strings = Array.from({ length: n }, (_, i) => (valid(i, 4) ? `ß${at + i}→` : null));
    const bytes = strings.map((x) => Buffer.from(x ?? ""));
    const offsets = new Int32Array(n + 1);
    bytes.forEach((b, i) => (offsets[i + 1] = offsets[i]! + b.length));
    const ts = BigInt64Array.from({ length: n }, (_, i) => BigInt(at + i) * 1_000_001_001n - 5_000_500n);
    const dt = Int32Array.from({ length: n }, (_, i) => (at + i) % 30000 - 1000);
    const i32 = Int32Array.from({ length: n }, (_, i) => (at + i) * 31 - 1e6);
    const b = Uint8Array.from({ length: (n + 7) >> 3 }, (_, k) => (at + k) & 0xff);
    const col = (type: DataType, props: object, every = 0) => makeData({ type, length: n, nullCount: every ? nulls(every) : 0, ...(every ? { nullBitmap: bitmap(every) } : {}), ...props } as never);
    const children = [
      col(new Int64(), { data: big }, 3), col(new Float64(), { data: d }), col(new Utf8(), { data: Buffer.concat(bytes), valueOffsets: offsets }, 4),
      col(new TimestampMicrosecond(), { data: ts }, 5), col(new DateDay(), { data: dt }), col(new Int32(), { data: i32 }, 6), col(new Bool(), { data: b }),
    ];
    batches.push(new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children })));
    for (let i = 0; i < n; i++) {
      rows.push({
        big: valid(i, 3) ? big[i] : null, d: d[i], s: strings[i],
        ts: valid(i, 5) ? new Date(Number(floorDiv(ts[i]!, 1000n))) : null, dt: new Date(dt[i]! * DAY),
        i32: valid(i, 6) ? i32[i] : null, b: ((b[i >> 3]! >> (i & 7)) & 1) === 1,
      });
    }
    at += n;
  }
  return { table: new Table(batches), rows };
}

describe("arrow input", () => {
  const sizes = [1000, 1, 2500, 0, 700, 1300];
  const { table, rows: expected } = arrowFixture(sizes);
  beforeAll(() => {
    writeFileSync(path("f.arrow"), tableToIPC(table, "file"));
    writeFileSync(path("st.arrow"), tableToIPC(table, "stream"));
  });

  it("reads an IPC file split by record batch", async () => {
    expect(expected[0]!.ts).toEqual(new Date(-5001)); // -5000.5 ms floors to -5001
    for (const splitSize of [1, 50_000, 1 << 30]) {
      const { splits, rows, rowNumbers } = await readAllSplits(arrowReader, ["f.arrow"], splitSize, { "f.arrow": sizes.length });
      expect(splits.every((s) => s.unit === "batches")).toBe(true);
      if (splitSize === 1) expect(splits).toHaveLength(sizes.length);
      if (splitSize === 1 << 30) expect(splits).toHaveLength(1);
      expectRows(rows, expected);
      expect(rowNumbers).toEqual(expected.map((_, i) => i));
    }
    const [split] = await arrowReader.plan([input("f.arrow")], 1 << 30, dir);
    await checkSkips(arrowReader, split!);
    const [, second] = await arrowReader.plan([input("f.arrow")], 1, dir); // the one-row batch: rows numbered within the file
    expect((await readSplit(arrowReader, second!)).rowNumbers).toEqual([1000]);
  });

  it("reads an IPC stream whole", async () => {
    const splits = await arrowReader.plan([input("st.arrow")], 1, dir);
    expect(splits).toEqual([{ file: path("st.arrow"), start: 0, end: statSync(path("st.arrow")).size, unit: "whole", bytes: statSync(path("st.arrow")).size }]);
    const got = await readSplit(arrowReader, splits[0]!);
    expectRows(got.rows, expected);
    expect(got.rowNumbers).toEqual(expected.map((_, i) => i));
    expect(got.stats.bytes).toBe(splits[0]!.bytes);
    await checkSkips(arrowReader, splits[0]!);
  });
});

const target = (name: string): WriteTarget => ({ path: path(name), job: {} as WriteTarget["job"], taskId: "reduce-00000", attempt: "attempt-1-0" });

async function writeAll(writer: RecordWriter, rows: Row[]): Promise<{ bytes: number; records: number }> {
  for (const [i, row] of rows.entries()) await writer.write(i, row);
  expect(writer.sync()).toBeUndefined();
  return writer.close();
}

/** Rows with nulls, int64 beyond 2^53, Dates and unicode strings. */
function outputRows(n: number): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    id: 2n ** 60n + BigInt(i),
    name: i % 10 === 3 ? null : `nom-${i}-é中😀`,
    score: i % 13 === 0 ? null : i / 7,
    when: new Date(Date.UTC(2024, 0, 1) + i * 1001),
    flag: i % 3 === 0,
  }));
}

describe("writers", () => {
  const schema: Schema = { flag: "bool", when: "timestamp", day: "date", small: "int32", id: "int64", name: "string", score: "float64" };
  const rows: Row[] = outputRows(150_000).map((r, i) => ({ ...r, day: new Date(Date.UTC(2020, 1, 29) + (i % 400) * DAY), small: i % 2 ? -i : null }));

  it("writes Parquet that DuckDB reads back, in batches and row groups", async () => {
    const writer = createParquetWriter(parquet({ schema }), target("out.parquet"), { rowGroupRows: 50_000 });
    const done = await writeAll(writer, rows);
    expect(done).toEqual({ bytes: statSync(path("out.parquet")).size, records: rows.length });
    const types = await duckRows(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '${path("out.parquet")}')`);
    expect(types.map((t) => t.column_name)).toEqual(Object.keys(schema));
    expect(types.map((t) => t.column_type)).toEqual(["BOOLEAN", "TIMESTAMP WITH TIME ZONE", "DATE", "INTEGER", "BIGINT", "VARCHAR", "DOUBLE"]);
    const meta = await duckRows(`SELECT DISTINCT row_group_id, compression FROM parquet_metadata('${path("out.parquet")}')`);
    expect(new Set(meta.map((m) => m.row_group_id)).size).toBe(3);
    expect(new Set(meta.map((m) => m.compression))).toEqual(new Set(["ZSTD"]));
    const back = (await duckRows(`SELECT * EXCLUDE (file_row_number) FROM read_parquet('${path("out.parquet")}', file_row_number = true) ORDER BY file_row_number`)).map(fromDuck);
    expectRows(back, rows.map((r) => Object.fromEntries(Object.keys(schema).map((k) => [k, r[k]]))));
    // and Sheaf reads its own output, one split per row group
    const { rows: again } = await readAllSplits(parquetReader(), ["out.parquet"], 1, { "out.parquet": 3 });
    expectRows(again, back);
  });

  it("writes every Parquet codec", async () => {
    const names = { zstd: "ZSTD", snappy: "SNAPPY", gzip: "GZIP", lz4: "LZ4_RAW", none: "UNCOMPRESSED" } as const;
    for (const [codec, name] of Object.entries(names)) {
      const format = parquet({ compression: codec as keyof typeof names, schema: { id: "int64", name: "string", score: "float64", when: "timestamp", flag: "bool" } });
      await writeAll(createParquetWriter(format, target(`c-${codec}.parquet`)), outputRows(1000));
      const meta = await duckRows(`SELECT DISTINCT compression FROM parquet_metadata('${path(`c-${codec}.parquet`)}')`);
      expect(meta.map((m) => m.compression)).toEqual([name]);
      expect(await duckRows(`SELECT count(*)::INT AS n FROM '${path(`c-${codec}.parquet`)}'`)).toEqual([{ n: 1000 }]);
    }
  });

  it("writes an Arrow IPC file that apache-arrow reads back", async () => {
    const done = await writeAll(createArrowWriter(arrow({ schema }), target("out.arrow")), rows);
    expect(done).toEqual({ bytes: statSync(path("out.arrow")).size, records: rows.length });
    const table = tableFromIPC(readFileSync(path("out.arrow")));
    expect(table.batches.length).toBeGreaterThanOrEqual(3);
    expect(table.schema.fields.map((f) => `${f.name}: ${f.type}`)).toEqual([
      "flag: Bool", "when: Timestamp<MILLISECOND, UTC>", "day: Date32<DAY>", "small: Int32", "id: Int64", "name: Utf8", "score: Float64",
    ]);
    const back = table.toArray().map((r: { toJSON(): Row }) => r.toJSON());
    // apache-arrow gives timestamps and dates as epoch milliseconds
    expectRows(back, rows.map((r) => Object.fromEntries(Object.keys(schema).map((k) => [k, r[k] instanceof Date ? (r[k] as Date).getTime() : r[k]]))));
    const { rows: again } = await readAllSplits(arrowReader, ["out.arrow"], 1, { "out.arrow": table.batches.length });
    expectRows(again, rows.map((r) => Object.fromEntries(Object.keys(schema).map((k) => [k, r[k]]))));
  });

  for (const kind of ["arrow", "parquet"] as const) {
    const make = (name: string, s?: Schema) => (kind === "arrow" ? createArrowWriter(arrow({ schema: s }), target(name)) : createParquetWriter(parquet({ schema: s }), target(name)));

    it(`${kind}: infers the schema from the first row; rejects rows that do not fit, naming them`, async () => {
      const writer = make(`infer.${kind}`);
      await writer.write("k1", { a: 1n, b: "x", c: 1.5, d: true, e: new Date(0), f: null });
      await expect(async () => writer.write("k2", { a: "not a number" })).rejects.toThrow(/field a of the record with key "k2"/);
      await expect(async () => writer.write("k3", 42)).rejects.toThrow(/plain object.*key "k3"/);
      await expect(async () => writer.write("k4", { a: 2n ** 64n })).rejects.toThrow(SheafError);
      await expect(async () => writer.write("k5", { zz: 1 })).rejects.toThrow(/field zz .* not in the output schema/);
      await writer.write("k6", { a: 2n, f: "y" });
      expect((await writer.close()).records).toBe(2);
      const types = kind === "arrow"
        ? tableFromIPC(readFileSync(path(`infer.${kind}`))).schema.fields.map((f) => String(f.type))
        : (await duckRows(`SELECT column_type FROM (DESCRIBE SELECT * FROM '${path(`infer.${kind}`)}')`)).map((t) => t.column_type);
      expect(types).toEqual(kind === "arrow"
        ? ["Int64", "Utf8", "Float64", "Bool", "Timestamp<MILLISECOND, UTC>", "Utf8"]
        : ["BIGINT", "VARCHAR", "DOUBLE", "BOOLEAN", "TIMESTAMP WITH TIME ZONE", "VARCHAR"]);
    });

    it(`${kind}: an explicit schema fixes the column order; an empty part still gets a file`, async () => {
      const writer = make(`order.${kind}`, { z: "string", a: "int32" });
      await writer.write(1, { a: 5, z: "q" });
      await writer.close();
      const names = kind === "arrow"
        ? tableFromIPC(readFileSync(path(`order.${kind}`))).schema.fields.map((f) => f.name)
        : (await duckRows(`SELECT column_name FROM (DESCRIBE SELECT * FROM '${path(`order.${kind}`)}')`)).map((t) => t.column_name);
      expect(names).toEqual(["z", "a"]);

      expect(await make(`empty-typed.${kind}`, { z: "string" }).close()).toMatchObject({ records: 0 });
      expect(await make(`empty.${kind}`).close()).toMatchObject({ records: 0 });
      const reader = kind === "arrow" ? arrowReader : parquetReader();
      expect(await reader.plan([input(`empty-typed.${kind}`), input(`empty.${kind}`), input(`order.${kind}`)], 1, dir)).toHaveLength(1);
      if (kind === "arrow") expect(tableFromIPC(readFileSync(path("empty.arrow"))).schema.fields).toHaveLength(0);
      else expect(await duckRows(`SELECT count(*)::INT AS n FROM '${path("empty-typed.parquet")}'`)).toEqual([{ n: 0 }]);
    });

    it(`${kind}: abandon removes the part`, async () => {
      const writer = make(`gone.${kind}`);
      for (let i = 0; i < 70_000; i++) await writer.write(i, { i });
      await writer.abandon();
      expect(existsSync(path(`gone.${kind}`))).toBe(false);
    });
  }
});

describe("bad inputs", () => {
  async function badInput(reader: InputReader, names: string[], file: string): Promise<void> {
    const err = await reader.plan(names.map(input), 1 << 20, dir).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SheafError);
    expect((err as SheafError).code).toBe("BAD_INPUT");
    expect((err as SheafError).message).toContain(path(file));
    expect((err as SheafError).message).not.toContain("\n");
  }

  it("a truncated or foreign Parquet file", async () => {
    await duck.run(`COPY (SELECT range AS i FROM range(5000)) TO '${path("ok.parquet")}' (FORMAT parquet)`);
    const bytes = readFileSync(path("ok.parquet"));
    writeFileSync(path("cut.parquet"), bytes.subarray(0, bytes.length - 100));
    writeFileSync(path("text.parquet"), "id,name\n1,x\n");
    await badInput(parquetReader(), ["ok.parquet", "cut.parquet"], "cut.parquet");
    await badInput(parquetReader(), ["text.parquet"], "text.parquet");
  });

  it("Parquet and Arrow files whose schemas differ", async () => {
    await duck.run(`COPY (SELECT range::VARCHAR AS i FROM range(10)) TO '${path("other.parquet")}' (FORMAT parquet)`);
    await badInput(parquetReader(), ["ok.parquet", "other.parquet"], "other.parquet");
    const a = new Table({ i: makeVector(Int32Array.from([1, 2, 3])) });
    writeFileSync(path("a1.arrow"), tableToIPC(a, "file"));
    writeFileSync(path("a2.arrow"), tableToIPC(arrowFixture([10]).table, "file"));
    await badInput(arrowReader, ["a1.arrow", "a2.arrow"], "a2.arrow");
  });

  it("a truncated or foreign Arrow file", async () => {
    const bytes = readFileSync(path("a1.arrow"));
    writeFileSync(path("cut.arrow"), bytes.subarray(0, bytes.length - 30));
    writeFileSync(path("text.arrow"), "not arrow at all\n".repeat(20));
    await badInput(arrowReader, ["cut.arrow"], "cut.arrow");
    await badInput(arrowReader, ["text.arrow"], "text.arrow");
  });
});

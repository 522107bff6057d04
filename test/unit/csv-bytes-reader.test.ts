/**
 * The bytes-to-Arrow CSV reader against independent oracles, on generated nasty input: csv-parse
 * (each line alone, as the contract reads a line) for the fields and for which lines are bad, and
 * the generator's own typed values (ints past 2^53, doubles, timestamps with fractions) for the
 * typing. Read at several split sizes, by rows and by RecordBatch, which must agree.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RecordBatch } from "apache-arrow";
import { parse } from "csv-parse/sync";
import { afterAll, describe, expect, it } from "vitest";
import { csv, type CsvOptions } from "../../core/api/formats.js";
import { csvReader } from "../../core/formats/csv.js";

const dir = mkdtempSync(join(tmpdir(), "sheaf-csv-bytes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ["a", "b", "Z", " ", ",", '"', "ü", "日本", "😀", "\r", "x y", "'", ";", "\t", "NULL"];
const COLUMNS = { id: "int64", n: "int32", x: "float64", ts: "timestamp", d: "date" } as const;
const HEADER = ["id", "s", "n", "x", "ts", "d", "t"];

interface Case { text: string; rows: Record<string, unknown>[]; badLines: number[] }

/** A field's text, quoted when it must be (and now and then when it need not be). */
function field(v: string, r: () => number): string {
  return /[",\r\n]/.test(v) || v.startsWith(" ") || r() < 0.2 ? `"${v.replace(/"/g, '""')}"` : v;
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

/** Timestamp text in one of the spellings the contract reads, for epoch ms `ms`, and the instant it names. */
function tsText(ms: number, r: () => number): [string, number] {
  const d = new Date(ms);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
  const k = Math.floor(r() * 5);
  const floor = (unit: number) => Math.floor(ms / unit) * unit;
  if (k === 0) return [date, floor(86_400_000)];
  const hm = `${date}${r() < 0.5 ? "T" : " "}${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}`;
  if (k === 1) return [hm, floor(60_000)];
  const s = `${hm}:${pad(d.getUTCSeconds(), 2)}`;
  if (k === 2) return [s + (r() < 0.5 ? "Z" : ""), floor(1000)];
  // A fraction of 3 to 9 digits: its first three are the milliseconds, the rest are floored away.
  const digits = 3 + Math.floor(r() * 7);
  return [`${s}.${pad(d.getUTCMilliseconds(), 3)}${"123456789".slice(0, digits - 3)}${k === 4 ? "Z" : ""}`, ms];
}

/** Rows of random typed values and nasty strings, some lines bad on purpose, LF or CRLF, blank lines between. */
function generate(seed: number, count: number): Case {
  const r = rng(seed);
  const lines = [HEADER.join(",")];
  const rows: Record<string, unknown>[] = [];
  const badLines: number[] = [];
  for (let i = 0; i < count; i++) {
    if (r() < 0.03) lines.push(""); // blank: no record
    const id = r() < 0.1 ? 9007199254740993n + BigInt(i) : BigInt(Math.floor((r() - 0.5) * 1e12));
    const n = Math.floor((r() - 0.5) * 2 ** 32);
    const x = r() < 0.5 ? Math.round((r() - 0.5) * 1e6) / 100 : (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20);
    const ms = Math.floor(r() * 4e12) - 1e12;
    const [tsShown, tsMs] = tsText(ms, r);
    const tsValue = new Date(tsMs);
    const day = new Date(Math.floor(ms / 86_400_000) * 86_400_000);
    const s = Array.from({ length: Math.floor(r() * 6) }, () => PIECES[Math.floor(r() * PIECES.length)]!).join("");
    const nullX = r() < 0.1;
    const nullS = s === "";
    const t = r() < 0.5 ? "plain" : "with, comma";
    const cells = [
      (r() < 0.1 ? " " : "") + id.toString() + (r() < 0.1 ? " " : ""),
      field(s, r),
      (r() < 0.05 && n >= 0 ? "+" : "") + String(n),
      nullX ? "" : r() < 0.3 ? x.toExponential() : String(x),
      tsShown,
      day.toISOString().slice(0, 10),
      field(t, r),
    ];
    const kind = r();
    let line = cells.join(",");
    if (kind < 0.02) line = cells.slice(1).join(","); // a field short
    else if (kind < 0.04) line = line.replace(/,/, ',"open'); // a quote never closed
    else if (kind < 0.06) line = cells.map((c, j) => (j === 2 ? "12x" : c)).join(","); // not an int32
    else if (kind < 0.07) line = cells.map((c, j) => (j === 6 ? '"q"z' : c)).join(","); // text after a closing quote
    else if (kind < 0.08) line = cells.map((c, j) => (j === 6 ? 'a"b' : c)).join(","); // a quote inside a field
    const lineNo = lines.length + 1;
    lines.push(line);
    if (kind < 0.08) badLines.push(lineNo);
    else rows.push({ id, s: nullS ? null : s, n, x: nullX ? null : x, ts: tsValue, d: day, t });
  }
  const crlf = seed % 2 === 1;
  return { text: lines.join(crlf ? "\r\n" : "\n") + (seed % 3 === 0 ? "" : crlf ? "\r\n" : "\n"), rows, badLines };
}

interface Read { rows: Record<string, unknown>[]; batches: RecordBatch[]; bad: { line?: number; message: string }[] }

async function read(text: string, options: CsvOptions, splitSize: number): Promise<Read> {
  const file = join(dir, `f${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(file, text);
  const reader = csvReader(csv(options));
  const out: Read = { rows: [], batches: [], bad: [] };
  for (const split of await reader.plan([{ path: file, size: statSync(file).size }], splitSize, dir)) {
    await reader.read(split, (b) => {
      out.rows.push(...(b.records as Record<string, unknown>[]));
      out.batches.push(b.batch as RecordBatch);
    }, { cwd: dir, onBadRecord: (at, message) => void out.bad.push({ line: at.line, message }) });
  }
  return out;
}

/**
 * csv-parse's reading of each line alone: the lines it refuses or splits into other than the
 * header's width (or whose int32 is the generator's "12x"), and the text fields (`s`, `t`) of the others.
 */
function oracle(text: string): { bad: number[]; strings: [string | null, string][] } {
  const bad: number[] = [];
  const strings: [string | null, string][] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.endsWith("\r") && i < lines.length - 1 ? raw.slice(0, -1) : raw;
    if (i === 0 || line === "") return;
    try {
      const records = parse(line, { record_delimiter: ["\r\n", "\n"], relax_column_count: true }) as string[][];
      const f = records[0]!;
      if (records.length !== 1 || f.length !== HEADER.length || f[2]!.trim() === "12x") bad.push(i + 1);
      else strings.push([f[1] === "" ? null : f[1]!, f[6]!]);
    } catch {
      bad.push(i + 1);
    }
  });
  return { bad, strings };
}

describe("csv() read from bytes into Arrow columns", () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`agrees with csv-parse and the generated values (seed ${seed}), at every split size, by rows and by batch`, async () => {
      const c = generate(seed, 1500);
      const o = oracle(c.text);
      expect(o.bad).toEqual(c.badLines);
      expect(o.strings).toEqual(c.rows.map((r) => [r.s, r.t]));
      for (const splitSize of [97, 4096, 1 << 20]) {
        const got = await read(c.text, { columns: COLUMNS }, splitSize);
        expect(got.bad.map((b) => b.line)).toEqual(c.badLines);
        expect(got.rows).toEqual(c.rows);
        // The batches hold the same values, typed as Arrow columns.
        const fromBatches = got.batches.flatMap((b) => b.toArray().map((r) => r.toJSON() as Record<string, unknown>));
        expect(fromBatches.map((r) => r.id)).toEqual(c.rows.map((r) => r.id));
        expect(fromBatches.map((r) => r.x)).toEqual(c.rows.map((r) => r.x));
        expect(fromBatches.map((r) => r.s)).toEqual(c.rows.map((r) => r.s));
        expect(fromBatches.map((r) => Number(r.ts))).toEqual(c.rows.map((r) => (r.ts as Date).getTime()));
        expect(String(got.batches[0]!.schema.fields.map((f) => `${f.name}:${f.type}`))).toBe(
          "id:Int64,s:Utf8,n:Int32,x:Float64,ts:Timestamp<MILLISECOND, UTC>,d:Date32<DAY>,t:Utf8");
      }
    });
  }

  it("reads what the csv-parse reader (multiline) reads, value for value, on good input", async () => {
    const c = generate(7, 800);
    const good = c.text.split("\n").filter((_, i) => !c.badLines.includes(i + 1)).join("\n");
    const bytes = await read(good, { columns: COLUMNS }, 1 << 20);
    const parsed = await read(good, { columns: COLUMNS, multiline: true }, 1 << 20);
    expect(bytes.bad).toEqual([]);
    expect(bytes.rows).toEqual(parsed.rows);
    expect(bytes.rows).toEqual(c.rows);
    // mapBatch gets a RecordBatch either way, of the same schema and values.
    const json = (r: Read) => r.batches.flatMap((b) => b.toArray().map((row) => JSON.stringify(row.toJSON(), (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))));
    expect(String(parsed.batches[0]!.schema.fields)).toBe(String(bytes.batches[0]!.schema.fields));
    expect(json(parsed)).toEqual(json(bytes));
  });

  it("names bad rows as csv-parse words them, with their lines", async () => {
    const text = 'a,b\n1,"open\n2,"q"z\n3,x"y\n4\n5,6\n';
    const got = await read(text, { columns: { a: "int32" } }, 1 << 20);
    expect(got.rows).toEqual([{ a: 5, b: "6" }]);
    expect(got.bad).toEqual([
      { line: 2, message: "bad CSV row: a quoted field is not closed" },
      { line: 3, message: expect.stringMatching(/^bad CSV row: Invalid Closing Quote: got "z"/) },
      { line: 4, message: expect.stringMatching(/^bad CSV row: Invalid Opening Quote: a quote is found on field 1/) },
      { line: 5, message: "bad CSV row: expected 2 fields, got 1" },
    ]);
  });

  it("reads invalid UTF-8 as U+FFFD, as decoding the line does, and keeps the other values", async () => {
    const text = Buffer.concat([Buffer.from("a,b\n1,x"), Buffer.from([0xff, 0xfe]), Buffer.from("y\n2,ok\n")]);
    const file = join(dir, "bad-utf8.csv");
    writeFileSync(file, text);
    const reader = csvReader(csv({ columns: { a: "int32" } }));
    const rows: unknown[] = [];
    for (const split of await reader.plan([{ path: file, size: statSync(file).size }], 1 << 20, dir)) {
      await reader.read(split, (b) => void rows.push(...b.records), { cwd: dir, onBadRecord: () => {} });
    }
    expect(rows).toEqual([{ a: 1, b: "x\uFFFD\uFFFDy" }, { a: 2, b: "ok" }]);
  });

  it("without a header, names columns by `columns` then _c<i>, and keeps nullValues", async () => {
    const got = await read("1,NULL,x\n2,,\n", { header: false, columns: { id: "int32" }, nullValues: ["", "NULL"] }, 1 << 20);
    expect(got.rows).toEqual([{ id: 1, _c1: null, _c2: "x" }, { id: 2, _c1: null, _c2: null }]);
  });
});

/**
 * Parquet and Arrow through `sheaf run`, against DuckDB: DuckDB writes the inputs (ZSTD and Snappy
 * Parquet, several row groups, int64 beyond 2^53, timestamps, nulls), Sheaf aggregates them, and
 * DuckDB reads Sheaf's Parquet back and compares it with its own aggregate of the same files.
 */
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tableFromArrays, tableToIPC } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { duckRows, duckRun, sqlText } from "../support/duckdb.js";
import { Scratch, leftovers, outputText, partFiles, run, runOk, sameOutput } from "./helpers.js";

const s = new Scratch("columnar");
afterAll(() => s.cleanup());

let workdir: string;
let zstd: string;
let snappy: string;

const SOURCE = (from: number, rows: number) => `SELECT (9007199254740993 + i * 3)::BIGINT AS id, 'c' || (i % 7) AS country,
  CASE WHEN i % 10 = 0 THEN NULL ELSE ((i % 100) * 0.5)::DOUBLE END AS amount,
  TIMESTAMP '2024-05-01 00:00:00' + INTERVAL (i * 61) SECOND AS "at", (i % 3)::INT AS kind
  FROM range(${from}, ${from + rows}) t(i)`;

beforeAll(async () => {
  workdir = s.path("workdir");
  zstd = s.path("in/a.parquet");
  snappy = s.path("in/b.parquet");
  await duckRun(`COPY (${SOURCE(0, 30000)}) TO ${sqlText(zstd)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 4096)`);
  await duckRun(`COPY (${SOURCE(30000, 12000)}) TO ${sqlText(snappy)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 5000)`);
});

const byCountryJob = (format: "parquet" | "arrow", batch: boolean) => s.write(
  `jobs/by-country-${format}-${batch}.ts`,
  `import { defineJob, ${format} } from "sheaf";
interface Agg { n: number; total: number; nulls: number; maxId: bigint; last: number }
export default defineJob({
  name: "by-country",
  input: ${format}(),
  ${batch
    ? `mapBatch(batch: any, emit) {
    // The fast path: columns of an apache-arrow RecordBatch.
    const id = batch.getChild("id"), country = batch.getChild("country"), amount = batch.getChild("amount"), at = batch.getChild("at");
    for (let i = 0; i < batch.numRows; i++) {
      const a = amount.get(i);
      emit(country.get(i), { n: 1, total: a ?? 0, nulls: a === null ? 1 : 0, maxId: id.get(i), last: Number(at.get(i)) });
    }
  },`
    : `map(r: { id: bigint; country: string; amount: number | null; at: Date }, emit) {
    if (typeof r.id !== "bigint" || !(r.at instanceof Date)) throw new Error("int64 must be a bigint and timestamps Dates");
    emit(r.country, { n: 1, total: r.amount ?? 0, nulls: r.amount === null ? 1 : 0, maxId: r.id, last: r.at.getTime() });
  },`}
  combine: (_c, vs) => merge(vs),
  reduce: (country: string, vs) => { const m = merge(vs); return { country, n: m.n, total: m.total, nulls: m.nulls, maxId: m.maxId, last: new Date(m.last) }; },
  output: ${format}(),
  partitions: 2,
});
function merge(vs: Iterable<Agg>): Agg {
  const m: Agg = { n: 0, total: 0, nulls: 0, maxId: -1n, last: 0 };
  for (const v of vs) { m.n += v.n; m.total += v.total; m.nulls += v.nulls; if (BigInt(v.maxId) > m.maxId) m.maxId = BigInt(v.maxId); m.last = Math.max(m.last, v.last); }
  return m;
}
`,
);

async function oracle(files: string[]) {
  return duckRows(`SELECT country, count(*) AS n, sum(coalesce(amount, 0)) AS total, count(*) FILTER (WHERE amount IS NULL) AS nulls, max(id) AS maxId, epoch_ms(max("at")) AS lastAt
    FROM read_parquet([${files.map(sqlText).join(", ")}]) GROUP BY country ORDER BY country`);
}

async function readBack(out: string) {
  return duckRows(`SELECT country, n::BIGINT AS n, total, nulls::BIGINT AS nulls, maxId, epoch_ms("last") AS lastAt FROM read_parquet(${sqlText(out + "/part-*.parquet")}) ORDER BY country`);
}

describe("parquet()", () => {
  it("aggregates DuckDB's ZSTD and Snappy files like DuckDB, per row group or per file, row by row or by RecordBatch", async () => {
    const want = (await oracle([zstd, snappy])).map((r) => ({ ...r, n: BigInt(r.n as number), nulls: BigInt(r.nulls as number) })) as Record<string, unknown>[];
    let first: string | undefined;
    for (const [splitSize, batch] of [["1", false], ["64m", false], ["1", true]] as const) {
      const out = s.fresh();
      runOk({ job: byCountryJob("parquet", batch), inputs: [zstd, snappy], output: out, workdir, splitSize, threads: 2 });
      expect(partFiles(out).map((p) => p.name)).toEqual(["part-00000.parquet", "part-00001.parquet"]);
      const got = await readBack(out);
      expect(got.map((r) => ({ ...r, total: Math.round((r.total as number) * 100) }))).toEqual(want.map((r) => ({ ...r, total: Math.round((r.total as number) * 100) })));
      // Values of a key reach reduce in the same order whatever the splits: identical files.
      if (!batch) first ??= out;
      if (!batch && first !== out) sameOutput(first!, out);
    }
  });

  it("reads Sheaf's own Parquet output as the next job's input", async () => {
    const out = s.fresh();
    runOk({ job: byCountryJob("parquet", false), inputs: [zstd], output: out, workdir });
    const job = s.write("jobs/reread.ts", `import { defineJob, parquet, csv } from "sheaf";
export default defineJob({ name: "reread", input: parquet(), map: (r: any, emit) => emit(r.country, { country: r.country, n: r.n, maxId: r.maxId }), output: csv() });`);
    const again = s.fresh();
    runOk({ job, inputs: [out], output: again, workdir });
    const want = (await oracle([zstd])).map((r) => `${r.country},${r.n},${r.maxId}`).sort();
    expect(outputText(again).split("\n").filter((l) => l && !l.startsWith("country")).sort()).toEqual(want);
  });

  it("with columns, decodes only those (rows hold just them); an unknown column is named before any task runs", async () => {
    const job = s.write("jobs/projected.ts", `import { defineJob, parquet, csv } from "sheaf";
export default defineJob({ name: "projected", input: parquet({ columns: ["country", "amount"] }),
  map(r: Record<string, unknown>, emit) { if (Object.keys(r).join() !== "country,amount") throw new Error("got " + Object.keys(r).join()); emit(r.country as string, r.amount ?? 0); },
  reduce: (country: string, vs: Iterable<number>) => { let t = 0; for (const v of vs) t += v; return { country, total: Math.round(t * 100) }; }, output: csv(), partitions: 1 });`);
    const out = s.fresh();
    runOk({ job, inputs: [zstd], output: out, workdir });
    const want = (await oracle([zstd])).map((r) => `${r.country},${Math.round((r.total as number) * 100)}`);
    expect(outputText(out).trim().split("\n").slice(1)).toEqual(want);
    const bad = s.write("jobs/projected-bad.ts", readFileSync(job, "utf8").replace(`["country", "amount"]`, `["country", "nope"]`));
    const r = run({ job: bad, inputs: [zstd], output: s.fresh(), workdir });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/a\.parquet.*no column nope/);
  });

  it("a truncated file fails before any task runs, naming the file, and leaves no output", () => {
    const bad = s.path("bad/truncated.parquet");
    copyFileSync(zstd, bad);
    truncateSync(bad, Math.floor(readFileSync(bad).length / 2));
    const out = s.fresh();
    const r = run({ job: byCountryJob("parquet", false), inputs: [bad], output: out, workdir });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/truncated\.parquet/);
    expect(leftovers(out)).toEqual([]);
  });
});

describe("arrow()", () => {
  it("writes IPC files that a second job (and apache-arrow) read back, record batch by record batch", async () => {
    const out = s.fresh();
    const arrowJob = s.write("jobs/to-arrow.ts", `import { defineJob, parquet, arrow } from "sheaf";
export default defineJob({ name: "to-arrow", input: parquet(), map: (r: any, emit) => emit(r.id, r), output: arrow({ schema: { id: "int64", country: "string", amount: "float64", at: "timestamp", kind: "int32" } }) });`);
    runOk({ job: arrowJob, inputs: [zstd, snappy], output: out, workdir, splitSize: "40k" });
    const again = s.fresh();
    runOk({ job: byCountryJob("arrow", true), inputs: [out], output: again, workdir, splitSize: "1" });
    // The arrow job wrote Arrow parts; its aggregate (read from them) must equal DuckDB's over the Parquet inputs.
    const want = await oracle([zstd, snappy]);
    const { tableFromIPC } = await import("apache-arrow");
    const rows = partFiles(again).flatMap((p) => tableFromIPC(p.bytes).toArray().map((r) => r.toJSON()));
    rows.sort((a, b) => (a.country < b.country ? -1 : 1));
    expect(rows.map((r) => [r.country, r.n, Math.round(r.total * 100), r.nulls, r.maxId])).toEqual(
      want.map((r) => [r.country, Number(r.n), Math.round((r.total as number) * 100), Number(r.nulls), r.maxId]),
    );
  });

  it("an input file whose schema differs from the others fails naming it", () => {
    const a = s.path("mixed/a.arrow"), b = s.path("mixed/b.arrow");
    writeFileSync(a, tableToIPC(tableFromArrays({ country: ["x", "y"], amount: Float64Array.from([1, 2]) }), "file"));
    writeFileSync(b, tableToIPC(tableFromArrays({ country: ["x"], amount: Int32Array.from([1]) }), "file"));
    const out = s.fresh();
    const r = run({ job: byCountryJob("arrow", false), inputs: [a, b], output: out, workdir });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/b\.arrow/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(leftovers(out)).toEqual([]);
  });
});

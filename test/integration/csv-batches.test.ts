/**
 * CSV → Parquet by record batch (bench/jobs/csv-to-parquet.ts: `mapBatch` emits each Arrow batch
 * whole) and by row (bench/jobs/csv-to-parquet-rows.ts), on a DuckDB-written CSV with quoted
 * commas, `""`, UTF-8, CRLF, nulls and int64 past 2^53: DuckDB reads each output back and finds
 * exactly the rows its own read_csv finds; each job's output is byte-identical across thread
 * counts and split sizes; apache-arrow reads the parts too.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { tableFromIPC } from "apache-arrow";
import * as pw from "parquet-wasm/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { duckRows, duckRun, sqlText } from "../support/duckdb.js";
import { Scratch, partFiles, run, runOk, sameOutput } from "./helpers.js";

const s = new Scratch("csv-batches");
afterAll(() => s.cleanup());

const BATCH_JOB = "bench/jobs/csv-to-parquet.ts";
const ROWS_JOB = "bench/jobs/csv-to-parquet-rows.ts";
const TYPES = `{'order_id': 'BIGINT', 'customer': 'VARCHAR', 'country': 'VARCHAR', 'quantity': 'INTEGER', 'amount': 'DOUBLE', 'ordered_at': 'TIMESTAMP', 'note': 'VARCHAR'}`;
const N = 30_000;
let input: string;
let workdir: string;

beforeAll(async () => {
  workdir = s.path("workdir");
  const lf = s.path("in/lf.csv");
  await duckRun(`COPY (
    SELECT (9007199254740000 + i)::BIGINT AS order_id,
      CASE i % 4 WHEN 0 THEN 'Acme, Inc. #' || i WHEN 1 THEN 'The "Best" Shop' WHEN 2 THEN 'Müller & Söhne 日本' ELSE '' END AS customer,
      ['US', 'DE', 'JP'][1 + i % 3] AS country,
      (i % 50 - 10)::INTEGER AS quantity,
      CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 37 % 100000) / 100.0 END AS amount,
      TIMESTAMP '2024-01-01' + to_milliseconds(i * 7919) AS ordered_at,
      CASE WHEN i % 5 = 0 THEN NULL ELSE 'note "' || i || '", fragile' END AS note
    FROM range(${N}) t(i)) TO ${sqlText(lf)} (HEADER, FORCE_QUOTE (customer))`);
  // CRLF line ends, as a Windows export has them.
  input = s.write("in/orders.csv", readFileSync(lf, "utf8").replace(/\n/g, "\r\n"));
});

/** Rows in one set but not the other (both ways), by DuckDB: 0 when Sheaf's Parquet holds exactly what read_csv reads. */
async function difference(out: string): Promise<number> {
  const csvSql = `SELECT order_id, customer, country, quantity, amount, ordered_at AT TIME ZONE 'UTC' AS ordered_at, note FROM read_csv(${sqlText(input)}, header = true, columns = ${TYPES})`;
  const pq = `SELECT order_id, customer, country, quantity, amount, ordered_at AT TIME ZONE 'UTC' AS ordered_at, note FROM read_parquet(${sqlText(out + "/part-*.parquet")})`;
  const [row] = await duckRows(`SELECT (SELECT count(*) FROM ((${csvSql}) EXCEPT ALL (${pq}))) + (SELECT count(*) FROM ((${pq}) EXCEPT ALL (${csvSql}))) AS d, (SELECT count(*) FROM (${pq})) AS n`);
  expect(Number(row!.n)).toBe(N);
  return Number(row!.d);
}

describe("CSV → Parquet, by record batch and by row", () => {
  for (const job of [BATCH_JOB, ROWS_JOB]) {
    it(`${job}: DuckDB reads back what it reads from the CSV; byte-identical across threads and split sizes`, async () => {
      const one = s.fresh("one");
      runOk({ job, inputs: [input], output: one, workdir, threads: 1, splitSize: "256k" });
      expect(partFiles(one).length).toBeGreaterThan(3);
      expect(await difference(one)).toBe(0);
      const two = s.fresh("two");
      runOk({ job, inputs: [input], output: two, workdir, threads: 2, splitSize: "256k" });
      sameOutput(one, two);
      const whole = s.fresh("whole");
      runOk({ job, inputs: [input], output: whole, workdir, threads: 2 });
      expect(partFiles(whole).length).toBe(1);
      expect(await difference(whole)).toBe(0);
      // apache-arrow, through parquet-wasm's reader, sees the declared types.
      const t = tableFromIPC(pw.readParquet(partFiles(whole)[0]!.bytes).intoIPCStream());
      expect(t.numRows).toBe(N);
      expect(t.schema.fields.map((f) => `${f.name}:${f.type}`).join(",")).toBe(
        "order_id:Int64,customer:Utf8,country:Utf8,quantity:Int32,amount:Float64,ordered_at:Timestamp<MILLISECOND, UTC>,note:Utf8");
    });
  }

  it("the batch and row jobs write the same rows, and the same bytes per part", () => {
    const a = s.fresh("a"), b = s.fresh("b");
    runOk({ job: BATCH_JOB, inputs: [input], output: a, workdir, threads: 2, splitSize: "1m" });
    runOk({ job: ROWS_JOB, inputs: [input], output: b, workdir, threads: 2, splitSize: "1m" });
    sameOutput(a, b);
  });

  it("a batch that does not fit the output schema fails naming the column, and a bad row names its file and line", () => {
    const job = s.write("jobs/wrong.ts", `import { csv, defineJob, parquet } from "sheaf";
export default defineJob({
  name: "wrong",
  input: csv({ columns: { order_id: "int64" } }),
  mapBatch: (batch, emit) => emit(0, batch),
  output: parquet({ schema: { order_id: "int32", customer: "string" } }),
});
`);
    const r = run({ job, inputs: [input], output: s.fresh(), workdir });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/column .* of an emitted record batch is not in the output schema|column order_id of an emitted record batch is Int64, not Int32/);

    const bad = s.path("bad/orders.csv");
    writeFileSync(bad, readFileSync(input, "utf8").split("\r\n").slice(0, 100).join("\r\n").replace(/\r\n(9007199254740050),/, "\r\n$1x,") + "\r\n");
    const r2 = run({ job: BATCH_JOB, inputs: [bad], output: s.fresh(), workdir });
    expect(r2.status).not.toBe(0);
    expect(r2.stderr).toMatch(/column order_id: "9007199254740050x" is not an int64 .*bad\/orders\.csv byte \d+, line 52/);
  });
});

/**
 * CSV in and out, against DuckDB: DuckDB writes the inputs (quoted fields with commas, quotes and
 * line breaks, nulls, int64 beyond 2^53, timestamps), Sheaf aggregates them, and DuckDB reads
 * Sheaf's CSV output back and compares it with its own aggregate of the same file.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { duckRows, duckRun, sqlText } from "../support/duckdb.js";
import { Scratch, leftovers, outputText, run, runOk } from "./helpers.js";

const s = new Scratch("csv");
afterAll(() => s.cleanup());

let workdir: string;
let orders: string;
let dailyJob: string;
let rowsJob: string;

beforeAll(async () => {
  workdir = s.path("workdir");
  orders = s.path("in/orders.csv");
  // 5,000 rows: names with commas and quotes, null amounts, ids past 2^53, timestamps over 9 days.
  await duckRun(`COPY (
    SELECT (9007199254740993 + i * 7)::BIGINT AS id,
           CASE WHEN i % 5 = 0 THEN 'Smith, "J" ' || i ELSE 'n' || (i % 13) END AS name,
           CASE WHEN i % 11 = 0 THEN NULL ELSE round((i % 1000) * 0.25, 2) END AS amount,
           TIMESTAMP '2024-03-01 00:00:00' + INTERVAL (i * 157) SECOND AS ts
    FROM range(5000) t(i)) TO ${sqlText(orders)} (HEADER, DELIMITER ',')`);
  dailyJob = s.write(
    "jobs/daily.ts",
    `import { defineJob, csv } from "sheaf";
export default defineJob({
  name: "daily",
  input: csv({ columns: { id: "int64", amount: "float64", ts: "timestamp" } }),
  map(row: { id: bigint; amount: number | null; ts: Date }, emit) {
    emit(row.ts.toISOString().slice(0, 10), { n: 1, total: row.amount ?? 0, nulls: row.amount === null ? 1 : 0, maxId: row.id });
  },
  combine: (_d, vs) => merge(vs),
  reduce: (day: string, vs) => ({ day, ...merge(vs) }),
  output: csv({ schema: { day: "string", n: "int64", total: "float64", nulls: "int32", maxId: "int64" } }),
});
function merge(vs: Iterable<{ n: number; total: number; nulls: number; maxId: bigint }>) {
  let n = 0, total = 0, nulls = 0, maxId = -1n;
  for (const v of vs) { n += Number(v.n); total += v.total; nulls += v.nulls; if (BigInt(v.maxId) > maxId) maxId = BigInt(v.maxId); }
  return { n, total: Math.round(total * 100) / 100, nulls, maxId };
}
`,
  );
  rowsJob = s.write(
    "jobs/rows.ts",
    `import { defineJob, csv, jsonl } from "sheaf";
export default defineJob({
  name: "rows",
  input: csv({ multiline: true, columns: { id: "int32" } }),
  map(row: { id: number; text: string | null }, emit, ctx) { emit(row.id, { text: row.text, line: ctx.input?.line }); },
  output: jsonl(),
});
`,
  );
});

async function oracleDaily(file: string) {
  return duckRows(`SELECT strftime(ts, '%Y-%m-%d') AS day, count(*) AS n, round(sum(coalesce(amount, 0)), 2) AS total,
    count(*) FILTER (WHERE amount IS NULL) AS nulls, max(id) AS maxId
    FROM read_csv(${sqlText(file)}, header = true, columns = {'id': 'BIGINT', 'name': 'VARCHAR', 'amount': 'DOUBLE', 'ts': 'TIMESTAMP'})
    GROUP BY day ORDER BY day`);
}

async function sheafDaily(out: string) {
  return duckRows(`SELECT day, n, total, nulls, maxId FROM read_csv(${sqlText(out + "/part-*.csv")}, header = true,
    columns = {'day': 'VARCHAR', 'n': 'BIGINT', 'total': 'DOUBLE', 'nulls': 'BIGINT', 'maxId': 'BIGINT'}) ORDER BY day`);
}

describe("csv()", () => {
  it("aggregates DuckDB's CSV like DuckDB does, at several split sizes, and DuckDB reads the output back", async () => {
    const expected = await oracleDaily(orders);
    expect(expected.length).toBe(10);
    let first: string | undefined;
    for (const splitSize of ["3k", "64m"]) {
      const out = s.fresh();
      runOk({ job: dailyJob, inputs: [orders], output: out, workdir, splitSize, partitions: 3, threads: 2 });
      expect(existsSync(`${out}/part-00000.csv`)).toBe(true);
      expect(await sheafDaily(out)).toEqual(expected);
      const text = outputText(out);
      first ??= text;
      expect(text).toBe(first);
    }
  });

  it("reads .gz files as a stream, with the same result as the plain file", async () => {
    const gz = s.path("gz/orders.csv.gz");
    writeFileSync(gz, execFileSync("gzip", ["-c", orders]));
    const out = s.fresh();
    runOk({ job: dailyJob, inputs: [gz], output: out, workdir, partitions: 2 });
    expect(await sheafDaily(out)).toEqual(await oracleDaily(orders));
  });

  it("with multiline: true, reads quoted fields holding line breaks, quotes, commas and CRLF", async () => {
    const file = s.path("multi/rows.csv");
    await duckRun(`COPY (SELECT i::INT AS id, CASE WHEN i % 4 = 0 THEN NULL WHEN i % 4 = 1 THEN 'two' || chr(10) || 'lines, "q"' ELSE 'plain ' || i END AS text
      FROM range(300) t(i)) TO ${sqlText(file)} (HEADER)`);
    const expected = await duckRows(`SELECT id, text FROM read_csv(${sqlText(file)}, header = true, columns = {'id': 'INT', 'text': 'VARCHAR'}) ORDER BY id`);
    const out = s.fresh();
    runOk({ job: rowsJob, inputs: [file], output: out, workdir, partitions: 1 });
    const got = outputText(out).trim().split("\n").map((l) => JSON.parse(l) as { key: number; value: { text: string | null; line: number } });
    expect(got.map((r) => ({ id: r.key, text: r.value.text }))).toEqual(expected);
    // Line numbers count the line breaks inside quoted fields.
    const lineOf = (id: number) => got.find((r) => r.key === id)!.value.line;
    expect(lineOf(0)).toBe(2);
    expect(lineOf(2)).toBe(5); // row 1 spans lines 3 and 4
  });

  it("names the file and line of a row with an unclosed quote or a value that does not fit, and writes nothing", () => {
    const bad = s.write("bad/orders.csv", 'id,name,amount,ts\n1,a,2.5,2024-01-01\n2,"unclosed,3,2024-01-01\n');
    const out = s.fresh();
    const r = run({ job: dailyJob, inputs: [bad], output: out, workdir });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/job daily failed: task map-00000 .*quoted field is not closed.* at .*bad\/orders\.csv byte 37, line 3/);
    expect(leftovers(out)).toEqual([]);

    const bad2 = s.write("bad2/orders.csv", "id,name,amount,ts\n1,a,2.5,2024-01-01\n2,b,lots,2024-01-01\n");
    const r2 = run({ job: dailyJob, inputs: [bad2], output: s.fresh(), workdir });
    expect(r2.status).not.toBe(0);
    expect(r2.stderr).toMatch(/column amount: "lots" is not a number.*bad2\/orders\.csv byte 37, line 3/);
    expect(r2.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("skips bad rows within skipBadRecords and lists them in _bad_records", () => {
    const job = s.write("jobs/skip.ts", readFileSync(dailyJob, "utf8").replace(`name: "daily",`, `name: "daily-skip", skipBadRecords: 2,`));
    const bad = s.write("skip/orders.csv", 'id,name,amount,ts\n1,a,2.5,2024-01-01T10:00:00\n2,"x,3,2024-01-01\n3,b,1,not a time\n4,c,1.5,2024-01-01 23:59:59\n');
    const out = s.fresh();
    runOk({ job, inputs: [bad], output: out, workdir, partitions: 1 });
    expect(outputText(out)).toBe("day,n,total,nulls,maxId\n2024-01-01,2,4,0,4\n");
    const listed = readFileSync(`${out}/_bad_records`, "utf8").trim().split("\n").slice(1).map((l) => l.split("\t").slice(0, 3));
    expect(listed).toEqual([[bad, "46", "3"], [bad, "64", "4"]]);
  });
});

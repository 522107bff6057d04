// ETL benchmark 2: CSV → Parquet conversion. A generated orders CSV of about BENCH_CSV_SIZE
// (default 1g; quoted strings with commas, "" escapes and UTF-8, int64 and int32 columns, floats
// with 1% blanks, millisecond timestamps, a quoted note that is blank a quarter of the time),
// written by DuckDB once into bench/data/etl/, converted to zstd Parquet by:
//  - sheaf --threads 2: bench/jobs/csv-to-parquet.ts, a map-only job with typed csv() columns whose
//    mapBatch emits each Arrow batch whole to a parquet() output with a schema (one part file per
//    64 MiB map task); bench/jobs/csv-to-parquet-rows.ts is its per-row form;
//  - duckdb --threads 2, the baseline: COPY (SELECT * FROM read_csv(…, columns = {…the same types})) TO
//    '….parquet' (FORMAT parquet, COMPRESSION zstd), in a process of its own (bench/etl-duckdb.mjs).
// Each is a whole process, timed wall clock (node startup included), with its peak RSS. Both outputs
// are read back with DuckDB: row counts (equal to the rows generated) and checksums of every column
// must agree, else the benchmark fails. Env: BENCH_CSV_SIZE (default 1g), BENCH_RUNS (default 1).
import { readdirSync, statSync } from "node:fs";
import { cpus } from "node:os";
import {
  checkBuilt, checkIdle, runRounds, data, duckdb, ensureFile, fail, median, mib, parseSize, positiveInt, readOnce, root, sheafArgs, sqlString,
} from "./etl-common.mjs";

const VERSION = 1; // bump when the generated data changes
const BYTES_PER_ROW = 84.5; // of this generator's CSV, measured: sets the row count for a target size
const size = parseSize("BENCH_CSV_SIZE", process.env.BENCH_CSV_SIZE ?? "1g");
const runs = positiveInt("BENCH_RUNS", 1);
const rows = Math.max(1, Math.round(size / BYTES_PER_ROW));
const input = `${data}/orders-v${VERSION}-${rows}.csv`;
checkBuilt();

// DuckDB writes what it reads, so both contenders type the columns alike: here and in the job.
const COLUMNS = { order_id: "BIGINT", customer: "VARCHAR", country: "VARCHAR", quantity: "INTEGER", amount: "DOUBLE", ordered_at: "TIMESTAMP", note: "VARCHAR" };
const CUSTOMERS = ["Acme, Inc.", "Wayne Enterprises", 'The "Best" Shop', "Hooli", "Initech", "Globex Corporation", "Umbrella, Ltd.", "Stark Industries", 'Soylent "Green" Co', "Müller & Söhne"];
const COUNTRIES = ["US", "CN", "JP", "DE", "IN", "GB", "FR", "IT", "BR", "CA", "RU", "KR", "AU", "ES", "MX", "ID", "NL", "SA", "TR", "CH"];
const NOTES = ["leave at the door", "call first, then ring twice", 'gift wrap, no "receipt"', "fragile", "deliver after 5pm"];
const list = (xs) => `[${xs.map(sqlString).join(", ")}]`;
const pick = (xs, seed) => `${list(xs)}[1 + (hash(i + ${seed}) % ${xs.length})::INTEGER]`;

const genStart = performance.now();
const generated = await ensureFile(input, async (tmp) => {
  const db = await duckdb();
  await db.run(`COPY (
    SELECT i::BIGINT + 1000000 AS order_id,
      ${pick(CUSTOMERS, 0)} || ' #' || (hash(i + 7) % 10000)::VARCHAR AS customer,
      ${pick(COUNTRIES, 1)} AS country,
      (1 + hash(i + 2) % 20)::INTEGER AS quantity,
      CASE WHEN hash(i + 3) % 100 = 0 THEN NULL ELSE (hash(i + 4) % 1000000)::DOUBLE / 100 END AS amount,
      TIMESTAMP '2024-01-01' + to_milliseconds((hash(i + 5) % 31536000000)::BIGINT) AS ordered_at,
      CASE WHEN hash(i + 6) % 4 = 0 THEN NULL ELSE ${pick(NOTES, 8)} END AS note
    FROM range(${rows}) t(i)
  ) TO ${sqlString(tmp)} (HEADER, FORCE_QUOTE (customer, note))`);
});
if (generated) console.log(`generated ${input} in ${((performance.now() - genStart) / 1000).toFixed(1)} s`);
const bytes = readOnce(input);

const duckColumns = `{${Object.entries(COLUMNS).map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`).join(", ")}}`;
const contenders = [
  {
    name: "duckdb -t 2",
    output: `${data}/out-csv-duckdb.parquet`,
    args: (o) => [`${root}bench/etl-duckdb.mjs`, "SET threads = 2",
      `COPY (SELECT * FROM read_csv(${sqlString(input)}, header = true, columns = ${duckColumns})) TO ${sqlString(o)} (FORMAT parquet, COMPRESSION zstd)`],
  },
  { name: "sheaf -t 2", output: `${data}/out-csv-sheaf`, args: (o) => sheafArgs("csv-to-parquet.ts", input, o, 2) },
];

checkIdle();
console.log(`CSV → Parquet of ${rows.toLocaleString("en-US")} rows, ${(bytes / 1e6).toFixed(0)} MB of CSV, ${runs} run(s) each, on ${cpus().length} cores (${process.version})`);
const noisy = (await runRounds(contenders, runs, checkOutputs)) > 0.1;

for (const c of contenders) c.mbps = bytes / 1e6 / median(c.seconds);
const [duck, sheaf] = contenders;
console.log(`\n${"contender".padEnd(14)} ${"median s".padStart(9)} ${"MB/s".padStart(7)} ${"CPU s".padStart(7)} ${"peak RSS".padStart(9)} ${"output".padStart(8)}   runs (s)`);
for (const c of contenders) {
  const cells = [median(c.seconds).toFixed(2).padStart(9), c.mbps.toFixed(1).padStart(7), median(c.cpu).toFixed(2).padStart(7), mib(Math.max(...c.rss)).padStart(9),
    `${(c.outBytes / 1e6).toFixed(0)} MB`.padStart(8)];
  console.log(`${c.name.padEnd(14)} ${cells.join(" ")}   ${c.seconds.map((s) => s.toFixed(2)).join(" ")}`);
}
console.log();
console.log(`etl-csv-parquet duckdb -t 2: ${duck.mbps.toFixed(1)} MB/s`);
console.log(`etl-csv-parquet sheaf -t 2: ${sheaf.mbps.toFixed(1)} MB/s (${(sheaf.mbps / duck.mbps).toFixed(2)}x duckdb), peak RSS ${mib(Math.max(...sheaf.rss))}`);
if (noisy) console.log("warning: other processes were busy during some runs (see above); the figures are noisy");
console.log("(MB = 10^6 bytes of CSV in; times are whole processes, node startup included; CPU s = user + system; " +
  "peak RSS = the highest of the runs; row counts and column checksums verified equal)");

/** Row count and per-column checksums of a Parquet output (a file, or the part files of a folder), by DuckDB. */
async function checksums(db, output) {
  const files = output.endsWith(".parquet") ? [output] : readdirSync(output).filter((f) => f.endsWith(".parquet")).map((f) => `${output}/${f}`);
  if (files.length === 0) fail(`no Parquet files in ${output}`);
  const reader = await db.runAndReadAll(`SELECT count(*) AS rows, sum(order_id) AS order_id, sum(length(customer)) AS customer_chars,
      count(DISTINCT customer) AS customers, sum(hash(country)) AS country, sum(quantity) AS quantity, count(amount) AS amounts,
      sum(amount) AS amount, sum(epoch_ms(ordered_at)) AS ordered_at, count(note) AS notes, sum(length(note)) AS note_chars
    FROM read_parquet([${files.map(sqlString).join(", ")}])`);
  const [row] = reader.getRowObjects();
  return { sums: Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? null : typeof v === "object" ? String(v) : v])),
    bytes: files.reduce((a, f) => a + statSync(f).size, 0) };
}

/** Fails unless both outputs hold the rows generated, with equal checksums (the float sum within 1e-9 relative). */
async function checkOutputs([reference, ...others]) {
  const db = await duckdb();
  const expected = await checksums(db, reference.output);
  reference.outBytes = expected.bytes;
  if (Number(expected.sums.rows) !== rows) fail(`${reference.name} wrote ${expected.sums.rows} rows, not ${rows}`);
  for (const c of others) {
    const got = await checksums(db, c.output);
    c.outBytes = got.bytes;
    for (const [k, e] of Object.entries(expected.sums)) {
      const g = got.sums[k];
      const same = k === "amount" ? Math.abs(Number(g) - Number(e)) <= 1e-9 * Math.abs(Number(e)) : String(g) === String(e);
      if (!same) fail(`${c.name}: ${k} is ${g} in its output, ${e} in ${reference.name}'s`);
    }
  }
  db.closeSync();
}

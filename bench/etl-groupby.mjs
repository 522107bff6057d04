// ETL benchmark 1: group-by over Parquet. Count, sum and mean of `amount` per (country, category)
// over a generated Parquet file (BENCH_ROWS rows, default 10 M: id int64, country string of 50
// values, category int32 of 20 values, amount float64; zstd, 10 row groups), written by DuckDB
// once into bench/data/etl/.
//
// Contenders, each a whole process, timed wall clock (node startup included), with peak RSS:
//  - sheaf mapBatch --threads 2: bench/jobs/groupby-batch.ts, the fast path (an apache-arrow
//    RecordBatch per call, pre-aggregated in the batch, one partial per group per batch);
//  - sheaf map --threads 2: bench/jobs/groupby-rows.ts, the idiomatic per-row job;
//  - hand loop: bench/etl-groupby-loop.mjs, a single-thread Node.js loop with the same libraries
//    (parquet-wasm + apache-arrow) and the same per-batch aggregation code, reading only the
//    three columns it needs;
//  - hand loop, 2 threads: the same loop on two worker threads (row groups dealt between them),
//    what a second thread gives on this machine without an engine;
//  - duckdb --threads 2: the same aggregation in SQL (bench/etl-duckdb.mjs);
//  - sheaf mapBatch --threads 2 reading the same file from an S3-compatible store;
// and two diagnostics: sheaf mapBatch --threads 1, and the hand loop decoding every column.
// Issue 21's targets, both printed: sheaf mapBatch -t 2 within 1.15x of the hand 2-thread loop's
// time (at 10 M rows), and at least 1.6x the hand single-thread loop's speed on an input where the
// hand 2-thread loop itself reaches 1.8x (100 M rows: BENCH_ROWS=100000000 BENCH_ONLY=targets).
// Sheaf runs at the default split size: each row group (~6.5 MB) is a map task of its own.
// All outputs must hold the same groups and counts, and sums equal within 1e-9 relative, else the
// benchmark fails. Env: BENCH_ROWS (default 10000000), BENCH_RUNS (default 3), BENCH_ONLY=targets
// (only the contenders the target lines need: the two hand loops and sheaf mapBatch -t 2).
import { cpus } from "node:os";
import { checkBuilt, checkIdle, fail, runRounds, data, median, mib, positiveInt, readOnce, root, sheafArgs, sqlString, startStore } from "./etl-common.mjs";
import { checkGroups, groupbyInput } from "./etl-groupby-data.mjs";

const rows = positiveInt("BENCH_ROWS", 10_000_000);
const runs = positiveInt("BENCH_RUNS", 3);
const only = process.env.BENCH_ONLY ?? "";
if (!["", "targets"].includes(only)) fail(`BENCH_ONLY: expected targets, got ${JSON.stringify(only)}`);
checkBuilt();
const { input, rowGroup } = await groupbyInput(rows);
const bytes = readOnce(input);

// The same file in an S3-compatible store (s3rver, on loopback), for the store row: Sheaf reads its
// footer and row groups by ranged GETs.
const store = only ? undefined : await startStore(`${data}/s3rver`, input);

const out = (name) => `${data}/out-groupby-${name}`;
const all = [
  { name: "hand loop (1 thread)", target: true, output: out("loop.csv"), args: (o) => [`${root}bench/etl-groupby-loop.mjs`, input, o] },
  { name: "hand loop, 2 threads", target: true, output: out("loop-t2.csv"), args: (o) => [`${root}bench/etl-groupby-loop.mjs`, input, o, "--threads", "2"] },
  { name: "sheaf mapBatch -t 2", target: true, output: out("batch-t2"), args: (o) => sheafArgs("groupby-batch.ts", input, o, 2) },
  { name: "sheaf map -t 2", output: out("rows-t2"), args: (o) => sheafArgs("groupby-rows.ts", input, o, 2) },
  {
    name: "duckdb -t 2",
    output: out("duckdb.csv"),
    args: (o) => [`${root}bench/etl-duckdb.mjs`, "SET threads = 2",
      `COPY (SELECT country, category, count(*) AS n, sum(amount) AS sum, avg(amount) AS mean FROM read_parquet(${sqlString(input)}) GROUP BY ALL) TO ${sqlString(o)} (HEADER)`],
  },
  { name: "sheaf mapBatch -t 1", diagnostic: true, output: out("batch-t1"), args: (o) => sheafArgs("groupby-batch.ts", input, o, 1) },
  { name: "hand loop, all columns", diagnostic: true, output: out("loop-all.csv"), args: (o) => [`${root}bench/etl-groupby-loop.mjs`, input, o, "--all-columns"] },
  { name: "sheaf mapBatch -t 2, s3", output: out("batch-t2-s3"), env: store?.env, args: (o) => sheafArgs("groupby-batch.ts", store.url, o, 2) },
];
const contenders = only ? all.filter((c) => c.target) : all;

checkIdle();
console.log(`group-by over ${rows.toLocaleString("en-US")} rows of Parquet (${(bytes / 1e6).toFixed(1)} MB, ${Math.ceil(rows / rowGroup)} row groups), ` +
  `${runs} run(s) each, on ${cpus().length} cores (${process.version})${only ? `; only the contenders of the target lines` : ""}`);
const noisy = await runRounds(contenders, runs, (cs) => checkGroups(cs, rows)).finally(() => store?.stop()) > 0.1;

for (const c of contenders) c.rowsPerSec = rows / median(c.seconds);
const named = (name) => contenders.find((c) => c.name === name);
const [loop, loop2, batch2, rows2, duck, batch1, loopAll, fromStore] = ["hand loop (1 thread)", "hand loop, 2 threads", "sheaf mapBatch -t 2", "sheaf map -t 2", "duckdb -t 2",
  "sheaf mapBatch -t 1", "hand loop, all columns", "sheaf mapBatch -t 2, s3"].map(named);
console.log(`\n${"contender".padEnd(25)} ${"median s".padStart(9)} ${"Mrows/s".padStart(8)} ${"best s".padStart(7)} ${"CPU s".padStart(7)} ${"peak RSS".padStart(9)}   runs (s)`);
for (const c of contenders) {
  const cells = [median(c.seconds).toFixed(2).padStart(9), (c.rowsPerSec / 1e6).toFixed(2).padStart(8), Math.min(...c.seconds).toFixed(2).padStart(7),
    median(c.cpu).toFixed(2).padStart(7), mib(Math.max(...c.rss)).padStart(9)];
  console.log(`${(c.name + (c.diagnostic ? " *" : "")).padEnd(25)} ${cells.join(" ")}   ${c.seconds.map((s) => s.toFixed(2)).join(" ")}`);
}
const ratio = (a, b) => a.rowsPerSec / b.rowsPerSec;
const x = (r) => `${r.toFixed(2)}x`;
const cpuRatio = (a, b) => x(median(a.cpu) / median(b.cpu));
const peak = Math.max(...batch2.rss);
const rowsText = `${rows / 1e6} M rows`;
// Issue 21's target 2, as the issue states it: a time ratio against the hand 2-thread loop, and a
// speed-up over the hand single-thread loop that counts where the hand loop's own second thread gives 1.8x.
const time2 = median(batch2.seconds) / median(loop2.seconds);
const speedup = ratio(batch2, loop), handSpeedup = ratio(loop2, loop);
console.log();
console.log(`etl-groupby sheaf mapBatch -t 2 / hand loop 2 threads, time at ${rowsText}: ${x(time2)} (target <= 1.15x)${time2 <= 1.15 ? "" : "  ABOVE TARGET"}; ` +
  `CPU ${cpuRatio(batch2, loop2)}`);
console.log(`etl-groupby sheaf mapBatch -t 2 / hand loop 1 thread, speed at ${rowsText}: ${x(speedup)} (target >= 1.6x where the hand loop's 2 threads reach 1.8x; ` +
  `here they reach ${x(handSpeedup)}${handSpeedup >= 1.8 ? `)${speedup >= 1.6 ? "" : "  BELOW TARGET"}` : `, so the target does not apply${rows < 1e8 ? " at this size: try BENCH_ROWS=100000000 BENCH_ONLY=targets" : " in this run"})`}`);
if (duck) {
  console.log(`etl-groupby sheaf mapBatch -t 2 / duckdb -t 2: ${x(ratio(batch2, duck))}`);
  console.log(`etl-groupby sheaf map -t 2 / sheaf mapBatch -t 2: ${x(ratio(rows2, batch2))}`);
  console.log(`etl-groupby sheaf map -t 2 / hand loop: ${x(ratio(rows2, loop))}`);
  console.log(`etl-groupby sheaf mapBatch -t 2 from the store / from a local file: ${x(ratio(fromStore, batch2))}`);
}
console.log(`etl-groupby sheaf mapBatch peak RSS: ${mib(peak)} (target < 1024 MiB)${peak < 2 ** 30 ? "" : "  ABOVE TARGET"}`);
if (batch1) {
  console.log(`diagnostics: sheaf mapBatch -t 2 / -t 1: ${x(ratio(batch2, batch1))}; ` +
    `hand loop all columns / 3 columns: ${x(ratio(loopAll, loop))}; sheaf mapBatch -t 1 / hand loop all columns: ${x(ratio(batch1, loopAll))}`);
}
if (noisy) console.log("warning: other processes were busy during some runs (see above); the figures are noisy");
console.log("(rows/s over the median wall time of whole processes, node startup included; best s = the fastest run; CPU s = median user + system; " +
  "peak RSS = the highest of the runs; * = diagnostic; outputs verified equal)");

// ETL benchmark 3: the fixed cost of a job. Whole processes over inputs of about 1 KB, so that what
// is timed is what every job pays whatever its size: Node's start, loading the CLI and the runner,
// bundling the job (or finding its bundle cached), starting the threads and loading the task code
// and formats in them, planning, the commit, the exit. Contenders, each timed wall clock:
//  - node -e 0: Node's own start, the floor every contender includes;
//  - sheaf run jobs/wordcount.ts over 1 KB of text (lines in, TSV out);
//  - sheaf run jobs/clean-orders.ts over 1 KB of the example orders CSV (typed CSV in, zstd Parquet
//    out: csv-parse, apache-arrow and parquet-wasm all loaded);
//  - sheaf run jobs/orders-nightly.ts, the example ETL pipeline (clean → daily, 2 stages on one
//    pool) over that 1 KB as its day's orders, --force so that every run runs both stages; reported
//    per stage: (its time − node's start) / stages;
// and a diagnostic: the CSV → Parquet job with an empty bundle cache (SHEAF_CACHE_DIR fresh each
// run), which pays esbuild as a job run for the first time after an edit does.
// The default thread count (the machine's CPUs), as a plain `sheaf run`. Each figure is the median of
// BENCH_RUNS runs (default 9), the contenders taking turns. Outputs are checked every round: the word
// counts against a count made here, the Parquet parts and the pipeline's by DuckDB (same rows every run).
// Target (issue 21): a 1 KB job, CSV → Parquet included, under 0.3 s beyond Node's start.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { checkBuilt, checkIdle, cli, data, duckdb, fail, median, positiveInt, root, runRounds, sqlString } from "./etl-common.mjs";

const runs = positiveInt("BENCH_RUNS", 9);
const TARGET = 0.3;
checkBuilt();

// Inputs: whole lines, up to 1 KB, of the repository's README and of the example orders.
const dir = `${data}/overhead`;
const firstLines = (text, max) => text.slice(0, text.lastIndexOf("\n", max) + 1);
const textFile = `${dir}/text-1k.txt`;
const csvText = firstLines(readFileSync(`${root}jobs/data/orders.csv`, "utf8"), 1024);
const day = "2026-11-28";
const ordersDir = `${dir}/orders`;
mkdirSync(`${ordersDir}/${day}`, { recursive: true });
writeFileSync(textFile, firstLines(readFileSync(`${root}README.md`, "utf8"), 1024));
writeFileSync(`${dir}/orders-1k.csv`, csvText);
writeFileSync(`${ordersDir}/${day}/orders.csv`, csvText);
const warehouse = `${dir}/warehouse`;
const workdir = ["--workdir", `${dir}/sheaf-work`];
const run = (job, input, output) => [cli, "run", `${root}jobs/${job}`, "--input", input, "--output", output, "--overwrite", "-q", ...workdir];

const contenders = [
  { name: "node -e 0", output: `${dir}/none`, args: () => ["-e", "0"] },
  { name: "wordcount, 1 KB", output: `${dir}/out-wordcount`, args: (o) => run("wordcount.ts", textFile, o) },
  { name: "CSV -> Parquet, 1 KB", output: `${dir}/out-clean`, args: (o) => run("clean-orders.ts", `${dir}/orders-1k.csv`, o) },
  {
    name: "pipeline, 2 stages",
    output: `${dir}/none`,
    args: () => [cli, "run", `${root}jobs/orders-nightly.ts`, "--at", day, "--force", "-q", "--param", `orders=${ordersDir}`, "--param", `warehouse=${warehouse}`, ...workdir],
  },
  {
    name: "CSV -> Parquet, not cached",
    diagnostic: true,
    output: `${dir}/out-clean-cold`,
    args: (o) => run("clean-orders.ts", `${dir}/orders-1k.csv`, o),
    // A fresh, empty bundle cache for each run.
    get env() {
      return { SHEAF_CACHE_DIR: mkdtempSync(join(tmpdir(), "sheaf-bench-cache-")) };
    },
  },
];
const STAGES = 2;

// Oracles: word counts made here; Parquet rows as DuckDB reads them, the same every round.
const words = new Map();
for (const w of readFileSync(textFile, "utf8").toLowerCase().match(/[a-z0-9]+/g) ?? []) words.set(w, (words.get(w) ?? 0) + 1);
const db = await duckdb();
const parquetRows = async (folder) => {
  const parts = readdirSync(folder).filter((f) => f.endsWith(".parquet")).map((f) => sqlString(join(folder, f)));
  if (!parts.length) fail(`no Parquet parts in ${folder}`);
  const reader = await db.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM read_parquet([${parts.join(", ")}])`);
  return reader.getRows()[0][0];
};
let rows;
async function check(cs) {
  const got = new Map();
  for (const f of readdirSync(cs[1].output).filter((f) => f.startsWith("part-"))) {
    for (const line of readFileSync(join(cs[1].output, f), "utf8").split("\n").filter(Boolean)) {
      const [w, n] = line.split("\t");
      got.set(w, Number(n));
    }
  }
  if (got.size !== words.size || [...words].some(([w, n]) => got.get(w) !== n)) fail("wordcount: the counts differ from the ones made here");
  const counts = [await parquetRows(cs[2].output), await parquetRows(cs[4].output), await parquetRows(`${warehouse}/clean/date=${day}`)];
  rows ??= counts[0];
  if (!(rows > 0) || counts.some((n) => n !== rows)) fail(`CSV -> Parquet: DuckDB reads ${counts.join(", ")} rows (first run: ${rows})`);
  readdirSync(`${warehouse}/daily/date=${day}`).some((f) => f.endsWith(".parquet")) || fail("pipeline: no daily revenue written");
}

checkIdle();
console.log(`fixed cost: sheaf run over 1 KB inputs, ${runs} runs each, on ${cpus().length} cores (${process.version}), default threads`);
const noisy = (await runRounds(contenders, runs, check)) > 0.1;

const [node, wc, csv, pipeline, cold] = contenders;
const start = median(node.seconds);
console.log(`\n${"contender".padEnd(28)} ${"median s".padStart(9)} ${"beyond node".padStart(12)} ${"best s".padStart(7)} ${"CPU s".padStart(7)}   runs (s)`);
for (const c of contenders) {
  const cells = [median(c.seconds).toFixed(3).padStart(9), (median(c.seconds) - start).toFixed(3).padStart(12), Math.min(...c.seconds).toFixed(3).padStart(7), median(c.cpu).toFixed(2).padStart(7)];
  console.log(`${(c.name + (c.diagnostic ? " *" : "")).padEnd(28)} ${cells.join(" ")}   ${c.seconds.map((s) => s.toFixed(2)).join(" ")}`);
}
const beyond = (c) => median(c.seconds) - start;
const verdict = (c) => (beyond(c) < TARGET ? "" : "  ABOVE TARGET");
console.log();
console.log(`etl-overhead node start (node -e 0): ${start.toFixed(3)} s`);
console.log(`etl-overhead sheaf run wordcount, 1 KB, beyond node start: ${beyond(wc).toFixed(3)} s (target < ${TARGET} s)${verdict(wc)}`);
console.log(`etl-overhead sheaf run CSV -> Parquet, 1 KB, beyond node start: ${beyond(csv).toFixed(3)} s (target < ${TARGET} s)${verdict(csv)}`);
console.log(`etl-overhead pipeline orders-nightly, per stage beyond node start: ${(beyond(pipeline) / STAGES).toFixed(3)} s (${STAGES} stages, ${beyond(pipeline).toFixed(3)} s in all)`);
console.log(`diagnostics: CSV -> Parquet with its bundle not cached, beyond node start: ${beyond(cold).toFixed(3)} s`);
if (noisy) console.log("warning: other processes were busy during some runs (see above); the figures are noisy");
console.log("(medians of whole processes; beyond node = median minus node -e 0's median; best s = the fastest run; CPU s = median user + system; " +
  "* = diagnostic; outputs verified: word counts against a count made here, Parquet rows read back by DuckDB)");

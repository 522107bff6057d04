// `npm run bench` (first half): design §7 targets 1-3, each against honest baselines measured in the
// same run, printed as ONE table of medians and one table of ratios.
//
// Word count over a generated Zipf corpus (bench/corpus.mjs, ASCII), every contender a whole process:
//  - scanner -t 1 / -t 2: bench/scanner.mjs, a tuned byte-level scanner (hashes bytes, no string per
//    word) on one and on two threads. Its output is the reference every other output must equal;
//  - hand loop -t 1: bench/wordcount-loop.mjs, the logic of jobs/wordcount.ts (per-line
//    toLowerCase().match(), counts summed in a Map) run by hand on one thread;
//  - sheaf wordcount -t 1 / -t 2: `sheaf run jobs/wordcount.ts --threads N`;
//  - sheaf fast -t 2: `sheaf run jobs/wordcount-fast.ts --threads 2`, when that job exists;
//  - duckdb -t 2: read_csv of the lines, regexp_split_to_table(lower(line), '[^a-z0-9]+'), GROUP BY.
// Sort of BENCH_SORT_RECORDS TeraSort-style 100-byte records (bench/records.mjs):
//  - GNU sort: `LC_ALL=C sort --parallel=2 -S <mem>` for each size in $BENCH_SORT_MEM (50%,128M),
//    the first the reference output; the time target compares against the fastest;
//  - sheaf terasort -t 2: `sheaf run jobs/terasort.ts --threads 2`, when that job exists; its part
//    files, concatenated in name order, must equal GNU sort's output byte for byte.
// Env: BENCH_SIZE (default 1g), BENCH_RUNS (3), BENCH_SORT_RECORDS (10000000), BENCH_SORT_MEM (50%,128M),
// BENCH_ONLY (`wordcount` or `sort`: run one half).
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { corpusPath, ensureCorpus } from "./corpus.mjs";
import { checkBuilt, checkIdle, clean, cli, runRounds, fail, median, mib, parseSize, positiveInt, readOnce, root, sqlString } from "./etl-common.mjs";
import { checkCounts, partFiles } from "./outputs.mjs";
import { ensureRecords, RECORD, recordsPath } from "./records.mjs";

const data = `${root}bench/data`;
const SEED = 42;
const size = parseSize("BENCH_SIZE", process.env.BENCH_SIZE ?? "1g");
const runs = positiveInt("BENCH_RUNS", 3);
const sortRecords = positiveInt("BENCH_SORT_RECORDS", 10_000_000);
// GNU sort at each buffer size (-S): one in-memory pass (50%), and a small buffer with an external
// merge, which on this VM (where first touching a page is dear) is the faster of the two.
const sortMems = (process.env.BENCH_SORT_MEM ?? "50%,128M").split(",");
const only = process.env.BENCH_ONLY;
if (only && only !== "wordcount" && only !== "sort") fail(`BENCH_ONLY: expected wordcount or sort, got ${JSON.stringify(only)}`);
checkBuilt();

const job = (name) => `${root}jobs/${name}`;
const sheaf = (jobFile, input, output, threads) => [cli, "run", jobFile, "--input", input, "--output", output,
  "--threads", String(threads), "--overwrite", "-q", "--workdir", `${data}/sheaf-work`];
const skipped = []; // contenders whose job does not exist yet: [name, reason]

// ---- inputs (generated once into bench/data/, then read once so every contender reads from the page cache)
const corpus = corpusPath(data, size, SEED);
const records = recordsPath(data, sortRecords, SEED);
const doWordcount = only !== "sort", doSort = only !== "wordcount";
let t0 = performance.now();
if (doWordcount && ensureCorpus(corpus, { bytes: size, seed: SEED })) console.log(`generated ${corpus} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
t0 = performance.now();
if (doSort && ensureRecords(records, sortRecords, SEED)) console.log(`generated ${records} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const corpusBytes = doWordcount ? readOnce(corpus) : 0;
const recordBytes = doSort ? readOnce(records) : 0;

// ---- contenders: `output` is a file or a sheaf output folder; the first of each group is the reference
const out = (name) => `${data}/out-${name}`;
const wordcount = !doWordcount ? [] : [
  { name: "scanner -t 1", output: out("scanner-t1.tsv"), args: (o) => [`${root}bench/scanner.mjs`, corpus, o] },
  { name: "scanner -t 2", output: out("scanner-t2.tsv"), args: (o) => [`${root}bench/scanner.mjs`, corpus, o, "--threads", "2"] },
  { name: "hand loop -t 1", output: out("loop-t1.tsv"), args: (o) => [`${root}bench/wordcount-loop.mjs`, corpus, o] },
  { name: "hand loop -t 2", output: out("loop-t2.tsv"), args: (o) => [`${root}bench/wordcount-loop.mjs`, corpus, o, "--threads", "2"] },
  { name: "sheaf wordcount -t 1", output: out("sheaf-t1"), args: (o) => sheaf(job("wordcount.ts"), corpus, o, 1) },
  { name: "sheaf wordcount -t 2", output: out("sheaf-t2"), args: (o) => sheaf(job("wordcount.ts"), corpus, o, 2) },
  { name: "sheaf fast -t 2", job: job("wordcount-fast.ts"), output: out("sheaf-fast-t2"), args: (o) => sheaf(job("wordcount-fast.ts"), corpus, o, 2) },
  {
    name: "duckdb -t 2",
    output: out("duckdb.tsv"),
    // Each line is one VARCHAR column: \x01 never occurs in the corpus, and quotes and escapes are off.
    args: (o) => [`${root}bench/etl-duckdb.mjs`, "SET threads = 2",
      `COPY (SELECT word, count(*) AS n FROM (
         SELECT regexp_split_to_table(lower(line), '[^a-z0-9]+') AS word
         FROM read_csv(${sqlString(corpus)}, columns = {'line': 'VARCHAR'}, header = false, delim = '\x01', quote = '', escape = '', auto_detect = false)
       ) WHERE word <> '' GROUP BY word) TO ${sqlString(o)} (FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '')`],
  },
].map((c) => ({ ...c, group: "wordcount", bytes: corpusBytes }));
const sort = !doSort ? [] : [
  ...sortMems.map((mem, i) => ({
    name: `GNU sort -S ${mem}`,
    output: out(`gnu-sort-${i}.txt`),
    command: "sort",
    env: { LC_ALL: "C" },
    args: (o) => ["--parallel=2", "-S", mem, "-T", data, "-o", o, records],
  })),
  { name: "sheaf terasort -t 2", job: job("terasort.ts"), output: out("sheaf-terasort-t2"), args: (o) => sheaf(job("terasort.ts"), records, o, 2) },
].map((c) => ({ ...c, group: "sort", bytes: recordBytes }));
const contenders = [...wordcount, ...sort].filter((c) => {
  if (!c.job || existsSync(c.job)) return true;
  skipped.push([c.name, `${c.job.slice(root.length)} does not exist yet`]);
  return false;
});
for (const [name, reason] of skipped) console.log(`skipping ${name}: ${reason}`);

// ---- runs
checkIdle();
console.log(`${doWordcount ? `word count over ${(corpusBytes / 1e6).toFixed(0)} MB` : ""}${doWordcount && doSort ? "; " : ""}` +
  `${doSort ? `sort of ${sortRecords.toLocaleString("en-US")} ${RECORD}-byte records (${(recordBytes / 1e6).toFixed(0)} MB)` : ""}; ` +
  `${runs} run(s) each, on ${cpus().length} cores (${process.version})`);
const noisiest = await runRounds(contenders, runs, (cs) => {
  checkCounts(cs.filter((c) => c.group === "wordcount"));
  checkSorted(cs.filter((c) => c.group === "sort"));
});

// ---- the table of medians
const get = (name) => contenders.find((c) => c.name === name);
for (const c of contenders) c.mbps = c.bytes / 1e6 / median(c.seconds);
const header = `${"contender".padEnd(23)} ${"median s".padStart(9)} ${"MB/s".padStart(7)} ${"best s".padStart(7)} ${"CPU s".padStart(7)} ` +
  `${"CPU/wall".padStart(8)} ${"peak RSS".padStart(9)} ${"others".padStart(6)}   runs (s)`;
console.log(`\n${header}`);
for (const c of contenders) {
  const s = median(c.seconds), cpu = median(c.cpu);
  const cells = [s.toFixed(2).padStart(9), c.mbps.toFixed(1).padStart(7), Math.min(...c.seconds).toFixed(2).padStart(7), cpu.toFixed(2).padStart(7),
    (cpu / s).toFixed(2).padStart(8), mib(Math.max(...c.rss)).padStart(9), `${(median(c.others) * 100).toFixed(0)}%`.padStart(6)];
  console.log(`${c.name.padEnd(23)} ${cells.join(" ")}   ${c.seconds.map((x) => x.toFixed(2)).join(" ")}`);
}
for (const [name] of skipped) console.log(`${name.padEnd(23)} ${"skipped".padStart(9)}`);

// ---- the table of ratios. `speed` ratios are throughput (above 1 = the first is faster), `time` and
// `memory` ratios are the first's over the second's (below 1 = the first is faster / smaller).
const rows = [];
function ratio(label, a, b, kind, goal, meets) {
  const A = get(a), B = get(b);
  if (!A || !B) {
    // A contender skipped because its job does not exist yet (not one left out by BENCH_ONLY).
    if ([a, b].some((n) => skipped.some(([s]) => s === n))) rows.push([label, `${a} / ${b}`, kind, "-", goal, "SKIPPED"]);
    return;
  }
  const value = kind === "speed" ? A.mbps / B.mbps : kind === "time" ? median(A.seconds) / median(B.seconds) : Math.max(...A.rss) / Math.max(...B.rss);
  rows.push([label, `${a} / ${b}`, kind, `${value.toFixed(2)}x`, goal, goal === "" ? "" : meets(value) ? "MEETS TARGET" : "BELOW TARGET"]);
}
ratio("1", "sheaf wordcount -t 2", "hand loop -t 1", "speed", ">= 1.7x", (v) => v >= 1.7);
ratio("2a", "sheaf fast -t 2", "scanner -t 2", "time", "<= 1.5x", (v) => v <= 1.5);
ratio("2b", "sheaf fast -t 2", "duckdb -t 2", "speed", "> 1x", (v) => v > 1);
// Time against GNU sort's fastest buffer size in this run; memory against its one-pass run, the
// footprint the target names (about 1.5 GiB), and (a diagnostic) against the fastest.
const gnuSorts = contenders.filter((c) => c.name.startsWith("GNU sort"));
const fastestSort = gnuSorts.length ? gnuSorts.reduce((a, b) => (median(b.seconds) < median(a.seconds) ? b : a)).name : "GNU sort";
ratio("3a", "sheaf terasort -t 2", fastestSort, "time", "<= 1.5x", (v) => v <= 1.5);
ratio("3b", "sheaf terasort -t 2", gnuSorts[0]?.name ?? "GNU sort", "memory", "< 1x", (v) => v < 1);
if (fastestSort !== gnuSorts[0]?.name) ratio("*", "sheaf terasort -t 2", fastestSort, "memory", "");
ratio("*", "sheaf wordcount -t 2", "sheaf wordcount -t 1", "speed", "");
ratio("*", "sheaf wordcount -t 1", "hand loop -t 1", "speed", "");
ratio("*", "scanner -t 2", "scanner -t 1", "speed", "");
ratio("*", "hand loop -t 2", "hand loop -t 1", "speed", "");
ratio("*", "sheaf wordcount -t 2", "hand loop -t 2", "speed", "");
ratio("*", "hand loop -t 1", "scanner -t 1", "speed", "");
ratio("*", "sheaf wordcount -t 2", "scanner -t 2", "speed", "");
ratio("*", "sheaf fast -t 2", "sheaf wordcount -t 2", "speed", "");
ratio("*", "duckdb -t 2", "scanner -t 2", "speed", "");
const widths = [6, Math.max(5, ...rows.map((r) => r[1].length)), 6, 6, 7];
console.log(`\n${["target", "ratio", "kind", "value", "goal"].map((h, i) => h.padEnd(widths[i])).join("  ")}  status`);
for (const r of rows) console.log(`${r.slice(0, 5).map((x, i) => (i === 3 ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join("  ")}  ${r[5]}`.trimEnd());
if (noisiest > 0.1) console.log(`warning: other processes used up to ${(noisiest * 100).toFixed(0)}% of the CPUs during a run (see above); the figures are noisy`);
console.log("(MB = 10^6 bytes; medians of whole processes, node startup included; best s = fastest run; CPU s = median user + system of the " +
  "process tree; peak RSS = highest of the runs; others = median share of the CPUs used by other processes; speed = throughput ratio, " +
  "time and memory = the first's over the second's; * = diagnostic; outputs verified equal to the reference's)");

// ---- checks

/** Fails unless GNU sort's output has every byte of the input and each other output (part files in name order) equals it byte for byte. */
function checkSorted([reference, ...others]) {
  if (!reference) return;
  if (statSync(reference.output).size !== recordBytes) fail(`${reference.name} wrote ${statSync(reference.output).size} bytes, not ${recordBytes}`);
  for (const c of others) {
    const files = statSync(c.output).isDirectory() ? partFiles(c.output) : [c.output];
    if (files.length === 0) fail(`${c.name} wrote no part files in ${c.output}`);
    const at = sameBytes(reference.output, files);
    if (at !== -1) fail(`${c.name}: its part files (${files.length}, in name order) differ from ${reference.name}'s output at byte ${at}`);
  }
}

/** -1 when file `a` equals the concatenation of `bs`, else the offset of the first difference. */
function sameBytes(a, bs) {
  const CHUNK = 16 << 20;
  const bufA = Buffer.allocUnsafe(CHUNK), bufB = Buffer.allocUnsafe(CHUNK);
  const fa = openSync(a, "r");
  let offset = 0, bi = 0, fb = bs.length ? openSync(bs[0], "r") : -1;
  /** Fills bufB with up to n bytes from the concatenated files. */
  const readB = (n) => {
    let got = 0;
    while (got < n && fb !== -1) {
      const k = readSync(fb, bufB, got, n - got, null);
      got += k;
      if (k === 0) {
        closeSync(fb);
        fb = ++bi < bs.length ? openSync(bs[bi], "r") : -1;
      }
    }
    return got;
  };
  try {
    for (;;) {
      const na = readSync(fa, bufA, 0, CHUNK, null);
      const nb = readB(na === 0 ? 1 : na);
      if (na === 0 && nb === 0) return -1;
      if (nb !== na) return offset + Math.min(na, nb);
      if (!bufA.subarray(0, na).equals(bufB.subarray(0, nb))) {
        let i = 0;
        while (bufA[i] === bufB[i]) i++;
        return offset + i;
      }
      offset += na;
    }
  } finally {
    closeSync(fa);
    if (fb !== -1) closeSync(fb);
  }
}

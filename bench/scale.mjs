// Design §7 target 6, scale and memory: `sheaf run jobs/wordcount.ts --threads 2` over Zipf corpora
// of several sizes (bench/corpus.mjs, the same generator and seed as run.mjs). Time per GiB should
// stay within 10% across sizes (linear growth), and the process's peak RSS under its bound: the
// worker threads' configured limit (1 GiB each by default) for everything it holds. Each output is
// checked against `scanner.mjs --threads 2` over the same corpus, word for word.
// Env: BENCH_SCALE_SIZES (default 256m,1g,4g), BENCH_RUNS (default 1; the table shows medians).
import { cpus } from "node:os";
import { corpusPath, ensureCorpus } from "./corpus.mjs";
import { checkBuilt, checkIdle, cli, fail, median, mib, parseSize, positiveInt, root, runRounds } from "./etl-common.mjs";
import { checkCounts } from "./outputs.mjs";

const data = `${root}bench/data`;
const SEED = 42;
const THREADS = 2;
const BOUND = THREADS * 2 ** 30; // --memory-per-thread's default (1 GiB) per thread
const sizes = (process.env.BENCH_SCALE_SIZES ?? "256m,1g,4g").split(",").map((s) => parseSize("BENCH_SCALE_SIZES", s));
const runs = positiveInt("BENCH_RUNS", 1);
checkBuilt();

const rows = [];
for (const bytes of sizes) {
  const corpus = corpusPath(data, bytes, SEED);
  const t0 = performance.now();
  if (ensureCorpus(corpus, { bytes, seed: SEED })) console.log(`generated ${corpus} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  checkIdle();
  const gib = bytes / 2 ** 30;
  console.log(`word count over ${gib.toFixed(2)} GiB, ${runs} run(s), on ${cpus().length} cores`);
  const contenders = [
    { name: "scanner -t 2", output: `${data}/out-scale-scanner.tsv`, args: (o) => [`${root}bench/scanner.mjs`, corpus, o, "--threads", String(THREADS)] },
    { name: "sheaf wordcount -t 2", output: `${data}/out-scale-sheaf`, args: (o) => [cli, "run", `${root}jobs/wordcount.ts`, "--input", corpus, "--output", o,
      "--threads", String(THREADS), "--overwrite", "-q", "--workdir", `${data}/sheaf-work`] },
  ];
  const noisiest = await runRounds(contenders, runs, checkCounts);
  const [scanner, sheaf] = contenders;
  rows.push({ gib, seconds: median(sheaf.seconds), rss: Math.max(...sheaf.rss), scanner: median(scanner.seconds), noisiest });
}

const perGib = rows.map((r) => r.seconds / r.gib);
const reference = median(perGib);
console.log(`\n${"size".padStart(8)} ${"sheaf s".padStart(8)} ${"s/GiB".padStart(7)} ${"vs median".padStart(9)} ${"peak RSS".padStart(9)} ${"of bound".padStart(8)} ${"scanner s".padStart(9)} ${"others".padStart(6)}`);
rows.forEach((r, i) => console.log(`${`${r.gib.toFixed(2)} GiB`.padStart(8)} ${r.seconds.toFixed(1).padStart(8)} ${perGib[i].toFixed(2).padStart(7)} ` +
  `${`${(perGib[i] / reference).toFixed(2)}x`.padStart(9)} ${mib(r.rss).padStart(9)} ${`${((100 * r.rss) / BOUND).toFixed(0)}%`.padStart(8)} ` +
  `${r.scanner.toFixed(1).padStart(9)} ${`${(r.noisiest * 100).toFixed(0)}%`.padStart(6)}`));
const spread = Math.max(...perGib) / Math.min(...perGib);
const overBound = rows.filter((r) => r.rss > BOUND);
console.log(`\ntime per GiB: slowest / fastest = ${spread.toFixed(2)}x (target <= 1.10x): ${spread <= 1.1 ? "MEETS TARGET" : "BELOW TARGET"}`);
console.log(`peak RSS under ${mib(BOUND)} (${THREADS} threads x 1 GiB) at every size: ${overBound.length ? `BELOW TARGET (${overBound.map((r) => `${r.gib} GiB`).join(", ")})` : "MEETS TARGET"}`);
if (rows.some((r) => r.noisiest > 0.1)) console.log("warning: other processes used over 10% of the CPUs during a run; the figures are noisy");
if (!rows.length) fail("no sizes");

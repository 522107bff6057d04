// `npm run bench`: word count throughput of sheaf (1 and 2 threads) against a tuned single-thread
// Node.js scanner, on a generated Zipf corpus. Env: BENCH_SIZE (default 1g), BENCH_RUNS (default 3).
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, readSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { corpusPath, ensureCorpus } from "./corpus.mjs";
import { childrenCpuSeconds } from "./etl-common.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const data = `${root}bench/data`;
const SEED = 42;

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(text.trim());
  if (!m) throw new Error(`BENCH_SIZE: expected a size like 256m or 1g, got ${JSON.stringify(text)}`);
  return Math.round(Number(m[1]) * 1024 ** " kmg".indexOf(m[2].toLowerCase() || " "));
}

const size = parseSize(process.env.BENCH_SIZE ?? "1g");
const runs = Number(process.env.BENCH_RUNS ?? 3);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_RUNS: expected a positive integer, got ${process.env.BENCH_RUNS}`);

const corpus = corpusPath(data, size, SEED);
const genStart = performance.now();
if (ensureCorpus(corpus, { bytes: size, seed: SEED })) console.log(`generated ${corpus} in ${((performance.now() - genStart) / 1000).toFixed(1)} s`);
const bytes = readCorpusOnce(corpus); // also warms the page cache, so every contender reads from memory

const contenders = [
  { name: "scanner (1 thread)", output: `${data}/out-scanner.tsv`, args: (out) => [`${root}bench/scanner.mjs`, corpus, out] },
  ...[1, 2].map((threads) => ({
    name: `sheaf --threads ${threads}`,
    output: `${data}/out-sheaf-t${threads}`,
    args: (out) => [`${root}cli/bin.mjs`, "run", `${root}jobs/wordcount.ts`, "--input", corpus, "--output", out,
      "--threads", String(threads), "--overwrite", "-q", "--workdir", `${data}/sheaf-work`],
  })),
];

const idle = machineSample();
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000); // sleep 1 s
const busy = othersShare(idle, 0);
if (busy > 0.1) console.log(`warning: other processes use ${(busy * 100).toFixed(0)}% of the CPUs; timings will be noisy`);
console.log(`word count over ${(bytes / 1e6).toFixed(0)} MB, ${runs} run(s) each, on ${cpus().length} cores (${process.version})`);
let noisy = false;
for (let run = 1; run <= runs; run++) {
  for (const c of contenders) {
    rmSync(c.output, { recursive: true, force: true });
    const before = machineSample(), cpu0 = childrenCpuSeconds();
    const r = spawnSync(process.execPath, c.args(c.output), { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
    const seconds = (performance.now() - before.at) / 1000, cpu = childrenCpuSeconds() - cpu0;
    if (r.status !== 0) fail(`${c.name} exited with ${r.status ?? r.signal}`);
    const others = othersShare(before, cpu);
    (c.seconds ??= []).push(seconds);
    (c.cpu ??= []).push(cpu);
    noisy ||= others > 0.1;
    console.log(`  run ${run}: ${c.name.padEnd(18)} ${seconds.toFixed(2)} s, ${cpu.toFixed(2)} s of CPU; other processes used ${(others * 100).toFixed(0)}% of the CPUs`);
  }
  checkCounts(contenders);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return (s[s.length >> 1] + s[(s.length - 1) >> 1]) / 2;
}
for (const c of contenders) c.mbps = bytes / 1e6 / median(c.seconds);
const [scanner, sheaf1, sheaf2] = contenders;

console.log(`\n${"contender".padEnd(20)} ${"median s".padStart(9)} ${"MB/s".padStart(8)} ${"CPU s".padStart(8)}   runs (s)`);
for (const c of contenders) {
  const cells = [median(c.seconds).toFixed(2).padStart(9), c.mbps.toFixed(1).padStart(8), median(c.cpu).toFixed(2).padStart(8)];
  console.log(`${c.name.padEnd(20)} ${cells.join(" ")}   ${c.seconds.map((s) => s.toFixed(2)).join(" ")}`);
}
console.log();
console.log(`wordcount scanner (1 thread): ${scanner.mbps.toFixed(1)} MB/s`);
console.log(`wordcount sheaf --threads 1: ${sheaf1.mbps.toFixed(1)} MB/s (${(sheaf1.mbps / scanner.mbps).toFixed(2)}x the 1-thread scanner)`);
console.log(`wordcount sheaf --threads 2: ${sheaf2.mbps.toFixed(1)} MB/s (${(sheaf2.mbps / scanner.mbps).toFixed(2)}x the 1-thread scanner)`);
console.log(`wordcount sheaf --threads 2 / --threads 1: ${(sheaf2.mbps / sheaf1.mbps).toFixed(2)}x`);
if (noisy) console.log("warning: other processes were busy during some runs (see above); the figures are noisy");
console.log(`(MB = 10^6 bytes; times are whole processes, node startup included; CPU s = user + system; counts verified equal)`);

function fail(message) {
  console.error(`bench: FAILED: ${message}`);
  process.exit(1);
}

/** Reads the whole file (in chunks), returning its size. */
function readCorpusOnce(path) {
  const fd = openSync(path, "r"), buf = Buffer.allocUnsafe(16 << 20);
  let total = 0;
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) total += n;
  closeSync(fd);
  return total;
}

/** Parses `word\tcount` lines (files, or every part file of a sheaf output folder) into a Map. */
function readCounts(output) {
  const files = output.endsWith(".tsv") ? [output] : readdirSync(output).filter((f) => f.startsWith("part-")).map((f) => `${output}/${f}`);
  const counts = new Map();
  for (const file of files) {
    for (const line of readFileSync(file, "latin1").split("\n")) {
      if (!line) continue;
      const tab = line.lastIndexOf("\t");
      const word = line.slice(0, tab), n = Number(line.slice(tab + 1));
      if (tab < 0 || !Number.isInteger(n) || counts.has(word)) fail(`${file}: bad or repeated line ${JSON.stringify(line)}`);
      counts.set(word, n);
    }
  }
  return counts;
}

/** Fails unless every contender's counts equal the scanner's. */
function checkCounts([reference, ...others]) {
  const expected = readCounts(reference.output);
  if (expected.size === 0) fail(`${reference.name} counted no words`);
  for (const c of others) {
    const got = readCounts(c.output);
    const diffs = [...new Set([...expected.keys(), ...got.keys()])].filter((w) => expected.get(w) !== got.get(w));
    if (diffs.length) {
      const sample = diffs.slice(0, 5).map((w) => `${JSON.stringify(w)}: ${got.get(w)} vs ${expected.get(w)}`).join(", ");
      fail(`${c.name} counts differ from ${reference.name} for ${diffs.length} words (${sample})`);
    }
  }
}


/** CPU seconds used by every process on the machine so far; iowait counts as idle. */
function machineCpuSeconds() {
  return cpus().reduce((sum, { times: t }) => sum + t.user + t.nice + t.sys + t.irq, 0) / 1000;
}

function machineSample() {
  return { at: performance.now(), machine: machineCpuSeconds() };
}

/** The share of the machine's CPUs that other processes used since `since`, given `mine` CPU seconds of ours. */
function othersShare(since, mine) {
  const wall = (performance.now() - since.at) / 1000;
  return Math.max(0, machineCpuSeconds() - since.machine - mine) / (wall * cpus().length);
}

/**
 * `npm run demo`: generates a sample corpus if absent, runs the word-count example job on this
 * machine's threads (the embedded runner, no Redis), and prints the 20 most frequent words.
 */
import { createReadStream, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { JOB_DEFAULTS } from "../runner/job-settings.js";
import { runJob } from "../runner/run.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DATA = join(ROOT, "demo-data");
const CORPUS = join(DATA, "corpus.txt");
const OUTPUT = join(ROOT, "demo-output", "wordcount");
const CORPUS_BYTES = 64 << 20;

const COMMON = ("the of and to a in is it you that he was for on are with as i his they be at one have this from or had by " +
  "word but what some we can out other were all there when up use your how said an each she which do their time if will way " +
  "about many then them write would like so these her long make thing see him two has look more day could go come did number " +
  "sound no most people my over know water than call first who may down side been now find any new work part take get place").split(" ");

/** A deterministic Zipf-like corpus: common words first, then made-up ones, rank r drawn with weight 1/r. */
function generateCorpus(path: string, bytes: number): void {
  let seed = 42;
  const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const vocabulary = [...COMMON];
  const syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "pa", "qu", "or", "el", "an"];
  while (vocabulary.length < 50_000) {
    let w = "";
    const n = 2 + Math.floor(random() * 3);
    for (let i = 0; i < n; i++) w += syllables[Math.floor(random() * syllables.length)];
    vocabulary.push(w);
  }
  // Inverse CDF of 1/r over the vocabulary, for sampling by binary search.
  const cdf = new Float64Array(vocabulary.length);
  let total = 0;
  for (let r = 0; r < vocabulary.length; r++) cdf[r] = total += 1 / (r + 1);
  const pick = () => {
    const x = random() * total;
    let lo = 0, hi = cdf.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cdf[mid]! < x) lo = mid + 1; else hi = mid; }
    return vocabulary[lo]!;
  };
  mkdirSync(DATA, { recursive: true });
  const chunks: string[] = [];
  let size = 0;
  while (size < bytes) {
    const words: string[] = [];
    const n = 6 + Math.floor(random() * 10);
    for (let i = 0; i < n; i++) words.push(pick());
    const line = words.join(" ") + (random() < 0.1 ? ".\n" : "\n");
    chunks.push(line[0]!.toUpperCase() + line.slice(1));
    size += line.length;
  }
  writeFileSync(path + ".tmp", chunks.join(""));
  renameSync(path + ".tmp", path);
}

async function topWords(dir: string, n: number): Promise<[string, number][]> {
  const top: [string, number][] = [];
  for (let p = 0; existsSync(join(dir, `part-${String(p).padStart(5, "0")}`)); p++) {
    const lines = createInterface({ input: createReadStream(join(dir, `part-${String(p).padStart(5, "0")}`)) });
    for await (const line of lines) {
      const tab = line.lastIndexOf("\t");
      const count = Number(line.slice(tab + 1));
      if (top.length < n || count > top[top.length - 1]![1]) {
        top.push([line.slice(0, tab), count]);
        top.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
        if (top.length > n) top.pop();
      }
    }
  }
  return top;
}

async function demo(): Promise<void> {
  if (!existsSync(CORPUS)) {
    process.stderr.write(`generating a ${CORPUS_BYTES >> 20} MiB sample corpus in ${DATA} …\n`);
    generateCorpus(CORPUS, CORPUS_BYTES);
  }
  await runJob(join(ROOT, "jobs", "wordcount.ts"), {
    inputs: [CORPUS],
    output: OUTPUT,
    workdir: resolve(ROOT, ".sheaf"),
    threads: availableParallelism(),
    splitSize: 16 << 20,
    params: {},
    sortBufferBytes: JOB_DEFAULTS.sortBufferBytes,
    overwrite: true,
    maxAttempts: JOB_DEFAULTS.maxAttempts,
  });
  console.log(`\ntop 20 words (${OUTPUT}):`);
  for (const [word, count] of await topWords(OUTPUT, 20)) console.log(`${String(count).padStart(10)}  ${word}`);
}

demo().catch((err) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});

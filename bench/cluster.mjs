// The cluster benchmarks, each against a baseline measured in the same run:
//  - scheduling: empty tasks per second through Redis, against raw BullMQ moving empty jobs; and
//    the cost of fair sharing, against FIFO, with one job and with ten at once;
//  - word count on a local two-worker cluster, against `sheaf run --threads 2`; and on four workers
//    (four processes of one thread on this two-core machine), against the two;
//  - the cost of a worker SIGKILLed at the midpoint of a three-worker job and replaced at once,
//    against the undisturbed run (target: at most 1.3x), with byte-identical output.
// Env: BENCH_CLUSTER_SIZE (default 256m), BENCH_RUNS (default 3); BENCH_TASKS, the empty-task job
// sizes (comma-separated, default 1000,10000,100000); BENCH_RAW_CONCURRENCY, the concurrencies raw
// BullMQ is tried at (default 1,2,4,8,16,32: the best counts); BENCH_ONLY=scheduling skips the rest
// (BENCH_ONLY=fairness runs only fair sharing against FIFO: BENCH_FAIR_TASKS, default 10000);
// BENCH_PROFILE_DIR, where coordinators and workers write CPU profiles.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { corpusPath, ensureCorpus } from "./corpus.mjs";
import { LocalCluster, sleep, watchProcess } from "./local-cluster.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const data = `${root}bench/data`;
const cli = `${root}cli/bin.mjs`;
const work = `${data}/cluster-work`;
const runs = Number(process.env.BENCH_RUNS ?? 3);
const taskCounts = (process.env.BENCH_TASKS ?? "1000,10000,100000").split(",").map(Number);
const rawConcurrencies = (process.env.BENCH_RAW_CONCURRENCY ?? "1,2,4,8,16,32").split(",").map(Number);
const only = process.env.BENCH_ONLY;
const size = parseSize(process.env.BENCH_CLUSTER_SIZE ?? "256m");

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)$/i.exec(text.trim());
  if (!m) throw new Error(`expected a size like 256m, got ${text}`);
  return Math.round(Number(m[1]) * 1024 ** " kmg".indexOf(m[2].toLowerCase() || " "));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * Scheduling overhead: an empty-task job (one task per byte with --split-size 1, plus one reduce)
 * on a coordinator and one two-thread worker, at each size, against raw BullMQ moving the same
 * number of empty jobs at its best concurrency on the same Redis.
 */
const WARM_UP_TASKS = 1000;
const WARM_UP_JOBS = 5;

async function scheduling(n) {
  const c = new LocalCluster(work);
  await c.start();
  let raw = 0, rawAt = 0;
  for (const k of rawConcurrencies) {
    const r = await rawBullmq(c.url, Math.min(n, 20_000), k);
    if (r > raw) [raw, rawAt] = [r, k];
  }
  const emptyJob = async (lines) => {
    const input = `${work}/empty-${lines}.txt`;
    writeFileSync(input, "\n".repeat(lines)); // with --split-size 1: one task per line
    const { report } = await c.submit(["bench/jobs/empty.ts", "--input", input, "--output", `${work}/empty-out`, "--split-size", "1", "--overwrite"]);
    rmSync(input, { force: true });
    const tasks = report.mapsTotal + report.reducesTotal;
    return { tasks, rate: tasks / (report.millis / 1000) };
  };
  const coordinator = await c.coordinator();
  await c.worker(2);
  // Coordinators and workers are long-lived services: the measured job runs after a few have warmed
  // them up (V8 compiles hot code after many calls; each thread loads the job module once). On this
  // VM a 1,000-task job reaches its steady time from about the fifth. The first, cold job is shown apart.
  const cold = await emptyJob(WARM_UP_TASKS);
  for (let i = 1; i < WARM_UP_JOBS; i++) await emptyJob(WARM_UP_TASKS);
  const watch = watchProcess(coordinator.pid);
  const { tasks, rate } = await emptyJob(n);
  const { peakRssMb, cpuSeconds } = watch.stop();
  await c.stop();
  return { tasks, rate, coldRate: cold.rate, raw, rawAt, peakRssMb, cpuUsPerTask: (cpuSeconds / tasks) * 1e6 };
}

/**
 * The cost of fair sharing (coordinator/fair-share.ts: tasks held back at the coordinator, queued
 * by share) against FIFO (every task queued at once), on the scheduling rows: empty tasks per second
 * with one job of FAIR_TASKS tasks, and with FAIR_JOBS jobs of FAIR_TASKS / FAIR_JOBS tasks each
 * submitted at once (tasks over the wall time from the first submit to the last job's end). The two
 * policies alternate, each on a fresh warmed-up cluster, so drift on this shared machine hits both.
 */
const FAIR_TASKS = Number(process.env.BENCH_FAIR_TASKS ?? 10_000);
const FAIR_JOBS = 10;

async function fairnessCost(policy) {
  const c = new LocalCluster(work);
  await c.start();
  await c.coordinator(["--scheduling", policy]);
  await c.worker(2);
  const inputOf = (lines) => {
    const input = `${work}/empty-${lines}.txt`;
    if (!existsSync(input)) writeFileSync(input, "\n".repeat(lines));
    return input;
  };
  const job = (lines, out) => c.submit(["bench/jobs/empty.ts", "--input", inputOf(lines), "--output", `${work}/${out}`, "--split-size", "1", "--overwrite"]);
  for (let i = 0; i < WARM_UP_JOBS; i++) await job(WARM_UP_TASKS, "warm");
  const one = await job(FAIR_TASKS, "one");
  const oneRate = (one.report.mapsTotal + one.report.reducesTotal) / (one.report.millis / 1000);
  const started = performance.now();
  const many = await Promise.all(Array.from({ length: FAIR_JOBS }, (_, i) => job(FAIR_TASKS / FAIR_JOBS, `many-${i}`)));
  const manyRate = many.reduce((a, m) => a + m.report.mapsTotal + m.report.reducesTotal, 0) / ((performance.now() - started) / 1000);
  await c.stop();
  return { oneRate, manyRate };
}

async function fairness() {
  console.log(`fair sharing against FIFO: empty tasks/s, coordinator + one two-thread worker; one job of ${FAIR_TASKS} tasks, then ${FAIR_JOBS} jobs of ${FAIR_TASKS / FAIR_JOBS} at once; ${runs} run(s) each, alternating`);
  const r = { fifo: [], fair: [] };
  for (let run = 1; run <= runs; run++) for (const policy of ["fifo", "fair"]) r[policy].push(await fairnessCost(policy));
  for (const [what, key] of [["one job", "oneRate"], [`${FAIR_JOBS} jobs at once`, "manyRate"]]) {
    const [fifo, fair] = [median(r.fifo.map((x) => x[key])), median(r.fair.map((x) => x[key]))];
    console.log(`  ${what.padEnd(16)} fifo ${fifo.toFixed(0).padStart(6)} tasks/s, fair ${fair.toFixed(0).padStart(6)} tasks/s: fair is ${(fair / fifo).toFixed(2)}x fifo`);
  }
}

/** Raw BullMQ: `n` empty jobs added in bulk, then consumed by one Worker at the given concurrency. */
async function rawBullmq(url, n, concurrency) {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue("raw", { connection, prefix: "bench" });
  for (let i = 0; i < n; i += 1000) await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, () => ({ name: "e", data: {}, opts: { removeOnComplete: true } })));
  let done = 0, finished;
  const all = new Promise((r) => (finished = r));
  const started = performance.now();
  const worker = new Worker("raw", async () => {}, { connection: workerConnection, prefix: "bench", concurrency });
  worker.on("completed", () => ++done === n && finished());
  await all;
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  workerConnection.disconnect();
  return n / seconds;
}

function sameOutput(a, b) {
  const parts = (d) => readdirSync(d).filter((f) => f.startsWith("part-")).sort();
  const pa = parts(a), pb = parts(b);
  return pa.join() === pb.join() && pa.every((f) => readFileSync(`${a}/${f}`).equals(readFileSync(`${b}/${f}`)));
}

async function main() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  if (only === "fairness") return void (await fairness(), rmSync(work, { recursive: true, force: true }));
  console.log(`scheduling: empty tasks through Redis, coordinator + one two-thread worker; raw BullMQ at its best of concurrency ${rawConcurrencies.join(", ")} (up to 20,000 jobs)`);
  const cold = [];
  for (const n of taskCounts) {
    const r = [];
    for (let run = 1; run <= runs; run++) r.push(await scheduling(n));
    cold.push(...r.map((x) => x.coldRate));
    const m = (k) => median(r.map((x) => x[k]));
    const rate = m("rate"), raw = m("raw");
    console.log(`  ${String(r[0].tasks).padStart(7)} tasks: ${rate.toFixed(0).padStart(6)} tasks/s (${(rate / raw).toFixed(2)}x raw BullMQ's ${raw.toFixed(0)} jobs/s at concurrency ${r[0].rawAt}); coordinator ${m("cpuUsPerTask").toFixed(0)} µs CPU per task, peak RSS ${m("peakRssMb").toFixed(0)} MB`);
  }
  console.log(`  (each after ${WARM_UP_JOBS} warm-up jobs of ${WARM_UP_TASKS} tasks on the fresh cluster; the first of them, cold, ran at ${median(cold).toFixed(0)} tasks/s)`);
  await fairness();
  if (only === "scheduling") return void rmSync(work, { recursive: true, force: true });

  const corpus = corpusPath(data, size, 42);
  ensureCorpus(corpus, { bytes: size, seed: 42 });
  console.log(`cluster benchmarks: ${runs} run(s) each; word count over ${(size / 1e6).toFixed(0)} MB`);

  const results = { cluster: [], four: [], run: [], undisturbed: [], killed: [] };
  for (let run = 1; run <= runs; run++) {
    // 2. Word count: the two-worker cluster against the embedded runner on two threads.
    let c = new LocalCluster(work);
    await c.start();
    await c.coordinator();
    await Promise.all([c.worker(1), c.worker(1)]);
    const clustered = await c.submit(["jobs/wordcount.ts", "--input", corpus, "--output", `${work}/wc-cluster`, "--partitions", "2", "--overwrite"]);
    results.cluster.push(size / 1e6 / clustered.seconds);
    await c.stop();
    c = new LocalCluster(work);
    await c.start();
    await c.coordinator();
    await Promise.all([c.worker(1), c.worker(1), c.worker(1), c.worker(1)]);
    const four = await c.submit(["jobs/wordcount.ts", "--input", corpus, "--output", `${work}/wc-four`, "--partitions", "2", "--overwrite"]);
    results.four.push(size / 1e6 / four.seconds);
    await c.stop();
    if (!sameOutput(`${work}/wc-four`, `${work}/wc-cluster`)) throw new Error("four-worker and two-worker outputs differ");
    const started = performance.now();
    const local = spawnSync(process.execPath, [cli, "run", "jobs/wordcount.ts", "--input", corpus, "--output", `${work}/wc-run`, "--partitions", "2", "--threads", "2", "--overwrite", "-q", "--workdir", work], { cwd: root, stdio: "inherit" });
    if (local.status !== 0) throw new Error("sheaf run failed");
    results.run.push(size / 1e6 / ((performance.now() - started) / 1000));
    if (!sameOutput(`${work}/wc-cluster`, `${work}/wc-run`)) throw new Error("cluster and run outputs differ");

    // 3. Fault cost: three workers; one SIGKILLed at the midpoint and replaced at once.
    const jobArgs = (out) => ["jobs/wordcount.ts", "--input", corpus, "--output", out, "--split-size", "8m", "--partitions", "3", "--overwrite"];
    c = new LocalCluster(work);
    await c.start();
    await c.coordinator();
    await Promise.all([c.worker(1), c.worker(1), c.worker(1)]);
    const undisturbed = await c.submit(jobArgs(`${work}/wc-undisturbed`));
    results.undisturbed.push(undisturbed.seconds);
    const victims = [...c.procs].filter((p) => p.spawnargs.includes("worker"));
    const killAt = (undisturbed.seconds * 1000) / 2;
    const disturbed = c.submit(jobArgs(`${work}/wc-killed`));
    await sleep(killAt);
    victims[0].kill("SIGKILL");
    await c.worker(1);
    results.killed.push((await disturbed).seconds);
    await c.stop();
    if (!sameOutput(`${work}/wc-undisturbed`, `${work}/wc-killed`)) throw new Error("output after a worker kill differs");
    console.log(`  run ${run}: word count cluster ${results.cluster.at(-1).toFixed(1)} MB/s, four workers ${results.four.at(-1).toFixed(1)} MB/s, run ${results.run.at(-1).toFixed(1)} MB/s; kill ${results.undisturbed.at(-1).toFixed(2)} s → ${results.killed.at(-1).toFixed(2)} s`);
  }

  const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
  console.log();
  console.log(`wordcount two-worker cluster: ${m.cluster.toFixed(1)} MB/s (${(m.cluster / m.run).toFixed(2)}x sheaf run --threads 2 at ${m.run.toFixed(1)} MB/s)`);
  console.log(`wordcount four-worker cluster: ${m.four.toFixed(1)} MB/s (${(m.four / m.cluster).toFixed(2)}x the two-worker cluster; target >= 1x)`);
  console.log(`kill-a-worker: ${(m.killed / m.undisturbed).toFixed(2)}x the undisturbed time (${m.undisturbed.toFixed(2)} s → ${m.killed.toFixed(2)} s; target ≤ 1.3x), output byte-identical`);
  rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(`bench: FAILED: ${err.message}`);
  process.exit(1);
});

// The cluster benchmarks, each against a baseline measured in the same run:
//  - scheduling: empty tasks per second through Redis, against raw BullMQ moving empty jobs;
//  - word count on a local two-worker cluster, against `sheaf run --threads 2`;
//  - the cost of a worker SIGKILLed at the midpoint of a three-worker job and replaced at once,
//    against the undisturbed run (target: at most 1.3x), with byte-identical output.
// Env: BENCH_CLUSTER_SIZE (default 256m), BENCH_TASKS (default 3000), BENCH_RUNS (default 3).
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { corpusPath, ensureCorpus } from "./corpus.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const data = `${root}bench/data`;
const cli = `${root}cli/bin.mjs`;
const work = `${data}/cluster-work`;
const runs = Number(process.env.BENCH_RUNS ?? 3);
const tasks = Number(process.env.BENCH_TASKS ?? 3000);
const size = parseSize(process.env.BENCH_CLUSTER_SIZE ?? "256m");

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)$/i.exec(text.trim());
  if (!m) throw new Error(`expected a size like 256m, got ${text}`);
  return Math.round(Number(m[1]) * 1024 ** " kmg".indexOf(m[2].toLowerCase() || " "));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = s.address().port;
  s.close();
  await once(s, "close");
  return port;
}

/** A private redis-server and the processes of one cluster, all stopped by stop(). */
class LocalCluster {
  procs = new Set();
  async start() {
    this.port = await freePort();
    this.url = `redis://127.0.0.1:${this.port}`;
    this.redis = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    for (let i = 0; ; i++) {
      const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on("error", () => {});
      const ok = await probe.connect().then(() => true, () => false);
      probe.disconnect();
      if (ok) break;
      if (i > 100) throw new Error("redis-server did not start");
      await sleep(50);
    }
  }
  spawn(args, ready) {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, SHEAF_REDIS_URL: this.url, SHEAF_WORKDIR: work }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.output = () => out;
    this.procs.add(child);
    child.on("exit", () => this.procs.delete(child));
    if (!ready) return child;
    return (async () => {
      while (!out.includes(ready)) {
        if (child.exitCode !== null) throw new Error(`${args[0]} exited: ${out}`);
        await sleep(20);
      }
      return child;
    })();
  }
  coordinator() { return this.spawn(["coordinator"], "leader (epoch"); }
  worker(threads = 1) { return this.spawn(["worker", "--threads", String(threads)], "worker: ready"); }
  /** Submits and waits; resolves with the job's report (from Redis) and the whole command's seconds. */
  async submit(args) {
    const started = performance.now();
    const child = this.spawn(["submit", ...args, "--wait", "-q"]);
    const [code] = await once(child, "exit");
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`submit failed: ${child.output()}`);
    const id = child.output().trim().split("\n")[0];
    const client = new Redis(this.url);
    const report = JSON.parse(await client.hget(`sheaf:job:${id}`, "progress"));
    client.disconnect();
    return { seconds, report };
  }
  async stop() {
    await Promise.all([...this.procs].map(async (p) => { p.kill("SIGTERM"); await once(p, "exit"); }));
    this.redis.kill();
    await once(this.redis, "exit");
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
  const corpus = corpusPath(data, size, 42);
  ensureCorpus(corpus, { bytes: size, seed: 42 });
  const emptyInput = `${work}/empty-${tasks}.txt`;
  writeFileSync(emptyInput, "\n".repeat(tasks)); // with --split-size 1: one task per line
  console.log(`cluster benchmarks: ${runs} run(s) each; word count over ${(size / 1e6).toFixed(0)} MB`);

  const results = { raw: [], empty: [], cluster: [], run: [], undisturbed: [], killed: [] };
  for (let run = 1; run <= runs; run++) {
    // 1. Scheduling overhead: empty tasks, two workers of one thread each.
    let c = new LocalCluster();
    await c.start();
    results.raw.push(await rawBullmq(c.url, tasks, 2));
    await c.coordinator();
    await Promise.all([c.worker(1), c.worker(1)]);
    const empty = await c.submit(["bench/jobs/empty.ts", "--input", emptyInput, "--output", `${work}/empty-out`, "--split-size", "1", "--overwrite"]);
    results.empty.push((empty.report.mapsTotal + empty.report.reducesTotal) / (empty.report.millis / 1000));

    // 2. Word count: the two-worker cluster against the embedded runner on two threads.
    const clustered = await c.submit(["jobs/wordcount.ts", "--input", corpus, "--output", `${work}/wc-cluster`, "--partitions", "2", "--overwrite"]);
    results.cluster.push(size / 1e6 / clustered.seconds);
    await c.stop();
    const started = performance.now();
    const local = spawnSync(process.execPath, [cli, "run", "jobs/wordcount.ts", "--input", corpus, "--output", `${work}/wc-run`, "--partitions", "2", "--threads", "2", "--overwrite", "-q", "--workdir", work], { cwd: root, stdio: "inherit" });
    if (local.status !== 0) throw new Error("sheaf run failed");
    results.run.push(size / 1e6 / ((performance.now() - started) / 1000));
    if (!sameOutput(`${work}/wc-cluster`, `${work}/wc-run`)) throw new Error("cluster and run outputs differ");

    // 3. Fault cost: three workers; one SIGKILLed at the midpoint and replaced at once.
    const jobArgs = (out) => ["jobs/wordcount.ts", "--input", corpus, "--output", out, "--split-size", "8m", "--partitions", "3", "--overwrite"];
    c = new LocalCluster();
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
    console.log(`  run ${run}: raw BullMQ ${results.raw.at(-1).toFixed(0)} jobs/s, sheaf ${results.empty.at(-1).toFixed(0)} tasks/s; word count cluster ${results.cluster.at(-1).toFixed(1)} MB/s, run ${results.run.at(-1).toFixed(1)} MB/s; kill ${results.undisturbed.at(-1).toFixed(2)} s → ${results.killed.at(-1).toFixed(2)} s`);
  }

  const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
  console.log();
  console.log(`scheduling: ${m.empty.toFixed(0)} empty tasks/s through Redis (${(m.empty / m.raw).toFixed(2)}x raw BullMQ's ${m.raw.toFixed(0)} empty jobs/s at the same concurrency)`);
  console.log(`wordcount two-worker cluster: ${m.cluster.toFixed(1)} MB/s (${(m.cluster / m.run).toFixed(2)}x sheaf run --threads 2 at ${m.run.toFixed(1)} MB/s)`);
  console.log(`kill-a-worker: ${(m.killed / m.undisturbed).toFixed(2)}x the undisturbed time (${m.undisturbed.toFixed(2)} s → ${m.killed.toFixed(2)} s; target ≤ 1.3x), output byte-identical`);
  rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(`bench: FAILED: ${err.message}`);
  process.exit(1);
});

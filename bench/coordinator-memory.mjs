// Coordinator memory against the job's task count (issue 21, target 4: peak RSS at 100,000 tasks
// within 1.5x of the peak at 10,000). The empty-task job of cluster.mjs's scheduling rows, on a fresh
// Redis, coordinator and two-thread worker for each measurement, after the same five warm-up jobs of
// 1,000 tasks; the sizes alternate within each run, so drift on this shared machine hits both.
// Printed per size: the coordinator's peak RSS while the job ran (/proc VmRSS every 100 ms) and over
// its whole life (VmHWM), tasks/s, and its CPU per task; then the ratio of the largest to the smallest.
// Env: BENCH_TASKS (comma-separated, default 10000,100000), BENCH_RUNS (default 3),
// BENCH_COORDINATOR_NODE_ARGS (Node options for the coordinator, space-separated), BENCH_HEAP_DIR
// (a heap snapshot of the coordinator there when the largest job is BENCH_HEAP_AT done, default 0.8).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { LocalCluster, sleep, watchProcess } from "./local-cluster.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const work = `${root}bench/data/coordinator-memory`;
const runs = Number(process.env.BENCH_RUNS ?? 3);
const sizes = (process.env.BENCH_TASKS ?? "10000,100000").split(",").map(Number);
const nodeArgs = (process.env.BENCH_COORDINATOR_NODE_ARGS ?? "").split(" ").filter(Boolean);
const heapDir = process.env.BENCH_HEAP_DIR;
const heapAt = Number(process.env.BENCH_HEAP_AT ?? 0.8);
const WARM_UP_TASKS = 1000;
const WARM_UP_JOBS = 5;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const hwm = (pid) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;

/** Sends SIGUSR2 (--heapsnapshot-signal) once the running job's maps are `fraction` done. */
async function snapshotAt(url, pid, total, fraction, done) {
  const redis = new Redis(url);
  try {
    while (!done()) {
      for (const key of await redis.keys("sheaf:job:*")) {
        const p = JSON.parse((await redis.hget(key, "progress").catch(() => null)) ?? "null");
        if (p?.mapsTotal >= total - 1 && p.mapsDone >= p.mapsTotal * fraction) return void process.kill(pid, "SIGUSR2");
      }
      await sleep(50);
    }
  } finally {
    redis.disconnect();
  }
}

async function measure(n, snapshot) {
  const c = new LocalCluster(work);
  await c.start();
  const args = snapshot ? [...nodeArgs, "--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${heapDir}`] : nodeArgs;
  const coordinator = await c.coordinator([], args);
  await c.worker(2);
  const job = async (lines) => {
    const input = `${work}/empty-${lines}.txt`;
    writeFileSync(input, "\n".repeat(lines)); // with --split-size 1: one task per line
    const { report } = await c.submit(["bench/jobs/empty.ts", "--input", input, "--output", `${work}/out`, "--split-size", "1", "--overwrite"]);
    rmSync(input, { force: true });
    return { tasks: report.mapsTotal + report.reducesTotal, rate: (report.mapsTotal + report.reducesTotal) / (report.millis / 1000) };
  };
  for (let i = 0; i < WARM_UP_JOBS; i++) await job(WARM_UP_TASKS);
  const watch = watchProcess(coordinator.pid);
  let finished = false;
  const snap = snapshot ? snapshotAt(c.url, coordinator.pid, n, heapAt, () => finished) : undefined;
  const { tasks, rate } = await job(n).finally(() => (finished = true));
  await snap;
  const { peakRssMb, cpuSeconds } = watch.stop();
  const lifePeakMb = hwm(coordinator.pid);
  await c.stop();
  return { tasks, rate, peakRssMb, lifePeakMb, cpuUsPerTask: (cpuSeconds / tasks) * 1e6 };
}

async function main() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  if (heapDir) mkdirSync(heapDir, { recursive: true });
  console.log(`coordinator memory: empty tasks, coordinator + one two-thread worker, ${runs} run(s), sizes alternating${nodeArgs.length ? `; coordinator node ${nodeArgs.join(" ")}` : ""}`);
  const results = new Map(sizes.map((n) => [n, []]));
  const largest = Math.max(...sizes);
  for (let run = 1; run <= runs; run++) {
    for (const n of sizes) {
      const r = await measure(n, heapDir !== undefined && run === 1 && n === largest);
      results.get(n).push(r);
      console.log(`  run ${run}: ${String(r.tasks).padStart(7)} tasks: peak RSS ${r.peakRssMb.toFixed(0)} MB while it ran (${r.lifePeakMb.toFixed(0)} MB over the coordinator's life), ${r.rate.toFixed(0)} tasks/s, ${r.cpuUsPerTask.toFixed(0)} µs CPU per task`);
    }
  }
  console.log();
  for (const [n, r] of results) {
    const m = (k) => median(r.map((x) => x[k]));
    const spread = (k) => `${Math.min(...r.map((x) => x[k])).toFixed(0)}-${Math.max(...r.map((x) => x[k])).toFixed(0)}`;
    console.log(`  ${String(r[0].tasks).padStart(7)} tasks: peak RSS ${m("peakRssMb").toFixed(0)} MB (${spread("peakRssMb")}), life ${m("lifePeakMb").toFixed(0)} MB, ${m("rate").toFixed(0)} tasks/s (${spread("rate")}), ${m("cpuUsPerTask").toFixed(0)} µs CPU per task`);
  }
  const small = median(results.get(Math.min(...sizes)).map((x) => x.peakRssMb));
  const large = median(results.get(largest).map((x) => x.peakRssMb));
  console.log(`  peak RSS at ${largest} tasks / at ${Math.min(...sizes)}: ${(large / small).toFixed(2)}x (target ≤ 1.5x)`);
  rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(`bench: FAILED: ${err.message}`);
  process.exit(1);
});

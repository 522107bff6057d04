/**
 * Sharing a cluster (coordinator/fair-share.ts), on a real coordinator and a real two- or
 * three-thread worker: a small job submitted while a long one runs is not queued behind it; two
 * equal jobs progress at the same rate; a pool's max is never exceeded, even on an idle cluster; a
 * low-priority job completes under a stream of high-priority ones. Outputs are checked against a
 * plain count of the words.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Cluster, freePort } from "./cluster-harness.js";
import { parseExposition, valueOf } from "./exposition.js";
import { expectOracle, FAULTY, freshDir, jobRecord, markers, params, stopCluster, submitJob, until, waitJob, wordcountOracle, writeCorpus } from "./fault-kit.js";
import { EXAMPLE_JOBS, Scratch } from "./helpers.js";

const s = new Scratch("fair-share");
const clusters: Cluster[] = [];
afterAll(async () => {
  for (const c of clusters.splice(0)) await stopCluster(c);
  s.cleanup();
});

async function cluster(name: string, threads: number, coordinatorArgs: string[] = []): Promise<Cluster> {
  const c = new Cluster(s.path(`${name}-wd`));
  clusters.push(c);
  await c.startRedis();
  await c.coordinator(coordinatorArgs);
  await c.worker(threads);
  return c;
}

/** FAULTY word count whose map tasks sleep `taskMs` each: `maps` of them over the corpus. */
const slowJob = (files: string[], out: string, taskMs: number, marks: string, extra: string[] = []) =>
  [FAULTY, "-i", ...files, "-o", out, "--split-size", "16k", "--partitions", "2", "--no-speculative", ...params({ taskMs, markDir: marks }), ...extra];

/** Each task run the FAULTY job marked in `marks`, from its start mark to its done mark (worker's clock). */
function taskRuns(marks: string): { start: number; done: number }[] {
  const runs = new Map<string, { start?: number; done?: number }>();
  for (const m of markers(marks)) {
    if (m.what !== "start" && m.what !== "done") continue;
    const r = runs.get(`${m.task}~${m.run}`) ?? {};
    r[m.what] = m.data.t;
    runs.set(`${m.task}~${m.run}`, r);
  }
  return [...runs.values()].filter((r) => r.start !== undefined && r.done !== undefined) as { start: number; done: number }[];
}

async function timeSmallJob(c: Cluster, input: string, out: string): Promise<number> {
  const started = Date.now();
  const r = await c.run(["submit", join(EXAMPLE_JOBS, "wordcount.ts"), "-i", input, "-o", out, "--wait", "-q"]);
  expect(r.code, r.output).toBe(0);
  return Date.now() - started;
}

describe("fair sharing of the workers' slots", () => {
  const big = writeCorpus(s, "big", 2, 320_000, 400, 3); // 40 map tasks of 16k
  const small = writeCorpus(s, "small", 1, 20_000, 300, 4)[0]!;

  it.each(["fifo", "fair"])("%s: a small job submitted while a long job runs (the long job's output unchanged)", async (mode) => {
    const c = await cluster(`latency-${mode}`, 2, ["--scheduling", mode]);
    const alone = await timeSmallJob(c, small, s.fresh(`alone-${mode}`));
    const out = s.fresh(`long-${mode}`);
    const long = await submitJob(c, slowJob(big, out, 400, freshDir(s, `long-marks-${mode}`)));
    await until("the long job's maps to run", async () => ((await jobRecord(c, long)).progress?.mapsDone ?? 0) >= 2, 60_000, 100);
    const under = await timeSmallJob(c, small, s.fresh(`under-${mode}`));
    const record = await waitJob(c, long, 120_000);
    expect(record.state, record.error).toBe("succeeded");
    expectOracle(out, wordcountOracle(big));
    console.log(`SHARE ${mode}: a small job alone ${alone} ms, under a long job ${under} ms (${(under / alone).toFixed(1)}x)`);
    if (mode === "fair") expect(under).toBeLessThanOrEqual(3 * alone);
  }, 240_000);

  it("two equal jobs submitted together progress at rates within 25% of each other; /metrics shows their pool's slots", async () => {
    const port = await freePort();
    const c = await cluster("equal", 2, ["--http", `127.0.0.1:${port}`]);
    const outs = [s.fresh("equal-a"), s.fresh("equal-b")];
    const [a, b] = await Promise.all(outs.map((out, i) => submitJob(c, slowJob(big, out, 250, freshDir(s, `equal-marks-${i}`)))));
    // Rates from the moment both run (one is planned a little after the other, and nothing is
    // preempted): maps done since then, sampled until the faster has done 14 more.
    const ratios: number[] = [];
    let base: [number, number] | undefined;
    let poolSlots: number | undefined;
    await until("both jobs to run, then 14 maps more", async () => {
      const [pa, pb] = await Promise.all([jobRecord(c, a!), jobRecord(c, b!)]);
      const [da, db] = [pa.progress?.mapsDone ?? 0, pb.progress?.mapsDone ?? 0];
      if (!base) {
        if (da >= 2 && db >= 2) base = [da, db];
        return false;
      }
      if (poolSlots === undefined) {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        poolSlots = valueOf(parseExposition(text), "sheaf_pool_slots", { pool: "default" });
      }
      const [ga, gb] = [da - base[0], db - base[1]];
      if (Math.max(ga, gb) >= 6) ratios.push(Math.min(ga, gb) / Math.max(ga, gb));
      return Math.max(ga, gb) >= 14;
    }, 120_000, 200);
    for (const id of [a!, b!]) expect((await waitJob(c, id, 120_000)).state).toBe("succeeded");
    for (const out of outs) expectOracle(out, wordcountOracle(big));
    const rate = ratios.at(-1)!;
    console.log(`SHARE two equal jobs: the slower one's maps done over the faster one's, from when both ran (${base}) to the faster one's 14th map more: ${rate.toFixed(2)} (samples ${ratios.map((r) => r.toFixed(2)).join(" ")})`);
    expect(rate).toBeGreaterThanOrEqual(0.75);
    // Both jobs' slots, summed by pool (each job's progress carries its share).
    expect(poolSlots).toBeGreaterThanOrEqual(2);
  }, 240_000);

  it("a pool's max is never exceeded, even on an idle cluster", async () => {
    // The capped pool from a pools file, another from a flag.
    const pools = s.write("pools.txt", "# jobs that must not saturate the database\ncapped:max=1\n");
    const c = await cluster("capped", 3, ["--pools-file", pools, "--pool", "nightly:weight=2,min=1"]);
    const marks = freshDir(s, "capped-marks");
    const out = s.fresh("capped-out");
    const id = await submitJob(c, [...slowJob(big.slice(0, 1), out, 150, marks), "--pool", "capped"]);
    const record = await waitJob(c, id, 120_000);
    expect(record.state, record.error).toBe("succeeded");
    expectOracle(out, wordcountOracle(big.slice(0, 1)));
    // Sampled from what the worker ran: each task run from its start mark to its done mark.
    const spans = taskRuns(marks);
    expect(spans.length).toBeGreaterThanOrEqual(20 + 2);
    const most = Math.max(...spans.map((x) => spans.filter((y) => y.start < x.done && x.start < y.done).length));
    console.log(`SHARE a pool of max 1 on a 3-thread worker: at most ${most} of its ${spans.length} task runs at once`);
    expect(most).toBe(1);
  }, 240_000);

  it("a coordinator killed mid-way: its standby keeps the shares (weights 3 and 1)", async () => {
    const c = await cluster("failover", 2, ["--lease", "2000"]);
    const standby = await c.coordinator(["--lease", "2000"], true);
    const outs = [s.fresh("heavy"), s.fresh("light")];
    const [heavy, light] = await Promise.all(outs.map((out, i) => submitJob(c, [...slowJob(big, out, 250, freshDir(s, `failover-marks-${i}`)), "--priority", i === 0 ? "3" : "1"])));
    const done = async () => Promise.all([heavy!, light!].map(async (id) => (await jobRecord(c, id)).progress?.mapsDone ?? 0));
    await until("both jobs to run", async () => (await done()).every((n) => n >= 2), 60_000, 100);
    c.procs.find((p) => p.child.spawnargs.includes("coordinator") && p !== standby)!.child.kill("SIGKILL");
    await until("the standby to lead", () => standby.output().includes("leader (epoch"), 20_000, 50);
    await until("the standby to resume both jobs", () => standby.output().includes(`resuming job ${heavy}`) && standby.output().includes(`resuming job ${light}`), 20_000, 50);
    const [h0, l0] = (await done()) as [number, number];
    await until("20 more maps done", async () => { const [h, l] = (await done()) as [number, number]; return h - h0 + (l - l0) >= 20 || h >= 40; }, 120_000, 100);
    const [h1, l1] = (await done()) as [number, number];
    for (const id of [heavy!, light!]) expect((await waitJob(c, id, 120_000)).state).toBe("succeeded");
    for (const out of outs) expectOracle(out, wordcountOracle(big));
    console.log(`SHARE after a failover: maps done by the weight-3 job ${h1 - h0}, by the weight-1 job ${l1 - l0}`);
    expect(l1 - l0).toBeGreaterThan(0);
    expect(h1 - h0).toBeGreaterThanOrEqual(2 * (l1 - l0)); // 3:1 by weight (15:5 in runs here); progress is written about once a second, so the window is coarse
  }, 240_000);

  it("a low-priority job completes under a stream of high-priority jobs", async () => {
    const c = await cluster("priority", 2);
    const lowOut = s.fresh("low-out");
    const lowMarks = freshDir(s, "low-marks");
    const low = await submitJob(c, [...slowJob(big.slice(0, 1), lowOut, 300, lowMarks), "--priority", "1"]);
    const highs: string[] = [];
    let lowDone = false;
    const stream = (async () => {
      // Two high-priority jobs unfinished at any time, until the low one ends.
      const live = new Set<string>();
      while (!lowDone) {
        while (live.size < 2) {
          const id = await submitJob(c, [...slowJob(big.slice(1), s.fresh(`high-${highs.length}`), 300, freshDir(s, `high-marks-${highs.length}`)), "--priority", "10"]);
          highs.push(id);
          live.add(id);
        }
        for (const id of live) if (["succeeded", "failed", "cancelled"].includes((await jobRecord(c, id)).state)) live.delete(id);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const record = await waitJob(c, low, 180_000);
    lowDone = true;
    await stream;
    expect(record.state, record.error).toBe("succeeded");
    expectOracle(lowOut, wordcountOracle(big.slice(0, 1)));
    // Progress under the stream, not only in its gaps: low-priority map runs that overlapped a
    // high-priority job's run (from its start to its end, on the coordinator's clock).
    const spans: (readonly [number, number])[] = [];
    for (const id of highs) {
      const h = await jobRecord(c, id);
      if (h.startedAt !== undefined) spans.push([h.startedAt, h.finishedAt ?? Date.now()] as const);
    }
    const runs = taskRuns(lowMarks);
    const under = runs.filter((r) => spans.some(([a, b]) => r.start < b && a < r.done)).length;
    expect(under, `low-priority task runs while a high-priority job ran (of ${runs.length})`).toBeGreaterThanOrEqual(3);
    const streamed = highs.length;
    console.log(`SHARE a low-priority job (weight 1) ended under a stream of ${streamed} high-priority jobs (weight 10); ${under} of its ${runs.length} task runs overlapped one`);
  }, 240_000);
});

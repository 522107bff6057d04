/**
 * Retries on a cluster are the driver's alone (engine/driver.ts, as on `sheaf run`): every queue job
 * is one attempt, and a failed one is run again by the driver, as a new queue job, after its
 * backoff (engine/retry.ts: 1 s doubling, half of it jitter). A task that fails every time runs
 * exactly --max-attempts times in all, numbered 1…M, each retry after at least the driver's
 * minimum backoff, and each failed attempt is counted once, by the driver too (the job's progress).
 *
 * Before (BullMQ retried a task alone within one queue job, then the driver reconciled the counts),
 * the runs were also M, but the driver saw one failed attempt where M had failed: the job's progress
 * said failedAttempts 1.
 *
 * A worker that dies is not a failed attempt: BullMQ's stalled check hands its queue job out again,
 * the same attempt, resumed (faults-worker.test.ts). Past the workers' maxStalledCount (2) BullMQ
 * fails the job whatever its attempts; that comes back as TASK_LOST, and the driver retries it as
 * the task's next attempt.
 */
import { writeFileSync } from "node:fs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Cluster } from "./cluster-harness.js";
import {
  FAULTY, expectNoTempFiles, expectOracle, freshDir, markers, params, redisOf, startCluster, stopCluster, submitJob, until, waitJob, wordcountOracle, workerRunning,
  writeCorpus,
} from "./fault-kit.js";
import { Scratch, allLines, leftovers } from "./helpers.js";
import { JOB_DEFAULTS } from "../../core/defaults.js";

const s = new Scratch("retries-cluster");
const clusters: Cluster[] = [];

afterEach(async () => {
  for (const c of clusters.splice(0)) await stopCluster(c);
});
afterAll(() => s.cleanup());

describe("a map task that fails on every attempt, on a cluster", () => {
  it("runs exactly --max-attempts times, numbered 1…M, with the driver's backoff between them, each counted once", async () => {
    const M = 3;
    const inputs = writeCorpus(s, "in", 3, 6_000, 200, 31);
    // A line of the second file at an offset where no other file has one, so only map-00001 throws.
    const elsewhere = new Set([0, 2].flatMap((j) => allLines([inputs[j]!]).map((l) => l.offset)));
    const { file, offset } = allLines([inputs[1]!]).find((l) => l.offset > 0 && !elsewhere.has(l.offset))!;
    const { cluster: c } = await startCluster(s.path("wd"), { workers: 2 });
    clusters.push(c);
    const marks = freshDir(s, "marks");
    const out = s.fresh("out");
    const id = await submitJob(c, [
      FAULTY, "--input", ...inputs, "--output", out, "--partitions", "1", "--max-attempts", String(M), "--no-speculative", "-q",
      ...params({ markDir: marks, throwAt: offset }),
    ]);
    const record = await waitJob(c, id, 60_000);
    expect(record.state).toBe("failed");
    expect(record.error).toContain(`task map-00001 (attempt ${M} of ${M}): map threw on the record at ${file} byte ${offset}: injected failure at byte ${offset}`);

    const runs = markers(marks, "map-00001", "start").sort((a, b) => a.data.t! - b.data.t!);
    expect(runs.map((m) => m.data.attempt)).toEqual([1, 2, 3]);
    // The driver's backoff (backoffDelay): at least half of 1 s × 2^(n-1) after attempt n failed.
    for (let n = 1; n < M; n++) {
      const gap = runs[n]!.data.t! - runs[n - 1]!.data.t!;
      expect(gap, `attempt ${n + 1} began ${gap} ms after attempt ${n}`).toBeGreaterThanOrEqual((JOB_DEFAULTS.retryBackoffMs * 2 ** (n - 1)) / 2);
    }
    // Every failed attempt went through the driver: its count and the workers' count agree.
    expect(record.progress?.failedAttempts).toBe(M);
    expect(Number(await redisOf(c).hget(`sheaf:job:${id}:attempts`, "failedAttempts"))).toBe(M);
    expect(leftovers(out)).toEqual([]);
    expectNoTempFiles(out, s.path("wd"), id);
  });
});

describe("a task whose workers died past the queue's stall limit, on a cluster", () => {
  it("is failed by the queue and retried by the driver as its next attempt, counted once; the job succeeds", async () => {
    const inputs = writeCorpus(s, "in-stall", 3, 6_000, 200, 32);
    const { cluster: c, workers } = await startCluster(s.path("wd-stall"), { workers: 2 });
    clusters.push(c);
    const marks = freshDir(s, "marks-stall");
    const release = s.path("stall-release");
    const out = s.fresh("out-stall");
    const id = await submitJob(c, [
      FAULTY, "--input", ...inputs, "--output", out, "--partitions", "1", "--max-attempts", "2", "--no-speculative", "-q",
      ...params({ markDir: marks, holdTask: "map-00001", holdFile: release, holdAt: "setup" }),
    ]);
    await until("map-00001 held", () => markers(marks, "map-00001", "held").length === 1, 30_000, 20);
    // As if its workers had died twice already: the next stall is one past the limit.
    await redisOf(c).hset(`sheaf:tasks:${id}.map-00001`, "stc", 2);
    const victim = workerRunning(marks, "map-00001", workers);
    victim.child.kill("SIGKILL");
    writeFileSync(release, "go");
    await c.worker(1);

    const record = await waitJob(c, id, 60_000);
    expect(record.state, record.error).toBe("succeeded");
    expectOracle(out, wordcountOracle(inputs));
    expect(markers(marks, "map-00001", "start").sort((a, b) => a.data.t! - b.data.t!).map((m) => m.data.attempt)).toEqual([1, 2]);
    expect(record.progress?.failedAttempts).toBe(1);
    expect(record.progress?.lastFailure).toContain("map-00001 attempt 1: job stalled more than allowable limit");
    expectNoTempFiles(out, s.path("wd-stall"), id);
  });
});

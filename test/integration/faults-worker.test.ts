/**
 * Worker faults on a cluster (Redis, a coordinator, 3 single-thread workers, --lock 3000): a worker
 * SIGKILLed mid-map and mid-reduce (its task comes back when its lock expires and resumes from
 * its checkpoint, on a replacement started at once), and a worker stopped with SIGTERM (it
 * finishes its task and exits 0). Each job's output is compared byte for byte with an undisturbed
 * cluster run of the same job and with the oracle; counters are counted once; no temp files remain.
 */
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "./cluster-harness.js";
import {
  FAULTY, checkpointed, expectNoTempFiles, expectOracle, freshDir, markers, params, reportFault, startCluster, stopCluster, submitJob, until, waitJob, wordcountOracle,
  workerRunning, writeCorpus, type JobRecord,
} from "./fault-kit.js";
import { expectRecovered as recovered, stopClustersAfterEach } from "./fault-kit.js";
import { Scratch, allLines, leftovers, sameOutput } from "./helpers.js";

const s = new Scratch("faults-worker");
const MiB = 1 << 20;
let inputs: string[] = [];
let oracle: Map<string, number>;
let lineCount = 0;
let baseline = { out: "", ms: 0 };
const clusters: Cluster[] = [];

/**
 * 3 map tasks of about 2.1 MiB (3 read batches each; the map sleeps 700 ms as it enters each MiB,
 * so a task takes about 2.5 s and checkpoints after each batch), then 3 reduce tasks of about 80 keys
 * at 20 ms a key (1.6 s each, checkpointing every 200 bytes of output).
 */
function jobArgs(out: string, marks: string): string[] {
  return [
    FAULTY, "--input", ...inputs, "--output", out, "--split-size", "4m", "--partitions", "3", "--checkpoint-every", "200", "-q",
    ...params({ markDir: marks, chunkBytes: MiB, chunkMs: 700, keyMs: 20 }),
  ];
}

async function cluster(name: string, workers = 3) {
  const c = await startCluster(s.path(`wd-${name}`), { workers });
  clusters.push(c.cluster);
  return c;
}

/** The checks every case makes of a finished job. */
/** This file's job recovered: identical to the undisturbed run and to the oracle, nothing left behind. */
const expectRecovered = (c: Cluster, id: string, out: string, workdir: string): Promise<JobRecord> =>
  recovered(c, id, out, workdir, { baseline: baseline.out, oracle, lineCount, maps: 3, reduces: 3 }, 90_000);

beforeAll(async () => {
  inputs = writeCorpus(s, "in", 3, 2.1 * MiB, 240, 21);
  oracle = wordcountOracle(inputs);
  lineCount = allLines(inputs).length;
  const { cluster: c } = await cluster("baseline");
  const out = s.fresh("baseline");
  const id = await submitJob(c, jobArgs(out, freshDir(s, "marks-baseline")));
  const record = await expectRecovered(c, id, out, s.path("wd-baseline"));
  for (const done of clusters.splice(0)) await stopCluster(done);
  baseline = { out, ms: record.progress!.millis! };
  expect(record.progress!.resumedBytes).toBe(0);
  expect(record.progress!.resumedKeys).toBe(0);
}, 90_000);

stopClustersAfterEach(clusters, s);

describe("a worker SIGKILLed mid-task", () => {
  it("mid-map: its task comes back after the lock expires and resumes from its checkpoint", async () => {
    const name = "kill-map";
    const { cluster: c, workers } = await cluster(name);
    const marks = freshDir(s, `marks-${name}`);
    const out = s.fresh(name);
    const id = await submitJob(c, jobArgs(out, marks));
    const scratch = join(s.path(`wd-${name}`), "jobs", id);
    await until("a map task's first checkpoint", () => checkpointed(scratch, "map") !== undefined, 30_000, 20);
    const task = checkpointed(scratch, "map")!;
    const victim = workerRunning(marks, task, workers);
    victim.child.kill("SIGKILL");
    const killedAt = Date.now();
    await c.worker(1); // the replacement

    const record = await expectRecovered(c, id, out, s.path(`wd-${name}`));
    expect(await victim.exited).toBe("SIGKILL");
    // The task ran again elsewhere, from its checkpoint.
    const runs = markers(marks, task, "start");
    expect(runs.length).toBeGreaterThanOrEqual(2);
    // Handed out again by the queue's stalled check: the same attempt, resumed, not a retry.
    expect(runs.map((m) => m.data.attempt)).toEqual(runs.map(() => 1));
    expect(record.progress!.failedAttempts).toBe(0);
    expect(markers(marks, task, "done").every((m) => m.data.pid !== victim.child.pid)).toBe(true);
    expect(record.progress!.resumedBytes).toBeGreaterThan(0);
    reportFault("worker SIGKILL mid-map", { recoveryMs: record.finishedAt! - killedAt, jobMs: record.progress!.millis, baselineMs: baseline.ms, note: `resumedBytes ${record.progress!.resumedBytes}` });
    await stopCluster(c);
    expectNoTempFiles(out, s.path(`wd-${name}`), id);
  });

  it("mid-reduce: its task comes back after the lock expires and continues its part file after the last key written", async () => {
    const name = "kill-reduce";
    const { cluster: c, workers } = await cluster(name);
    const marks = freshDir(s, `marks-${name}`);
    const out = s.fresh(name);
    const id = await submitJob(c, jobArgs(out, marks));
    const temporary = join(out, "_temporary");
    await until("a reduce task's first checkpoint", () => checkpointed(temporary, "reduce") !== undefined, 30_000, 20);
    const task = checkpointed(temporary, "reduce")!;
    const victim = workerRunning(marks, task, workers);
    victim.child.kill("SIGKILL");
    const killedAt = Date.now();
    await c.worker(1);

    const record = await expectRecovered(c, id, out, s.path(`wd-${name}`));
    expect(await victim.exited).toBe("SIGKILL");
    expect(markers(marks, task, "start").length).toBeGreaterThanOrEqual(2);
    expect(record.progress!.resumedKeys).toBeGreaterThan(0);
    reportFault("worker SIGKILL mid-reduce", { recoveryMs: record.finishedAt! - killedAt, jobMs: record.progress!.millis, baselineMs: baseline.ms, note: `resumedKeys ${record.progress!.resumedKeys}` });
    await stopCluster(c);
    expectNoTempFiles(out, s.path(`wd-${name}`), id);
  });
});

describe("a worker sent SIGTERM mid-task", () => {
  it("takes no new task, finishes the running one, and exits 0; the job completes", async () => {
    const name = "term";
    const { cluster: c, workers } = await cluster(name);
    const marks = freshDir(s, `marks-${name}`);
    const out = s.fresh(name);
    const id = await submitJob(c, jobArgs(out, marks));
    await until("every map task running", () => new Set(markers(marks, undefined, "start").map((m) => m.task)).size === 3, 30_000, 20);
    const victim = workerRunning(marks, "map-00001", workers);
    victim.child.kill("SIGTERM");
    const termAt = Date.now();

    expect(await victim.exited).toBe(0);
    const exitedAfter = Date.now() - termAt;
    const record = await expectRecovered(c, id, out, s.path(`wd-${name}`));
    // It finished map-00001 itself (one run), and started nothing after the signal.
    const mine = markers(marks).filter((m) => m.data.pid === victim.child.pid);
    expect(mine.filter((m) => m.what === "start").map((m) => m.task)).toEqual(["map-00001"]);
    expect(mine.filter((m) => m.what === "done").map((m) => m.task)).toEqual(["map-00001"]);
    expect(markers(marks, "map-00001", "start")).toHaveLength(1);
    expect(victim.output()).not.toMatch(/error/i);
    reportFault("worker SIGTERM mid-map", { recoveryMs: record.finishedAt! - termAt, jobMs: record.progress!.millis, baselineMs: baseline.ms, note: `worker exited 0 after ${exitedAfter} ms` });
  });
});

describe("a record that always throws, on a cluster", () => {
  let runs = 0;

  it("fails the job, naming the task, the file and the byte offset; nothing is left behind", async () => {
    const name = "throws";
    const { cluster: c } = await cluster(name, 2);
    const marks = freshDir(s, `marks-${name}`);
    const out = s.fresh(name);
    const { file, offset } = allLines([inputs[1]!])[5]!;
    const id = await submitJob(c, [
      FAULTY, "--input", ...inputs, "--output", out, "--split-size", "4m", "--partitions", "3", "--max-attempts", "2", "-q",
      ...params({ markDir: marks, throwAt: offset }),
    ]);
    const record = await waitJob(c, id);
    expect(record.state).toBe("failed");
    expect(record.error).toContain(`task map-00001 (attempt 2 of 2): map threw on the record at ${file} byte ${offset}: injected failure at byte ${offset}`);
    expect(leftovers(out)).toEqual([]);
    expectNoTempFiles(out, s.path(`wd-${name}`), id);
    runs = markers(marks, "map-00001", "start").length;
    expect(runs).toBeGreaterThanOrEqual(2);
  });

  // Regression (was an engine bug): on a cluster a failing task runs up to --max-attempts² times (here 4 runs for
  // --max-attempts 2, 16 for the default 4): each BullMQ job gets `attempts: maxAttempts`
  // (coordinator/queue-executor.ts:31-34) and the driver then retries the failed task as a new copy
  // up to maxAttempts times again (JobDriver.runTask, engine/driver.ts:187-213). The error still says "attempt 2 of 2".
  it("…after exactly --max-attempts runs of the task", () => {
    expect(runs).toBe(2);
  });
});

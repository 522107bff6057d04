/**
 * Coordinator faults on a cluster (--lease 2000, 2 single-thread workers): the leader SIGKILLed
 * with a standby running and without one (restarted), the leader SIGSTOPped past its lease and
 * SIGCONTed after a standby took over, and the leader stopped with SIGTERM. Each job's output is
 * compared byte for byte with an undisturbed cluster run and with the oracle; counters are
 * counted once; no temp files remain.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster, Proc } from "./cluster-harness.js";
import {
  FAULTY, expectNoTempFiles, expectOracle, freshDir, jobRecord, params, reportFault, startCluster, stopCluster, submitJob, until, waitJob, wordcountOracle,
  writeCorpus, type JobRecord,
} from "./fault-kit.js";
import { expectRecovered as recovered, stopClustersAfterEach } from "./fault-kit.js";
import { Scratch, allLines, sameOutput } from "./helpers.js";

const s = new Scratch("faults-coordinator");
let inputs: string[] = [];
let oracle: Map<string, number>;
let lineCount = 0;
let baseline = { out: "", ms: 0 };
const clusters: Cluster[] = [];

/** 8 map tasks of 800 ms and 3 reduce tasks of 300 ms on 2 workers: about 4 s undisturbed. */
function jobArgs(out: string, name: string): string[] {
  return [
    FAULTY, "--input", ...inputs, "--output", out, "--split-size", "6k", "--partitions", "3", "-q",
    ...params({ markDir: freshDir(s, `marks-${name}`), taskMs: 800, reduceMs: 300 }),
  ];
}

async function cluster(name: string, standbys = 0) {
  const c = await startCluster(s.path(`wd-${name}`), { workers: 2, standbys });
  clusters.push(c.cluster);
  return c;
}

/** This file's job recovered: identical to the undisturbed run and to the oracle, nothing left behind. */
const expectRecovered = (c: Cluster, id: string, out: string, workdir: string, timeoutMs = 60_000): Promise<JobRecord> =>
  recovered(c, id, out, workdir, { baseline: baseline.out, oracle, lineCount, maps: 8, reduces: 3 }, timeoutMs);

async function mapsDone(c: Cluster, id: string, n: number): Promise<void> {
  await until(`${n} map tasks done`, async () => ((await jobRecord(c, id)).progress?.mapsDone ?? 0) >= n, 30_000);
}

const isLeader = (p: Proc) => p.output().includes("leader (epoch");

beforeAll(async () => {
  inputs = writeCorpus(s, "in", 4, 12_000, 200, 31);
  oracle = wordcountOracle(inputs);
  lineCount = allLines(inputs).length;
  const { cluster: c } = await cluster("baseline");
  const out = s.fresh("baseline");
  const id = await submitJob(c, jobArgs(out, "baseline"));
  const record = await expectRecovered(c, id, out, s.path("wd-baseline"));
  for (const done of clusters.splice(0)) await stopCluster(done);
  baseline = { out, ms: record.progress!.millis! };
}, 60_000);

stopClustersAfterEach(clusters, s);

describe("the leader coordinator SIGKILLed mid-job", () => {
  it("with a standby running: the standby takes the lease within a few seconds and resumes the job", async () => {
    const name = "kill-standby";
    const { cluster: c, coordinator, standbys: [standby] } = await cluster(name, 1);
    expect(isLeader(standby!)).toBe(false);
    const out = s.fresh(name);
    const id = await submitJob(c, jobArgs(out, name));
    await mapsDone(c, id, 2);
    coordinator.child.kill("SIGKILL");
    const killedAt = Date.now();
    await until("the standby to lead", () => isLeader(standby!), 10_000, 20);
    const takeover = Date.now() - killedAt;
    expect(takeover).toBeLessThan(5_000);
    await until("the standby to resume the job", () => standby!.output().includes(`resuming job ${id}`), 5_000, 20);

    const record = await expectRecovered(c, id, out, s.path(`wd-${name}`));
    reportFault("coordinator SIGKILL, standby takes over", { recoveryMs: record.finishedAt! - killedAt, jobMs: record.progress!.millis, baselineMs: baseline.ms, note: `takeover ${takeover} ms` });
  });

  it("without a standby: a restarted coordinator resumes the job", async () => {
    const name = "kill-restart";
    const { cluster: c, coordinator } = await cluster(name);
    const out = s.fresh(name);
    const id = await submitJob(c, jobArgs(out, name));
    await mapsDone(c, id, 2);
    coordinator.child.kill("SIGKILL");
    const killedAt = Date.now();
    const restarted = await c.coordinator(); // resolves once it leads: after the dead one's lease expires
    const takeover = Date.now() - killedAt;
    await until("the restarted coordinator to resume the job", () => restarted.output().includes(`resuming job ${id}`), 5_000, 20);

    const record = await expectRecovered(c, id, out, s.path(`wd-${name}`));
    reportFault("coordinator SIGKILL, restarted", { recoveryMs: record.finishedAt! - killedAt, jobMs: record.progress!.millis, baselineMs: baseline.ms, note: `takeover ${takeover} ms` });
  });
});

describe("the leader coordinator paused (SIGSTOP) past its lease, then continued", () => {
  // Regression (was an engine bug): when the old leader wakes up and finds its lease lost, interruptAll() aborts its
  // job drivers, and QueueExecutor's abort handler (coordinator/queue-executor.ts:37-40) removes the
  // task's BullMQ job or, if running, publishes `stop <id>`. Task ids are shared with the new
  // leader (Keys.taskJobId), so the stale leader removes the new leader's queued tasks (whose
  // waitUntilFinished then never settles: the job hangs) and stops its running ones (which fail
  // as STOPPED, not retryable: the job fails). Fencing covers Redis writes of the job store only.
  it("the standby resumes the job; the old leader's writes are refused; the output is identical", async () => {
    const name = "stop-cont";
    const { cluster: c, coordinator, standbys: [standby] } = await cluster(name, 1);
    const out = s.fresh(name);
    const id = await submitJob(c, jobArgs(out, name));
    await mapsDone(c, id, 2);
    coordinator.child.kill("SIGSTOP");
    const stoppedAt = Date.now();
    await until("the standby to resume the job", () => standby!.output().includes(`resuming job ${id}`), 10_000, 20);
    const takeover = Date.now() - stoppedAt;
    expect((await jobRecord(c, id)).state).toBe("running");
    coordinator.child.kill("SIGCONT");
    await until("the old leader to notice", () => /lost the leader lease|left to resume: stale leader/.test(coordinator.output()), 10_000, 20);
    expect(coordinator.child.exitCode).toBeNull(); // it lives on, as a standby

    const outcome = await waitJob(c, id, 30_000);
    const said = coordinator.output().split("\n").filter((l) => /lost the leader lease|stale leader/.test(l));
    reportFault("coordinator SIGSTOP past lease, then SIGCONT", {
      recoveryMs: outcome.finishedAt! - stoppedAt, jobMs: outcome.progress?.millis, baselineMs: baseline.ms,
      note: `takeover ${takeover} ms; job ${outcome.state}${outcome.error ? `: ${outcome.error}` : ""}; old leader said: ${JSON.stringify(said)}`,
    });
    await expectRecovered(c, id, out, s.path(`wd-${name}`), 30_000);
  });
});

describe("the leader cut off from Redis (redis-server paused past the lease)", () => {
  // Was an engine bug (issue 10, item 7): with `maxRetriesPerRequest: null` a renewal waited for Redis
  // instead of failing, so a leader cut off from Redis went on believing it led after its lease expired.
  it("steps down before its lease could be taken, then leads again and the job completes", async () => {
    const name = "redis-stop";
    const { cluster: c, coordinator } = await cluster(name);
    const out = s.fresh(name);
    const id = await submitJob(c, jobArgs(out, name));
    await mapsDone(c, id, 2);
    const before = coordinator.output().length;
    c.signalRedis("SIGSTOP");
    const stoppedAt = Date.now();
    try {
      await until("the leader to step down", () => coordinator.output().slice(before).includes("lost the leader lease"), 6_000, 20);
    } finally {
      c.signalRedis("SIGCONT");
    }
    const steppedDownMs = Date.now() - stoppedAt;
    expect(steppedDownMs).toBeLessThan(2_000); // --lease 2000: before anyone else could have taken it
    const outcome = await waitJob(c, id, 60_000);
    expect(coordinator.child.exitCode).toBeNull(); // it lives on, and leads again
    reportFault("Redis paused past the lease", { recoveryMs: outcome.finishedAt! - stoppedAt, jobMs: outcome.progress?.millis, baselineMs: baseline.ms, note: `stepped down after ${steppedDownMs} ms` });
    await expectRecovered(c, id, out, s.path(`wd-${name}`), 30_000);
  });
});

describe("the leader coordinator sent SIGTERM", () => {
  // Was an engine bug when these tests were written (the QueueEvents' own Redis connection was never
  // closed, so the process never exited); fixed since in Coordinator.stop().
  it("exits 0 promptly when idle", async () => {
    const { coordinator } = await cluster("term-idle");
    coordinator.child.kill("SIGTERM");
    const code = await Promise.race([coordinator.exited, new Promise((r) => setTimeout(() => r("still running after 3 s"), 3_000))]);
    expect(code).toBe(0);
  });

  // Regression (was an engine bug, same cause as the SIGSTOP case): stop() interrupts the job drivers, which remove
  // or stop every task in flight; a running task fails as STOPPED (not retryable) in BullMQ, and
  // the next leader, re-adding it under the same id, gets that failure and fails the job — although
  // the README says a coordinator stopped with SIGTERM leaves its jobs running for the next one.
  // Seen too: the job failed with "ENOTEMPTY: directory not empty, rmdir <workdir>/jobs/<id>" —
  // JobDriver.run()'s `finally` removed the scratch folder while a stopped attempt
  // still wrote in it, and that error replaced the job's real outcome.
  it("mid-job with a standby: the standby resumes the job, which completes", async () => {
    const name = "term-standby";
    const { cluster: c, coordinator, standbys: [standby] } = await cluster(name, 1);
    const out = s.fresh(name);
    const id = await submitJob(c, jobArgs(out, name));
    await mapsDone(c, id, 2);
    coordinator.child.kill("SIGTERM");
    const termAt = Date.now();
    await until("the standby to lead", () => isLeader(standby!), 10_000, 20);
    const outcome = await waitJob(c, id, 30_000);
    reportFault("coordinator SIGTERM, standby takes over", {
      recoveryMs: outcome.finishedAt! - termAt, jobMs: outcome.progress?.millis, baselineMs: baseline.ms,
      note: `job ${outcome.state}${outcome.error ? `: ${outcome.error}` : ""}`,
    });
    await expectRecovered(c, id, out, s.path(`wd-${name}`), 30_000);
  });
});

/**
 * Split brain on a cluster (--lease 2000, 2 single-thread workers, a standby coordinator). A leader
 * paused past its lease and continued while the new leader is mid-job must not touch the job's
 * files; a leader whose lease was taken in Redis, and that does not know it yet, must be refused
 * every file operation (each passes the fence first); and an attempt orphaned by a failover,
 * finishing after the job committed, must leave nothing behind (no `_temporary` after `_SUCCESS`).
 * Outputs are compared with an undisturbed run and the oracle.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Redis } from "ioredis";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster, Proc } from "./cluster-harness.js";
import {
  FAULTY, delay, expectNoTempFiles, expectRecovered as recovered, freshDir, jobRecord, markers, params, redisOf, startCluster, stopCluster, stopClustersAfterEach, submitJob,
  until, waitJob, wordcountOracle, writeCorpus, type JobRecord,
} from "./fault-kit.js";
import { Scratch, allLines, sameOutput } from "./helpers.js";
import { scriptSource } from "../../core/cluster/state/scripts.js";

const s = new Scratch("faults-split-brain");
let inputs: string[] = [];
let oracle: Map<string, number>;
let lineCount = 0;
let baseline = "";
const clusters: Cluster[] = [];
const closers: (() => void)[] = [];

/** 8 map tasks and 3 reduce tasks of the faulty word count. */
function jobArgs(out: string, p: Record<string, string | number>, extra: string[] = []): string[] {
  return [FAULTY, "--input", ...inputs, "--output", out, "--split-size", "6k", "--partitions", "3", "-q", ...extra, ...params(p)];
}

async function cluster(name: string, standbys = 0) {
  const c = await startCluster(s.path(`wd-${name}`), { workers: 2, standbys });
  clusters.push(c.cluster);
  return c;
}

const expectRecovered = (c: Cluster, id: string, out: string, name: string): Promise<JobRecord> =>
  recovered(c, id, out, s.path(`wd-${name}`), { baseline, oracle, lineCount, maps: 8, reduces: 3 }, 60_000);

beforeAll(async () => {
  inputs = writeCorpus(s, "in", 4, 12_000, 200, 47);
  oracle = wordcountOracle(inputs);
  lineCount = allLines(inputs).length;
  const { cluster: c } = await cluster("baseline");
  const out = s.fresh("baseline");
  const id = await submitJob(c, jobArgs(out, { taskMs: 100 }));
  await expectRecovered(c, id, out, "baseline");
  for (const done of clusters.splice(0)) await stopCluster(done);
  baseline = out;
}, 60_000);

afterEach(() => {
  for (const close of closers.splice(0)) close();
});
stopClustersAfterEach(clusters, s);

const RENEW = scriptSource("lease-renew");
const RENEW_SHA = createHash("sha1").update(RENEW).digest("hex");

/** Waits for a coordinator's next lease renewal, seen by Redis MONITOR (its scripts carry its holder, `<pid>-<id>`). */
async function watchRenewals(c: Cluster, pid: number): Promise<() => Promise<void>> {
  const client = new Redis(c.url);
  client.on("error", () => {});
  const monitor = await client.monitor();
  monitor.on("error", () => {});
  closers.push(() => {
    monitor.disconnect();
    client.disconnect();
  });
  let renewed: (() => void) | undefined;
  monitor.on("monitor", (_time: string, args: string[]) => {
    const [cmd, script] = args;
    const renewal = (cmd?.toLowerCase() === "evalsha" && script === RENEW_SHA) || (cmd?.toLowerCase() === "eval" && script === RENEW);
    if (renewal && args.some((a) => a.startsWith(`${pid}-`))) renewed?.();
  });
  return () => new Promise<void>((resolve) => (renewed = resolve));
}

/**
 * Watches the attempts' part files under `<out>/_temporary`: one that disappears must have been
 * committed (moved to the job's staging folder, which the commit swaps in for the output), never
 * deleted. Returns the parts gone from `_temporary` that are not in the output (call it once the
 * job has ended).
 */
function watchParts(out: string): () => string[] {
  const seen = new Set<string>();
  const gone: string[] = [];
  const tmp = join(out, "_temporary");
  const timer = setInterval(() => {
    const now = new Set<string>();
    try {
      for (const attempt of readdirSync(tmp)) {
        for (const f of readdirSync(join(tmp, attempt))) if (f.startsWith("part-")) now.add(join(attempt, f));
      }
    } catch {} // not there (yet, or any more): every part is then gone from it
    for (const p of seen) if (!now.has(p)) gone.push(p);
    seen.clear();
    for (const p of now) seen.add(p);
  }, 5);
  closers.push(() => clearInterval(timer));
  return () => gone.filter((p) => !existsSync(join(out, basename(p))));
}

/** A line of inputs[i] before `below`, at a byte offset where no other input has a line (throwAt names an offset, not a file). */
function lineOnlyIn(i: number, below: number): { file: string; offset: number } {
  const elsewhere = new Set(inputs.filter((_, j) => j !== i).flatMap((f) => allLines([f]).map((l) => l.offset)));
  return allLines([inputs[i]!]).find((l) => l.offset > 0 && l.offset < below && !elsewhere.has(l.offset))!;
}

const leads = (p: Proc) => p.output().includes("leader (epoch");

describe("a leader paused (SIGSTOP) past its lease during the reduce stage, continued while the new leader is mid-job", () => {
  it("stands down and touches no file of the job: the new leader's parts are never deleted; output identical", async () => {
    const name = "stale";
    const { cluster: c, coordinator: old, standbys: [next] } = await cluster(name, 1);
    const marks = freshDir(s, `marks-${name}`);
    const out = s.fresh(name);
    const release = (task: string) => writeFileSync(join(marks, `release-${task}`), "");
    const deletedParts = watchParts(out);
    // Two reduce tasks wait in cleanup, their part files written under _temporary; the third
    // waits for a free worker. No backups: every part file there belongs to the one attempt of its task.
    const id = await submitJob(c, jobArgs(out, { markDir: marks, taskMs: 100, holdTask: "reduce-00000,reduce-00001", holdFile: join(marks, "release-{task}") }, ["--no-speculative"]));
    await until("two reduce tasks held", () => markers(marks, undefined, "held").length === 2, 30_000);

    old.child.kill("SIGSTOP");
    const stoppedAt = Date.now();
    await until("the standby to resume the job", () => next!.output().includes(`resuming job ${id}`), 10_000, 20);
    // While the old leader sleeps, two reduce tasks commit under the new one (their completions wait
    // in the old leader's sockets); the third stays held, its part file under _temporary.
    release("reduce-00000");
    await until("two reduce tasks committed by the new leader", async () => ((await jobRecord(c, id)).progress?.reducesDone ?? 0) >= 2, 20_000);
    expect(existsSync(join(out, "_temporary")), "the held task's part is under _temporary").toBe(true);

    const continuedAt = Date.now();
    old.child.kill("SIGCONT");
    // Woken, it finds its lease's local deadline passed: epoll_wait returns EINTR on SIGCONT, so the
    // expired watchdog runs before the completions waiting in its sockets, and anything it still
    // tries is refused by that same deadline before Redis is asked.
    await until("the old leader to stand down", () => /lost the leader lease/.test(old.output()), 10_000, 20);
    await delay(1_000); // time for anything it still had to do
    expect((await jobRecord(c, id)).state).toBe("running");
    release("reduce-00001");

    const record = await expectRecovered(c, id, out, name);
    expect(deletedParts()).toEqual([]);
    expect(old.output()).toMatch(new RegExp(`job ${id} left to resume`));
    expect(old.output()).not.toMatch(/job \S+ (failed|cancelled)/);
    expect(old.child.exitCode).toBeNull(); // a standby now
    expect(leads(next!)).toBe(true);
    console.log(`FAULT stale leader continued mid-job: paused ${continuedAt - stoppedAt} ms; job ${record.progress?.millis} ms`);
  });
});

describe("a leader whose lease is taken in Redis while it runs (it believes it leads until its next renewal)", () => {
  // As after a Redis failover to a replica that had not the lease yet, or a Redis restarted without
  // it: another process holds the lease at a newer epoch, and the old leader learns it only at its
  // next renewal (a third of the lease later). A job failing in that window must not be aborted by it.
  it("is refused failing the job (no task is stopped, no file removed, until a leader fails it); the next leader fails it, naming the record", async () => {
    const name = "taken";
    const { cluster: c, coordinator: old } = await cluster(name, 1);
    const marks = freshDir(s, `marks-${name}`);
    const out = s.fresh(name);
    const workdir = s.path(`wd-${name}`);
    // map-00002 (the first split of the second file) waits in setup, then throws a FatalError.
    const { file, offset } = lineOnlyIn(1, 6_000);
    const renewal = await watchRenewals(c, old.child.pid!);
    const id = await submitJob(c, jobArgs(out, { markDir: marks, taskMs: 100, holdTask: "map-00002", holdAt: "setup", holdFile: join(marks, "release"), throwAt: offset, fatal: 1 }, ["--no-speculative"]));
    await until("map-00002 held, the other maps done", async () => markers(marks, "map-00002", "held").length === 1 && ((await jobRecord(c, id)).progress?.mapsDone ?? 0) === 7, 30_000);
    expect(existsSync(join(workdir, "jobs", id))).toBe(true);

    // Right after one of its renewals, an intruder takes the lease at a newer epoch, and the task fails.
    await renewal();
    const redis = redisOf(c);
    await redis.set("sheaf:leader", "intruder", "PX", 3_000);
    await redis.incr("sheaf:leader:epoch");
    writeFileSync(join(marks, "release"), "");
    await until("the old leader to give the job up", () => old.output().includes(`job ${id} left to resume`), 5_000, 10);

    // No leader now: nothing may have removed the job's files.
    expect(existsSync(join(out, "_temporary")), "_temporary removed by a stale leader").toBe(true);
    expect(existsSync(join(workdir, "jobs", id)), "scratch removed by a stale leader").toBe(true);
    expect(old.output()).toMatch(new RegExp(`job ${id} left to resume: stale leader \\(epoch \\d+\\): fail the job of ${id} refused`));
    expect((await jobRecord(c, id)).state).toBe("running");

    const record = await waitJob(c, id, 30_000);
    expect(record.state).toBe("failed");
    expect(record.error).toContain(`task map-00002 (attempt 1 of 1): map threw on the record at ${file} byte ${offset}`);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    expectNoTempFiles(out, workdir, id);
  });
});

describe("an attempt orphaned by a failover", () => {
  it("finishing after the job committed leaves no _temporary (nor scratch), and the output is untouched", async () => {
    const name = "orphan";
    const { cluster: c, coordinator: old, standbys: [next] } = await cluster(name, 1);
    const marks = freshDir(s, `marks-${name}`);
    const out = s.fresh(name);
    // reduce-00000 waits in setup, its output folder made, in every run: the straggler, and the
    // backup the first leader gives it; each worker's run is released on its own. Checkpoints
    // every 256 bytes of output.
    const id = await submitJob(c, jobArgs(out, { markDir: marks, taskMs: 100, holdTask: "reduce-00000", holdAt: "setup", holdFile: join(marks, "release-{pid}") }, ["--checkpoint-every", "256"]));
    const held = () => markers(marks, "reduce-00000", "held");
    await until("the straggler and its backup held", () => new Set(held().map((m) => m.data.pid)).size === 2, 30_000);
    const [original, backup] = markers(marks, "reduce-00000", "start").sort((a, b) => a.data.t! - b.data.t!).map((m) => m.data.pid!);

    old.child.kill("SIGKILL");
    await until("the standby to resume the job", () => next!.output().includes(`resuming job ${id}`), 10_000, 20);
    // The new leader awaits the first run only: the backup is nobody's now.
    const queue = redisOf(c);
    const orphanKey = (await queue.keys(`sheaf:tasks:${id}.reduce-00000.*`)).find((k) => !/:(lock|logs)$/.test(k));
    expect(orphanKey, "the backup's queue job").toBeDefined();

    writeFileSync(join(marks, `release-${original}`), "");
    const outcome = await waitJob(c, id, 30_000);
    expect(outcome.state, outcome.error).toBe("succeeded");
    expect(existsSync(join(out, "_temporary"))).toBe(false);

    let reappeared = false;
    const watch = setInterval(() => (reappeared ||= existsSync(join(out, "_temporary"))), 5);
    closers.push(() => clearInterval(watch));
    writeFileSync(join(marks, `release-${backup}`), "");
    // Until the orphan's run (and any retry of it by the queue) is over.
    await until("the orphaned attempt to end", async () => !(await queue.exists(orphanKey!)) || (await queue.hget(orphanKey!, "finishedOn")) !== null, 30_000, 100);
    await delay(500);
    clearInterval(watch);

    expect(reappeared, "_temporary recreated after _SUCCESS").toBe(false);
    expect(existsSync(join(s.path(`wd-${name}`), "jobs", id)), "the job's scratch folder recreated").toBe(false);
    sameOutput(out, baseline);
    expect(readdirSync(out).sort()).toEqual(["_SUCCESS", "part-00000", "part-00001", "part-00002"]);
  });
});

describe("a leader paused past its lease with a reduce straggler, continued after the new leader finished the job", () => {
  // Found by the chaos runner (seed 11): on SIGCONT the old leader's speculation timer ran before it
  // knew it had lost the lease, saw the held reduce task as a straggler and built its backup, which
  // writes the reduce inputs list into the job's scratch folder; the new leader had removed it with
  // the job, and the ENOENT escaped the timer: the coordinator died (exit 1).
  it("stands by instead of dying; the output is the undisturbed run's", async () => {
    const name = "straggler";
    const { cluster: c, coordinator: old, standbys: [next] } = await cluster(name, 1);
    const marks = freshDir(s, `marks-${name}`);
    const out = s.fresh(name);
    const workdir = s.path(`wd-${name}`);
    // reduce-00002 waits in setup until released; the others take 1.5 s (so it is a straggler only ~3 s after it starts).
    const id = await submitJob(c, jobArgs(out, { markDir: marks, taskMs: 100, reduceMs: 1_500, holdTask: "reduce-00002", holdAt: "setup", holdFile: join(marks, "release") }));
    const renewal = await watchRenewals(c, old.child.pid!);
    await until("two reduce tasks done, the third held", async () => markers(marks, "reduce-00002", "held").length === 1 && ((await jobRecord(c, id)).progress?.reducesDone ?? 0) >= 2, 30_000, 20);
    // Stopped right after a renewal: on SIGCONT its speculation tick (every 500 ms) comes before
    // the renewal tick (every 667 ms) that would find the lease expired and stop the job's driver.
    await renewal();
    old.child.kill("SIGSTOP");
    await until("the standby to resume the job", () => next!.output().includes(`resuming job ${id}`), 10_000, 20);
    writeFileSync(join(marks, "release"), "");
    const record = await waitJob(c, id, 30_000);
    expect(record.state, record.error).toBe("succeeded");
    await until("the job's scratch folder removed", () => !existsSync(join(workdir, "jobs", id)), 10_000, 20);

    old.child.kill("SIGCONT");
    await until("the old leader to stand down", () => /lost the leader lease/.test(old.output()) || old.child.exitCode !== null, 10_000, 20);
    await delay(1_500); // its overdue timers have run
    expect(old.child.exitCode, old.output()).toBeNull();
    expect(old.output()).not.toMatch(/ENOENT/);
    sameOutput(out, baseline);
    expectNoTempFiles(out, workdir, id);
  });
});

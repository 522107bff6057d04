/**
 * Everything fails once in the same job: a worker, the coordinator and Redis (append-only file,
 * appendfsync always) are each SIGKILLed mid-job and restarted. The job completes with output
 * byte-identical to an undisturbed run of the same job on the same kind of cluster, matching the
 * oracle, with counters counted once and no temp files left.
 */
import { mkdirSync } from "node:fs";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import type { Cluster } from "./cluster-harness.js";
import {
  FAULTY, delay, expectNoTempFiles, expectOracle, freshDir, jobRecord, params, reportFault, startCluster, stopCluster, submitJob, until, waitJob,
  wordcountOracle, writeCorpus, type JobRecord,
} from "./fault-kit.js";
import { expectRecovered as recovered, stopClustersAfterEach } from "./fault-kit.js";
import { Scratch, allLines, sameOutput } from "./helpers.js";

const s = new Scratch("faults-chaos");
let inputs: string[] = [];
let oracle: Map<string, number>;
let lineCount = 0;
let baseline = { out: "", ms: 0 };
const clusters: Cluster[] = [];

/** 12 map tasks of 700 ms and 3 reduce tasks of 400 ms on 2 workers: about 5 s undisturbed. */
function jobArgs(out: string, name: string): string[] {
  return [
    FAULTY, "--input", ...inputs, "--output", out, "--split-size", "5k", "--partitions", "3", "-q",
    ...params({ markDir: freshDir(s, `marks-${name}`), taskMs: 700, reduceMs: 400 }),
  ];
}

async function cluster(name: string) {
  const data = s.path(`redis-${name}`);
  mkdirSync(data, { recursive: true });
  const c = await startCluster(s.path(`wd-${name}`), {
    workers: 2,
    redisArgs: ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", data],
  });
  clusters.push(c.cluster);
  return c;
}

/** This file's job recovered: identical to the undisturbed run and to the oracle, nothing left behind. */
const expectRecovered = (c: Cluster, id: string, out: string, workdir: string): Promise<JobRecord> =>
  recovered(c, id, out, workdir, { baseline: baseline.out, oracle, lineCount, maps: 12, reduces: 3 }, 90_000);

const mapsDone = async (c: Cluster, id: string) => (await jobRecord(c, id)).progress?.mapsDone ?? 0;

beforeAll(async () => {
  inputs = writeCorpus(s, "in", 4, 14_000, 200, 51);
  oracle = wordcountOracle(inputs);
  lineCount = allLines(inputs).length;
  const { cluster: c } = await cluster("baseline");
  const out = s.fresh("baseline");
  const record = await expectRecovered(c, await submitJob(c, jobArgs(out, "baseline")), out, s.path("wd-baseline"));
  for (const done of clusters.splice(0)) await stopCluster(done);
  baseline = { out, ms: record.progress!.millis! };
}, 60_000);

stopClustersAfterEach(clusters, s);

it("a worker, the coordinator and Redis each SIGKILLed mid-job and restarted: the job completes with identical output", async () => {
  const name = "chaos";
  const { cluster: c, coordinator, workers } = await cluster(name);
  const out = s.fresh(name);
  const id = await submitJob(c, jobArgs(out, name));
  const t: Record<string, number> = {};

  await until("2 map tasks done", async () => (await mapsDone(c, id)) >= 2, 30_000);
  workers[0]!.child.kill("SIGKILL"); // busy: every worker has a map task until the map stage ends
  t.worker = Date.now();
  await c.worker(1);

  await until("4 map tasks done", async () => (await mapsDone(c, id)) >= 4, 30_000);
  coordinator.child.kill("SIGKILL");
  t.coordinator = Date.now();
  const restarted = await c.coordinator();
  t.leader = Date.now();
  await until("the restarted coordinator to resume the job", () => restarted.output().includes(`resuming job ${id}`), 5_000, 20);

  await until("6 map tasks done", async () => (await mapsDone(c, id)) >= 6, 30_000);
  await c.killRedis("SIGKILL");
  t.redis = Date.now();
  await delay(500);
  await c.startRedis();
  t.redisBack = Date.now();

  const record = await expectRecovered(c, id, out, s.path(`wd-${name}`));
  expect(await workers[0]!.exited).toBe("SIGKILL");
  expect(await coordinator.exited).toBe("SIGKILL");
  expect(restarted.output()).toContain("redis: reconnected");
  reportFault("worker + coordinator + Redis SIGKILLed in one job", {
    recoveryMs: record.finishedAt! - t.redis!,
    jobMs: record.progress!.millis,
    baselineMs: baseline.ms,
    note: `(recovery from the last kill; worker killed at +${t.worker! - record.startedAt!} ms, coordinator at +${t.coordinator! - record.startedAt!} ms (new leader after ${t.leader! - t.coordinator!} ms), Redis at +${t.redis! - record.startedAt!} ms, down ${t.redisBack! - t.redis!} ms)`,
  });
  await stopCluster(c);
  expectNoTempFiles(out, s.path(`wd-${name}`), id);
});

/**
 * The record sets and the retention rule (core/cluster/records.ts) against a real redis-server:
 * which finished records PRUNE deletes (by count and by age, oldest finished first, with their
 * commit records), which it must keep although past the bounds (a stage's job while its run is
 * unfinished; the run a schedule is still running), and how a scan heals the unfinished set.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { unfinishedIds } from "../../core/cluster/records.js";
import { cancelRecord, pruneRecords, submitRecord } from "../../core/cluster/state/unfenced-writes.js";
import { Keys } from "../../core/cluster/keys.js";
import { Cluster } from "./cluster-harness.js";
import { redisOf } from "./fault-kit.js";
import { Scratch } from "./helpers.js";

const s = new Scratch("records-retention");
const cluster = new Cluster(s.path("wd"));
const keys = new Keys("t");
const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 0, 10);
const redis = () => redisOf(cluster);
const jobKey = (id: string) => keys.job(id as never);

/** A finished job record, as the coordinator's FINISH leaves it. */
async function finishedJob(id: string, finishedAt: number, spec: Record<string, unknown> = {}): Promise<void> {
  await redis().hset(jobKey(id), { spec: JSON.stringify({ id, ...spec }), state: "succeeded", finishedAt: String(finishedAt) });
  await redis().zadd(keys.jobs, finishedAt - 1000, id);
  await redis().zadd(Keys.finished(keys.jobs), finishedAt, id);
}

const prune = (keep: number, keepForMs = 1000 * HOUR) => pruneRecords(redis(), keys, keys.jobs, jobKey, { keep, keepForMs }, NOW);
const jobIds = () => redis().zrange(keys.jobs, "0", "-1");

beforeAll(async () => {
  await cluster.startRedis();
});
beforeEach(async () => {
  await redis().flushall();
});
afterAll(async () => {
  await cluster.stop();
  cluster.assertNoLeaks();
  s.cleanup();
});

describe("retention of finished records", () => {
  it("keeps the newest `keep` finished, deleting the older with their commit records", async () => {
    for (let i = 0; i < 5; i++) await finishedJob(`j${i}`, NOW - (5 - i) * 60_000);
    await redis().hset(`${jobKey("j0")}:committed`, "map-00000", "{}");
    await submitRecord(redis(), jobKey("q"), keys.jobs, keys.events, { id: "q", submittedAt: NOW - 10 * HOUR });
    expect(await prune(2)).toBe(3);
    expect((await jobIds()).sort()).toEqual(["j3", "j4", "q"]);
    expect(await redis().exists(jobKey("j0"), `${jobKey("j0")}:committed`, jobKey("j1"), jobKey("j2"))).toBe(0);
    expect(await redis().zrange(Keys.finished(keys.jobs), "0", "-1")).toEqual(["j3", "j4"]);
    expect(await prune(2)).toBe(0);
  });

  it("deletes records finished before the age bound, whatever the count", async () => {
    await finishedJob("old", NOW - 3 * HOUR);
    await finishedJob("young", NOW - HOUR / 2);
    expect(await prune(1000, 2 * HOUR)).toBe(1);
    expect(await jobIds()).toEqual(["young"]);
  });

  it("keeps a stage's job while its run is unfinished, and the run a schedule is running", async () => {
    await finishedJob("stage-of-live", NOW - 5 * HOUR, { run: "p.run-live" });
    await finishedJob("stage-of-done", NOW - 4 * HOUR, { run: "p.run-done" });
    await finishedJob("newest", NOW - HOUR);
    await redis().zadd(Keys.unfinished(keys.runs), NOW, "p.run-live");
    expect(await prune(1)).toBe(1);
    expect((await jobIds()).sort()).toEqual(["newest", "stage-of-live"]);

    const runKey = (id: string) => keys.run(id);
    for (const [id, at] of [["n.run-a", NOW - 3 * HOUR], ["n.run-b", NOW - 2 * HOUR], ["n.run-c", NOW - HOUR]] as const) {
      await redis().hset(runKey(id), { spec: JSON.stringify({ id, schedule: { name: "n", due: at } }), state: "succeeded", finishedAt: String(at) });
      await redis().zadd(keys.runs, at, id);
      await redis().zadd(Keys.finished(keys.runs), at, id);
    }
    await redis().hset(keys.schedule("n"), "running", "n.run-a");
    expect(await pruneRecords(redis(), keys, keys.runs, runKey, { keep: 1, keepForMs: 1000 * HOUR }, NOW)).toBe(1);
    expect((await redis().zrange(keys.runs, "0", "-1")).sort()).toEqual(["n.run-a", "n.run-c"]);
  });
});

describe("the unfinished set", () => {
  it("holds submitted records until they end; a scan moves out one found finished or gone", async () => {
    for (const id of ["a", "b", "c", "d"]) await submitRecord(redis(), jobKey(id), keys.jobs, keys.events, { id, submittedAt: NOW + id.charCodeAt(0) });
    expect(await unfinishedIds(redis(), keys.jobs, jobKey)).toEqual(["a", "b", "c", "d"]);
    expect(await cancelRecord(redis(), jobKey("a"), keys.jobs, keys.events, "a")).toBe("queued");
    await redis().hset(jobKey("b"), { state: "failed", finishedAt: String(NOW) }); // ended by an older coordinator
    await redis().del(jobKey("c"));
    await redis().hset(jobKey("d"), "state", "running");
    expect(await unfinishedIds(redis(), keys.jobs, jobKey)).toEqual(["d"]);
    expect(await redis().zrange(Keys.unfinished(keys.jobs), "0", "-1")).toEqual(["d"]);
    expect((await redis().zrange(Keys.finished(keys.jobs), "0", "-1")).sort()).toEqual(["a", "b"]);
  });
});

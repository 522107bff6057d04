/**
 * The dashboard's cheap reads on a real redis-server: a job's timeline read from a sequence number
 * on (core/cluster/timeline.ts readAttemptsFrom), across the trim of the list's head, against the
 * attempts the test appended; and /metrics' record counts by state (dashboard/record-states.ts)
 * against a count over every record, as records finish and retention deletes them, in order and
 * out of it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AttemptEnd } from "../../core/attempts.js";
import { Keys } from "../../core/cluster/keys.js";
import { appendAttempts, readAttempts, readAttemptsFrom, TIMELINE_KEPT } from "../../core/cluster/timeline.js";
import type { JobId } from "../../core/ids.js";
import { RecordStates } from "../../dashboard/record-states.js";
import { Cluster } from "./cluster-harness.js";
import { Scratch } from "./helpers.js";

describe("the dashboard's reads from Redis", () => {
  const scratch = new Scratch("dashboard-reads");
  const cluster = new Cluster(scratch.path("workdir"));
  const keys = new Keys("sheaf");
  let redis: ReturnType<Cluster["client"]>;

  beforeAll(async () => {
    await cluster.startRedis();
    redis = cluster.client();
  });

  afterAll(async () => {
    await cluster.stop();
    scratch.cleanup();
    cluster.assertNoLeaks();
  });

  /** Attempt number `seq` of the test's job: its task index is its sequence number, the oracle. */
  const attempt = (seq: number): AttemptEnd => ({ taskId: `map-${seq}`, kind: "map", index: seq, attempt: 1, backup: false, start: seq, end: seq + 1, outcome: "committed" });
  const append = async (job: JobId, from: number, to: number) => {
    for (let s = from; s < to; s += 5_000) await appendAttempts(redis, keys, job, Array.from({ length: Math.min(5_000, to - s) }, (_, i) => attempt(s + i)));
  };

  it("a timeline is read from any sequence number on, also once its head is trimmed", async () => {
    const job = "reads-timeline" as JobId;
    await append(job, 0, 15_000);
    const all = await readAttemptsFrom(redis, keys, job, 0);
    expect([all.from, all.next, all.attempts.length, all.first]).toEqual([0, 15_000, 15_000, 0]);
    const tail = await readAttemptsFrom(redis, keys, job, 14_990);
    expect(tail.attempts.map((a) => a.index)).toEqual(Array.from({ length: 10 }, (_, i) => 14_990 + i));
    expect((await readAttemptsFrom(redis, keys, job, 15_000)).attempts).toEqual([]);

    // Past TIMELINE_KEPT the list loses its head: a reader that last saw the head at 0 still gets
    // exactly what came after its cursor, and a cursor on trimmed attempts gets the oldest kept.
    await append(job, 15_000, 25_000);
    expect(await redis.llen(keys.timeline(job))).toBe(TIMELINE_KEPT);
    const after = await readAttemptsFrom(redis, keys, job, 15_000, all.first);
    expect([after.from, after.next, after.first]).toEqual([15_000, 25_000, 25_000 - TIMELINE_KEPT]);
    expect(after.attempts.map((a) => a.index)).toEqual(Array.from({ length: 10_000 }, (_, i) => 15_000 + i));
    const trimmed = await readAttemptsFrom(redis, keys, job, 1_000);
    expect(trimmed.from).toBe(25_000 - TIMELINE_KEPT);
    expect(trimmed.attempts.map((a) => a.index)).toEqual((await readAttempts(redis, keys, job)).map((a) => a.index));
  });

  it("/metrics' counts by state match a count over every record, as records finish and retention deletes them", async () => {
    const zset = keys.jobs;
    const states = new RecordStates(redis, zset, (id) => keys.job(id as JobId));
    // The oracle: every record's state, read whole.
    const oracle = async () => {
      const ids = await redis.zrange(zset, "0", "-1");
      const counts: Record<string, number> = {};
      for (const id of ids) {
        const s = await redis.hget(keys.job(id as JobId), "state");
        if (s) counts[s] = (counts[s] ?? 0) + 1;
      }
      return counts;
    };
    const put = async (id: string, state: string, finishedAt?: number) => {
      const tx = redis.multi().zadd(zset, 1, id).hset(keys.job(id as JobId), "state", state);
      if (finishedAt === undefined) tx.zadd(Keys.unfinished(zset), 1, id);
      else tx.zrem(Keys.unfinished(zset), id).zadd(Keys.finished(zset), finishedAt, id);
      await tx.exec();
    };
    const drop = async (id: string) => void (await redis.multi().zrem(zset, id).zrem(Keys.finished(zset), id).del(keys.job(id as JobId)).exec());
    const check = async () => expect((await states.counts()).byState).toEqual(await oracle());

    for (let i = 0; i < 30; i++) await put(`j${i}`, ["succeeded", "failed", "cancelled"][i % 3]!, 1_000 + Math.floor(i / 2)); // two per ms
    await put("r1", "running");
    await put("q1", "queued");
    await check();
    await put("r1", "succeeded", 1_014); // the latest finish time already seen, again
    await put("j30", "failed", 1_014);
    await check();
    for (let i = 0; i < 10; i++) await drop(`j${i}`); // retention: the oldest finished first
    await check();
    await drop("j20"); // out of order (a record kept for its pipeline run, or deleted by hand)
    await put("j31", "cancelled", 2_000);
    await check();
    expect((await states.counts()).running).toEqual([]);
  });
});

/**
 * What job records and pipeline run records share: a sorted set of ids by submit time (`zset`), a
 * hash each with a state, and beside the zset the ids still unfinished and the ids finished (by
 * finish time). A record moves from the one to the other atomically with its state, so listing
 * the work to drive costs O(unfinished), and retention prunes the finished without a scan.
 */
import type { Redis } from "ioredis";
import { Keys } from "./keys.js";


/**
 * Ids whose record (`keyOf(id)`) is queued or running, oldest first: the unfinished set, checked
 * against each record's state. An id found finished or gone is moved out of the set (a record
 * ended by an older version, or deleted by hand).
 */
export async function unfinishedIds(redis: Redis, zset: string, keyOf: (id: string) => string): Promise<string[]> {
  const ids = await redis.zrange(Keys.unfinished(zset), "0", "-1");
  if (ids.length === 0) return [];
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hmget(keyOf(id), "state", "finishedAt");
  const rows = (await pipe.exec()) ?? [];
  const live: string[] = [];
  const heal = redis.multi();
  let stale = 0;
  ids.forEach((id, i) => {
    const [state, finishedAt] = (rows[i]?.[1] as (string | null)[] | undefined) ?? [];
    if (rows[i]?.[0]) return; // unreadable now: look again next scan
    if (state === "queued" || state === "running") return void live.push(id);
    stale++;
    heal.zrem(Keys.unfinished(zset), id);
    if (state) heal.zadd(Keys.finished(zset), Number(finishedAt) || Date.now(), id);
  });
  if (stale) await heal.exec();
  else heal.discard();
  return live;
}

/**
 * Records written by a version without the unfinished and finished sets are sorted into them once,
 * by a leader that finds neither set but a non-empty `zset`: O(records) once, never per scan.
 */
export async function adoptLegacyRecords(redis: Redis, zset: string, keyOf: (id: string) => string): Promise<number> {
  if ((await redis.exists(Keys.unfinished(zset), Keys.finished(zset))) > 0) return 0;
  const entries = await redis.zrange(zset, "0", "-1", "WITHSCORES");
  if (entries.length === 0) return 0;
  const pipe = redis.pipeline();
  for (let i = 0; i < entries.length; i += 2) pipe.hmget(keyOf(entries[i]!), "state", "finishedAt");
  const rows = (await pipe.exec()) ?? [];
  const sort = redis.multi();
  for (let i = 0; i < entries.length; i += 2) {
    const [state, finishedAt] = (rows[i / 2]?.[1] as (string | null)[] | undefined) ?? [];
    const id = entries[i]!;
    if (state === "queued" || state === "running") sort.zadd(Keys.unfinished(zset), entries[i + 1]!, id);
    else if (state) sort.zadd(Keys.finished(zset), Number(finishedAt) || Date.now(), id);
  }
  await sort.exec();
  return entries.length / 2;
}

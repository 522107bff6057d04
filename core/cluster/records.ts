/**
 * What job records and pipeline run records share: a sorted set of ids by submit time (`zset`), a
 * hash each with a state, and beside the zset the ids still unfinished and the ids finished (by
 * finish time). A record moves from the one to the other atomically with its state, so listing
 * the work to drive costs O(unfinished), and retention prunes the finished without a scan.
 */
import type { Redis } from "ioredis";
import { Keys } from "./keys.js";

/**
 * Lua: the record `id` has ended at `at` (Lua expressions): out of the unfinished set, into the
 * finished one. Every script that gives a record its final state includes it.
 */
export const endRecord = (zset: string, id: string, at: string) =>
  `redis.call('ZREM', ${zset} .. '${Keys.unfinished("")}', ${id}) redis.call('ZADD', ${zset} .. '${Keys.finished("")}', ${at}, ${id})`;

/** Lua: the record `id` submitted at `at` is queued (with its spec already written). */
export const queueRecord = (zset: string, id: string, at: string) =>
  `redis.call('ZADD', ${zset}, ${at}, ${id}) redis.call('ZADD', ${zset} .. '${Keys.unfinished("")}', ${at}, ${id})`;

/** Queues a job or run record: its spec, state `queued`, its place in `zset`, and the `submitted` event. */
export async function submitRecord(redis: Redis, key: string, zset: string, events: string, spec: { id: string; submittedAt: number }): Promise<void> {
  await redis
    .multi()
    .hset(key, { spec: JSON.stringify(spec), state: "queued" })
    .zadd(zset, spec.submittedAt, spec.id)
    .zadd(Keys.unfinished(zset), spec.submittedAt, spec.id)
    .publish(events, `submitted ${spec.id}`)
    .exec();
}

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

/**
 * Cancels a job or run: a queued one at once; a running one by flagging it and telling its
 * coordinator (and workers). Atomic, so it cannot start between the check and the change.
 * KEYS: record, events, zset. ARGV: id, now.
 */
const CANCEL = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finishedAt', ARGV[2], 'error', 'cancelled before it started')
  ${endRecord("KEYS[3]", "ARGV[1]", "ARGV[2]")}
elseif state == 'running' then
  redis.call('HSET', KEYS[1], 'cancel', '1')
  redis.call('PUBLISH', KEYS[2], 'cancel ' .. ARGV[1])
end
return state`;

/** Returns the state found, or undefined when there is no such record. */
export async function cancelRecord(redis: Redis, key: string, zset: string, events: string, id: string): Promise<string | undefined> {
  const state = (await redis.eval(CANCEL, 3, key, events, zset, id, String(Date.now()))) as string | null;
  return state ?? undefined;
}

/**
 * Deletes finished records past the retention bounds, oldest finished first: those finished before
 * ARGV[1] (ms), and those beyond the newest ARGV[2], at most ARGV[3] per call. A record goes with
 * its commit records (`<record>:committed`, left by a job whose coordinator died before finishing it)
 * and its attempt count (`<record>:attempts`). A record something live still reads is kept for a later sweep: a stage's job while its pipeline run is unfinished, a schedule's current run.
 * KEYS: zset, the runs zset. ARGV: cutoff, keep, batch, record key prefix, schedule key prefix.
 */
const PRUNE = `
local finished = KEYS[1] .. '${Keys.finished("")}'
local n = math.max(redis.call('ZCARD', finished) - tonumber(ARGV[2]), redis.call('ZCOUNT', finished, '-inf', '(' .. ARGV[1]))
n = math.min(n, tonumber(ARGV[3]))
if n <= 0 then return 0 end
local pruned = 0
for _, id in ipairs(redis.call('ZRANGE', finished, 0, n - 1)) do
  local key = ARGV[4] .. id
  local ok, spec = pcall(cjson.decode, redis.call('HGET', key, 'spec') or '{}')
  if not ok or type(spec) ~= 'table' then spec = {} end
  local keep = false
  if type(spec.run) == 'string' and redis.call('ZSCORE', KEYS[2] .. '${Keys.unfinished("")}', spec.run) then keep = true end
  if type(spec.schedule) == 'table' and redis.call('HGET', ARGV[5] .. tostring(spec.schedule.name), 'running') == id then keep = true end
  if not keep then
    redis.call('DEL', key, key .. ':committed', key .. ':attempts')
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', finished, id)
    pruned = pruned + 1
  end
end
return pruned`;

export interface RetentionBounds {
  /** Finished records kept, newest first. */
  keep: number;
  /** Finished records older than this (ms since they finished) go. */
  keepForMs: number;
}

/** Prunes finished records past `bounds` (see PRUNE); returns how many went. */
export async function pruneRecords(redis: Redis, keys: Keys, zset: string, keyOf: (id: string) => string, bounds: RetentionBounds, now = Date.now(), batch = 500): Promise<number> {
  return (await redis.eval(PRUNE, 2, zset, keys.runs, String(now - bounds.keepForMs), String(bounds.keep), String(batch), keyOf(""), keys.schedule(""))) as number;
}

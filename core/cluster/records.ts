/** What job records and pipeline run records share: a sorted set of ids, a hash each with a state. */
import type { Redis } from "ioredis";

/** Queues a job or run record: its spec, state `queued`, its place in `zset`, and the `submitted` event. */
export async function submitRecord(redis: Redis, key: string, zset: string, events: string, spec: { id: string; submittedAt: number }): Promise<void> {
  await redis
    .multi()
    .hset(key, { spec: JSON.stringify(spec), state: "queued" })
    .zadd(zset, spec.submittedAt, spec.id)
    .publish(events, `submitted ${spec.id}`)
    .exec();
}

/** Ids in `zset` whose record (`keyOf(id)`) is queued or running, oldest first. */
export async function unfinishedIds(redis: Redis, zset: string, keyOf: (id: string) => string): Promise<string[]> {
  const ids = await redis.zrange(zset, "0", "-1");
  if (ids.length === 0) return [];
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hget(keyOf(id), "state");
  const states = (await pipe.exec()) ?? [];
  return ids.filter((_, i) => {
    const s = states[i]?.[1];
    return s === "queued" || s === "running";
  });
}

/**
 * Cancels a job or run: a queued one at once; a running one by flagging it and telling its
 * coordinator (and workers). Atomic, so it cannot start between the check and the change.
 */
const CANCEL = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finishedAt', ARGV[2], 'error', 'cancelled before it started')
elseif state == 'running' then
  redis.call('HSET', KEYS[1], 'cancel', '1')
  redis.call('PUBLISH', KEYS[2], 'cancel ' .. ARGV[1])
end
return state`;

/** Returns the state found, or undefined when there is no such record. */
export async function cancelRecord(redis: Redis, key: string, events: string, id: string): Promise<string | undefined> {
  const state = (await redis.eval(CANCEL, 2, key, events, id, String(Date.now()))) as string | null;
  return state ?? undefined;
}

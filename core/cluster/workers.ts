/**
 * Live workers. Each worker publishes a heartbeat every SERVICE_DEFAULTS.heartbeatMs: its JSON
 * (`WorkerBeat`) at `<prefix>:worker:<id>`, expiring after three intervals, and its id in the
 * sorted set `<prefix>:workers` scored by the beat's time. A worker is live while its heartbeat
 * key exists; readers drop the ids whose key expired (a killed worker), and a worker that stops
 * cleanly removes its own. `sheaf workers`, `status` and the dashboard read them the same way.
 */
import type { Redis } from "ioredis";
import * as v from "valibot";
import type { Keys } from "./keys.js";

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));

export const WorkerBeatSchema = v.object({
  /** `<host>:<pid>:<random>`, unique per worker process. */
  id: v.string(),
  host: v.string(),
  pid: Count,
  threads: Count,
  /** Attempts running now, as `<job>/<task>#<attempt>` (at most 50 listed), and how many in all. */
  running: v.array(v.string()),
  runningCount: Count,
  /** Resident set and V8 heap of the worker process, bytes. */
  rss: Count,
  heapUsed: Count,
  version: v.string(),
  startedAt: Count,
  /** When this beat was published (ms since the epoch). */
  at: Count,
});
export type WorkerBeat = v.InferOutput<typeof WorkerBeatSchema>;

/** Publishes one heartbeat, live for `ttlMs`. */
export async function publishBeat(redis: Redis, keys: Keys, beat: WorkerBeat, ttlMs: number): Promise<void> {
  await redis
    .multi()
    .set(keys.worker(beat.id), JSON.stringify(beat), "PX", ttlMs)
    .zadd(keys.workers, beat.at, beat.id)
    // Ids of workers gone long ago: the index stays as small as the live set.
    .zremrangebyscore(keys.workers, "-inf", String(beat.at - 10 * ttlMs))
    .exec();
}

/** A worker stopping cleanly leaves the list at once. */
export async function removeBeat(redis: Redis, keys: Keys, id: string): Promise<void> {
  await redis.multi().del(keys.worker(id)).zrem(keys.workers, id).exec();
}

/** The live workers, by host then pid; ids whose heartbeat expired are dropped from the index. */
export async function listWorkers(redis: Redis, keys: Keys): Promise<WorkerBeat[]> {
  const ids = await redis.zrange(keys.workers, "0", "-1");
  if (ids.length === 0) return [];
  const values = await redis.mget(ids.map((id) => keys.worker(id)));
  const live: WorkerBeat[] = [];
  const gone: string[] = [];
  values.forEach((text, i) => {
    const parsed = text ? v.safeParse(WorkerBeatSchema, safeJson(text)) : undefined;
    if (parsed?.success) live.push(parsed.output);
    else if (!text) gone.push(ids[i]!);
  });
  if (gone.length) await redis.zrem(keys.workers, ...gone).catch(() => {});
  return live.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.pid - b.pid));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * What workers record of each attempt they run, beside the job's record (which only the
 * coordinator writes), for `sheaf logs`, `status` and the dashboard:
 *
 * - `<prefix>:job:<id>:timeline`, a hash: field `<task>#<attempt>` (`@<runId>` added for a backup
 *   or re-run), value JSON AttemptTiming: stage, host, worker, thread, start, end, outcome;
 * - `<prefix>:job:<id>:logs`, a hash with the same fields, value JSON AttemptLog: the tail of what
 *   the attempt's own code printed, and for a failed attempt its error, for attempts that printed
 *   anything or failed.
 *
 * Both are bounded per job (MAX_ENTRIES fields; later attempts are not recorded once a hash is
 * full), expire a month after their last write as a backstop, and go with the job's record when
 * retention prunes it (prune.lua).
 */
import type { Redis } from "ioredis";
import * as v from "valibot";
import type { JobId } from "../ids.js";
import type { Keys } from "./keys.js";

/** Fields kept per job in each hash. */
export const MAX_ENTRIES = 20_000;
const EXPIRE_S = 30 * 86_400;

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));

export const AttemptTimingSchema = v.object({
  stage: v.picklist(["map", "reduce"]),
  task: v.string(),
  attempt: Count,
  runId: v.optional(v.string()),
  host: v.string(),
  /** The worker's id (its heartbeat's, workers.ts) and the thread the attempt ran on. */
  worker: v.string(),
  thread: Count,
  startedAt: Count,
  endedAt: Count,
  ok: v.boolean(),
  /** The failure's code, for a failed attempt. */
  code: v.optional(v.string()),
});
export type AttemptTiming = v.InferOutput<typeof AttemptTimingSchema>;

export const AttemptLogSchema = v.object({
  task: v.string(),
  attempt: Count,
  runId: v.optional(v.string()),
  host: v.string(),
  worker: v.string(),
  /** When the attempt ended. */
  at: Count,
  lines: v.array(v.string()),
  /** Earlier lines not kept (the tail is bounded). */
  dropped: Count,
  /** A failed attempt's error, where in the user's files it was thrown, and its stack (those frames mapped back to them). */
  error: v.optional(v.string()),
  where: v.optional(v.string()),
  stack: v.optional(v.string()),
});
export type AttemptLog = v.InferOutput<typeof AttemptLogSchema>;

/** The field of one attempt in both hashes. */
export function attemptField(task: string, attempt: number, runId?: string): string {
  return `${task}#${attempt}${runId ? `@${runId}` : ""}`;
}

/** Records attempts of several jobs in one round trip (two, with the bound checks). */
export async function recordAttempts(redis: Redis, keys: Keys, timings: Map<JobId, AttemptTiming[]>, logs: Map<JobId, AttemptLog[]>): Promise<void> {
  const targets = [...[...timings.keys()].map((id) => keys.timeline(id)), ...[...logs.keys()].map((id) => keys.logs(id))];
  if (targets.length === 0) return;
  const sizes = await Promise.all(targets.map((k) => redis.hlen(k)));
  const room = new Map(targets.map((k, i) => [k, MAX_ENTRIES - sizes[i]!]));
  const multi = redis.multi();
  const put = (key: string, entries: { task: string; attempt: number; runId?: string }[]) => {
    const fit = entries.slice(0, Math.max(0, room.get(key) ?? 0));
    if (fit.length === 0) return;
    multi.hset(key, Object.fromEntries(fit.map((e) => [attemptField(e.task, e.attempt, e.runId), JSON.stringify(e)])));
    multi.expire(key, EXPIRE_S);
  };
  for (const [id, entries] of timings) put(keys.timeline(id), entries);
  for (const [id, entries] of logs) put(keys.logs(id), entries);
  await multi.exec();
}

function parsed<T>(schema: v.GenericSchema<unknown, T>, text: string): T | undefined {
  try {
    const r = v.safeParse(schema, JSON.parse(text));
    return r.success ? r.output : undefined;
  } catch {
    return undefined;
  }
}

/** A job's attempt timings, by start time. */
export async function readTimeline(redis: Redis, keys: Keys, id: JobId): Promise<AttemptTiming[]> {
  const h = await redis.hgetall(keys.timeline(id));
  return Object.values(h).flatMap((t) => parsed(AttemptTimingSchema, t) ?? []).sort((a, b) => a.startedAt - b.startedAt);
}

/** What a job's attempts printed, by task then attempt. */
export async function readLogs(redis: Redis, keys: Keys, id: JobId): Promise<AttemptLog[]> {
  const h = await redis.hgetall(keys.logs(id));
  return Object.values(h)
    .flatMap((t) => parsed(AttemptLogSchema, t) ?? [])
    .sort((a, b) => (a.task < b.task ? -1 : a.task > b.task ? 1 : a.attempt - b.attempt || a.at - b.at));
}

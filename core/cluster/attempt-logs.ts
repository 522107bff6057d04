/**
 * What each attempt's own code printed, recorded by the worker that ran it, for `sheaf logs`: the
 * hash `<prefix>:job:<id>:logs`, field `<task>#<attempt>` (`@<runId>` added for a backup or re-run),
 * value JSON AttemptLog: the tail of what the attempt printed, and for a failed attempt its error,
 * for attempts that printed anything or failed. (When and where each attempt ran is the job's
 * timeline, written by the leader: timeline.ts.)
 *
 * Bounded per job (MAX_ENTRIES fields; later attempts are not recorded once the hash is full),
 * expires a month after its last write as a backstop, and goes with the job's record when
 * retention prunes it (prune.lua).
 */
import type { Redis } from "ioredis";
import * as v from "valibot";
import type { JobId } from "../ids.js";
import type { Keys } from "./keys.js";

/** Fields kept per job. */
export const MAX_ENTRIES = 20_000;
const EXPIRE_S = 30 * 86_400;

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));

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

/** The field of one attempt. */
export function attemptField(task: string, attempt: number, runId?: string): string {
  return `${task}#${attempt}${runId ? `@${runId}` : ""}`;
}

/** Records attempts' logs of several jobs in one round trip (two, with the bound checks). */
export async function recordLogs(redis: Redis, keys: Keys, logs: Map<JobId, AttemptLog[]>): Promise<void> {
  const targets = [...logs.keys()].map((id) => keys.logs(id));
  if (targets.length === 0) return;
  const sizes = await Promise.all(targets.map((k) => redis.hlen(k)));
  const multi = redis.multi();
  [...logs.values()].forEach((entries, i) => {
    const fit = entries.slice(0, Math.max(0, MAX_ENTRIES - sizes[i]!));
    if (fit.length === 0) return;
    multi.hset(targets[i]!, Object.fromEntries(fit.map((e) => [attemptField(e.task, e.attempt, e.runId), JSON.stringify(e)])));
    multi.expire(targets[i]!, EXPIRE_S);
  });
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

/** What a job's attempts printed, by task then attempt. */
export async function readLogs(redis: Redis, keys: Keys, id: JobId): Promise<AttemptLog[]> {
  const h = await redis.hgetall(keys.logs(id));
  return Object.values(h)
    .flatMap((t) => parsed(AttemptLogSchema, t) ?? [])
    .sort((a, b) => (a.task < b.task ? -1 : a.task > b.task ? 1 : a.attempt - b.attempt || a.at - b.at));
}

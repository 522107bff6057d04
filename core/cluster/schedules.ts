/**
 * Schedules in Redis. A schedule submits a run of a job or pipeline module per due time. BullMQ's
 * job scheduler (queue `schedules`) wakes the coordinator's leader at each due time; the leader
 * fires it through one fenced Lua script that creates the run keyed by schedule and due time, so a
 * failover or a repeated wake-up never runs a due time twice. Runs of one schedule never overlap:
 * a due time that comes while the previous run is still going is skipped (recorded) or queued.
 *
 * Keys: `schedule:<name>` (spec, state, running run), `:queue` (due times waiting, oldest first),
 * `:fired` (due time → run id), `:history` (newest first, capped).
 */
import type { Redis } from "ioredis";
import { newRunId, runAttempt, type RunSettings } from "./runs.js";
import { SCHEDULE_HISTORY } from "./state/fields.js";
import { encodeEvent } from "./state/events.js";
import { ifValid, Schemas, type ScheduleEvent, type ScheduleSpec } from "../security/messages.js";
import type { Signer } from "../security/signing.js";
import type { Keys } from "./keys.js";

export const SCHEDULE_QUEUE = "schedules";

export type { ScheduleEvent, ScheduleSpec } from "../security/messages.js";

export interface ScheduleRecord {
  spec: ScheduleSpec;
  state: "active" | "paused";
  running?: string;
  queued: number[];
  history: ScheduleEvent[];
}

export async function readSchedule(redis: Redis, keys: Keys, name: string): Promise<ScheduleRecord | undefined> {
  const [h, queued, history] = await Promise.all([
    redis.hgetall(keys.schedule(name)),
    redis.lrange(`${keys.schedule(name)}:queue`, 0, -1),
    redis.lrange(`${keys.schedule(name)}:history`, 0, SCHEDULE_HISTORY - 1),
  ]);
  if (!h.spec) return undefined;
  return {
    spec: JSON.parse(h.spec) as ScheduleSpec, // checked where acted on (admitRecord in scheduler.ts)
    state: h.state === "paused" ? "paused" : "active",
    running: h.running || undefined,
    queued: queued.map(Number),
    history: history.flatMap((e) => ifValid(Schemas.scheduleEvent, JSON.parse(e)) ?? []),
  };
}

export async function listSchedules(redis: Redis, keys: Keys): Promise<ScheduleRecord[]> {
  const names = (await redis.smembers(keys.schedules)).sort();
  const records = await Promise.all(names.map((n) => readSchedule(redis, keys, n)));
  return records.filter((r): r is ScheduleRecord => r !== undefined);
}

export async function saveSchedule(redis: Redis, keys: Keys, spec: ScheduleSpec): Promise<void> {
  await redis.multi().hset(keys.schedule(spec.name), { spec: JSON.stringify(spec), state: "active" }).sadd(keys.schedules, spec.name).exec();
}

export async function setScheduleState(redis: Redis, keys: Keys, name: string, state: "active" | "paused"): Promise<void> {
  await redis.hset(keys.schedule(name), "state", state);
}

/** Removes the schedule's record (its past runs stay in `status`). */
export async function deleteSchedule(redis: Redis, keys: Keys, name: string): Promise<void> {
  const k = keys.schedule(name);
  await redis.multi().del(k, `${k}:queue`, `${k}:queue:sig`, `${k}:fired`, `${k}:history`).srem(keys.schedules, name).exec();
}

/** A fired due time is remembered at least this long, whatever the retention: a repeated wake-up must find it. */
const FIRED_MIN_AGE_MS = 3_600_000;

/**
 * Forgets fired due times past retention (which otherwise grow by one per due time): those before
 * `cutoff`, and all but the newest `keep`; never the running one, nor one younger than an hour.
 * A backfill over a forgotten window submits its runs again, whose stages are skipped when their
 * output is committed with the same fingerprint. Reads the whole hash: call it rarely.
 */
export async function pruneFiredDueTimes(redis: Redis, keys: Keys, name: string, keep: number, cutoff: number, now = Date.now()): Promise<number> {
  const k = keys.schedule(name);
  const due = (await redis.hkeys(`${k}:fired`)).map(Number).sort((a, b) => b - a);
  const running = Number(await redis.hget(k, "runningDue"));
  const old = due.filter((d, i) => (d < cutoff || i >= keep) && d < now - FIRED_MIN_AGE_MS && d !== running);
  if (old.length) await redis.hdel(`${k}:fired`, ...old.map(String));
  return old.length;
}

/** Due times already fired (or queued), so a backfill skips them. */
export async function firedDueTimes(redis: Redis, keys: Keys, name: string): Promise<Map<number, string>> {
  const h = await redis.hgetall(`${keys.schedule(name)}:fired`);
  return new Map(Object.entries(h).map(([due, run]) => [Number(due), run]));
}

/** The newest run of a due time: its id, which run of the due time it is, and its state. */
export interface DueRun {
  id: string;
  attempt: number;
  state: string;
}

/**
 * The newest run of a schedule's due time, or undefined if it never ran (or its record is gone).
 * The fired hash names the newest; retention may have forgotten it, so the ids after it are probed
 * too (a rerun's id is its due time's with `-rN`).
 */
export async function latestRunOf(redis: Redis, keys: Keys, name: string, due: number, fired?: string): Promise<DueRun | undefined> {
  const named = fired ?? (await redis.hget(`${keys.schedule(name)}:fired`, String(due)));
  let latest: DueRun | undefined;
  for (let attempt = named ? runAttempt(named) : 1; ; attempt++) {
    const id = newRunId(name, due, attempt);
    const state = await redis.hget(keys.run(id), "state");
    if (state === null) return latest;
    latest = { id, attempt, state };
  }
}

/**
 * What a queued due time's signature covers. Whoever queues one signs it (`:queue:sig`, due → sig),
 * and the leader fires only those whose signature holds: a due time pushed by hand into the queue
 * would otherwise run, even on a paused schedule, under the coordinator's own signature.
 */
export const queuedDue = (name: string, due: number) => ({ schedule: name, due });

/** Queues due times to run one at a time, oldest first (backfill), each signed when there is a signer. */
export async function queueDueTimes(redis: Redis, keys: Keys, name: string, due: readonly number[], signer?: Signer): Promise<void> {
  if (due.length === 0) return;
  const k = keys.schedule(name);
  const tx = redis.multi();
  if (signer) tx.hset(`${k}:queue:sig`, Object.fromEntries(due.map((d) => [String(d), JSON.stringify(signer.sign("due", queuedDue(name, d)))])));
  await tx.rpush(`${k}:queue`, ...due.map(String)).publish(keys.events, encodeEvent({ kind: "schedule", id: name })).exec();
}

/**
 * What `sheaf status`, the runner API's `status()` and the dashboard's JSON API read and work out
 * from Redis: one set of functions, so the three never disagree. runner/status.ts renders them as
 * text, dashboard/api.ts as JSON.
 */
import type { Redis } from "ioredis";
import { listJobs, type JobRecord } from "../core/cluster/jobs.js";
import type { Keys } from "../core/cluster/keys.js";
import { listRuns, type RunRecord } from "../core/cluster/runs.js";
import type { ScheduleRecord } from "../core/cluster/schedules.js";
import type { JobProgress } from "../core/progress.js";
import { nextDue, type ScheduleSpec as When } from "../core/schedule-clock.js";
import { rate } from "./format.js";

/** The latest jobs and pipeline runs, newest first. */
export async function readOverview(redis: Redis, keys: Keys, limit = 20): Promise<{ jobs: JobRecord[]; runs: RunRecord[] }> {
  const [jobs, runs] = await Promise.all([listJobs(redis, keys, limit), listRuns(redis, keys, limit)]);
  return { jobs, runs };
}

export type WorkEntry = { kind: "job"; at: number; job: JobRecord } | { kind: "run"; at: number; run: RunRecord };

/** Jobs and runs in one list, newest first; a stage's job shows inside its run, not on its own. */
export function workEntries(jobs: readonly JobRecord[], runs: readonly RunRecord[]): WorkEntry[] {
  return [
    ...jobs.filter((r) => !r.spec.run).map((job): WorkEntry => ({ kind: "job", at: job.spec.submittedAt, job })),
    ...runs.map((run): WorkEntry => ({ kind: "run", at: run.spec.submittedAt, run })),
  ].sort((a, b) => b.at - a.at);
}

export interface ProgressFigures {
  /** ms since the job started (to its end once finished). */
  elapsedMs: number;
  recordsPerSec: number;
  bytesPerSec: number;
  /** The map stage's time left at the rate so far; undefined when unknown or past the map stage. */
  etaMs?: number;
  /** Fractions done of each stage, 0..1. */
  mapDone: number;
  reduceDone: number;
}

/** Rates and ETA of a job's progress, as the progress line and the dashboard show them. */
export function progressFigures(p: JobProgress, now = Date.now(), finishedAt?: number): ProgressFigures {
  const elapsedMs = Math.max(0, (finishedAt ?? now) - p.startedAt);
  const bytesPerSec = rate(p.bytesIn, elapsedMs);
  const figures: ProgressFigures = {
    elapsedMs,
    recordsPerSec: rate(p.recordsIn, elapsedMs),
    bytesPerSec,
    mapDone: p.mapsTotal ? p.mapsDone / p.mapsTotal : 0,
    reduceDone: p.reducesTotal ? p.reducesDone / p.reducesTotal : 0,
  };
  if (p.stage === "map" && bytesPerSec > 0 && p.bytesIn < p.bytesTotal && finishedAt === undefined) figures.etaMs = Math.round(((p.bytesTotal - p.bytesIn) / bytesPerSec) * 1000);
  return figures;
}

/** A schedule's next due time (undefined while paused), as `schedule list` shows it. */
export function scheduleNextDue(r: ScheduleRecord, now = new Date()): Date | undefined {
  if (r.state === "paused") return undefined;
  return nextDue(scheduleWhen(r.spec), now);
}

export function scheduleWhen(s: Pick<ScheduleRecord["spec"], "cron" | "everyMs" | "tz">): When {
  return s.cron !== undefined ? { cron: s.cron, tz: s.tz } : { everyMs: s.everyMs! };
}

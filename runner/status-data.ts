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
import { nextDue, type ScheduleSpec as When } from "../core/schedule-clock.js";

// Here too for the dashboard, which reads them beside the rest.
export { progressFigures, type ProgressFigures } from "./progress-figures.js";

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

/** A schedule's next due time (undefined while paused), as `schedule list` shows it. */
export function scheduleNextDue(r: ScheduleRecord, now = new Date()): Date | undefined {
  if (r.state === "paused") return undefined;
  return nextDue(scheduleWhen(r.spec), now);
}

export function scheduleWhen(s: Pick<ScheduleRecord["spec"], "cron" | "everyMs" | "tz">): When {
  return s.cron !== undefined ? { cron: s.cron, tz: s.tz } : { everyMs: s.everyMs! };
}

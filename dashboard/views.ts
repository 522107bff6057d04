/**
 * The JSON the dashboard's pages read (`/api/...`): records as `status` reads them
 * (runner/status-data.ts), with the figures the pages draw. Plain data, no HTML: the pages escape
 * everything they show (they set text, never markup).
 */
import type { Redis } from "ioredis";
import type { AttemptEnd } from "../core/attempts.js";
import { readJob, type JobRecord } from "../core/cluster/jobs.js";
import type { Keys } from "../core/cluster/keys.js";
import { readRun, type RunRecord } from "../core/cluster/runs.js";
import { listSchedules, readSchedule, type ScheduleRecord } from "../core/cluster/schedules.js";
import { readAttemptsFrom, type TimelineSlice } from "../core/cluster/timeline.js";
import type { JobId } from "../core/ids.js";
import { readRejections } from "../core/security/rejections.js";
import { progressFigures, readOverview, scheduleNextDue, workEntries, type ProgressFigures } from "../runner/status-data.js";

/** What a job and a run show alike. */
interface RecordSummary {
  id: string;
  name: string;
  state: string;
  submittedAt: number;
  startedAt?: number;
  finishedAt?: number;
  cancelRequested: boolean;
  error?: string;
}

export interface JobSummary extends RecordSummary {
  kind: "job";
  progress?: JobRecord["progress"];
  figures?: ProgressFigures;
  run?: string;
  stage?: string;
}

export interface RunSummary extends RecordSummary {
  kind: "run";
  schedule?: { name: string; due: number };
  at: string;
  stages: { name: string; dependsOn: string[]; state: string; jobId?: string; millis?: number; startedAt?: number; error?: string }[];
}

export function jobSummary(r: JobRecord, now = Date.now()): JobSummary {
  return {
    kind: "job",
    id: r.spec.id,
    name: r.spec.name,
    state: r.state,
    submittedAt: r.spec.submittedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    cancelRequested: r.cancelRequested,
    progress: r.progress,
    figures: r.progress ? progressFigures(r.progress, now, r.finishedAt) : undefined,
    error: r.error,
    ...(r.spec.run ? { run: r.spec.run } : {}),
    ...(r.spec.stage ? { stage: r.spec.stage } : {}),
  };
}

export function runSummary(r: RunRecord): RunSummary {
  return {
    kind: "run",
    id: r.spec.id,
    name: r.spec.pipeline,
    state: r.state,
    submittedAt: r.spec.submittedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    cancelRequested: r.cancelRequested,
    ...(r.spec.schedule ? { schedule: r.spec.schedule } : {}),
    at: r.spec.at,
    stages: r.spec.stages.map((s) => {
      const o = r.stages[s.name];
      return { name: s.name, dependsOn: s.dependsOn, state: o?.state ?? "pending", jobId: o?.jobId, millis: o?.millis, startedAt: o?.startedAt, error: o?.error };
    }),
    error: r.error,
  };
}

/** `/api/overview`: jobs and runs, newest first, as `sheaf status` lists them; and the refused messages. */
export async function overviewView(redis: Redis, keys: Keys, limit: number): Promise<{ now: number; entries: (JobSummary | RunSummary)[]; rejected: Record<string, number> }> {
  const now = Date.now();
  const [{ jobs, runs }, rejected] = await Promise.all([readOverview(redis, keys, limit), readRejections(redis, keys)]);
  const entries = workEntries(jobs, runs).map((e) => (e.kind === "job" ? jobSummary(e.job, now) : runSummary(e.run)));
  return { now, entries, rejected };
}

export interface TaskView {
  taskId: string;
  kind: "map" | "reduce";
  index: number;
  /** committed, failed (its latest attempt), or stopped. */
  state: string;
  attempts: AttemptEnd[];
}

export type JobDetail = JobSummary & { inputs: string[]; output: string; failedAttempts: number; lastFailure?: string };

/**
 * `/api/jobs/:id`: the job, its tasks and their attempts (the timeline), its partition sizes, and
 * `timeline.next`, where a read of what came after starts (`jobSince`).
 */
export async function jobView(redis: Redis, keys: Keys, id: string): Promise<{ now: number; job: JobDetail; tasks: TaskView[]; partitions: { index: number; records: number; bytes: number }[]; timeline: { next: number } } | undefined> {
  const since = await jobSince(redis, keys, id, 0);
  if (!since) return undefined;
  const tasks = new Map<string, TaskView>();
  for (const a of since.attempts) {
    let t = tasks.get(a.taskId);
    if (!t) tasks.set(a.taskId, (t = { taskId: a.taskId, kind: a.kind, index: a.index, state: a.outcome, attempts: [] }));
    t.attempts.push(a);
    if (t.state !== "committed") t.state = a.outcome === "discarded" ? "committed" : a.outcome;
  }
  const ordered = [...tasks.values()].sort((a, b) => (a.kind === b.kind ? a.index - b.index : a.kind === "map" ? -1 : 1));
  // Partition sizes: each committed reduce (or, map-only, each committed map) attempt's output.
  const reduces = since.job.progress?.reducesTotal ? "reduce" : "map";
  const partitions = ordered.filter((t) => t.kind === reduces).flatMap((t) => {
    const won = t.attempts.find((a) => a.outcome === "committed");
    return won ? [{ index: t.index, records: won.recordsOut ?? 0, bytes: won.bytesOut ?? 0 }] : [];
  });
  return { now: since.now, job: since.job, tasks: ordered, partitions, timeline: { next: since.next } };
}

/**
 * `/api/jobs/:id?from=N`: the job, and the attempts that ended from sequence number N on (what a
 * page that has drawn up to N lacks): O(those attempts), however long the timeline.
 */
export async function jobSince(redis: Redis, keys: Keys, id: string, from: number): Promise<({ now: number; job: JobDetail } & TimelineSlice) | undefined> {
  const [record, slice] = await Promise.all([readJob(redis, keys, id as JobId), readAttemptsFrom(redis, keys, id as JobId, from)]);
  if (!record) return undefined;
  const now = Date.now();
  const job = { ...jobSummary(record, now), inputs: record.spec.inputs, output: record.spec.output, failedAttempts: record.failedAttempts, lastFailure: record.lastFailure };
  return { now, job, from: slice.from, next: slice.next, attempts: slice.attempts };
}

/** `/api/runs/:id`: the run with its stages (a DAG), and, for a scheduled run, the grid of its schedule's recent runs. */
export async function runView(redis: Redis, keys: Keys, id: string): Promise<{ now: number; run: RunSummary; grid?: GridView } | undefined> {
  const record = await readRun(redis, keys, id);
  if (!record) return undefined;
  const grid = record.spec.schedule ? await gridView(redis, keys, record.spec.schedule.name) : undefined;
  return { now: Date.now(), run: runSummary(record), ...(grid ? { grid } : {}) };
}

export interface GridView {
  schedule: string;
  stages: string[];
  /** Oldest first: one column per run, its state per stage. */
  runs: { id: string; due: number; state: string; stages: Record<string, string> }[];
}

/** A schedule's recent runs by stage (as Airflow's grid view), from its history: up to `limit` runs. */
export async function gridView(redis: Redis, keys: Keys, schedule: string, limit = 20): Promise<GridView | undefined> {
  const s = await readSchedule(redis, keys, schedule);
  if (!s) return undefined;
  const ids = [...new Set([...(s.running ? [s.running] : []), ...s.history.flatMap((e) => (e.run ? [e.run] : []))])].slice(0, limit);
  const runs = (await Promise.all(ids.map((r) => readRun(redis, keys, r)))).filter((r): r is RunRecord => r !== undefined);
  const stages = runs[0]?.spec.stages.map((st) => st.name) ?? [];
  return {
    schedule,
    stages,
    runs: runs
      .map((r) => ({ id: r.spec.id, due: r.spec.schedule?.due ?? r.spec.submittedAt, state: r.state, stages: Object.fromEntries(r.spec.stages.map((st) => [st.name, r.stages[st.name]?.state ?? "pending"])) }))
      .sort((a, b) => a.due - b.due),
  };
}

export interface ScheduleView {
  name: string;
  module: string;
  cron?: string;
  every?: number;
  tz: string;
  overlap: string;
  state: string;
  nextDue?: number;
  running?: string;
  queued: number[];
  history: ScheduleRecord["history"];
}

/** `/api/schedules`: each schedule with its next due time and latest runs, as `schedule list` shows them. */
export async function schedulesView(redis: Redis, keys: Keys): Promise<{ now: number; schedules: ScheduleView[] }> {
  const now = new Date();
  const schedules = (await listSchedules(redis, keys)).map((r): ScheduleView => ({
    name: r.spec.name,
    module: r.spec.module,
    ...(r.spec.cron !== undefined ? { cron: r.spec.cron } : { every: r.spec.everyMs }),
    tz: r.spec.tz ?? "UTC",
    overlap: r.spec.overlap,
    state: r.state,
    nextDue: scheduleNextDue(r, now)?.getTime(),
    running: r.running,
    queued: r.queued,
    history: r.history.slice(0, 10),
  }));
  return { now: now.getTime(), schedules };
}

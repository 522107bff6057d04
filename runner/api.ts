/**
 * The runner API (design §1c): everything the CLI does, for a TypeScript program. `run` runs a job
 * or pipeline module in this process, as `sheaf run`; `connect` gives a client of a cluster whose
 * `submit` queues one, as `sheaf submit`, and returns a handle to follow, await or cancel it.
 * Failures reject with a SheafError (`code`, and `message` as the CLI prints it).
 */
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { listSchedules, type ScheduleRecord, type ScheduleSpec } from "../core/cluster/schedules.js";
import { cancelJob, readJob, type JobRecord } from "../core/cluster/jobs.js";
import { Keys } from "../core/cluster/keys.js";
import { connectRedis, redisUrlFrom, untilConnected } from "../core/cluster/redis.js";
import { cancelRun, isRunId, readRun, type RunRecord } from "../core/cluster/runs.js";
import { SheafError } from "../core/errors.js";
import type { JobId } from "../core/ids.js";
import type { JobReport } from "../engine/driver.js";
import { jobEnded, runEnded } from "./ended.js";
import { jobSettingsOf, type JobOptions } from "./options.js";
import type { PipelineRunReport } from "./pipeline-summary.js";
import { runJob } from "./run.js";
import { readOverview } from "./status-data.js";
import { submit, waitForJob, waitForRun } from "./submit.js";
import { listWorkers, type WorkerBeat } from "../core/cluster/workers.js";
import { readLogs, type AttemptLog } from "../core/cluster/attempt-logs.js";
import { readAttempts } from "../core/cluster/timeline.js";
import type { AttemptEnd } from "../core/attempts.js";
import { parseEvery } from "../core/schedule-clock.js";
import { selectLogs, type LogFilter } from "./logs.js";

export type { JobOptions } from "./options.js";
export type { JobReport } from "../engine/driver.js";
export type { PipelineRunReport } from "./pipeline-summary.js";
export type { JobRecord } from "../core/cluster/jobs.js";
export type { RunRecord } from "../core/cluster/runs.js";
export type { ScheduleRecord, ScheduleSpec } from "../core/cluster/schedules.js";

export interface RunOptions extends JobOptions {
  /** Worker threads. @defaultValue the CPU count */
  threads?: number;
  /** Print progress and the summary on stderr, as `sheaf run` does. @defaultValue false */
  progress?: boolean;
  /** Aborting it stops the job, as Ctrl-C stops `sheaf run`. */
  signal?: AbortSignal;
}

/** Runs a job or pipeline module in this process (`sheaf run`); resolves to its report. */
export async function run(jobFile: string | URL, options: RunOptions = {}): Promise<JobReport | PipelineRunReport> {
  const { threads, progress, signal, ...rest } = options;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new SheafError("BAD_OPTION", `run(): option threads: must be a whole number, at least 1, not ${String(threads)}`);
  const settings = jobSettingsOf(rest, "run()");
  const { availableParallelism } = await import("node:os");
  return runJob(pathOf(jobFile), { ...settings, threads: threads ?? availableParallelism(), quiet: !progress }, signal);
}

export interface ConnectOptions {
  /** The Redis URL. @defaultValue `$SHEAF_REDIS_URL`, else redis://127.0.0.1:6379 */
  redis?: string;
  /** The namespace of Sheaf's keys. @defaultValue `$SHEAF_PREFIX`, else "sheaf" */
  prefix?: string;
}

/** A job or pipeline run submitted to a cluster. */
export interface JobHandle {
  /** The job's id (a pipeline's: its run id). */
  readonly id: string;
  /** Its record now: state, progress, stages, error. */
  status(): Promise<JobRecord | RunRecord | undefined>;
  /** Asks the cluster to cancel it; `done` then rejects with JOB_CANCELLED (PIPELINE_CANCELLED). */
  cancel(): Promise<void>;
  /** Resolves to its report once it succeeded; rejects with its error (a SheafError) otherwise. */
  readonly done: Promise<JobReport | RunRecord>;
}

/** A schedule's timing: `cron` (in `tz`) or `every`, and what a run that comes due while the last one runs does. */
export interface ScheduleTiming {
  /** Cron: 5 fields, or 6 with seconds first. */
  cron?: string;
  /** An interval: 10s, 5m, 1h, 1d (aligned to multiples of it since the epoch). */
  every?: string;
  /** The zone of `cron` and of {date}/{time}. @defaultValue UTC */
  tz?: string;
  /** `skip` (recorded) or `queue`. @defaultValue "skip" */
  overlap?: "skip" | "queue";
  /** With `notify`: report a run not finished this long after it was due (`schedule.late`): 30m, 2h. */
  sla?: string;
}

/** The cluster's schedules (`sheaf schedule ...`). */
export interface Schedules {
  /** Adds a schedule of a job or pipeline module; each run replaces its output (runs are idempotent). */
  add(name: string, module: string | URL, options: ScheduleTiming & JobOptions): Promise<ScheduleSpec>;
  /** Re-bundles its module (or `module`) and changes what is given; history and state are kept. */
  update(name: string, options?: ScheduleTiming & Pick<JobOptions, "input" | "output" | "params" | "workdir" | "splitSize" | "maxAttempts"> & { module?: string | URL }): Promise<ScheduleSpec>;
  /** Every schedule: spec, state, running run, queued due times, recent history. */
  list(): Promise<ScheduleRecord[]>;
  pause(name: string): Promise<void>;
  resume(name: string): Promise<void>;
  /** Removes it (a run in flight finishes). */
  remove(name: string): Promise<void>;
  /** Queues every due time in [from, to] not run yet (and, with `rerunFailed`, those whose last run failed); returns them. */
  backfill(name: string, window: { from: string | Date; to: string | Date; maxRuns?: number; yes?: boolean; rerunFailed?: boolean }): Promise<number[]>;
}

export interface ClusterClient {
  /** Queues a job or pipeline module (`sheaf submit`). */
  submit(jobFile: string | URL, options?: JobOptions): Promise<JobHandle>;
  /** The latest jobs and pipeline runs, newest first (`sheaf status`). */
  status(limit?: number): Promise<{ jobs: JobRecord[]; runs: RunRecord[] }>;
  readonly schedules: Schedules;
  /** The live workers, from their heartbeats (`sheaf workers`). */
  workers(): Promise<WorkerBeat[]>;
  /** What a job's attempts printed, and their errors (`sheaf logs`), by task then attempt. */
  logs(jobId: string, filter?: LogFilter): Promise<AttemptLog[]>;
  /** Each attempt of a job as it ended, oldest first: stage, host, worker, thread, start, end, outcome, records and bytes. */
  timeline(jobId: string): Promise<AttemptEnd[]>;
  /** Closes the connection; handles still following a job reject. */
  close(): Promise<void>;
}

/** Connects to a cluster's Redis (within 3 s, or rejects naming the URL and the cause). */
export async function connect(options: ConnectOptions = {}): Promise<ClusterClient> {
  const url = redisUrlFrom(options.redis);
  const redis: Redis = connectRedis(url, "api", undefined, { retryStrategy: (n) => (n > 25 ? null : Math.min(200 * n, 1000)), disconnectTimeout: 200 });
  try {
    await untilConnected(redis, url, 3_000);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const keys = new Keys(options.prefix ?? process.env.SHEAF_PREFIX ?? "sheaf");
  return {
    async submit(jobFile, o = {}) {
      const id = String(await submit(redis, keys, pathOf(jobFile), jobSettingsOf(o, "submit()")));
      const runId = isRunId(id);
      const done: Promise<JobReport | RunRecord> = runId
        ? waitForRun(redis, keys, id, true).then((r) => (r.state === "succeeded" ? r : Promise.reject(runEnded(r))))
        : waitForJob(redis, keys, id as JobId, true).then((r) => (r.state === "succeeded" ? (r.progress as JobReport) : Promise.reject(jobEnded(r))));
      done.catch(() => {}); // a handle nobody awaits must not end the process on a failed job
      return {
        id,
        done,
        status: () => (runId ? readRun(redis, keys, id) : readJob(redis, keys, id as JobId)),
        async cancel() {
          if (runId) await cancelRun(redis, keys, id);
          else await cancelJob(redis, keys, id as JobId);
        },
      };
    },
    status: (limit = 20) => readOverview(redis, keys, limit),
    schedules: schedulesOf(redis, keys),
    workers: () => listWorkers(redis, keys),
    logs: async (jobId, filter = {}) => selectLogs(await readLogs(redis, keys, jobId as JobId), filter),
    timeline: (jobId) => readAttempts(redis, keys, jobId as JobId),
    async close() {
      redis.disconnect();
    },
  };
}

function schedulesOf(redis: Redis, keys: Keys): Schedules {
  const iso = (t: string | Date) => (t instanceof Date ? t.toISOString() : t);
  return {
    async add(name, module, { cron, every, tz, overlap, sla, ...job }) {
      const { addSchedule } = await import("./schedule.js");
      let slaMs: number | undefined;
      try {
        slaMs = sla === undefined ? undefined : parseEvery(sla);
      } catch (err) {
        throw new SheafError("BAD_OPTION", `schedules.add(): option sla: ${(err as Error).message}`);
      }
      return addSchedule(redis, keys, name, pathOf(module), { cron, every, tz, overlap: overlap ?? "skip", settings: jobSettingsOf({ ...job, overwrite: true }, "schedules.add()"), slaMs });
    },
    async update(name, { module, cron, every, tz, overlap, input, ...given } = {}) {
      const { updateSchedule } = await import("./schedule.js");
      const settings = { ...given, ...(input !== undefined ? { inputs: typeof input === "string" ? [input] : input } : {}) };
      return updateSchedule(redis, keys, name, { module: module === undefined ? undefined : pathOf(module), cron, every, tz, overlap, settings });
    },
    list: () => listSchedules(redis, keys),
    pause: async (name) => (await import("./schedule.js")).pauseSchedule(redis, keys, name),
    resume: async (name) => (await import("./schedule.js")).resumeSchedule(redis, keys, name),
    remove: async (name) => (await import("./schedule.js")).removeSchedule(redis, keys, name),
    async backfill(name, { from, to, ...o }) {
      const { backfill } = await import("./schedule.js");
      return backfill(redis, keys, name, iso(from), iso(to), o);
    },
  };
}

const pathOf = (file: string | URL): string => (file instanceof URL ? fileURLToPath(file) : file);

/**
 * The runner API (design §1c): everything the CLI does, for a TypeScript program. `run` runs a job
 * or pipeline module in this process, as `sheaf run`; `connect` gives a client of a cluster whose
 * `submit` queues one, as `sheaf submit`, and returns a handle to follow, await or cancel it.
 * Failures reject with a SheafError (`code`, and `message` as the CLI prints it).
 */
import type { Redis } from "ioredis";
import { cancelJob, listJobs, readJob, type JobRecord } from "../core/cluster/jobs.js";
import { Keys } from "../core/cluster/keys.js";
import { connectRedis, redisUrlFrom, untilConnected } from "../core/cluster/redis.js";
import { cancelRun, isRunId, listRuns, readRun, type RunRecord } from "../core/cluster/runs.js";
import { SheafError } from "../core/errors.js";
import type { JobId } from "../core/ids.js";
import type { JobReport } from "../engine/driver.js";
import { jobEnded, runEnded } from "./ended.js";
import { jobSettingsOf, type JobOptions } from "./options.js";
import type { PipelineRunReport } from "./pipeline-summary.js";
import { runJob } from "./run.js";
import { submit, waitForJob, waitForRun } from "./submit.js";

export type { JobOptions } from "./options.js";
export type { JobReport } from "../engine/driver.js";
export type { PipelineRunReport } from "./pipeline-summary.js";
export type { JobRecord } from "../core/cluster/jobs.js";
export type { RunRecord } from "../core/cluster/runs.js";

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

export interface ClusterClient {
  /** Queues a job or pipeline module (`sheaf submit`). */
  submit(jobFile: string | URL, options?: JobOptions): Promise<JobHandle>;
  /** The latest jobs and pipeline runs, newest first (`sheaf status`). */
  status(limit?: number): Promise<{ jobs: JobRecord[]; runs: RunRecord[] }>;
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
    async status(limit = 20) {
      const [jobs, runs] = await Promise.all([listJobs(redis, keys, limit), listRuns(redis, keys, limit)]);
      return { jobs, runs };
    },
    async close() {
      redis.disconnect();
    },
  };
}

const pathOf = (file: string | URL): string => (file instanceof URL ? decodeURIComponent(file.pathname) : file);

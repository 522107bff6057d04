/** A job's record in Redis: what was submitted, its state, progress and outcome. Read by every side. */
import type { Redis } from "ioredis";
import type { JobId } from "../ids.js";
import type { JobProgress, JobReport } from "../progress.js";
import type { JobSubmission } from "../security/messages.js";
import { Keys } from "./keys.js";
import { unfinishedIds } from "./records.js";
import { cancelRecord, submitRecord } from "./state/unfenced-writes.js";

export type JobState = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export const FINISHED: ReadonlySet<JobState> = new Set(["succeeded", "failed", "cancelled"]);

export type { JobSubmission } from "../security/messages.js";

export interface JobRecord {
  spec: JobSubmission;
  state: JobState;
  /** The latest progress; the final report once the job succeeded. */
  progress?: JobProgress | JobReport;
  error?: string;
  startedAt?: number;
  finishedAt?: number;
  cancelRequested: boolean;
  /** Attempts that failed on workers (each retried by the queue, or final), and the latest one's error. */
  failedAttempts: number;
  lastFailure?: string;
}

export async function submitJob(redis: Redis, keys: Keys, spec: JobSubmission): Promise<void> {
  await submitRecord(redis, keys.job(spec.id), keys.jobs, keys.events, spec);
}

export async function readJob(redis: Redis, keys: Keys, id: JobId): Promise<JobRecord | undefined> {
  const [h, attempts] = await Promise.all([redis.hgetall(keys.job(id)), redis.hgetall(keys.attempts(id))]);
  if (!h.spec) return undefined;
  return {
    spec: JSON.parse(h.spec) as JobSubmission, // checked where acted on (admitRecord in coordinator.ts)
    state: h.state as JobState,
    progress: h.progress ? (JSON.parse(h.progress) as JobProgress | JobReport) : undefined,
    error: h.error || undefined,
    startedAt: h.startedAt ? Number(h.startedAt) : undefined,
    finishedAt: h.finishedAt ? Number(h.finishedAt) : undefined,
    cancelRequested: h.cancel === "1",
    failedAttempts: Number(attempts.failedAttempts ?? 0),
    lastFailure: attempts.lastFailure || undefined,
  };
}

/** The most recent jobs, newest first. */
export async function listJobs(redis: Redis, keys: Keys, limit = 20): Promise<JobRecord[]> {
  const ids = (await redis.zrevrange(keys.jobs, 0, limit - 1)) as JobId[];
  const records = await Promise.all(ids.map((id) => readJob(redis, keys, id)));
  return records.filter((r): r is JobRecord => r !== undefined);
}

/** Ids of jobs a coordinator should drive: queued or running, oldest first. */
export async function unfinishedJobs(redis: Redis, keys: Keys): Promise<JobId[]> {
  return (await unfinishedIds(redis, keys.jobs, (id) => keys.job(id as JobId))) as JobId[];
}

export async function cancelJob(redis: Redis, keys: Keys, id: JobId): Promise<JobState | undefined> {
  return (await cancelRecord(redis, keys.job(id), keys.jobs, keys.events, id)) as JobState | undefined;
}

/** Counts a failed attempt on a worker, for `status` (in the job's attempts key: workers cannot write its record). */
export async function recordFailedAttempt(redis: Redis, keys: Keys, id: JobId, description: string): Promise<void> {
  await redis.multi().hincrby(keys.attempts(id), "failedAttempts", 1).hset(keys.attempts(id), "lastFailure", description.slice(0, 4096)).exec();
}

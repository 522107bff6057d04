/**
 * The fields of a job or run record (the hash at `Keys.job(id)` / `Keys.run(id)`), named once: the
 * Lua scripts and the readers below agree on these names, and nothing reads a record field by a
 * string of its own.
 */
import type { Redis } from "ioredis";

export const RECORD_FIELDS = {
  /** The signed submission (JSON), written once when the record is queued. */
  spec: "spec",
  /** queued → running → succeeded | failed | cancelled. */
  state: "state",
  startedAt: "startedAt",
  finishedAt: "finishedAt",
  /** Why it failed or was cancelled. */
  error: "error",
  /** "1": cancel was asked for while it ran. */
  cancel: "cancel",
  /** A job's latest progress (JSON); its final report once it succeeded. */
  progress: "progress",
  /** A job's plan (JSON) and its signature: the first leader's, kept until the job ends. */
  plan: "plan",
  planSig: "planSig",
  /** "1": the job's output folder was prepared (so a resume does not prepare it again). */
  prepared: "prepared",
  /** "1": the job's output was swapped in (a resumed commit returns on it). */
  published: "published",
  /** A pipeline run's stage outcomes (JSON); beside them `job:<stage>` → the stage's job id. */
  stages: "stages",
} as const;

export type RecordField = keyof typeof RECORD_FIELDS;

/** A stage's field in its run's record: the stage's job id. */
export const stageJobField = (stage: string) => `job:${stage}`;

/** Entries kept in a schedule's history list. */
export const SCHEDULE_HISTORY = 50;

/** One field of the record at `key`, or null. */
export function readField(redis: Redis, key: string, field: RecordField): Promise<string | null> {
  return redis.hget(key, RECORD_FIELDS[field]);
}

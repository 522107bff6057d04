/**
 * A pipeline run's record in Redis: what was submitted (the pipeline artifact, the logical time,
 * parameters, the stages resolved), its state, and each stage's outcome and job id. Read by every
 * side; the coordinator's leader drives it, creating one ordinary job record per stage.
 */
import type { Redis } from "ioredis";
import type { Job } from "../api/job.js";
import { definePipeline, isPipeline, type Pipeline } from "../api/pipeline.js";
import { writesFiles } from "../formats/registry.js";
import { resolveStages, type StageOutcome } from "../pipeline/stages.js";
import { ifValid, Schemas, type RunSettings, type RunSubmission } from "../security/messages.js";
import { lazily } from "../security/valibot.js";
import { Keys } from "./keys.js";
import { SheafError } from "../errors.js";
import { unfinishedIds } from "./records.js";
import { cancelRecord, submitRecord } from "./state/unfenced-writes.js";

export type RunState = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export const RUN_FINISHED: ReadonlySet<RunState> = new Set(["succeeded", "failed", "cancelled"]);

/** What one stage shows in `status`: its state, job and figures. */
export type StageRecord = StageOutcome;
const stageRecords = lazily((v) => v.record(v.string(), Schemas.stageOutcome));

export type { RunSubmission } from "../security/messages.js";

export interface RunRecord {
  spec: RunSubmission;
  state: RunState;
  stages: Record<string, StageRecord>;
  error?: string;
  startedAt?: number;
  finishedAt?: number;
  cancelRequested: boolean;
}

export async function submitRun(redis: Redis, keys: Keys, spec: RunSubmission): Promise<void> {
  await submitRecord(redis, keys.run(spec.id), keys.runs, keys.events, spec);
}

export async function readRun(redis: Redis, keys: Keys, id: string): Promise<RunRecord | undefined> {
  const h = await redis.hgetall(keys.run(id));
  if (!h.spec) return undefined;
  return {
    spec: JSON.parse(h.spec) as RunSubmission, // checked where acted on (admitRecord in run-driver.ts)
    state: h.state as RunState,
    stages: (h.stages && ifValid(stageRecords(), JSON.parse(h.stages))) || {},
    error: h.error || undefined,
    startedAt: h.startedAt ? Number(h.startedAt) : undefined,
    finishedAt: h.finishedAt ? Number(h.finishedAt) : undefined,
    cancelRequested: h.cancel === "1",
  };
}

export async function listRuns(redis: Redis, keys: Keys, limit = 20): Promise<RunRecord[]> {
  const ids = await redis.zrevrange(keys.runs, 0, limit - 1);
  const records = await Promise.all(ids.map((id) => readRun(redis, keys, id)));
  return records.filter((r): r is RunRecord => r !== undefined);
}

export async function unfinishedRuns(redis: Redis, keys: Keys): Promise<string[]> {
  return unfinishedIds(redis, keys.runs, (id) => keys.run(id));
}

/** Flags a run for cancelling (its coordinator cancels the stages' jobs); a queued run ends at once. */
export async function cancelRun(redis: Redis, keys: Keys, id: string): Promise<RunState | undefined> {
  return (await cancelRecord(redis, keys.run(id), keys.runs, keys.events, id)) as RunState | undefined;
}

/** Pipeline run ids start with this, so `status` and `cancel` tell them from job ids. */
export const RUN_ID_MARK = ".run-";
export function isRunId(id: string): boolean {
  return id.includes(RUN_ID_MARK);
}

/** What a run inherits from the command line (or a schedule): job settings and parameters. */
export type { RunSettings } from "../security/messages.js";

/**
 * A run of a pipeline module — or of a job module, as a pipeline of one stage named after the job —
 * with its stages resolved for the logical time `at` (read in `tz`).
 */
export function makeRunSubmission(
  mod: Job | Pipeline,
  artifact: { path: string; sha256: string },
  settings: RunSettings,
  o: { id: string; at: Date; tz?: string; force?: boolean; only?: string; from?: string; schedule?: { name: string; due: number } },
): RunSubmission {
  if (!isPipeline(mod) && settings.output === undefined && writesFiles(mod.output)) {
    throw new SheafError("NO_OUTPUT", `job ${mod.name} writes ${mod.output.format} files: give it --output (a folder; {date} and {time} in it are the run's logical time)`);
  }
  const pipeline = isPipeline(mod)
    ? mod
    : definePipeline({ name: mod.name, stages: { [mod.name]: { job: mod, ...(settings.inputs?.length ? { input: settings.inputs } : {}), ...(settings.output !== undefined ? { output: settings.output } : {}) } } });
  const stages = resolveStages(pipeline, { at: o.at, tz: o.tz, params: settings.params, cwd: settings.cwd, partitions: settings.partitions });
  return {
    id: o.id,
    pipeline: pipeline.name,
    artifact: artifact.path,
    artifactSha: artifact.sha256,
    at: o.at.toISOString(),
    ...(o.tz ? { tz: o.tz } : {}),
    force: o.force ?? false,
    ...(o.only !== undefined ? { only: o.only } : {}),
    ...(o.from !== undefined ? { from: o.from } : {}),
    stages,
    job: {
      artifact: artifact.path,
      workdir: settings.workdir,
      cwd: settings.cwd,
      splitSize: settings.splitSize,
      sortBufferBytes: settings.sortBufferBytes,
      maxAttempts: settings.maxAttempts,
      taskTimeoutMs: settings.taskTimeoutMs,
      checkpointBytes: settings.checkpointBytes,
      speculative: settings.speculative,
      overwrite: true,
      ...(settings.pool !== undefined ? { pool: settings.pool } : {}),
      ...(settings.priority !== undefined ? { priority: settings.priority } : {}),
    },
    ...(o.schedule ? { schedule: o.schedule } : {}),
    submittedAt: Date.now(),
  };
}

/**
 * A run id: the pipeline's name, the mark, then time and randomness; or, for a schedule, its due
 * time and, from the second run of one due time on (`backfill --rerun-failed`), `-rN`, so a rerun
 * gets a record of its own and the failed run's stays as it was.
 */
export function newRunId(pipeline: string, due?: number, attempt = 1): string {
  if (due !== undefined) return `${pipeline}${RUN_ID_MARK}${new Date(due).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}${attempt > 1 ? `-r${attempt}` : ""}`;
  const time = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return `${pipeline}${RUN_ID_MARK}${time}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Which run of its due time a schedule's run id is (1 for the first; see newRunId). */
export function runAttempt(id: string): number {
  const m = /-r(\d+)$/.exec(id);
  return m ? Number(m[1]) : 1;
}

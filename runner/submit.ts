/** `sheaf submit`: bundle the job into the shared workdir, record it in Redis, print its id; with --wait, follow it. */
import { resolve } from "node:path";
import type { Redis } from "ioredis";
import { checkOutputFolder } from "../engine/committer.js";
import { processAlive, type WriterLock } from "../core/output-writer-lock.js";
import { selectStages, type StageOutcome } from "../engine/pipeline-runner.js";
import type { Pipeline } from "../core/api/pipeline.js";
import { isPipeline } from "../core/api/pipeline.js";
import { loadModule } from "../core/artifact.js";
import { makeRunSubmission, newRunId, readRun, RUN_FINISHED, submitRun, unfinishedRuns, type RunRecord, type RunSubmission } from "../core/cluster/runs.js";
import { parseAt } from "../core/pipeline/templates.js";
import { FINISHED, readJob, submitJob, type JobRecord } from "../core/cluster/jobs.js";
import { Keys } from "../core/cluster/keys.js";
import { readField } from "../core/cluster/state/fields.js";
import { SheafError } from "../core/errors.js";
import { newJobId, type JobId } from "../core/ids.js";
import { isReport } from "../core/progress.js";
import { listInputs } from "../core/inputs.js";
import { bundleJob, type Artifact } from "./bundle.js";
import { printableReport } from "./status.js";
import { describeOutcome, pipelineSummary } from "./pipeline-summary.js";
import { confineSettings, objectOutputOf, refusePipelineFlags, resolveOutput, type JobSettings } from "./job-settings.js";
import { AllowedRoots } from "../core/security/roots.js";
import { outputLock, outputSink, writesFiles } from "../core/formats/registry.js";
import { absoluteLocation, jobScratchDir } from "../core/storage.js";
import { ProgressReporter } from "./progress.js";
import { NO_WORKER, WorkerWatch } from "./no-worker.js";
import { signerFromEnv, signRecord } from "../core/security/signing.js";
import type { NotifySpec } from "../core/security/messages.js";

/** Checks what can be checked here (inputs, output, the job module) so mistakes fail before they queue. */
export async function submit(redis: Redis, keys: Keys, jobFile: string, o: JobSettings & PipelineSettings): Promise<JobId | string> {
  const cwd = process.cwd();
  const workdir = absoluteLocation(o.workdir);
  await confineSettings(AllowedRoots.from(o.allowRoots), o, cwd);
  const artifact = await bundleJob(jobFile, workdir);
  const mod = await loadModule(artifact.local, jobFile);
  if (isPipeline(mod)) return submitPipeline(redis, keys, mod, artifact, o);
  const job = mod;
  refusePipelineFlags(job, o);
  const id = newJobId(job.name);
  const objectOutput = objectOutputOf(o);
  const folder = resolveOutput(job, o, jobScratchDir(workdir, id)); // checks --input and --output first
  const output = objectOutput ?? folder;
  if (o.inputs.length) await listInputs(o.inputs, cwd);
  if (objectOutput) await (await outputSink(job.output, objectOutput))!.check(o.overwrite);
  else if (writesFiles(job.output)) checkOutputFolder(output, o.overwrite);
  if (!o.waitForOutput) {
    const alive = async (holder: WriterLock) => (holder.by === "run" ? processAlive(holder) : ["queued", "running"].includes((await readField(redis, keys.job(holder.jobId as JobId), "state")) ?? ""));
    try {
      await (await outputLock(job.output, output, objectOutput)).checkFree(alive);
    } catch (err) {
      // A sink this machine cannot reach is checked by the coordinator, which must reach it anyway.
      if (err instanceof SheafError && err.code === "OUTPUT_BUSY") throw err;
      if (writesFiles(job.output)) throw err;
    }
  }
  // With SHEAF_SECRET, the record is signed: a coordinator plans only records its submitters signed.
  await submitJob(redis, keys, signRecord(signerFromEnv(), "job", {
    id,
    name: job.name,
    artifact: artifact.path,
    workdir,
    inputs: o.inputs,
    output,
    cwd,
    params: o.params,
    partitions: o.partitions,
    splitSize: o.splitSize,
    sortBufferBytes: o.sortBufferBytes,
    maxAttempts: o.maxAttempts,
    taskTimeoutMs: o.taskTimeoutMs,
    checkpointBytes: o.checkpointBytes,
    speculative: o.speculative,
    overwrite: o.overwrite,
    ...(o.waitForOutput ? { waitForOutput: true } : {}),
    ...(o.pool !== undefined ? { pool: o.pool } : {}),
    ...(o.priority !== undefined ? { priority: o.priority } : {}),
    ...(o.notify ? { notify: o.notify } : {}),
    submittedAt: Date.now(),
  }));
  return id;
}

export interface PipelineSettings {
  /** The logical time (ISO), the zone it is read in, and whether to rerun committed stages. */
  at?: string;
  tz?: string;
  force?: boolean;
  /** Rerun one stage alone, or one stage and every stage after it. */
  only?: string;
  from?: string;
  /** Set when a schedule fires the run. */
  schedule?: { name: string; due: number };
  /** `--notify URL [--notify-success]`: where the coordinator POSTs this job's or run's events (cluster only). */
  notify?: NotifySpec;
}

/** Queues a pipeline run: its stages resolved (templates expanded with the logical time) here, where the paths were written. */
export async function submitPipeline(redis: Redis, keys: Keys, pipeline: Pipeline, artifact: Artifact, o: JobSettings & PipelineSettings): Promise<string> {
  if (o.inputs.length || o.output !== undefined) throw new SheafError("PIPELINE_PATHS", `pipeline ${pipeline.name} names its stages' inputs and outputs: drop --input and --output`);
  const at = parseAt(o.at);
  const spec = makeRunSubmission(pipeline, artifact, { ...o, workdir: absoluteLocation(o.workdir), cwd: process.cwd() }, { id: newRunId(pipeline.name), at, tz: o.tz, force: o.force, only: o.only, from: o.from, schedule: o.schedule });
  if (o.notify) spec.notify = o.notify;
  selectStages(spec.pipeline, spec.stages, o); // an unknown --only or --from stage, refused before it is queued
  const twin = await runningTwin(redis, keys, spec);
  if (twin) throw new SheafError("RUN_EXISTS", `pipeline ${spec.pipeline} is already running for ${spec.at} as run ${twin}: wait for it (sheaf status ${twin}) or cancel it`);
  await submitRun(redis, keys, signRecord(signerFromEnv(), "run", spec));
  return spec.id;
}

/**
 * An unfinished run of the same pipeline that writes any of the same outputs (or, for one without
 * output folders, has the same logical time): a second run would only contend with it, stage by
 * stage, for the same outputs.
 */
async function runningTwin(redis: Redis, keys: Keys, spec: RunSubmission): Promise<string | undefined> {
  const outputs = new Set(spec.stages.flatMap((s) => (s.output ? [s.output] : [])));
  for (const id of await unfinishedRuns(redis, keys)) {
    const other = (await readRun(redis, keys, id))?.spec;
    if (!other || other.pipeline !== spec.pipeline) continue;
    const shared = other.stages.some((s) => s.output !== undefined && outputs.has(s.output));
    if (shared || (outputs.size === 0 && other.at === spec.at)) return id;
  }
  return undefined;
}

/** How often a waiting `submit` reads its job's record (its progress), unless the end is announced first. */
const POLL_MS = 300;

/**
 * The coordinator announces a job's or a run's end on the events channel (after recording it):
 * a waiting `submit` listens, so it returns at once instead of up to POLL_MS later. Polling stays
 * the truth; a lost subscription only makes the wait poll-paced.
 */
function endAnnouncement(redis: Redis, keys: Keys, id: string): { sleep: () => Promise<void>; close: () => void } {
  const sub = redis.duplicate();
  sub.on("error", () => {});
  let ended = false;
  let wake: (() => void) | undefined;
  sub.on("message", (_channel: string, message: string) => {
    if (message !== `finished ${id}`) return;
    ended = true;
    wake?.();
  });
  sub.subscribe(keys.events).catch(() => {});
  return {
    sleep: () =>
      ended
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const timer = setTimeout(() => wake!(), POLL_MS);
            wake = () => {
              clearTimeout(timer);
              wake = undefined;
              resolve();
            };
          }),
    close: () => sub.disconnect(),
  };
}

/** Runs `follow` with a sleep that the announcement of `id`'s end cuts short. */
async function untilAnnounced<T>(redis: Redis, keys: Keys, id: string, follow: (sleep: () => Promise<void>) => Promise<T>): Promise<T> {
  const announced = endAnnouncement(redis, keys, id);
  try {
    return await follow(announced.sleep);
  } finally {
    announced.close();
  }
}

/** Follows a pipeline run to its end, printing each stage's changes on stderr; resolves with its final record. */
export function waitForRun(redis: Redis, keys: Keys, id: string, quiet = false): Promise<RunRecord> {
  return untilAnnounced(redis, keys, id, (sleep) => followRun(redis, keys, id, quiet, sleep));
}

async function followRun(redis: Redis, keys: Keys, id: string, quiet: boolean, sleep: () => Promise<void>): Promise<RunRecord> {
  const shown = new Map<string, string>();
  for (;;) {
    const record = await readRun(redis, keys, id);
    if (!record) throw new SheafError("NO_SUCH_JOB", `no pipeline run ${id} under prefix ${keys.prefix}`);
    for (const [name, o] of Object.entries(record.stages)) {
      const seen = `${o.state} ${o.jobId ?? ""}`;
      if (quiet || o.state === "pending" || (o.state === "running" && !o.jobId) || shown.get(name) === seen) continue;
      shown.set(name, seen);
      // What Redis holds (counter names, a stage's error) is shown escaped, as status shows it.
      process.stderr.write(printableReport(`  stage ${name}: ${o.state === "running" ? `running (job ${o.jobId})` : describeOutcome(o as StageOutcome)}`) + "\n");
    }
    if (RUN_FINISHED.has(record.state)) {
      const millis = (record.finishedAt ?? Date.now()) - (record.startedAt ?? record.spec.submittedAt);
      if (!quiet) process.stderr.write(printableReport(pipelineSummary(record.spec.pipeline, record.stages as Record<string, StageOutcome>, millis)) + "\n");
      return record;
    }
    await sleep();
  }
}

/** Follows a job to its end, showing progress on stderr; resolves with its final record. */
export function waitForJob(redis: Redis, keys: Keys, id: JobId, quiet = false): Promise<JobRecord> {
  return untilAnnounced(redis, keys, id, (sleep) => followJob(redis, keys, id, quiet, sleep));
}

async function followJob(redis: Redis, keys: Keys, id: JobId, quiet: boolean, sleep: () => Promise<void>): Promise<JobRecord> {
  let reporter: ProgressReporter | undefined;
  const workers = new WorkerWatch(redis, keys);
  for (;;) {
    const record = await readJob(redis, keys, id);
    if (!record) throw new SheafError("NO_SUCH_JOB", `no job ${id} under prefix ${keys.prefix}`);
    if (!quiet && record.progress) {
      reporter ??= new ProgressReporter(record.spec.name);
      reporter.update(record.progress);
      const change = await workers.check(record);
      if (change) reporter.note(change === "none" ? `${record.spec.name}: ${NO_WORKER}` : `${record.spec.name}: a worker is live again`);
    }
    if (FINISHED.has(record.state)) {
      reporter?.stop();
      const p = record.progress;
      if (record.state === "succeeded" && p && isReport(p) && !quiet) {
        process.stderr.write((reporter ?? new ProgressReporter(record.spec.name)).summary(p, record.spec.output) + "\n");
      }
      return record;
    }
    await sleep();
  }
}

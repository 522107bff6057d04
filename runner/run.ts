/**
 * `sheaf run`: the embedded runner. The same planner, tasks, shuffle and commit as a cluster,
 * with a thread pool in this process as the executor.
 */
import { DEFAULT_RETRY } from "../engine/retry.js";
import { JOB_DEFAULTS } from "../core/defaults.js";
import { mkdirSync } from "node:fs";
import { resolve, sep } from "node:path";
import { JobDriver, type JobReport } from "../engine/driver.js";
import { planJob, planOptionsOf } from "../engine/plan.js";
import { runPipeline, selectStages, type StageOutcome } from "../engine/pipeline-runner.js";
import type { Job } from "../core/api/job.js";
import { isPipeline, type Pipeline } from "../core/api/pipeline.js";
import { loadModule } from "../core/artifact.js";
import { committedFingerprint, stageFingerprint } from "../core/pipeline/fingerprint.js";
import { resolveStages } from "../core/pipeline/stages.js";
import { parseAt } from "../core/pipeline/templates.js";
import { processAlive, takeOutputWhenFree } from "../core/output-writer-lock.js";
import { outputLock } from "../core/formats/registry.js";
import { parquetWasmFor } from "../core/formats/parquet-wasm.js";
import { SheafError } from "../core/errors.js";
import { newJobId } from "../core/ids.js";
import { absoluteLocation, jobScratchDir } from "../core/storage.js";
import { localWorkdir } from "../core/store/local-workdir.js";
import { ThreadPool } from "../worker/pool.js";
import { bundleJob, type Artifact } from "./bundle.js";
import { describeOutcome, pipelineSummary, type PipelineRunReport } from "./pipeline-summary.js";
import { confineSettings, describeSink, objectOutputOf, refusePipelineFlags, resolveOutput, type JobSettings } from "./job-settings.js";
import { isObjectUrl } from "../core/store/location.js";
import { folderOf } from "../core/store/manifest.js";
import { checkPlan } from "../engine/admission.js";
import { storedPlan } from "../engine/stored-plan.js";
import { killAfterCommitStep } from "../engine/committer.js";
import { removeTree } from "../engine/remove-tree.js";
import { collectDeadRuns, markRunOwner } from "../core/leftovers.js";
import { AllowedRoots } from "../core/security/roots.js";
import { ProgressReporter } from "./progress.js";
import { plural } from "./format.js";

export interface RunOptions extends JobSettings {
  threads: number;
  quiet?: boolean;
  /** Pipelines: the logical time (ISO), and rerun stages whose output is already committed. */
  at?: string;
  force?: boolean;
  only?: string;
  from?: string;
}

/** An embedded run keeps everything on this host: a store workdir stands for this host's copy of it. */
const embeddedWorkdir = (workdir: string): string => localWorkdir(absoluteLocation(workdir));

/**
 * Runs a job module, or every stage of a pipeline module, on one thread pool in this process: `pool`
 * if given (started by the caller as early as it could; of `options.threads` threads), else one
 * started here. Either way the pool is closed when the run ends.
 */
export async function runJob(jobFile: string, options: RunOptions, signal?: AbortSignal, started?: ThreadPool): Promise<JobReport | PipelineRunReport> {
  // Started first: the threads boot and load the task code while this one bundles and plans.
  const pool = started ?? new ThreadPool({ threads: options.threads });
  const workdir = embeddedWorkdir(options.workdir);
  try {
    await confineSettings(AllowedRoots.from(options.allowRoots), options, process.cwd());
    const artifact = await bundleJob(jobFile, workdir);
    const mod = await loadModule(artifact.local, jobFile);
    // A task loads the job as "<its job's name>": the same label, whichever loads it first.
    const jobs = isPipeline(mod) ? mod.stages.map((s) => s.job) : [mod];
    pool.prepare(workdir, artifact.sha256, jobs[0]!.name, parquetWasmFor(jobs.flatMap((j) => [j.input, j.output])));
    if (isPipeline(mod)) return await runPipelineHere(mod, artifact, options, pool, signal);
    refusePipelineFlags(mod, options);
    return await runOnPool(mod, artifact, options, pool, signal);
  } finally {
    await pool.close();
    // Scratch folders of runs killed on this host (their staging tables went at this run's sink check).
    await collectDeadRuns(workdir, removeTree).catch(() => {});
  }
}

/** One job, start to commit, on a pool that may be shared with other stages of a pipeline. */
async function runOnPool(
  job: Job,
  artifact: Artifact,
  options: RunOptions,
  pool: ThreadPool,
  signal: AbortSignal | undefined,
  stage?: { name: string; fingerprint: string; label: string },
): Promise<JobReport & { jobId: string }> {
  const workdir = embeddedWorkdir(options.workdir);
  const jobId = newJobId(job.name);
  const scratch = jobScratchDir(workdir, jobId);
  const output = resolveOutput(job, options, scratch);
  const objectOutput = objectOutputOf(options);
  const planned = await planJob(
    job,
    {
      jobId, name: job.name, artifact: artifact.sha256, workdir, params: options.params, cwd: process.cwd(), output, ...(objectOutput ? { objectOutput } : {}), scratch, sortBufferBytes: options.sortBufferBytes,
      ...(stage ? { stage: stage.name, fingerprint: stage.fingerprint } : {}),
    },
    planOptionsOf({ ...options, parallelism: options.threads }),
  );
  // Checked in its stored form, as a coordinator checks one (the same checks on either transport).
  const plan = checkPlan(storedPlan(planned), { id: jobId, workdir, output: objectOutput ?? output }, AllowedRoots.from(options.allowRoots));
  const inside = plan.inputs.find((f) => (objectOutput ? f.path.startsWith(folderOf(objectOutput)) : !isObjectUrl(f.path) && resolve(f.path).startsWith(output + sep)));
  if (inside) throw new SheafError("OUTPUT_OVERLAPS_INPUT", `output folder ${options.output} holds input file ${inside.path}: choose an output folder outside the inputs`);

  // One writer per output folder or sink table: another live job's is refused (or waited for), naming it.
  const lock = await outputLock(job.output, output, objectOutput);
  const take = () => lock.take(jobId, "run", processAlive);
  // Two stages may write one table (each appending its rows): the second waits for the first.
  if (options.waitForOutput || stage) await takeOutputWhenFree(take, { signal, onWait: (busy) => !options.quiet && process.stderr.write(`${stage?.label ?? job.name}: waiting (--wait-for-output): ${busy}\n`) });
  else await take();
  // A pipeline prints stage lines instead: several stages' live lines would overwrite each other.
  const progress = options.quiet || stage ? undefined : new ProgressReporter(job.name);
  try {
    // Marked as this process's, so a later run can tell it from a live one if this one is killed.
    mkdirSync(scratch, { recursive: true });
    markRunOwner(scratch, jobId);
    const driver = new JobDriver(plan, pool, {
      retry: { maxAttempts: options.maxAttempts, backoffMs: DEFAULT_RETRY.backoffMs },
      overwrite: options.overwrite || stage !== undefined,
      onProgress: (p) => progress?.update(p),
      onAttemptFailed: (f, retry) => (progress ? progress.attemptFailed(f, retry) : !options.quiet && process.stderr.write(`${stage?.label ?? job.name}: task ${f.taskId} attempt ${f.attempt} failed${retry ? " (will retry)" : ""}: ${f.message}\n`)),
      onCommitStep: killAfterCommitStep(),
      signal,
    });
    const report = await driver.run();
    progress?.stop();
    if (progress) process.stderr.write(progress.summary(report, options.output ?? describeSink(job)) + "\n");
    return { ...report, jobId };
  } catch (err) {
    throw Object.assign(err as Error, { jobId });
  } finally {
    await lock.release(jobId);
    progress?.stop();
  }
}

/** Every stage of a pipeline, on the shared pool: independent stages at the same time. */
async function runPipelineHere(pipeline: Pipeline, artifact: Artifact, options: RunOptions, pool: ThreadPool, signal?: AbortSignal): Promise<PipelineRunReport> {
  const cwd = process.cwd();
  if (options.inputs.length || options.output !== undefined) throw new SheafError("PIPELINE_PATHS", `pipeline ${pipeline.name} names its stages' inputs and outputs: drop --input and --output`);
  const at = parseAt(options.at);
  const stages = resolveStages(pipeline, { at, params: options.params, cwd, partitions: options.partitions, defaultPartitions: JOB_DEFAULTS.partitions });
  selectStages(pipeline.name, stages, options); // an unknown --only or --from stage, refused before any stage runs
  const started = Date.now();
  const say = (line: string) => !options.quiet && process.stderr.write(line + "\n");
  say(`pipeline ${pipeline.name}: ${plural(stages.length, "stage")}, logical time ${at.toISOString()}`);
  const outcomes = await runPipeline(
    pipeline.name,
    stages,
    {
      fingerprint: (stage, upstream) => stageFingerprint(stage, artifact.sha256, upstream, cwd),
      committed: (stage) => committedFingerprint(stage),
      run: (stage, fingerprint, stageSignal) => {
        const job = pipeline.stages.find((s) => s.name === stage.name)!.job;
        const settings = { ...options, inputs: stage.inputs, output: stage.output, partitions: stage.partitions ?? options.partitions, params: stage.params };
        return runOnPool(job, artifact, settings, pool, stageSignal, { name: stage.name, fingerprint, label: `${pipeline.name}/${stage.name}` }).then((report) => ({ jobId: report.jobId, report }));
      },
      onStage: (name, o) => {
        if (o.state === "running") say(`  stage ${name}: running`);
        else if (o.state !== "pending") say(`  stage ${name}: ${describeOutcome(o)}`);
      },
    },
    { force: options.force, only: options.only, from: options.from, signal },
  ).catch((err) => {
    const outcomes = (err as { outcomes?: Record<string, StageOutcome> }).outcomes;
    if (outcomes) say(pipelineSummary(pipeline.name, outcomes, Date.now() - started));
    throw err;
  });
  say(pipelineSummary(pipeline.name, outcomes, Date.now() - started));
  return { pipeline: pipeline.name, at: at.toISOString(), stages: outcomes, millis: Date.now() - started };
}

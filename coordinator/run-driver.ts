/**
 * Drives one pipeline run on a cluster, under the coordinator's leader lease: the same DAG runner
 * as `sheaf run`, where running a stage means creating an ordinary job record for it (which the
 * coordinator then drives like any job) and waiting for that job to end. Creating a stage's job is
 * fenced and recorded in the run (`job:<stage>`), so a coordinator that resumes the run waits for
 * the same job instead of starting a second one.
 */
import { sleep } from "../core/sleep.js";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { FENCE, START } from "../core/cluster/fence.js";
import { cancelJob, FINISHED, readJob, type JobSubmission } from "../core/cluster/jobs.js";
import type { Keys } from "../core/cluster/keys.js";
import { endRecord, queueRecord } from "../core/cluster/records.js";
import { readRun, type RunState, type RunSubmission, type StageRecord } from "../core/cluster/runs.js";
import { checkMessage, Schemas } from "../core/security/messages.js";
import { AllowedRoots } from "../core/security/roots.js";
import { signRecord, type Signer } from "../core/security/signing.js";
import { causeAfter, messageOf, SheafError } from "../core/errors.js";
import { newJobId, type JobId } from "../core/ids.js";
import { committedFingerprint, stageFingerprint } from "../core/pipeline/fingerprint.js";
import type { JobReport } from "../core/progress.js";
import { jobScratchDir } from "../core/storage.js";
import { fencedEval, type Fence } from "./fencing.js";
import { Interrupted } from "../engine/interrupted.js";
import { admitRecord } from "../engine/admission.js";
import { runPipeline, type StageOutcome } from "../engine/pipeline-runner.js";


/** The stage's job: the one already recorded in the run, or a new job record, queued. */
const STAGE_JOB = FENCE + `
local existing = redis.call('HGET', KEYS[3], 'job:' .. ARGV[3])
if existing then return existing end
redis.call('HSET', KEYS[3], 'job:' .. ARGV[3], ARGV[4])
redis.call('HSET', KEYS[4], 'spec', ARGV[5], 'state', 'queued')
${queueRecord("KEYS[5]", "ARGV[4]", "ARGV[6]")}
redis.call('PUBLISH', KEYS[6], 'submitted ' .. ARGV[4])
return ARGV[4]`;

const STAGES = FENCE + "return redis.call('HSET', KEYS[3], 'stages', ARGV[3])";

/** Records the run's outcome and moves it to the finished set. KEYS[4]: the runs zset; ARGV[6]: the id. */
const FINISH = FENCE + `
redis.call('HSET', KEYS[3], 'state', ARGV[3], 'finishedAt', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], 'error', ARGV[5]) end
${endRecord("KEYS[4]", "ARGV[6]", "ARGV[4]")}
return 1`;

/** How long a stage's job record may be missing before the stage fails (a read racing a restart is not a loss). */
const RECORD_LOST_AFTER_MS = 5_000;

export class RunDriver {
  private onJob: ((stage: string, jobId: string) => void) | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly leader: Fence,
    private readonly log: (m: string) => void,
    private readonly signer?: Signer,
    private readonly roots: AllowedRoots = AllowedRoots.open,
  ) {}

  private fence(): [string, string] {
    return [this.leader.holder, String(this.leader.epoch)];
  }

  /** Records the stages' outcomes, fenced (a stale leader's view must not replace the next one's). */
  private saveStages(id: string, stages: Record<string, StageRecord>): Promise<unknown> {
    return fencedEval(this.redis, this.keys, this.leader, `stages of run ${id}`, STAGES, [this.keys.run(id)], JSON.stringify(stages));
  }

  async drive(id: string, signal: AbortSignal): Promise<void> {
    const key = this.keys.run(id);
    const started = (await this.redis.eval(START, 3, this.keys.leader, this.keys.epoch, key, ...this.fence(), String(Date.now()))) as number;
    if (started === -1) throw new Interrupted(`stale leader: run ${id} not started`);
    if (started === 0) return;
    const record = await readRun(this.redis, this.keys, id);
    if (!record) return;
    const spec = record.spec;
    this.log(`${started === 2 ? "resuming" : "starting"} pipeline run ${id}`);
    const stages: Record<string, StageRecord> = { ...record.stages };
    // Shown in status as soon as the stage's job exists.
    this.onJob = (stage, jobId) => {
      stages[stage] = { ...stages[stage]!, jobId };
      void this.saveStages(id, stages).catch(() => {});
    };
    let state: RunState = "succeeded";
    let error = "";
    try {
      if (record.cancelRequested) throw new SheafError("PIPELINE_CANCELLED", "cancelled");
      await this.admit(spec);
      await runPipeline(
        spec.pipeline,
        spec.stages,
        {
          fingerprint: (stage, upstream) => stageFingerprint(stage, spec.artifactSha, upstream, spec.job.cwd),
          committed: (stage) => committedFingerprint(stage),
          run: (stage, fingerprint, stageSignal) => this.runStage(id, spec, stage.name, this.stageJob(id, stage, fingerprint), stageSignal),
          onStage: (name, o) => {
            stages[name] = o;
            void this.saveStages(id, stages).catch(() => {});
          },
        },
        { force: spec.force, only: spec.only, from: spec.from, signal, previous: record.stages as Record<string, StageOutcome> },
      );
    } catch (err) {
      if (signal.reason instanceof Interrupted) throw signal.reason;
      const cancelled = signal.aborted || (await this.redis.hget(key, "cancel")) === "1";
      state = cancelled ? "cancelled" : "failed";
      error = cancelled ? "cancelled" : messageOf(err);
    }
    await this.saveStages(id, stages);
    const keys = [this.keys.leader, this.keys.epoch, key, this.keys.runs];
    const done = (await this.redis.eval(FINISH, keys.length, ...keys, ...this.fence(), state, String(Date.now()), error, id)) as number;
    if (done === -1) throw new Interrupted(`stale leader: outcome of run ${id} not recorded`);
    await this.redis.publish(this.keys.events, `finished ${id}`);
    const cause = causeAfter(error, `pipeline ${spec.pipeline}`);
    this.log(`pipeline run ${id} ${state}${cause ? `: ${cause}` : ""}`);
  }

  /** A run record is driven only if it is signed (with a secret), well formed, and its workdir inside the allowed roots. */
  private admit(spec: RunSubmission): Promise<void> {
    return admitRecord(this.redis, this.keys, this.signer, "run", spec, `pipeline run ${spec.id}`, () => {
      checkMessage(Schemas.run, spec, "run record");
      this.roots.check(spec.job.workdir, `pipeline ${spec.pipeline}: workdir`);
    });
  }

  /** The job submission of one stage: the run's shared settings, the stage's paths and parameters. */
  private stageJob(runId: string, stage: { name: string; inputs: string[]; output?: string; params: Record<string, string>; partitions?: number }, fingerprint: string) {
    return (spec: { job: Omit<JobSubmission, "id" | "name" | "inputs" | "output" | "params" | "partitions" | "submittedAt" | "stage" | "fingerprint" | "run">; pipeline: string }, jobName: string): JobSubmission => {
      const id = newJobId(jobName);
      return {
      ...spec.job,
      id,
      name: jobName,
      inputs: stage.inputs,
      // A sink stage writes no files: its attempts keep their staging state in the job's scratch space.
      output: stage.output ?? join(jobScratchDir(spec.job.workdir, id), "output"),
      params: stage.params,
      ...(stage.partitions ? { partitions: stage.partitions } : {}),
      overwrite: true,
      // Two stages may write one table (each appending its rows): the second waits for the first.
      waitForOutput: true,
      submittedAt: Date.now(),
      stage: stage.name,
      fingerprint,
      run: runId,
      };
    };
  }

  /**
   * Creates (or finds) the stage's job, then waits for it; cancelling the run cancels it. The stage's
   * job is made from `spec` as admitted (its signature checked), never from the record read again:
   * the coordinator signs what it makes, so it must not make it from what Redis says now.
   */
  private async runStage(runId: string, spec: RunSubmission, stage: string, make: ReturnType<RunDriver["stageJob"]>, signal: AbortSignal): Promise<{ jobId: string; report: JobReport }> {
    const submission = make(spec, `${spec.pipeline}.${stage}`);
    const keys = [this.keys.leader, this.keys.epoch, this.keys.run(runId), this.keys.job(submission.id), this.keys.jobs, this.keys.events];
    const signed = JSON.stringify(signRecord(this.signer, "job", submission));
    const jobId = (await this.redis.eval(STAGE_JOB, keys.length, ...keys, ...this.fence(), stage, submission.id, signed, String(submission.submittedAt))) as string | number;
    if (jobId === -1) throw new Interrupted(`stale leader: stage ${stage} of run ${runId} not started`);
    const id = String(jobId) as JobId;
    this.onJob?.(stage, id);
    let missingSince: number | undefined;
    for (;;) {
      if (signal.aborted) {
        if (!(signal.reason instanceof Interrupted)) await cancelJob(this.redis, this.keys, id).catch(() => {});
        throw Object.assign(new SheafError("JOB_CANCELLED", "cancelled"), { jobId: id });
      }
      const job = await readJob(this.redis, this.keys, id);
      // Created with the run's own record (STAGE_JOB), a stage's job record cannot come back once it
      // is gone (the last second of an AOF lost in a crash, a wipe): waiting for it would hang the
      // run, and its schedule, for ever. The stage fails; a rerun makes a new job.
      if (!job) {
        missingSince ??= Date.now();
        if (Date.now() - missingSince >= RECORD_LOST_AFTER_MS) throw Object.assign(new SheafError("JOB_NOT_FOUND", `its job ${id} is gone from Redis (lost in a Redis restart or wipe?): run the pipeline again`), { jobId: id });
      } else missingSince = undefined;
      if (job && FINISHED.has(job.state)) {
        if (job.state !== "succeeded") throw Object.assign(new SheafError(job.state === "cancelled" ? "JOB_CANCELLED" : "JOB_FAILED", job.error ?? job.state), { jobId: id });
        return { jobId: id, report: job.progress as JobReport };
      }
      await sleep(200, signal);
    }
  }
}

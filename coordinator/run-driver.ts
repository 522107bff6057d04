/**
 * Drives one pipeline run on a cluster, under the coordinator's leader lease: the same DAG runner
 * as `sheaf run`, where running a stage means creating an ordinary job record for it (which the
 * coordinator then drives like any job) and waiting for that job to end. Creating a stage's job is
 * fenced and recorded in the run (`job:<stage>`), so a coordinator that resumes the run waits for
 * the same job instead of starting a second one.
 */
import type { Logger } from "../core/log.js";
import { sleep } from "../core/sleep.js";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { cancelJob, FINISHED, readJob, type JobSubmission } from "../core/cluster/jobs.js";
import type { Keys } from "../core/cluster/keys.js";
import { LeaderWrites, type Fence } from "../core/cluster/state/leader-writes.js";
import { publishEvent } from "../core/cluster/state/events.js";
import { readField } from "../core/cluster/state/fields.js";
import { readRun, type RunState, type RunSubmission, type StageRecord } from "../core/cluster/runs.js";
import { checkMessage, Schemas } from "../core/security/messages.js";
import { AllowedRoots } from "../core/security/roots.js";
import { signRecord, type Signer } from "../core/security/signing.js";
import { causeAfter, messageOf, SheafError } from "../core/errors.js";
import { newJobId, type JobId } from "../core/ids.js";
import { committedFingerprint, stageFingerprint } from "../core/pipeline/fingerprint.js";
import type { JobReport } from "../core/progress.js";
import { jobScratchDir, objectOutputScratch } from "../core/storage.js";
import { Interrupted } from "../core/interrupted.js";
import { admitRecord } from "../engine/admission.js";
import { runPipeline, type StageOutcome } from "../engine/pipeline-runner.js";


/** How long a stage's job record may be missing before the stage fails (a read racing a restart is not a loss). */
const RECORD_LOST_AFTER_MS = 5_000;

export class RunDriver {
  private onJob: ((stage: string, jobId: string) => void) | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    leader: Fence,
    private readonly log: Logger,
    private readonly signer?: Signer,
    private readonly roots: AllowedRoots = AllowedRoots.open,
  ) {
    this.writes = new LeaderWrites(redis, keys, leader);
  }

  /** This run's fenced writes, at the leadership it was started under. */
  private readonly writes: LeaderWrites;

  /** Records the stages' outcomes, fenced (a stale leader's view must not replace the next one's). */
  private saveStages(id: string, stages: Record<string, StageRecord>): Promise<unknown> {
    return this.writes.stages(id, JSON.stringify(stages));
  }

  async drive(id: string, signal: AbortSignal): Promise<void> {
    const key = this.keys.run(id);
    const started = await this.writes.start("run", id);
    if (started === "finished") return;
    const record = await readRun(this.redis, this.keys, id);
    if (!record) return;
    const spec = record.spec;
    this.log(`${started === "resumed" ? "resuming" : "starting"} pipeline run ${id}`, { job: id });
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
      const cancelled = signal.aborted || (await readField(this.redis, key, "cancel")) === "1";
      state = cancelled ? "cancelled" : "failed";
      error = cancelled ? "cancelled" : messageOf(err);
    }
    await this.saveStages(id, stages);
    await this.writes.finishRun(id, state, error);
    await publishEvent(this.redis, this.keys, { kind: "finished", id });
    const cause = causeAfter(error, `pipeline ${spec.pipeline}`);
    this.log(`pipeline run ${id} ${state}${cause ? `: ${cause}` : ""}`, { job: id, level: state === "failed" ? "error" : "info" });
  }

  /** A run record is driven only if it is signed (with a secret), well formed, and its workdir inside the allowed roots. */
  private admit(spec: RunSubmission): Promise<void> {
    return admitRecord(this.redis, this.keys, this.signer, "run", spec, `pipeline run ${spec.id}`, () => {
      checkMessage(Schemas.run, spec, "run record");
      this.roots.check(spec.job.workdir, `pipeline ${spec.pipeline}: workdir`);
    });
  }

  /** The job submission of one stage: the run's shared settings, the stage's paths and parameters. */
  private stageJob(runId: string, stage: { name: string; inputs: string[]; output?: string; params: Record<string, string>; partitions?: number; pool?: string; priority?: number }, fingerprint: string) {
    return (spec: { job: Omit<JobSubmission, "id" | "name" | "inputs" | "output" | "params" | "partitions" | "submittedAt" | "stage" | "fingerprint" | "run">; pipeline: string }, jobName: string): JobSubmission => {
      const id = newJobId(jobName);
      return {
      ...spec.job,
      id,
      name: jobName,
      inputs: stage.inputs,
      // A sink stage writes no files: its attempts keep their staging state in the job's scratch space.
      output: stage.output ?? objectOutputScratch(jobScratchDir(spec.job.workdir, id)),
      params: stage.params,
      ...(stage.partitions ? { partitions: stage.partitions } : {}),
      ...(stage.pool !== undefined ? { pool: stage.pool } : {}),
      ...(stage.priority !== undefined ? { priority: stage.priority } : {}),
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
    const signed = JSON.stringify(signRecord(this.signer, "job", submission));
    const id = await this.writes.stageJob(runId, stage, submission.id, signed, submission.submittedAt);
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

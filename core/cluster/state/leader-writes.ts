/**
 * Every write a coordinator leader makes to the cluster's records, as typed methods over the fenced
 * Lua scripts: each carries the leader's holder id and epoch and is refused unless that coordinator
 * still holds the lease at that epoch. A refusal throws Interrupted, naming what was refused; so does
 * a lease that may have run out by the local clock, before asking Redis and again after it answers
 * (a pause in between could have outlived the lease).
 */
import type { Redis } from "ioredis";
import type { JobId } from "../../ids.js";
import { Interrupted } from "../../interrupted.js";
import type { Keys } from "../keys.js";
import { RECORD_FIELDS } from "./fields.js";
import { runScript, type ScriptName } from "./scripts.js";

/** Who may write: the lease holder, the epoch it was granted, and whether its lease is still surely held. */
export interface Fence {
  holder: string;
  epoch: number;
  /** False once the lease may have expired by the local clock. */
  held(): boolean;
}

export type FinalState = "succeeded" | "failed" | "cancelled";

/** What firing a due time did: see fire.lua. */
export const FIRED = ["already fired", "started", "skipped", "queued", "still queued"] as const;
export type Fired = (typeof FIRED)[number];

export interface FireArgs {
  schedule: string;
  due: number;
  runId: string;
  /** The run's signed spec (JSON). */
  runSpec: string;
  submittedAt: number;
  overlap: "skip" | "queue";
  /** History events (JSON) for a start, and for a skip or queueing. */
  startedEvent: string;
  busyEvent: string;
  /** Fired from the schedule's queue (its head), not at its due time. */
  fromQueue: boolean;
  /** The due time's signature (JSON) when it is queued; '' without a signer. */
  dueSig: string;
}

export class LeaderWrites {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly fence: Fence,
  ) {}

  private async fenced(what: string, script: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
    const refused = () => new Interrupted(`stale leader (epoch ${this.fence.epoch}): ${what} refused`);
    if (!this.fence.held()) throw refused();
    const r = await runScript(this.redis, script, [this.keys.leader, this.keys.epoch, ...keys], [this.fence.holder, String(this.fence.epoch), ...args]);
    if (r === -1 || !this.fence.held()) throw refused();
    return r;
  }

  /** Passes when this coordinator still leads, right before a file-system effect named `what`. */
  async guard(what: string): Promise<void> {
    await this.fenced(what, "guard", [], []);
  }

  /** Starts a queued job or run: "resumed" when it was running already, "finished" when it has ended. */
  async start(kind: "job" | "run", id: string): Promise<"started" | "resumed" | "finished"> {
    const key = kind === "job" ? this.keys.job(id as JobId) : this.keys.run(id);
    const r = (await this.fenced(`start ${kind} ${id}`, "start", [key], [Date.now()])) as number;
    return r === 1 ? "started" : r === 2 ? "resumed" : "finished";
  }

  /** The job's output folder was prepared. */
  async prepared(id: JobId): Promise<void> {
    await this.fenced(`prepare the output of ${id}`, "set-field", [this.keys.job(id)], [RECORD_FIELDS.prepared, "1"]);
  }

  /** The job's output was swapped in. */
  async published(id: JobId): Promise<void> {
    await this.fenced(`write to ${id}`, "set-field", [this.keys.job(id)], [RECORD_FIELDS.published, "1"]);
  }

  async progress(id: JobId, json: string): Promise<void> {
    await this.fenced(`write to ${id}`, "set-field", [this.keys.job(id)], [RECORD_FIELDS.progress, json]);
  }

  /** First wins per task: for each (task id, result JSON) pair, whether this one was stored. */
  async commit(id: JobId, results: readonly (readonly [string, string])[]): Promise<boolean[]> {
    const won = (await this.fenced(`write to ${id}`, "commit", [this.keys.committed(id)], results.flat())) as number[];
    return won.map((w) => w === 1);
  }

  async uncommit(id: JobId, taskId: string): Promise<void> {
    await this.fenced(`write to ${id}`, "uncommit", [this.keys.committed(id)], [taskId]);
  }

  /** Stores the plan and its signature unless one is stored, and returns the pair stored: the first leader's. */
  async storePlan(id: JobId, plan: string, sig: string): Promise<[plan: string, sig: string | null]> {
    return (await this.fenced(`plan of ${id}`, "plan", [this.keys.job(id)], [plan, sig])) as [string, string | null];
  }

  /** Records a job's outcome; drops its commit records, plan and marks. */
  async finishJob(id: JobId, state: FinalState, error: string): Promise<void> {
    await this.fenced(`outcome of ${id}`, "finish-job", [this.keys.job(id), this.keys.committed(id), this.keys.jobs], [state, Date.now(), error, id]);
  }

  async finishRun(id: string, state: FinalState, error: string): Promise<void> {
    await this.fenced(`outcome of run ${id}`, "finish-run", [this.keys.run(id), this.keys.runs], [state, Date.now(), error, id]);
  }

  /** A run's stage outcomes (JSON). */
  async stages(runId: string, json: string): Promise<void> {
    await this.fenced(`stages of run ${runId}`, "set-field", [this.keys.run(runId)], [RECORD_FIELDS.stages, json]);
  }

  /** The stage's job: the one the run has recorded, else `jobId`, queued with `spec` (signed JSON). */
  async stageJob(runId: string, stage: string, jobId: JobId, spec: string, submittedAt: number): Promise<JobId> {
    const keys = [this.keys.run(runId), this.keys.job(jobId), this.keys.jobs, this.keys.events];
    return String(await this.fenced(`stage ${stage} of run ${runId}`, "stage-job", keys, [stage, jobId, spec, submittedAt])) as JobId;
  }

  /** Fires one due time of a schedule (fire.lua). */
  async fire(a: FireArgs): Promise<Fired> {
    const k = this.keys.schedule(a.schedule);
    const keys = [k, `${k}:fired`, `${k}:queue`, `${k}:history`, this.keys.run(a.runId), this.keys.runs, this.keys.events, `${k}:queue:sig`];
    const args = [a.due, a.runId, a.runSpec, a.submittedAt, a.overlap, a.startedEvent, a.busyEvent, a.fromQueue ? "1" : "0", this.keys.run(""), Date.now(), a.dueSig];
    const r = (await this.fenced(`schedule ${a.schedule} due ${new Date(a.due).toISOString()}`, "fire", keys, args)) as number;
    return FIRED[r]!;
  }

  /** The schedule's running run `runId` ended: false when the schedule runs another by now. */
  async scheduleEnded(schedule: string, runId: string, event: string): Promise<boolean> {
    const k = this.keys.schedule(schedule);
    return (await this.fenced(`end of ${runId} in schedule ${schedule}`, "schedule-ended", [k, `${k}:history`], [runId, event])) === 1;
  }
}

/**
 * Fires schedules, under the leader lease. A BullMQ Worker on the `schedules` queue receives the
 * job schedulers' wake-ups (the due time is the job's `prevMillis`) and fires each through the
 * fenced fire script (core/cluster/state/lua/fire.lua): one run per schedule and due time, whatever the
 * failovers. A tick notices runs that ended, records their outcome, and starts the next queued due
 * time (overlap `queue`, and backfills), one at a time.
 *
 * Catch-up: while no coordinator leads, BullMQ holds the next wake-up; the new leader fires it
 * once, late, and the scheduler continues from the current time. Due times that fell wholly inside
 * the outage are not run; `sheaf schedule backfill` runs them.
 */
import { UnrecoverableError, Worker, type Job as BullJob } from "bullmq";
import type { Redis } from "ioredis";
import type { Keys } from "../core/cluster/keys.js";
import { logQueueErrors } from "../core/cluster/redis.js";
import { newRunId, readRun, RUN_FINISHED, type RunSubmission } from "../core/cluster/runs.js";
import { latestRunOf, listSchedules, queuedDue, readSchedule, SCHEDULE_QUEUE, type ScheduleEvent, type ScheduleSpec } from "../core/cluster/schedules.js";
import { messageOf, messageWithCauses } from "../core/errors.js";
import { checkMessage, Schemas } from "../core/security/messages.js";
import { signRecord, type Signer } from "../core/security/signing.js";
import { Interrupted } from "../core/interrupted.js";
import { LeaderWrites, type Fence, type Fired } from "../core/cluster/state/leader-writes.js";
import { admitRecord } from "../engine/admission.js";
import { runSubmissionIsolated, type IsolationLimits } from "../engine/plan-isolated.js";

export class Scheduler {
  private worker: Worker | undefined;
  /** Aborted by stop(): a run being resolved in its thread is given up (and fired again later). */
  private stopping = new AbortController();
  private ticking = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly connect: () => Redis,
    private readonly fence: () => Fence,
    private readonly log: (m: string) => void,
    /** Limits on resolving a run's stages, which imports the schedule's module (in a thread of its own). */
    private readonly planLimits?: IsolationLimits,
    private readonly signer?: Signer,
  ) {}

  /** Starts taking wake-ups: only while leading. */
  start(): void {
    if (this.worker) return;
    this.stopping = new AbortController();
    this.worker = new Worker(SCHEDULE_QUEUE, (job) => this.wake(job), { connection: this.connect(), prefix: this.keys.prefix, concurrency: 1 });
    logQueueErrors(this.worker, "schedules", this.log);
    // A wake-up that failed is retried by BullMQ (unless unrecoverable); either way, say why.
    this.worker.on("failed", (job, err) => this.log(`schedules: wake-up ${job?.id ?? "?"} failed (attempt ${job?.attemptsMade ?? "?"}): ${messageWithCauses(err)}`));
  }

  /**
   * Stops taking wake-ups. Forced, and bounded in time: it runs when the lease is lost, often because
   * Redis is unreachable, and a graceful close would wait for Redis (a wake-up in hand is retried).
   */
  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    this.stopping.abort(new Interrupted("scheduler stopping"));
    const closed = w.close(true).then(() => w.disconnect()).catch(() => {});
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2_000).unref())]);
  }

  private async wake(job: BullJob<{ schedule: string }>): Promise<void> {
    // A job scheduler's wake-up is `repeat:<scheduler>:<due millis>` (cron and interval alike;
    // `prevMillis` is set for cron only).
    const due = Number(/:(\d+)$/.exec(job.id ?? "")?.[1] ?? job.opts.prevMillis ?? job.timestamp);
    await this.fire(job.data.schedule, due, false);
  }

  /**
   * Whether the due time at the head of a schedule's queue was queued by a signer (a backfill, or
   * this coordinator); one that was not is dropped from the queue, counted and logged, never fired.
   */
  private async signedDue(name: string, due: string): Promise<boolean> {
    if (!this.signer) return true;
    const k = this.keys.schedule(name);
    let sig: unknown;
    try {
      sig = JSON.parse((await this.redis.hget(`${k}:queue:sig`, due)) ?? "null");
    } catch {
      sig = undefined;
    }
    const problem = /^\d+$/.test(due) ? this.signer.check("due", queuedDue(name, Number(due)), sig) : "not a due time";
    if (!problem) return true;
    await this.redis.multi().lrem(`${k}:queue`, 1, due).hdel(`${k}:queue:sig`, due).hincrby(this.keys.rejected, "FORGED_SCHEDULE", 1).exec();
    this.log(`schedule ${name}: queued due time ${JSON.stringify(due.slice(0, 40))} dropped: ${problem}`);
    return false;
  }

  /** A schedule fires only if it is signed (with a secret) and well formed; a refusal is counted and logged. */
  private async admit(spec: ScheduleSpec): Promise<void> {
    try {
      await admitRecord(this.redis, this.keys, this.signer, "schedule", spec, `schedule ${spec.name}`, () => checkMessage(Schemas.schedule, spec, "schedule record"));
    } catch (err) {
      // Unrecoverable: retrying the wake-up cannot make the record valid.
      const failure = new UnrecoverableError(messageOf(err));
      failure.cause = err;
      throw failure;
    }
  }

  /** Fires one due time of a schedule (from a wake-up, or the head of its queue). */
  private async fire(name: string, due: number, fromQueue: boolean): Promise<Fired | "not fired"> {
    const schedule = await readSchedule(this.redis, this.keys, name);
    if (!schedule) return "not fired";
    if (schedule.state === "paused" && !fromQueue) return "not fired";
    const { spec } = schedule;
    await this.admit(spec);
    // A queued due time whose last run failed was queued to run again (backfill --rerun-failed): under
    // an id of its own, so FIRE creates a new record rather than pointing at the failed one.
    const last = fromQueue ? await latestRunOf(this.redis, this.keys, name, due) : undefined;
    const attempt = last ? last.attempt + (last.state === "failed" ? 1 : 0) : 1;
    let run: RunSubmission;
    try {
      // Resolving the run imports the schedule's module: in a thread of its own, with limits.
      run = await runSubmissionIsolated(
        {
          artifact: { path: spec.artifact, sha256: spec.artifactSha },
          label: spec.module,
          settings: spec.settings,
          run: { id: newRunId(name, due, attempt), at: new Date(due).toISOString(), ...(spec.tz ? { tz: spec.tz } : {}), schedule: { name, due } },
        },
        `schedule ${name}`,
        this.planLimits,
        this.stopping.signal,
      );
    } catch (err) {
      if (err instanceof Interrupted) throw err;
      // The module itself is at fault (it does not load, exits, loops, names an unknown stage):
      // retrying the wake-up would only run it again.
      const failure = new UnrecoverableError(`schedule ${name} due ${new Date(due).toISOString()} not fired: its run cannot be resolved`);
      failure.cause = err;
      throw failure;
    }
    // Read again: resolving took a while, and the schedule may have been paused or removed meanwhile.
    const now = await readSchedule(this.redis, this.keys, name);
    if (!now || (now.state === "paused" && !fromQueue)) return "not fired";
    const event = (outcome: string, note?: string): string => JSON.stringify({ due, outcome, run: outcome === "started" ? run.id : undefined, at: Date.now(), ...(note ? { note } : {}) } satisfies ScheduleEvent);
    const busy = now.running ? `run ${now.running} still running` : undefined;
    const dueSig = this.signer && !fromQueue && spec.overlap === "queue" ? JSON.stringify(this.signer.sign("due", queuedDue(name, due))) : "";
    const fired = await new LeaderWrites(this.redis, this.keys, this.fence()).fire({
      schedule: name, due, runId: run.id, runSpec: JSON.stringify(signRecord(this.signer, "run", run)), submittedAt: run.submittedAt, overlap: spec.overlap,
      startedEvent: event("started"), busyEvent: event(spec.overlap === "queue" ? "queued" : "skipped", busy), fromQueue, dueSig,
    });
    const what: Record<Fired, string> = { "already fired": "already fired", started: `started ${run.id}`, skipped: `skipped (${busy})`, queued: `queued (${busy})`, "still queued": "still busy" };
    if (fired !== "still queued") this.log(`schedule ${name} due ${new Date(due).toISOString()}: ${what[fired]}`);
    return fired;
  }

  /** Records the outcome of schedules' runs that ended, and starts queued due times. */
  async tick(): Promise<void> {
    if (this.ticking || !this.worker) return;
    this.ticking = true;
    try {
      for (const s of await listSchedules(this.redis, this.keys)) {
        const name = s.spec.name;
        try {
          if (s.running) {
            const run = await readRun(this.redis, this.keys, s.running);
            if (run && !RUN_FINISHED.has(run.state)) continue;
            const event: ScheduleEvent = { due: run?.spec.schedule?.due ?? 0, outcome: run?.state ?? "lost", run: s.running, at: Date.now(), ...(run?.error ? { note: run.error } : {}) };
            await new LeaderWrites(this.redis, this.keys, this.fence()).scheduleEnded(name, s.running, JSON.stringify(event));
          }
          const next = (await this.redis.lindex(`${this.keys.schedule(name)}:queue`, 0)) ?? undefined;
          if (next !== undefined && (await this.signedDue(name, next))) await this.fire(name, Number(next), true);
        } catch (err) {
          // One schedule's failure (its module, say) must not keep the others from their turn.
          if (err instanceof Interrupted) throw err;
          this.log(`schedules: schedule ${name}: ${messageWithCauses(err)}`);
        }
      }
    } catch (err) {
      if (!(err instanceof Interrupted)) this.log(`schedules: ${messageWithCauses(err)}`);
    } finally {
      this.ticking = false;
    }
  }
}

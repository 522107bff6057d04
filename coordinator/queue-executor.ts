/**
 * The cluster's TaskExecutor: tasks become BullMQ jobs, and their ends come back through one
 * dispatcher (queue-results.ts), not a waiter per task.
 *
 * A task alone is one queue job (id `<jobId>.<taskId>`, or `…<taskId>.<runId>` for a later run, so
 * adding it again when a coordinator resumes is a no-op). Every queue job is one attempt: retries are
 * the driver's alone (engine/driver.ts, with its backoff, engine/retry.ts, as on `sheaf run`), each
 * a new queue job numbered by the driver, so one count of attempts exists and "attempt N of M" never
 * passes M. The queue keeps only its stalled-job recovery: a job whose worker died (its lock expired)
 * goes back to the queue as the same attempt, resumed from its checkpoint; one whose workers died
 * more than the worker's maxStalledCount times (BullMQ then fails it, whatever its attempts) comes
 * back as a retryable TASK_LOST, and the driver runs it again as its next attempt.
 *
 * Short map tasks go several to a queue job (task-batch.ts), so that each does not pay a queue round
 * trip. This is the cluster's one short-task feedback loop: the run time each worker reports in a
 * map task's result (stats.millis) feeds a moving average here, which sets the batch size (about
 * BATCH_WORK_MS of work per batch); workers keep no average of their own, and prefetch while what
 * they are given is batches (worker/queue-worker.ts). A stage starts with PROBE tasks alone; once
 * one has finished the rest are batched if short, and if none has finished within PROBE_MS they are
 * long enough to go one per job. A batched task's failure comes back as its outcome, and the driver
 * retries it as it does any other.
 */
import { Job, type JobsOptions, type Queue, type QueueEvents } from "bullmq";
import { Keys } from "../core/cluster/keys.js";
import { BATCH, batchQueueId, type BatchResult, type TaskBatch } from "../core/cluster/task-batch.js";
import type { StopSignal, TaskExecutor } from "../core/executor.js";
import { checkResult } from "../core/security/confine.js";
import { checkMessage, ifValid, Schemas } from "../core/security/messages.js";
import { TASK_SIGNATURE_TTL_MS, type Signer } from "../core/security/signing.js";
import type { Task, TaskFailure, TaskOutcome } from "../core/tasks.js";
import { messageOf, SheafError } from "../core/errors.js";
import { Interrupted } from "../core/interrupted.js";
import type { Redis } from "ioredis";
import { QueueResults, type Finish } from "./queue-results.js";
import type { ShareMember } from "./fair-share.js";

/**
 * Completed queue entries kept, queue-wide (older ones are deleted as tasks complete), so a long job
 * holds a bounded number rather than one per task until it finishes. Not none: a coordinator resuming
 * a job re-adds each uncommitted task by id and takes the result of an entry still there instead of
 * running it again; only tasks that completed more than this many completions ago run again.
 */
const KEEP_COMPLETED = 1000;
/** Tasks sent alone at first, to learn how long the stage's tasks take, and how long to wait for one. */
const PROBE = 16;
const PROBE_MS = 250;
/** Map tasks shorter than this (on average, on a thread, as workers report it) are batched… */
const SHORT_TASK_MS = 20;
/** …about this much work to a batch, and at most MAX_BATCH tasks. */
const BATCH_WORK_MS = 50;
const MAX_BATCH = 256;
/** A partial batch waits for more tasks while at least this many queue jobs are out (their ends bring more). */
const KEEP_OUT = 8;

interface Entry {
  task: Task;
  /** The task's own queue id (a batched one's too: its worker stops it by that id). */
  id: string;
  onStart?: () => void;
  resolve: (o: TaskOutcome) => void;
  reject: (e: unknown) => void;
  /** Set once it was added: the queue job that carries it, and whether alone. */
  job?: QueueJob;
  done: boolean;
}

interface QueueJob {
  id: string;
  members: Entry[];
  started: boolean;
  /** Its fair-share priority while it waits in the queue. */
  priority?: number;
}

export class QueueExecutor implements TaskExecutor {
  readonly concurrency = Number.POSITIVE_INFINITY;
  private readonly results: QueueResults;
  /** Tasks handed to run() and not yet added to the queue, in order: those before `head` have gone. */
  private waiting: Entry[] = [];
  private head = 0;
  private flushScheduled = false;
  /** Queue jobs added and not yet ended. */
  private out = 0;
  /** Moving average of map tasks' run times, once one has finished. */
  private taskMs: number | undefined;
  /** Moving averages of run times by task kind: what the fair share charges a queue job. */
  private readonly kindMs = new Map<Task["kind"], number>();
  /** Queue jobs added and not started: a rebase of the fair share moves their priorities. */
  private readonly queued = new Set<QueueJob>();
  private probed = 0;
  private probeTimer: NodeJS.Timeout | undefined;

  /**
   * `stop(bullJobId)` asks the workers to stop a running attempt (published on the events channel);
   * `signer` signs each task message, so workers run only what a coordinator holding the secret sent.
   */
  constructor(
    private readonly queue: Queue,
    events: QueueEvents,
    /** The queue's connection, to read finished entries (queue-results.ts). */
    redis: Redis,
    private readonly stop: (bullJobId: string) => Promise<unknown>,
    private readonly signer?: Signer,
    /** This job's place in the coordinator's fair share of slots (fair-share.ts); none: every task goes at once. */
    private readonly member?: ShareMember,
  ) {
    this.results = new QueueResults(queue, events, redis);
    if (member) member.rebase = (steps) => this.rebase(steps);
  }

  /** Virtual time went back `steps` priorities: so do those of this job's queue jobs still waiting. */
  private rebase(steps: number): void {
    for (const job of this.queued) {
      if (job.priority === undefined) continue;
      const priority = (job.priority = Math.max(1, job.priority - steps));
      // One that started meanwhile refuses the change: nothing to move then.
      void Job.fromId(this.queue, job.id).then((j) => j?.changePriority({ priority })).catch(() => {});
    }
  }

  run(task: Task, signal?: StopSignal, onStart?: () => void): Promise<TaskOutcome> {
    return new Promise<TaskOutcome>((resolve, reject) => {
      const e: Entry = { task, id: Keys.taskJobId(task.job.jobId, task.taskId, task.runId), onStart, resolve, reject, done: false };
      const settle = (o: TaskOutcome) => {
        if (e.done) return;
        e.done = true;
        resolve(o);
      };
      e.resolve = settle;
      if (signal?.aborted) return reject(signal.reason ?? new SheafError("JOB_ABORTED", "aborted"));
      signal?.addEventListener("abort", () => this.abort(e, signal.reason), { once: true });
      this.waiting.push(e);
      if (this.member) this.member.waiting++;
      this.scheduleFlush();
    });
  }

  /**
   * A coordinator that stops or loses its lease leaves the task to the next leader, who awaits the
   * same queue job. Otherwise a waiting task goes, and a running one (locked, so remove fails) is
   * stopped by its worker; a batch goes once all its tasks are stopped.
   */
  private abort(e: Entry, reason: unknown): void {
    if (e.done) return;
    e.done = true;
    e.reject(reason ?? new SheafError("JOB_ABORTED", "aborted"));
    if (!e.job || reason instanceof Interrupted) return; // one still waiting here is skipped by flush()
    const { id, members, started } = e.job;
    if (members.length > 1) this.stop(e.id).catch(() => {});
    if (!members.every((m) => m.done)) return;
    this.results.forget(id);
    this.queued.delete(e.job);
    this.ended(started);
    this.queue.remove(id).then((n) => (n || members.length > 1 ? undefined : this.stop(id)), () => (members.length > 1 ? undefined : this.stop(id))).catch(() => {});
  }

  /** Called by the fair share when a slot may have opened for this job. */
  readonly wake = (): void => this.scheduleFlush();

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** How many short tasks to a queue job: undefined while unknown, 1 when tasks are not short. */
  private batchSize(): number | undefined {
    if (this.taskMs === undefined) return undefined;
    if (this.taskMs >= SHORT_TASK_MS) return 1;
    return Math.max(1, Math.min(MAX_BATCH, Math.floor(BATCH_WORK_MS / Math.max(this.taskMs, 0.1))));
  }

  /**
   * Adds waiting tasks to the queue, in order, alone or in batches (see the file's comment), as many
   * queue jobs as the fair share gives this job room for; the rest wait for a slot to free.
   */
  private flush(): void {
    const room = this.member?.room() ?? Number.POSITIVE_INFINITY;
    if (room <= 0) return;
    const size = this.member?.capped ? 1 : this.batchSize();
    const groups: Entry[][] = [];
    const keep: Entry[] = [];
    let batch: Entry[] = [];
    let i = this.head;
    for (; i < this.waiting.length && groups.length < room; i++) {
      const e = this.waiting[i]!;
      if (e.done) continue;
      if (e.task.kind !== "map" || e.task.backup) groups.push([e]);
      else if (size !== undefined) {
        batch.push(e);
        if (batch.length === size) {
          groups.push(batch);
          batch = [];
        }
      } else if (this.probed < PROBE) {
        // Probing: a few alone now; the rest once one has finished, or PROBE_MS have passed.
        this.probed++;
        groups.push([e]);
      } else keep.push(e);
    }
    // A partial batch waits for more while the queue is busy enough (ends bring more tasks).
    if (batch.length) (groups.length < room && this.out + groups.length < KEEP_OUT ? groups.push(batch) : keep.push(...batch));
    if (keep.length && size === undefined && !this.probeTimer) {
      this.probeTimer = setTimeout(() => {
        this.taskMs ??= PROBE_MS;
        this.flush();
      }, PROBE_MS);
    }
    // Those kept go back before the rest, in order; the array is compacted once half of it is gone.
    this.head = i - keep.length;
    for (let k = 0; k < keep.length; k++) this.waiting[this.head + k] = keep[k]!;
    if (this.head > 1024 && this.head * 2 > this.waiting.length) [this.waiting, this.head] = [this.waiting.slice(this.head), 0];
    if (this.member) this.member.waiting = this.waiting.length - this.head;
    if (groups.length) void this.add(groups);
  }

  private async add(groups: Entry[][]): Promise<void> {
    const jobs = groups.map((members) => this.queueJob(members));
    this.out += jobs.length;
    this.member?.added(jobs.length);
    try {
      // Adds of one turn go to Redis as one bulk add (a stage queues its first tasks at once).
      await this.queue.addBulk(jobs.map(({ name, data, opts }) => ({ name, data, opts })));
    } catch (err) {
      for (const { id, members } of jobs) {
        this.results.forget(id);
        if (members[0]?.job) this.queued.delete(members[0].job);
        this.ended(false);
        for (const m of members) m.done || ((m.done = true), m.reject(err));
      }
    }
  }

  /** One queue job for a task alone or a batch, registered with the dispatcher before it is added. */
  private queueJob(members: Entry[]): { id: string; members: Entry[]; name: string; data: unknown; opts: JobsOptions } {
    const first = members[0]!.task;
    const alone = members.length === 1;
    const expires = Date.now() + TASK_SIGNATURE_TTL_MS;
    const id = alone ? members[0]!.id : batchQueueId(first.job.jobId, members.map((m) => m.task));
    const each = this.kindMs.get(first.kind);
    const fair = this.member?.priority(each === undefined ? undefined : each * members.length);
    const job: QueueJob = { id, members, started: false, priority: fair };
    for (const m of members) m.job = job;
    if (fair !== undefined) this.queued.add(job);
    const onActive = () => {
      if (!job.started) {
        job.started = true;
        this.queued.delete(job);
        this.member?.started(job.priority);
      }
      for (const m of members) if (!m.done) m.onStart?.();
    };
    void this.results.wait(id, onActive).then((f) => {
      this.queued.delete(job);
      this.ended(job.started);
      return alone ? this.settleOne(members[0]!, f) : this.settleBatch(members, f);
    });
    // A batch gives its job's config once (task-batch.ts), and is signed once, as a whole.
    const shared = members.every((m) => m.task.job === first.job);
    let data: Task | TaskBatch;
    if (alone) data = this.signer ? { ...first, sig: this.signer.sign("task", first, expires) } : first;
    else {
      const batch: TaskBatch = shared ? { job: first.job, tasks: members.map(({ task: { job: _job, ...m } }) => m) } : { tasks: members.map((m) => m.task) };
      data = this.signer ? { ...batch, sig: this.signer.sign("batch", batch, expires) } : batch;
    }
    return {
      id,
      members,
      name: alone ? first.kind : BATCH,
      data,
      opts: {
        jobId: id,
        // One attempt: the driver retries (see the file's comment); the worker fails a job for good.
        attempts: 1,
        removeOnComplete: { count: KEEP_COMPLETED },
        // Its turn among other jobs' by weighted fair queueing (fair-share.ts).
        ...priorityOf(fair, first),
      },
    };
  }

  /** A queue job ended: tasks kept back for a fuller batch may go now. */
  private ended(started: boolean): void {
    this.out--;
    this.member?.ended(started);
    if (this.waiting.length > this.head) this.scheduleFlush();
  }

  private settleOne(e: Entry, f: Finish): void {
    if (e.done) return;
    e.resolve(f.ok ? this.checked(e.task, e.id, f.value) : { ok: false, failure: failureOf(e.task, f.reason) });
  }

  private settleBatch(members: Entry[], f: Finish): void {
    const outcomes = f.ok ? (f.value as BatchResult | null)?.outcomes : undefined;
    members.forEach((e, i) => {
      if (e.done) return;
      if (!f.ok) return e.resolve({ ok: false, failure: failureOf(e.task, f.reason) });
      const o = Array.isArray(outcomes) ? (outcomes[i] as TaskOutcome | undefined) : undefined;
      if (o?.ok === true) return e.resolve(this.checked(e.task, e.id, o.result));
      if (o?.ok === false) return e.resolve({ ok: false, failure: failureOf(e.task, JSON.stringify(o.failure)) });
      e.resolve({ ok: false, failure: badResult(e.task, `result of ${e.id}: no outcome in its batch's result`) });
    });
  }

  /** A result names files the job commit will move: it must name them where the task writes. */
  private checked(task: Task, id: string, value: unknown): TaskOutcome {
    try {
      const result = checkMessage(Schemas.result, value, `result of ${id}`);
      if (result.taskId !== task.taskId) throw new SheafError("BAD_RESULT", `result of ${id} names task ${result.taskId}`);
      checkResult(task.job, result);
      // The one measure of how short tasks are (the file's comment): it sets the batch size.
      if (task.kind === "map") this.taskMs = this.taskMs === undefined ? result.stats.millis : 0.8 * this.taskMs + 0.2 * result.stats.millis;
      const ms = this.kindMs.get(task.kind);
      this.kindMs.set(task.kind, ms === undefined ? result.stats.millis : 0.8 * ms + 0.2 * result.stats.millis);
      return { ok: true, result };
    } catch (err) {
      return { ok: false, failure: badResult(task, messageOf(err)) };
    }
  }

  /** Detaches from the shared QueueEvents (the queue and its connections belong to the coordinator). */
  async close(): Promise<void> {
    clearTimeout(this.probeTimer);
    this.member?.leave();
    this.results.close();
  }
}

/** A fair share's priority; else pipeline stages that run at once interleave their tasks by index. */
function priorityOf(fair: number | undefined, first: Task): { priority?: number } {
  if (fair !== undefined) return { priority: fair };
  return first.job.stage ? { priority: Math.min(first.index + 1, 2_097_152) } : {};
}

function badResult(task: Task, message: string): TaskFailure {
  return { code: "BAD_RESULT", message, retryable: true, taskId: task.taskId, attempt: task.attempt };
}

/**
 * Workers fail a BullMQ job with the TaskFailure as JSON; anything else (a job stalled past the
 * workers' limit, whose workers kept dying, or a reason that does not fit the failure's schema) is
 * wrapped as TASK_LOST, retryable. A queue job is one attempt, so the failure is the attempt the
 * driver gave the run, whatever number its message says.
 */
export function failureOf(task: Task, reason: string): TaskFailure {
  try {
    const f = ifValid(Schemas.failure, JSON.parse(reason));
    if (f) return { ...f, attempt: task.attempt };
  } catch {}
  return { code: "TASK_LOST", message: reason, retryable: true, taskId: task.taskId, attempt: task.attempt };
}

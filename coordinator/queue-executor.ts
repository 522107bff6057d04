/**
 * The cluster's TaskExecutor: each task becomes a BullMQ job (id `<jobId>.<taskId>`, so adding it
 * again when a coordinator resumes is a no-op) and is awaited through QueueEvents. BullMQ owns
 * retries here: attempts, exponential backoff with jitter, and stalled-job recovery. A run is
 * given only the attempts the task has left (a backup, one), and the worker numbers its attempts
 * on from the task's (`attempt + attemptsMade`), so "attempt N of M" never passes M.
 */
import { Job as BullJob, type JobsOptions, type Queue, type QueueEvents } from "bullmq";
import { Keys } from "../core/cluster/keys.js";
import type { TaskExecutor } from "../core/executor.js";
import { checkResult } from "../core/security/confine.js";
import { checkMessage, Schemas } from "../core/security/messages.js";
import { TASK_SIGNATURE_TTL_MS, type Signer } from "../core/security/signing.js";
import type { Task, TaskFailure, TaskOutcome, TaskResult } from "../core/tasks.js";
import { messageOf } from "../core/errors.js";
import { Interrupted } from "./interrupted.js";
import type { RetryPolicy } from "./retry.js";

/**
 * Completed queue entries kept, queue-wide (older ones are deleted as tasks complete), so a long job
 * holds a bounded number rather than one per task until it finishes. Not none: the result reaches
 * this coordinator through the `completed` event, but a coordinator resuming a job re-adds each
 * uncommitted task by id and takes the result of an entry still there instead of running it again;
 * only tasks that completed more than this many completions ago run again.
 */
const KEEP_COMPLETED = 1000;

export class QueueExecutor implements TaskExecutor {
  readonly concurrency = Number.POSITIVE_INFINITY;
  private readonly starts = new Map<string, () => void>();
  private readonly adds: { name: string; data: Task; opts: JobsOptions; resolve: (j: BullJob) => void; reject: (e: unknown) => void }[] = [];
  private readonly onActive = ({ jobId }: { jobId: string }) => this.starts.get(jobId)?.();

  /**
   * `stop(bullJobId)` asks the workers to stop a running attempt (published on the events channel);
   * `signer` signs each task message, so workers run only what a coordinator holding the secret sent.
   */
  constructor(
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly retry: RetryPolicy,
    private readonly stop: (bullJobId: string) => Promise<unknown>,
    private readonly signer?: Signer,
  ) {
    events.on("active", this.onActive);
  }

  async run(task: Task, signal?: AbortSignal, onStart?: () => void): Promise<TaskOutcome> {
    const id = Keys.taskJobId(task.job.jobId, task.taskId, task.runId);
    if (onStart) this.starts.set(id, onStart);
    const data = this.signer ? { ...task, sig: this.signer.sign("task", task, Date.now() + TASK_SIGNATURE_TTL_MS) } : task;
    const job = await this.add(task.kind, data, {
      jobId: id,
      attempts: task.backup ? 1 : Math.max(1, this.retry.maxAttempts - task.attempt + 1),
      backoff: { type: "exponential", delay: this.retry.backoffMs, jitter: 0.5 },
      removeOnComplete: { count: KEEP_COMPLETED },
      // Pipeline stages that run at once share the workers: their tasks interleave by index.
      ...(task.job.stage ? { priority: Math.min(task.index + 1, 2_097_152) } : {}),
    });
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => {
        // A coordinator that stops or loses its lease leaves the task to the next leader, who
        // awaits the same queue job. Otherwise a waiting task goes, and a running one (locked,
        // so remove fails) is stopped by its worker.
        if (!(signal!.reason instanceof Interrupted)) job.remove().catch(() => this.stop(id).catch(() => {}));
        reject(signal!.reason ?? new Error("aborted"));
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => {});
    try {
      const result = (await Promise.race([job.waitUntilFinished(this.events), aborted])) as unknown;
      // A result names files the job commit will move: it must name them where the task writes.
      try {
        const checked = checkMessage<TaskResult>(Schemas.result, result, `result of ${id}`);
        if (checked.taskId !== task.taskId) throw new Error(`result of ${id} names task ${checked.taskId}`);
        checkResult(task.job, checked);
        return { ok: true, result: checked };
      } catch (err) {
        return { ok: false, failure: { code: "BAD_RESULT", message: messageOf(err), retryable: true, taskId: task.taskId, attempt: task.attempt } };
      }
    } catch (err) {
      if (signal?.aborted) throw err;
      const latest = await BullJob.fromId(this.queue, id);
      return { ok: false, failure: failureOf(task, (err as Error).message, latest?.attemptsMade ?? 1) };
    } finally {
      this.starts.delete(id);
    }
  }

  /** Adds made in the same turn of the event loop go to Redis as one bulk add (a stage queues all its tasks at once). */
  private add(name: string, data: Task, opts: JobsOptions): Promise<BullJob> {
    return new Promise((resolve, reject) => {
      this.adds.push({ name, data, opts, resolve, reject });
      if (this.adds.length === 1) setImmediate(() => void this.flushAdds());
    });
  }

  private async flushAdds(): Promise<void> {
    const batch = this.adds.splice(0);
    try {
      const jobs = await this.queue.addBulk(batch.map(({ name, data, opts }) => ({ name, data, opts })));
      batch.forEach((b, i) => b.resolve(jobs[i]!));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }

  /** Detaches from the shared QueueEvents (the queue and its connections belong to the coordinator). */
  async close(): Promise<void> {
    this.events.off("active", this.onActive);
  }
}

/**
 * Workers fail a BullMQ job with the TaskFailure as JSON; anything else (a stall past the limit) is
 * wrapped. `made`: the run's failed attempts (BullMQ's attemptsMade), the last one included.
 */
export function failureOf(task: Task, reason: string, made: number): TaskFailure {
  const attempt = task.attempt + Math.max(made, 1) - 1;
  try {
    const f = JSON.parse(reason) as TaskFailure;
    if (typeof f.code === "string" && typeof f.message === "string") return { ...f, attempt: Math.max(f.attempt, attempt) };
  } catch {}
  // A task whose workers kept dying (stalled past BullMQ's limit): the scheduler may run it again.
  return { code: "TASK_LOST", message: reason, retryable: true, taskId: task.taskId, attempt };
}

/**
 * A batch: one BullMQ job carrying several short tasks' messages, so that tiny tasks do not each pay
 * a queue round trip. Each message inside is a whole task message, checked on its own by the worker;
 * the batch carries one signature over all of them (one Ed25519 check per batch, not per task: per
 * message, checking cost a worker 0.1 ms a task); the batch's result is one outcome per message, in order. A batch is never
 * retried by the queue as a whole for a task's failure (the coordinator retries that task); only a
 * worker that dies makes the queue hand the whole batch out again (stalled), and first-wins commits
 * discard what its tasks had already committed.
 */
import type { TaskOutcome } from "../tasks.js";
import { Keys } from "./keys.js";

/** The BullMQ job name of a batch (single tasks are named by their kind). */
export const BATCH = "batch";

export interface TaskBatch {
  /**
   * The task messages, without their `job` when the batch gives it once for all: a job's config is
   * most of a short task's message.
   */
  tasks: unknown[];
  job?: unknown;
  /** With a signer: the coordinator's signature (purpose `batch`) over `{ tasks, job }`. */
  sig?: unknown;
}

/** The batch's task messages: each given the batch's job config unless it carries its own. */
export function batchMessages(batch: TaskBatch): unknown[] {
  return batch.job === undefined ? batch.tasks : batch.tasks.map((m) => (typeof m === "object" && m !== null && !("job" in m) ? { ...m, job: batch.job } : m));
}

export interface BatchResult {
  outcomes: TaskOutcome[];
}

/**
 * The queue id of a batch, from its job and its tasks' own queue ids: derived from what the signed
 * messages inside say, so that a worker refuses signed messages copied under another id (a replay),
 * and a resuming coordinator that forms the same batch finds the same queue job. `+` never occurs
 * in an id otherwise.
 */
export function batchQueueId(jobId: string, tasks: readonly { taskId: string; runId?: string }[]): string {
  const first = tasks[0]!;
  const last = tasks[tasks.length - 1]!;
  return `${Keys.taskJobId(jobId as never, first.taskId, first.runId)}+${tasks.length}+${last.taskId}${last.runId ? `.${last.runId}` : ""}`;
}

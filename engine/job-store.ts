/**
 * Where a running job's committed task results and progress live: in memory for `sheaf run`, in
 * Redis for a cluster (so that a restarted coordinator resumes the job where it stood).
 */
import type { TaskId } from "../core/ids.js";
import type { TaskResult } from "../core/tasks.js";
import type { JobProgress } from "../core/progress.js";

export interface JobStore {
  /** Results committed so far (none for a new job), a batch at a time: a resumed job's are never all in memory at once. */
  load(): AsyncIterable<TaskResult[]>;
  /** Commits a task's result if none is committed yet: true when this one won. */
  commit(result: TaskResult): Promise<boolean>;
  /** The result committed for a task, if any. */
  committed(taskId: TaskId): Promise<TaskResult | undefined>;
  /** The results committed for these tasks (undefined for one without), in their order: one round trip for them all. */
  results(taskIds: readonly TaskId[]): Promise<(TaskResult | undefined)[]>;
  /** Forgets a task's committed result (its output was lost), so that the task can run again. */
  uncommit(taskId: TaskId): Promise<void>;
  /** Records progress, for `status` (best-effort). */
  progress(p: JobProgress): Promise<void>;
  /**
   * Called right before each destructive or publishing file-system effect (`what` names it):
   * rejects with Interrupted when this process may no longer act for the job (a stale leader).
   */
  guard(what: string): Promise<void>;
  /**
   * Whether this job's commit swapped its output in: recorded right after the swap, so a resumed
   * commit knows its output is published even once nothing in the folder names the job (the
   * output's `_SUCCESS` is empty by contract) and a late attempt has left a part in `_temporary`.
   */
  published(): Promise<boolean>;
  markPublished(): Promise<void>;
}

export class MemoryJobStore implements JobStore {
  private readonly done = new Map<TaskId, TaskResult>();

  async *load(): AsyncIterable<TaskResult[]> {
    yield [...this.done.values()];
  }

  async commit(result: TaskResult): Promise<boolean> {
    if (this.done.has(result.taskId)) return false;
    this.done.set(result.taskId, result);
    return true;
  }

  async committed(taskId: TaskId): Promise<TaskResult | undefined> {
    return this.done.get(taskId);
  }

  async results(taskIds: readonly TaskId[]): Promise<(TaskResult | undefined)[]> {
    return taskIds.map((id) => this.done.get(id));
  }

  async uncommit(taskId: TaskId): Promise<void> {
    this.done.delete(taskId);
  }

  async progress(): Promise<void> {}

  /** One process drives the job: it always may. */
  async guard(): Promise<void> {}

  private swapped = false;

  async published(): Promise<boolean> {
    return this.swapped;
  }

  async markPublished(): Promise<void> {
    this.swapped = true;
  }
}

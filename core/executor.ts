/** The seam between scheduling and running: the embedded runner's thread pool and a cluster's queue both implement it. */
import type { Task, TaskOutcome } from "./tasks.js";

export interface TaskExecutor {
  /** How many tasks it runs at once. */
  readonly concurrency: number;
  /**
   * Runs one attempt. Failures resolve as `{ ok: false }`; it rejects only when aborted.
   * `onStart` is called when the attempt starts running (after waiting for a thread or a worker).
   */
  run(task: Task, signal?: AbortSignal, onStart?: () => void): Promise<TaskOutcome>;
  /** Stops the threads or connections; waits for them to end. */
  close(): Promise<void>;
}

/** A piscina pool that runs tasks on worker threads: the TaskExecutor of one machine. */
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import type { TaskExecutor } from "../core/executor.js";
import type { Task, TaskOutcome } from "../core/tasks.js";

export interface PoolOptions {
  /** Worker threads. @defaultValue the number of CPUs */
  threads: number;
  /** V8 old-generation limit per thread, in MiB: one task cannot take the process down. @defaultValue 1024 */
  memoryPerThreadMb?: number;
}

const THREAD_FILE = fileURLToPath(new URL("./thread.js", import.meta.url));

export class ThreadPool implements TaskExecutor {
  private readonly pool: Piscina<Task, TaskOutcome>;

  constructor(options: PoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new TypeError(`threads must be a positive integer, got ${options.threads}`);
    this.pool = new Piscina({
      filename: THREAD_FILE,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: 60_000,
      resourceLimits: { maxOldGenerationSizeMb: options.memoryPerThreadMb ?? 1024 },
    });
    // piscina reports the result of a task aborted while it was finishing as an 'error' event; the
    // attempt was already settled as aborted, so there is nothing left to do with it.
    this.pool.on("error", () => {});
  }

  get concurrency(): number {
    return this.pool.maxThreads;
  }

  async run(task: Task, signal?: AbortSignal): Promise<TaskOutcome> {
    try {
      return await this.pool.run(task, { signal: signal ?? null });
    } catch (err) {
      if (signal?.aborted) throw err;
      // The thread itself died (out of memory, process.exit in user code): this attempt failed, the pool lives on.
      const message = err instanceof Error ? err.message : String(err);
      return { ok: false, failure: { code: "THREAD_DIED", message: `worker thread died: ${message}`, retryable: true, taskId: task.taskId, attempt: task.attempt } };
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

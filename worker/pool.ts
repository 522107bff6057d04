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
  private readonly slots: Semaphore;

  constructor(options: PoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new TypeError(`threads must be a positive integer, got ${options.threads}`);
    this.slots = new Semaphore(options.threads);
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

  /**
   * Runs one attempt on a thread. Attempts wait here for a free thread, not in piscina's queue, so
   * that the task's deadline counts from when it starts; past the deadline its thread is terminated
   * (a synchronous infinite loop included) and the attempt fails as retryable.
   */
  async run(task: Task, signal?: AbortSignal, onStart?: () => void, waitLimitMs?: number): Promise<TaskOutcome> {
    await this.slots.acquire(signal, waitLimitMs);
    onStart?.();
    const deadline = AbortSignal.timeout(task.job.taskTimeoutMs);
    try {
      return await this.pool.run(task, { signal: signal ? AbortSignal.any([signal, deadline]) : deadline });
    } catch (err) {
      if (signal?.aborted) throw err;
      const fail = (code: string, message: string): TaskOutcome => ({ ok: false, failure: { code, message, retryable: true, taskId: task.taskId, attempt: task.attempt } });
      if (deadline.aborted) return fail("TASK_TIMEOUT", `task ran past its deadline of ${task.job.taskTimeoutMs} ms (taskTimeout); its thread was stopped`);
      // The thread itself died (out of memory, process.exit in user code): this attempt failed, the pool lives on.
      return fail("THREAD_DIED", `worker thread died: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.slots.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** What ThreadPool.run throws when no thread came free within the caller's wait limit. */
export class NoFreeThread extends Error {
  readonly code = "NO_FREE_THREAD";
}

/** Counts free threads; waiters are served in arrival order. */
class Semaphore {
  private readonly waiters: (() => void)[] = [];

  constructor(private free: number) {}

  async acquire(signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        signal?.removeEventListener("abort", onAbort);
        clearTimeout(timer);
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      const wake = () => {
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(signal!.reason);
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        done();
        reject(new NoFreeThread(`no thread came free within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}

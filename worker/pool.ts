/** A piscina pool that runs tasks on worker threads: the TaskExecutor of one machine. */
import { fileURLToPath } from "node:url";
import { BroadcastChannel } from "node:worker_threads";
import { Piscina } from "piscina";
import { abortSignalOf, type StopSignal, type TaskExecutor } from "../core/executor.js";
import { messageOf, SheafError } from "../core/errors.js";
import { jobThreadEnv } from "../core/security/credentials.js";
import type { LogFormat } from "../core/log.js";
import type { AttemptRun, Task, TaskOutcome, ThreadOutcome } from "../core/tasks.js";
import type { Prepare } from "./thread.js";

export interface PoolOptions {
  /** Worker threads. @defaultValue the number of CPUs */
  threads: number;
  /**
   * Threads started at once; the others start when tasks wait for them (a thread costs about
   * 0.1 s of a core to start, which a job of one small task never pays back). @defaultValue threads
   */
  startThreads?: number;
  /** V8 old-generation limit per thread, in MiB: one task cannot take the process down. @defaultValue 1024 */
  memoryPerThreadMb?: number;
  /** Where the pool reports what no task can: a thread that failed between tasks. @defaultValue stderr */
  log?: (message: string) => void;
  /**
   * Capture each attempt's console output: prefixed on stderr in this format, its tail handed to
   * `onAttempt` (worker/console-capture.ts). @defaultValue off: a job's console is left as it is
   */
  captureConsole?: LogFormat;
  /** Told of each attempt a thread ran to its end: when, on which thread, what it printed. */
  onAttempt?: (task: Task, run: AttemptRun, outcome: TaskOutcome) => void;
}

/** How long after this pool stopped a thread an error from piscina is taken for that thread's late result. */
const LATE_RESULT_MS = 5_000;

// A CommonJS entry: see thread-entry.cts for why piscina must not require() thread.js itself.
const THREAD_FILE = fileURLToPath(new URL("./thread-entry.cjs", import.meta.url));

/** Names each pool's channel to its threads apart from another pool's in this process. */
let pools = 0;

export class ThreadPool implements TaskExecutor {
  private readonly pool: Piscina<Task, ThreadOutcome>;
  private readonly onAttempt: PoolOptions["onAttempt"];
  private readonly slots: Semaphore;
  private readonly log: (message: string) => void;
  /** Attempts on a thread now: named in an error piscina cannot tie to one of them. */
  private readonly running = new Set<Task>();
  /** When this pool last stopped a running attempt (its thread terminated). */
  private lastStopAt = -Infinity;
  /** To every thread of this pool at once: see prepare(). */
  private readonly channel: BroadcastChannel;
  private closed = false;

  constructor(options: PoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new SheafError("BAD_OPTION", `threads must be a positive integer, got ${options.threads}`);
    const start = Math.min(options.threads, Math.max(1, options.startThreads ?? options.threads));
    this.slots = new Semaphore(start, options.threads - start);
    const warmChannel = `sheaf-pool-${process.pid}-${++pools}`;
    this.channel = new BroadcastChannel(warmChannel);
    this.channel.unref();
    this.pool = new Piscina({
      filename: THREAD_FILE,
      minThreads: start, // piscina starts another thread when it is handed a task and none is free
      maxThreads: options.threads,
      idleTimeout: 60_000,
      resourceLimits: { maxOldGenerationSizeMb: options.memoryPerThreadMb ?? 1024 },
      // Job code runs here: its own copy of the environment, without the cluster's credentials.
      // (A thread's process.argv is its own too: the node binary and piscina's entry, not ours.)
      env: options.captureConsole ? { ...jobThreadEnv(), SHEAF_CAPTURE_CONSOLE: options.captureConsole } : jobThreadEnv(),
      workerData: { warmChannel },
      // An idle thread waits for its next task without blocking its event loop (piscina's default,
      // "sync", blocks it in Atomics.wait): so it loads the task code and the job's formats while
      // it waits for the first task (thread-entry.cts), instead of only once that task has come.
      atomics: "async",
    });
    this.log = options.log ?? ((m) => process.stderr.write(`sheaf: thread pool: ${m}\n`));
    this.pool.on("error", (err: unknown) => this.onPoolError(err));
    this.onAttempt = options.onAttempt;
  }

  /**
   * piscina emits 'error' for what it cannot hand to a task: a thread that died or threw between
   * tasks, a message it did not expect. Those are logged. One is expected: the result of an attempt
   * this pool stopped while it was finishing (that attempt was already settled as stopped), so an
   * error just after a stop is not logged. piscina gives these errors no code to tell them apart
   * by, hence the timing.
   */
  private onPoolError(err: unknown): void {
    const code = (err as { code?: unknown } | null)?.code;
    if (code !== "ERR_WORKER_OUT_OF_MEMORY" && Date.now() - this.lastStopAt < LATE_RESULT_MS) return;
    const tasks = [...this.running].map((t) => `${t.job.name}/${t.taskId} attempt ${t.attempt}`);
    this.log(
      `a worker thread failed outside any task${typeof code === "string" ? ` (${code})` : ""}: ${messageOf(err)}; ` +
        `threads ${this.pool.threads.length}/${this.pool.maxThreads}, running ${tasks.length ? tasks.join(", ") : "nothing"}`,
    );
  }

  get concurrency(): number {
    return this.pool.maxThreads;
  }

  /**
   * Runs one attempt on a thread. Attempts wait here for a free thread, not in piscina's queue, so
   * that the task's deadline counts from when it starts; past the deadline its thread is terminated
   * (a synchronous infinite loop included) and the attempt fails as retryable.
   */
  async run(task: Task, stop?: StopSignal, onStart?: () => void, waitLimitMs?: number): Promise<TaskOutcome> {
    const signal = stop && abortSignalOf(stop);
    await this.slots.acquire(signal, waitLimitMs);
    onStart?.();
    const deadline = AbortSignal.timeout(task.job.taskTimeoutMs);
    this.running.add(task);
    try {
      return this.taken(task, await this.pool.run(task, { signal: signal ? AbortSignal.any([signal, deadline]) : deadline }));
    } catch (err) {
      if (signal?.aborted || deadline.aborted) this.lastStopAt = Date.now();
      if (signal?.aborted) throw err;
      const fail = (code: string, message: string): TaskOutcome => ({ ok: false, failure: { code, message, retryable: true, taskId: task.taskId, attempt: task.attempt } });
      if (deadline.aborted) return fail("TASK_TIMEOUT", `task ran past its deadline of ${task.job.taskTimeoutMs} ms (taskTimeout); its thread was stopped`);
      // The thread itself died (out of memory, process.exit in user code): this attempt failed, the pool lives on.
      return fail("THREAD_DIED", `worker thread died: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.running.delete(task);
      this.slots.release();
    }
  }

  /**
   * Runs several short tasks (of one job) on one thread, in one message each way, so that each does
   * not pay a thread round trip. Their deadline is one task's: they are short by construction. Resolves
   * with one outcome per task, or undefined when the thread failed them all (a deadline, a dead
   * thread): the caller then runs them alone, so that only the culprit fails.
   */
  async runBatch(tasks: Task[], signal: AbortSignal, onStart?: () => void): Promise<TaskOutcome[] | undefined> {
    await this.slots.acquire(signal);
    onStart?.();
    const deadline = AbortSignal.timeout(tasks[0]!.job.taskTimeoutMs);
    for (const t of tasks) this.running.add(t);
    try {
      const outcomes = (await this.pool.run(tasks as never, { name: "runTasks", signal: AbortSignal.any([signal, deadline]) })) as unknown as ThreadOutcome[];
      return outcomes.map((o, i) => this.taken(tasks[i]!, o));
    } catch (err) {
      if (signal.aborted || deadline.aborted) this.lastStopAt = Date.now();
      if (signal.aborted) throw err;
      return undefined;
    } finally {
      for (const t of tasks) this.running.delete(t);
      this.slots.release();
    }
  }

  /** The outcome without the thread's account of the attempt, which goes to onAttempt. */
  private taken(task: Task, outcome: ThreadOutcome): TaskOutcome {
    const { run, ...rest } = outcome;
    if (run && this.onAttempt) {
      try {
        this.onAttempt(task, run, rest as TaskOutcome);
      } catch (err) {
        this.log(`recording attempt ${task.taskId}#${task.attempt} failed: ${messageOf(err)}`);
      }
    }
    return rest as TaskOutcome;
  }

  /**
   * Tells the threads a job is coming: each imports its artifact (`sha256` in `workdir`, verified as
   * for a task) and its formats' modules (the Parquet wasm module, apache-arrow, csv-parse) while
   * this thread plans it, instead of at its first task. A thread not yet started misses the word
   * and loads them at its first task, as before. `parquetWasm`, the Parquet wasm module being
   * compiled on this thread (core/formats/parquet-wasm.ts), follows in a second word once compiled
   * (null if it failed): the threads wait for it rather than compile it each.
   */
  prepare(workdir: string, sha256: string, label: string, parquetWasm?: Promise<WebAssembly.Module>): void {
    const post = (word: Prepare) => !this.closed && this.channel.postMessage(word);
    post({ workdir, artifact: sha256, label, ...(parquetWasm ? { parquetWasm: "coming" } : {}) });
    parquetWasm?.then((module) => post({ parquetWasm: module }), () => post({ parquetWasm: null }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.channel.close();
    await this.pool.destroy();
  }
}

/** What ThreadPool.run throws when no thread came free within the caller's wait limit. */
export class NoFreeThread extends Error {
  readonly code = "NO_FREE_THREAD";
}

/**
 * A task that waited this long for a thread while threads were left unstarted starts one. Shorter
 * tasks (a small job's reduces, a few ms each) are served by the threads already running, which is
 * sooner than a new thread could boot.
 */
const START_THREAD_AFTER_MS = 20;

/**
 * Counts free threads; waiters are served in arrival order. `unstarted` slots are added one at a
 * time while a waiter has waited START_THREAD_AFTER_MS (piscina starts their threads on demand).
 */
class Semaphore {
  private readonly waiters: (() => void)[] = [];
  private growing: NodeJS.Timeout | undefined;

  constructor(
    private free: number,
    private unstarted = 0,
  ) {}

  private growLater(): void {
    if (this.unstarted === 0 || this.growing) return;
    this.growing = setTimeout(() => {
      this.growing = undefined;
      if (this.waiters.length === 0) return;
      this.unstarted--;
      this.release();
      this.growLater();
    }, START_THREAD_AFTER_MS);
    this.growing.unref();
  }

  async acquire(signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    if (this.free > 0) {
      this.free--;
      return;
    }
    this.growLater();
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

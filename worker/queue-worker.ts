/**
 * `sheaf worker`: a BullMQ consumer feeding this machine's thread pool. Compute happens on the
 * pool's threads, so this process's main thread stays free to renew task locks; a worker that
 * dies stops renewing, and its tasks are handed to others once their locks expire.
 */
import { UnrecoverableError, WaitingError, Worker, type Job as BullJob } from "bullmq";
import type { Redis } from "ioredis";
import { recordFailedAttempt } from "../core/cluster/jobs.js";
import { Keys, TASK_QUEUE } from "../core/cluster/keys.js";
import { connectRedis, type RedisLog } from "../core/cluster/redis.js";
import { AllowedRoots } from "../core/security/roots.js";
import { OPEN_CLUSTER_WARNING, signerFromEnv, type Signer } from "../core/security/signing.js";
import type { Task, TaskResult } from "../core/tasks.js";
import { TaskAdmission } from "./admission.js";
import { countRejection } from "../core/security/rejections.js";
import { NoFreeThread, ThreadPool } from "./pool.js";

/** Below this average task time, a worker prefetches PREFETCH_PER_THREAD tasks per thread. */
const SHORT_TASK_MS = 100;
const PREFETCH_PER_THREAD = 8;
/** How long a prefetched task may wait for a thread before it is handed back to the queue. */
const PARK_LIMIT_MS = 250;

export interface QueueWorkerOptions {
  redisUrl: string;
  /** @defaultValue "sheaf" */
  prefix?: string;
  /** Tasks run at once, one per thread. */
  threads: number;
  /** Task lock length: a dead worker's tasks are retried within about 1.5× this long. @defaultValue 5000 */
  lockMs?: number;
  log?: RedisLog;
  /** Verifies task messages. @defaultValue from `SHEAF_SECRET`; none leaves the cluster open (with a warning) */
  signer?: Signer;
  /** Where tasks may read and write. @defaultValue `SHEAF_ALLOW_ROOTS`, else anywhere */
  roots?: AllowedRoots;
}

export class QueueWorker {
  private readonly keys: Keys;
  private readonly log: RedisLog;
  private redis!: Redis;
  private sub!: Redis;
  private pool!: ThreadPool;
  private worker!: Worker<Task, TaskResult>;
  private admission!: TaskAdmission;
  /** Running attempts by job id, so a cancelled job's attempts can be stopped, and by BullMQ id, to stop one. */
  private readonly running = new Map<string, Set<AbortController>>();
  private readonly byQueueId = new Map<string, AbortController>();
  private threads = 1;
  /** Jobs cancelled (or failed) since this worker started. */
  private readonly ended = new Set<string>();
  /** When each running attempt got its thread. */
  private readonly startedAt = new Map<AbortController, number>();
  private prefetchTimer: NodeJS.Timeout | undefined;
  /** Moving average of how long tasks run on a thread, to size the prefetch. */
  private taskMs = Number.POSITIVE_INFINITY;

  constructor(private readonly options: QueueWorkerOptions) {
    this.keys = new Keys(options.prefix ?? "sheaf");
    this.log = options.log ?? ((m) => process.stderr.write(`worker: ${m}\n`));
  }

  async start(): Promise<void> {
    const { redisUrl, threads } = this.options;
    const signer = "signer" in this.options ? this.options.signer : signerFromEnv();
    if (!signer) this.log(OPEN_CLUSTER_WARNING);
    this.redis = connectRedis(redisUrl, "worker", this.log);
    this.admission = new TaskAdmission(this.redis, this.keys, signer, this.options.roots ?? AllowedRoots.from(), this.log);
    this.sub = connectRedis(redisUrl, "worker-events");
    await this.sub.subscribe(this.keys.events);
    this.sub.on("message", (_channel: string, message: string) => {
      const [kind, id] = message.split(" ");
      if ((kind === "cancel" || kind === "finished") && id) this.admission.ended(id);
      if (kind === "cancel" && id) {
        this.ended.add(id);
        for (const c of this.running.get(id) ?? []) c.abort();
      }
      if (kind === "stop" && id) this.byQueueId.get(id)?.abort(); // another attempt of the task committed
    });
    this.pool = new ThreadPool({ threads, log: (m) => this.log(`thread pool: ${m}`) });
    const lockMs = this.options.lockMs ?? 5_000;
    this.worker = new Worker<Task, TaskResult>(TASK_QUEUE, (job, token) => this.process(job, token), {
      connection: this.redis,
      prefix: this.keys.prefix,
      concurrency: threads,
      lockDuration: lockMs,
      stalledInterval: Math.max(1000, Math.floor(lockMs / 2)),
      maxStalledCount: 2,
    });
    this.worker.on("error", (err) => this.log(`queue error: ${err.message}`));
    this.threads = threads;
    await this.worker.waitUntilReady();
    this.prefetchTimer = setInterval(() => this.adaptPrefetch(), SHORT_TASK_MS).unref();
    this.log(`ready: ${threads} threads, queue ${this.keys.prefix}:${TASK_QUEUE}`);
  }

  private async process(job: BullJob<Task, TaskResult>, token?: string): Promise<TaskResult> {
    // Nothing the message names is read, written or loaded before it passes admission.
    let admitted: Task;
    try {
      admitted = await this.admission.admit(job.id!, job.data);
    } catch (err) {
      throw new UnrecoverableError(JSON.stringify({ code: (err as { code?: string }).code ?? "REJECTED", message: (err as Error).message, retryable: false, taskId: "rejected", attempt: 0 }));
    }
    // The queue's own retries number on from the attempt the coordinator gave the run; a restart
    // after a stall (its worker died) is the same attempt, resumed. Folder names add a random part.
    const task: Task = { ...admitted, attempt: admitted.attempt + job.attemptsMade };
    const jobId = task.job.jobId;
    // Cancelled and finished jobs are announced on the events channel; their queued tasks are removed
    // by the coordinator, and one taken in between stops here.
    if (this.ended.has(jobId)) throw new UnrecoverableError(JSON.stringify({ code: "JOB_CANCELLED", message: "job cancelled", retryable: false, taskId: task.taskId, attempt: task.attempt }));
    const abort = new AbortController();
    let set = this.running.get(jobId);
    if (!set) this.running.set(jobId, (set = new Set()));
    set.add(abort);
    this.byQueueId.set(job.id!, abort);
    let started = 0;
    try {
      // A prefetched task waits here only briefly: if the threads stay busy (a straggler), it goes
      // back to the queue for an idle worker, rather than sit parked behind them.
      const outcome = await this.pool.run(task, abort.signal, () => this.startedAt.set(abort, (started = Date.now())), PARK_LIMIT_MS);
      this.adaptPrefetch(Date.now() - started);
      if (outcome.ok) return outcome.result;
      const f = outcome.failure;
      if (f.code === "BAD_ARTIFACT") {
        this.log(`rejected task ${job.id} (BAD_ARTIFACT): ${f.message}`);
        await countRejection(this.redis, this.keys, f.code).catch(() => {});
      }
      await recordFailedAttempt(this.redis, this.keys, jobId, `${f.taskId} attempt ${f.attempt}: ${f.message}`).catch(() => {});
      const reason = JSON.stringify(f);
      // A lost input (f.producer) is for the coordinator to repair; retrying here cannot help.
      throw f.retryable && !f.producer ? new Error(reason) : new UnrecoverableError(reason);
    } catch (err) {
      if (err instanceof NoFreeThread) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (abort.signal.aborted) throw new UnrecoverableError(JSON.stringify({ code: "STOPPED", message: "attempt stopped: job cancelled or task committed by another attempt", retryable: false, taskId: task.taskId, attempt: task.attempt }));
      throw err;
    } finally {
      this.startedAt.delete(abort);
      this.byQueueId.delete(job.id!);
      set.delete(abort);
      if (set.size === 0) this.running.delete(jobId);
    }
  }

  /**
   * Short tasks are dominated by queue round trips, so the worker then takes several per thread and
   * overlaps the trips with the work; long tasks are taken one per thread, so that a task never
   * waits here behind another while a different worker sits idle.
   */
  private adaptPrefetch(ms?: number): void {
    if (ms !== undefined) this.taskMs = Number.isFinite(this.taskMs) ? 0.8 * this.taskMs + 0.2 * ms : ms;
    // A task running long now (a straggler) counts before it finishes.
    const now = Date.now();
    const longRunning = [...this.startedAt.values()].some((t) => now - t > SHORT_TASK_MS);
    const want = this.taskMs < SHORT_TASK_MS && !longRunning ? this.threads * PREFETCH_PER_THREAD : this.threads;
    if (this.worker.concurrency !== want) this.worker.concurrency = want;
  }

  /** Stops taking tasks, lets running ones finish, then closes the pool and connections. */
  async stop(): Promise<void> {
    clearInterval(this.prefetchTimer);
    await this.worker?.close();
    await this.pool?.close();
    this.sub?.disconnect();
    this.redis?.disconnect();
  }
}

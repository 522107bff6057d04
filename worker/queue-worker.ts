/**
 * `sheaf worker`: a BullMQ consumer feeding this machine's thread pool. Compute happens on the
 * pool's threads, so this process's main thread stays free to renew task locks; a worker that
 * dies stops renewing, and its tasks are handed to others once their locks expire (BullMQ's stalled
 * check puts them back in the queue: the same attempt, resumed from its checkpoint).
 *
 * A queue job is one attempt of its tasks, numbered by the coordinator's driver, which alone retries
 * (coordinator/queue-executor.ts): a failed task fails its queue job for good (UnrecoverableError),
 * and the attempt a task runs as is the one its message names.
 *
 * How many queue jobs the worker takes at once follows the coordinator's one measure of how short
 * tasks are (see prefetch() below); the worker measures nothing itself.
 */
import { UnrecoverableError, WaitingError, Worker, type Job as BullJob } from "bullmq";
import type { Redis } from "ioredis";
import { hostname } from "node:os";
import { SERVICE_DEFAULTS } from "../core/defaults.js";
import { recordFailedAttempt } from "../core/cluster/jobs.js";
import { Keys, TASK_QUEUE } from "../core/cluster/keys.js";
import { connectRedis, logQueueErrors } from "../core/cluster/redis.js";
import { createLogger, type LogFormat, type Logger } from "../core/log.js";
import { AllowedRoots } from "../core/security/roots.js";
import { KeySigner, OPEN_CLUSTER_WARNING, signerFromEnv, type Signer } from "../core/security/signing.js";
import type { Task, TaskFailure, TaskOutcome, TaskResult } from "../core/tasks.js";
import { BATCH, type BatchResult } from "../core/cluster/task-batch.js";
import { TaskAdmission } from "./admission.js";
import { countRejection } from "../core/security/rejections.js";
import { NoFreeThread, ThreadPool } from "./pool.js";
import { evalshaOnly } from "./evalsha-only.js";
import { decodeEvent } from "../core/cluster/state/events.js";
import { plural } from "../core/show.js";
import { AttemptRecorder } from "./attempt-recorder.js";
import { Heartbeat } from "./heartbeat.js";
import { fetchReduceInputs, startShuffle, type Fetched, type LocalShuffleService, type ShuffleOptions } from "./local-shuffle.js";
import { storeJobEnded, storeTaskOnThisHost, sweepStoreScratch } from "./store-workdir.js";
import { toFailure } from "../core/task-failure.js";
import { SheafError } from "../core/errors.js";

/** Queue jobs taken per thread while the coordinator sends batches (short tasks). */
const PREFETCH_PER_THREAD = 8;
/** How long a prefetched task may wait for a thread before it is handed back to the queue. */
const PARK_LIMIT_MS = 250;
/** A task lock's length unless `--lock` says otherwise (see QueueWorkerOptions.lockMs). */

export interface QueueWorkerOptions {
  redisUrl: string;
  /** @defaultValue "sheaf" */
  prefix?: string;
  /** Tasks run at once, one per thread. */
  threads: number;
  /**
   * Task lock length: a dead worker's tasks are retried within about 1.5× this long. Short, as its
   * renewal costs one Redis call per running task every half of it: at 5 s the wait for a dead
   * worker's tasks was most of the cost of losing it mid-job (the fault-cost target, design §7).
   * @defaultValue 3000
   */
  lockMs?: number;
  /** Where log lines go. @defaultValue stderr, in `logFormat` */
  log?: Logger;
  /** The lines' format on stderr when no `log` is given (the job's own output follows it too). @defaultValue "text" */
  logFormat?: LogFormat;
  /** Verifies task messages. @defaultValue from `SHEAF_SECRET`; none leaves the cluster open (with a warning) */
  signer?: Signer;
  /** Where tasks may read and write. @defaultValue `SHEAF_ALLOW_ROOTS`, else anywhere */
  roots?: AllowedRoots;
  /** Keeps map outputs on this machine and serves them to reducers (see ShuffleOptions). @defaultValue a shared workdir */
  shuffle?: ShuffleOptions;
}

export class QueueWorker {
  private readonly keys: Keys;
  private readonly log: Logger;
  private redis!: Redis;
  private sub!: Redis;
  private pool!: ThreadPool;
  private worker!: Worker;
  private admission!: TaskAdmission;
  /** Running attempts by job id, so a cancelled job's attempts can be stopped, and by BullMQ id, to stop one. */
  private readonly running = new Map<string, Set<AbortController>>();
  private readonly byQueueId = new Map<string, AbortController>();
  private threads = 1;
  /** Jobs cancelled (or failed) since this worker started. */
  private readonly ended = new Set<string>();
  /** The network shuffle: the map outputs this worker serves, and the key its fetches are signed with. */
  private shuffle?: LocalShuffleService;
  /** This worker's heartbeat in Redis (the attempts it runs listed), and the record of each attempt it ran. */
  private heartbeat?: Heartbeat;
  private recorder?: AttemptRecorder;
  /** The thread each attempt ran on, as the pool tells it (ranHere). */
  private readonly threadOf = new WeakMap<Task, number>();
  private readonly host = hostname();

  constructor(private readonly options: QueueWorkerOptions) {
    this.keys = new Keys(options.prefix ?? "sheaf");
    this.log = options.log ?? createLogger("worker", options.logFormat);
  }

  async start(): Promise<void> {
    const { redisUrl, threads } = this.options;
    // Before anything else: a worker that cannot authenticate what it would serve refuses to start.
    this.shuffle = await startShuffle(this.options.shuffle, this.log);
    const swept = sweepStoreScratch();
    if (swept) this.log(`removed ${swept} scratch folder(s) of store-workdir jobs older than a day`);
    const signer = "signer" in this.options ? this.options.signer : signerFromEnv();
    if (!signer) this.log(OPEN_CLUSTER_WARNING);
    if (signer instanceof KeySigner && (signer.canSign("job") || signer.canSign("task"))) {
      this.log(`warning: the SHEAF_KEYS folder ${signer.folder} holds a private key; a worker needs only coordinator.pub (job code here can read what this worker can)`);
    }
    evalshaOnly();
    this.redis = connectRedis(redisUrl, "worker", this.log);
    this.admission = new TaskAdmission(this.redis, this.keys, signer, this.options.roots ?? AllowedRoots.from(), this.log);
    this.sub = connectRedis(redisUrl, "worker-events");
    await this.sub.subscribe(this.keys.events);
    this.sub.on("message", (_channel: string, message: string) => {
      const event = decodeEvent(message);
      if (!event) return;
      const { kind, id } = event;
      if (kind === "cancel" || kind === "finished") {
        this.admission.ended(id);
        this.shuffle?.jobEnded(id);
        storeJobEnded(id);
      }
      if (kind === "cancel") {
        this.ended.add(id);
        for (const c of this.running.get(id) ?? []) c.abort();
      }
      if (kind === "stop") this.byQueueId.get(id)?.abort(); // another attempt of the task committed
    });
    this.heartbeat = new Heartbeat(this.redis, this.keys, threads, this.log);
    const recorder = (this.recorder = new AttemptRecorder(this.redis, this.keys, this.heartbeat.id, this.log));
    this.pool = new ThreadPool({
      threads,
      log: (m) => this.log(`thread pool: ${m}`),
      captureConsole: this.options.logFormat ?? "text",
      onAttempt: (task, run, outcome) => {
        this.threadOf.set(task, run.threadId);
        recorder.note(task, run, outcome);
      },
    });
    const lockMs = this.options.lockMs ?? SERVICE_DEFAULTS.lockMs;
    this.worker = new Worker(TASK_QUEUE, (job, token) => this.process(job, token), {
      connection: this.redis,
      prefix: this.keys.prefix,
      concurrency: threads,
      lockDuration: lockMs,
      stalledInterval: Math.max(1000, Math.floor(lockMs / 2)),
      maxStalledCount: 2,
      // A refused or failed fetch (Redis restarted and its scripts not loaded again yet, or held
      // BUSY) is tried again after a second, not BullMQ's 15 s.
      runRetryDelay: 1000,
    });
    logQueueErrors(this.worker, "queue error", this.log);
    this.threads = threads;
    await this.worker.waitUntilReady();
    await this.heartbeat.start();
    this.log(`ready: ${plural(threads, "thread")}, queue ${this.keys.prefix}:${TASK_QUEUE}`);
  }

  private process(job: BullJob, token?: string): Promise<TaskResult | BatchResult> {
    this.prefetch(job.name === BATCH);
    return job.name === BATCH ? this.processBatch(job) : this.processOne(job as BullJob<Task, TaskResult>, token);
  }

  private async processOne(job: BullJob<Task, TaskResult>, token?: string): Promise<TaskResult> {
    // Nothing the message names is read, written or loaded before it passes admission.
    let admitted: Task;
    try {
      admitted = await this.admission.admit(job.id!, job.data);
    } catch (err) {
      throw rejected(err);
    }
    // The attempt is the one the coordinator gave the run; a restart after a stall (its worker died)
    // is the same attempt, resumed. Folder names add a random part.
    const task = admitted;
    try {
      // A prefetched task waits for a thread only briefly: if the threads stay busy (a straggler), it
      // goes back to the queue for an idle worker, rather than sit parked behind them.
      const outcome = await this.runTask(job.id!, task, PARK_LIMIT_MS);
      if (outcome.ok) return outcome.result;
      // For good, whatever the job's options: the coordinator's driver decides whether to retry.
      throw new UnrecoverableError(JSON.stringify(outcome.failure));
    } catch (err) {
      if (err instanceof NoFreeThread) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      throw err;
    }
  }

  /**
   * A batch of short tasks (task-batch.ts): each message admitted, the tasks run on the pool at once
   * (it has as many threads as it has), and one outcome per task returned; a task's failure is its
   * outcome, for the coordinator to retry, so the batch itself completes.
   */
  private async processBatch(job: BullJob): Promise<BatchResult> {
    let tasks: Task[];
    try {
      tasks = await this.admission.admitBatch(job.id!, job.data);
    } catch (err) {
      throw rejected(err);
    }
    // One run of several tasks per thread, in order, so that every thread works on the batch.
    const size = Math.ceil(tasks.length / this.threads);
    const chunks = Array.from({ length: Math.ceil(tasks.length / size) }, (_, i) => tasks.slice(i * size, (i + 1) * size));
    const outcomes = await Promise.all(chunks.map((c) => this.runChunk(c)));
    return { outcomes: outcomes.flat() };
  }

  /**
   * Several tasks of a batch on one thread (pool.runBatch). A job cancel stops them all; a stop for
   * one of them (another attempt committed) is not worth stopping the others for: they are short.
   * If the thread fails them (a deadline, a dead thread), they run again alone, so only the culprit fails.
   */
  private async runChunk(tasks: Task[]): Promise<TaskOutcome[]> {
    const jobId = tasks[0]!.job.jobId;
    const stopped = (code: string, message: string) => tasks.map((t): TaskOutcome => ({ ok: false, failure: { code, message, retryable: false, taskId: t.taskId, attempt: t.attempt } }));
    if (this.ended.has(jobId)) return stopped("JOB_CANCELLED", "job cancelled");
    const abort = new AbortController();
    let set = this.running.get(jobId);
    if (!set) this.running.set(jobId, (set = new Set()));
    set.add(abort);
    let outcomes: TaskOutcome[] | undefined;
    const names = tasks.map(attemptName);
    for (const n of names) this.heartbeat?.add(n);
    const began = Date.now();
    try {
      let ready: Task[];
      try {
        ready = await Promise.all(tasks.map((t) => this.prepare(t)));
      } catch (err) {
        return tasks.map((t) => ({ ok: false, failure: toFailure(err, t) }));
      }
      outcomes = (await this.pool.runBatch(ready, abort.signal))?.map((o, i) => this.ranHere(ready[i]!, o));
    } catch (err) {
      if (abort.signal.aborted) return stopped("STOPPED", "attempt stopped: job cancelled");
      throw err;
    } finally {
      for (const n of names) this.heartbeat?.delete(n);
      set.delete(abort);
      if (set.size === 0) this.running.delete(jobId);
    }
    if (outcomes) {
      await this.recorder?.flush();
      const ok = outcomes.filter((o) => o.ok).length;
      this.log(`ran ${plural(tasks.length, `${tasks[0]!.kind} task`)} (${tasks[0]!.taskId} … ${tasks.at(-1)!.taskId}) in ${Date.now() - began} ms: ${ok} succeeded`, { job: jobId });
    }
    if (!outcomes) return Promise.all(tasks.map((t) => this.runTask(Keys.taskJobId(t.job.jobId, t.taskId, t.runId), t)));
    await Promise.all(outcomes.map((o, i) => (o.ok ? undefined : this.failed(jobId, Keys.taskJobId(tasks[i]!.job.jobId, tasks[i]!.taskId, tasks[i]!.runId), o.failure))));
    return outcomes;
  }

  /**
   * A task as its thread gets it: on this host (for a job whose workdir is an object store), and
   * told where to keep a map output that other workers fetch.
   */
  private async prepare(task: Task): Promise<Task> {
    const here = await storeTaskOnThisHost(task);
    if (this.shuffle) return this.shuffle.forThread(here);
    if (here !== task && here.kind === "map" && here.job.partitions > 0) {
      throw new SheafError("BAD_OPTION", `job ${here.job.name}: its workdir ${here.job.workdir} is an object store, so map outputs stay on the workers' disks and are served to reducers; serving them needs SHEAF_SECRET, which this worker lacks`);
    }
    return here;
  }

  /** The outcome naming where it ran (host, this worker's heartbeat id, the thread): the leader keeps it in the job's timeline. */
  private ranHere(task: Task, outcome: TaskOutcome): TaskOutcome {
    const thread = this.threadOf.get(task);
    const ranOn = { host: this.host, worker: this.heartbeat?.id ?? this.host, ...(thread !== undefined ? { thread } : {}) };
    return outcome.ok ? { ok: true, result: { ...outcome.result, ranOn } } : { ok: false, failure: { ...outcome.failure, ranOn } };
  }

  /** A failed attempt is counted in its job's record (and a bad artifact as a rejection). */
  private async failed(jobId: Task["job"]["jobId"], queueId: string, f: TaskFailure): Promise<void> {
    this.log(`task ${f.taskId} failed (${f.code}): ${f.message}`, { job: jobId, task: f.taskId, attempt: f.attempt, level: "error", at: f.at });
    if (f.code === "BAD_ARTIFACT") {
      this.log(`rejected task ${queueId} (BAD_ARTIFACT): ${f.message}`);
      await countRejection(this.redis, this.keys, f.code).catch(() => {});
    }
    await recordFailedAttempt(this.redis, this.keys, jobId, `${f.taskId} attempt ${f.attempt}: ${f.message}${f.at ? ` (at ${f.at})` : ""}`).catch(() => {});
  }

  /** Runs one admitted task on the pool, stoppable by its job's cancel or its queue id; a failure is recorded in its job. */
  private async runTask(queueId: string, task: Task, parkLimitMs?: number): Promise<TaskOutcome> {
    const jobId = task.job.jobId;
    const failure = (code: string, message: string): TaskOutcome => ({ ok: false, failure: { code, message, retryable: false, taskId: task.taskId, attempt: task.attempt } });
    // Cancelled and finished jobs are announced on the events channel; their queued tasks are removed
    // by the coordinator, and one taken in between stops here.
    if (this.ended.has(jobId)) return failure("JOB_CANCELLED", "job cancelled");
    const abort = new AbortController();
    let set = this.running.get(jobId);
    if (!set) this.running.set(jobId, (set = new Set()));
    set.add(abort);
    this.byQueueId.set(queueId, abort);
    let fetched: Fetched | undefined;
    const name = attemptName(task);
    const fields = { job: jobId, task: task.taskId, attempt: task.attempt };
    const began = Date.now();
    this.heartbeat?.add(name);
    const started = () => this.log(`task ${task.taskId} started${task.backup ? " (backup attempt)" : ""}`, fields);
    try {
      let ready: Task;
      try {
        ready = await this.prepare(task);
      } catch (err) {
        return { ok: false, failure: toFailure(err, task) };
      }
      // A reduce task's served inputs are fetched here, before it takes a thread.
      fetched = ready.kind === "reduce" ? await fetchReduceInputs(ready, this.shuffle, abort.signal) : undefined;
      const ran = fetched?.task ?? ready;
      const outcome = this.ranHere(ran, fetched?.failure ?? (await this.pool.run(ran, abort.signal, started, parkLimitMs)));
      // Recorded before the result goes back: the job cannot end (and retention delete its keys) before.
      await this.recorder?.flush();
      if (outcome.ok) {
        this.log(`task ${task.taskId} succeeded in ${Date.now() - began} ms`, fields);
        return outcome;
      }
      await this.failed(jobId, queueId, outcome.failure);
      return outcome;
    } catch (err) {
      if (abort.signal.aborted) {
        this.log(`task ${task.taskId} stopped: job cancelled or task committed by another attempt`, fields);
        return failure("STOPPED", "attempt stopped: job cancelled or task committed by another attempt");
      }
      throw err;
    } finally {
      this.heartbeat?.delete(name);
      fetched?.cleanup();
      this.byQueueId.delete(queueId);
      set.delete(abort);
      if (set.size === 0) this.running.delete(jobId);
    }
  }

  /**
   * Short tasks are dominated by queue round trips, so the worker then takes several queue jobs per
   * thread and overlaps the trips with the work; long tasks are taken one per thread, so that a task
   * never waits here behind another while a different worker sits idle.
   *
   * Which tasks are short is the coordinator's call, not measured again here: it batches map tasks
   * from the run times workers report in their results (coordinator/queue-executor.ts), so a batch
   * means short tasks. One measure, one feedback loop: before, the worker kept its own moving average
   * (short below 100 ms) beside the coordinator's (below 20 ms), and the two could disagree, the
   * worker prefetching tasks the coordinator sent one by one as long. A task given alone (not short,
   * not measured yet, a reduce or a backup, whose straggler may hold a thread here) drops the worker
   * back to one per thread; what it had already taken goes back to the queue if it waits over
   * PARK_LIMIT_MS for a thread.
   */
  private prefetch(batches: boolean): void {
    const want = batches ? this.threads * PREFETCH_PER_THREAD : this.threads;
    if (this.worker.concurrency !== want) this.worker.concurrency = want;
  }

  /** Stops taking tasks, lets running ones finish, then closes the pool and connections. */
  async stop(): Promise<void> {
    await this.worker?.close();
    await this.pool?.close();
    await this.recorder?.flush();
    await this.heartbeat?.stop();
    await this.shuffle?.close();
    this.sub?.disconnect();
    this.redis?.disconnect();
  }
}

/** How a running attempt is named in the heartbeat: `<job>/<task>#<attempt>`. */
function attemptName(task: Task): string {
  return `${task.job.jobId}/${task.taskId}#${task.attempt}`;
}

/** A refused message fails its queue job for good, with the refusal as the failure. */
function rejected(err: unknown): UnrecoverableError {
  return new UnrecoverableError(JSON.stringify({ code: (err as { code?: string }).code ?? "REJECTED", message: (err as Error).message, retryable: false, taskId: "rejected", attempt: 0 }));
}

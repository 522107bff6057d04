/**
 * Runs a planned job to its end over any TaskExecutor: the map stage, then (when every map task
 * has committed) the reduce stage, then the job commit. Retries failed attempts with backoff;
 * the first successful attempt of a task is the one committed.
 */
import { setMaxListeners } from "node:events";
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { SheafError, describeLocation } from "../core/errors.js";
import type { TaskExecutor } from "../core/executor.js";
import { taskId, type TaskId } from "../core/ids.js";
import type { Segment } from "../core/shuffle/segment.js";
import type { ReduceTask, Task, TaskFailure, TaskResult } from "../core/tasks.js";
import { OutputCommitter } from "./committer.js";
import { MemoryJobStore, type JobStore } from "./job-store.js";
import type { JobPlan } from "./plan.js";
import type { JobProgress, JobReport } from "../core/progress.js";
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from "./retry.js";

export type { JobProgress, JobReport, Stage } from "../core/progress.js";

export interface DriverOptions {
  /** Committed results and progress. @defaultValue in memory */
  store?: JobStore;
  /** False when resuming a job whose output folder was already prepared. @defaultValue true */
  prepareOutput?: boolean;
  /** With prepareOutput: replace a finished job's output. */
  overwrite?: boolean;
  /** When the job started (a resumed job keeps its first start). */
  startedAt?: number;
  retry?: RetryPolicy;
  onProgress?: (p: JobProgress) => void;
  onAttemptFailed?: (f: TaskFailure, willRetry: boolean) => void;
  signal?: AbortSignal;
}

export class JobFailedError extends SheafError {
  constructor(readonly jobName: string, readonly failure: TaskFailure, attempts: number) {
    const where = failure.input && !failure.message.includes(" threw") ? describeLocation(failure.input) : "";
    super("JOB_FAILED", `job ${jobName} failed: task ${failure.taskId} (attempt ${failure.attempt} of ${attempts})${where}: ${failure.message}`);
  }
}

/**
 * The abort reason of a coordinator that stops or loses its leadership: the job is not cancelled,
 * its files stay, and another coordinator resumes it from the job store.
 */
export class Interrupted extends SheafError {
  constructor(why: string) {
    super("INTERRUPTED", why);
  }
}

export class JobDriver {
  private committed = new Map<TaskId, TaskResult>();
  private readonly store: JobStore;
  private readonly committer: OutputCommitter;
  private readonly retry: RetryPolicy;
  private readonly progress: JobProgress;
  private readonly abort = new AbortController();
  private failure: JobFailedError | undefined;

  constructor(private readonly plan: JobPlan, private readonly executor: TaskExecutor, private readonly options: DriverOptions = {}) {
    this.committer = new OutputCommitter(plan.config.output);
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.store = options.store ?? new MemoryJobStore();
    this.progress = {
      stage: "map",
      mapsDone: 0,
      mapsTotal: plan.maps.length,
      reducesDone: 0,
      reducesTotal: plan.reduces,
      recordsIn: 0,
      bytesIn: 0,
      bytesTotal: plan.inputs.reduce((n, f) => n + f.size, 0),
      running: 0,
      failedAttempts: 0,
      startedAt: options.startedAt ?? Date.now(),
    };
    setMaxListeners(0, this.abort.signal); // one listener per running attempt
    options.signal?.addEventListener("abort", () => this.abort.abort(options.signal?.reason), { once: true });
  }

  async run(): Promise<JobReport> {
    // Outside the try: a refused output folder (another job's output) must not be aborted.
    if (this.options.prepareOutput ?? true) this.committer.prepare(this.options.overwrite ?? false);
    try {
      this.committed = await this.store.load();
      for (const r of this.committed.values()) this.count(r);
      this.emitProgress();
      await this.runStage(this.plan.maps);
      if (this.plan.reduces > 0) {
        this.progress.stage = "reduce";
        this.emitProgress();
        await this.runStage(this.reduceTasks());
      }
      this.progress.stage = "commit";
      this.emitProgress();
      this.committer.commitJob([...this.committed.values()].flatMap((r) => (r.part ? [r.part] : [])));
      return this.report();
    } catch (err) {
      if (this.interrupted) throw this.abort.signal.reason;
      this.committer.abort();
      throw err;
    } finally {
      if (!this.interrupted) rmSync(this.plan.config.scratch, { recursive: true, force: true });
    }}

  private get interrupted(): boolean {
    return this.abort.signal.reason instanceof Interrupted;
  }

  private reduceTasks(): ReduceTask[] {
    const config = this.plan.config;
    return Array.from({ length: this.plan.reduces }, (_, p): ReduceTask => {
      const segments: Segment[] = this.plan.maps.map((m) => {
        const out = this.committed.get(m.taskId)!.mapOutput!;
        return { path: out.path, ...out.segments[p]! };
      });
      return { kind: "reduce", job: config, taskId: taskId("reduce", p), index: p, attempt: 0, segments };
    });
  }

  /** Runs every uncommitted task of a stage; the first task out of attempts fails the job and cancels the rest. */
  private async runStage(tasks: readonly Task[]): Promise<void> {
    await Promise.allSettled(tasks.filter((t) => !this.committed.has(t.taskId)).map((t) => this.runTask(t)));
    if (this.failure) throw this.failure;
    if (this.interrupted) throw this.abort.signal.reason;
    if (this.abort.signal.aborted) throw new SheafError("JOB_CANCELLED", `job ${this.plan.config.name} was cancelled`);
  }

  private async runTask(template: Task): Promise<void> {
    const signal = this.abort.signal;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) return;
      this.progress.running++;
      const outcome = await this.executor.run({ ...template, attempt }, signal).catch(() => undefined);
      this.progress.running--;
      if (!outcome || signal.aborted) return;
      if (outcome.ok) {
        await this.commit(outcome.result);
        return;
      }
      const willRetry = outcome.failure.retryable && attempt < this.retry.maxAttempts;
      this.progress.failedAttempts++;
      this.progress.lastFailure = `${outcome.failure.taskId} attempt ${outcome.failure.attempt}: ${outcome.failure.message}`;
      this.emitProgress();
      this.options.onAttemptFailed?.(outcome.failure, willRetry);
      if (!willRetry) {
        this.failure ??= new JobFailedError(this.plan.config.name, outcome.failure, outcome.failure.retryable ? this.retry.maxAttempts : attempt);
        this.abort.abort();
        return;
      }
      await sleep(backoffDelay(this.retry, attempt), signal);
    }
  }

  /** First success wins; a later attempt's files are discarded. */
  private async commit(result: TaskResult): Promise<void> {
    if (this.committed.has(result.taskId) || !(await this.store.commit(result))) {
      if (result.mapOutput) rmSync(dirname(result.mapOutput.path), { recursive: true, force: true });
      if (result.part) rmSync(dirname(result.part.path), { recursive: true, force: true });
      return;
    }
    this.committed.set(result.taskId, result);
    this.count(result);
    this.emitProgress();
  }

  private count(result: TaskResult): void {
    const p = this.progress;
    if (result.kind === "map") {
      p.mapsDone++;
      p.recordsIn += result.stats.recordsIn;
      p.bytesIn += result.stats.bytesIn;
    } else p.reducesDone++;
  }

  private emitProgress(): void {
    const snapshot = { ...this.progress };
    this.options.onProgress?.(snapshot);
    this.store.progress(snapshot).catch(() => {}); // status is best-effort; commits are not
  }

  private report(): JobReport {
    const counters: Record<string, number> = {};
    let recordsOut = 0, bytesOut = 0, parts = 0;
    for (const r of this.committed.values()) {
      for (const [k, v] of Object.entries(r.counters)) counters[k] = (counters[k] ?? 0) + v;
      if (r.part) {
        recordsOut += r.part.records;
        bytesOut += r.part.bytes;
        parts++;
      }
    }
    return { ...this.progress, recordsOut, bytesOut, parts, counters, millis: Date.now() - this.progress.startedAt };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

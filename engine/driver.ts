/**
 * Runs a planned job to its end over any TaskExecutor: the map stage, then (when every map task
 * has committed) the reduce stage, then the job commit. Retries failed attempts with backoff,
 * launches backup attempts for stragglers, re-runs a map task whose output turns out corrupt or
 * missing, and commits the first successful attempt of each task.
 *
 * The driver is the only layer that retries, on every transport: an executor runs each attempt it is
 * given once (a cluster's queue jobs are single-attempt, coordinator/queue-executor.ts) and reports
 * its failure under the attempt number the driver gave it. So the driver's count of a task's failed
 * attempts is the one count, each retry waits backoffDelay (engine/retry.ts), and a task that always
 * fails runs exactly maxAttempts times.
 */
import { sleep } from "../core/sleep.js";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { writeReduceInputs, type MapOutputRef, type ReduceInputs } from "../core/shuffle/reduce-inputs.js";
import { SheafError, describeLocation, messageOf } from "../core/errors.js";
import { Stop, type TaskExecutor } from "../core/executor.js";
import { taskId, taskOf, type TaskId, type TaskKind } from "../core/ids.js";
import type { JobProgress, JobReport } from "../core/progress.js";
import type { BadRecord, PartFile, ReduceTask, Task, TaskFailure, TaskResult } from "../core/tasks.js";
import { outputSink } from "../core/formats/registry.js";
import { outputTemporaryDir } from "../core/storage.js";
import { checkResult } from "../core/security/confine.js";
import { CommittedResults } from "./committed.js";
import { OutputCommitter, type CommitStep } from "./committer.js";
import { MemoryJobStore, type JobStore } from "./job-store.js";
import { mapTask, type JobPlan } from "./plan.js";
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from "./retry.js";
import { Interrupted } from "../core/interrupted.js";
import { removeScratch } from "./remove-tree.js";
import { isObjectUrl } from "../core/store/location.js";
import { stragglers } from "./speculation.js";
import { plural } from "../core/show.js";
import type { AttemptEnd } from "../core/attempts.js";

export { Interrupted } from "../core/interrupted.js";

export type { JobProgress, JobReport, Stage } from "../core/progress.js";

export interface DriverOptions {
  /** Committed results and progress. @defaultValue in memory */
  store?: JobStore;
  /** False when resuming a job whose output folder was already prepared. @defaultValue true */
  prepareOutput?: boolean;
  /** Replace a finished job's output (checked when preparing it, and again when the commit swaps the new one in). */
  overwrite?: boolean;
  /** Called after each step of the job commit (a test seam: fault tests stop a coordinator there). */
  onCommitStep?: (step: CommitStep) => void;
  /** When the job started (a resumed job keeps its first start). */
  startedAt?: number;
  retry?: RetryPolicy;
  onProgress?: (p: JobProgress) => void;
  onAttemptFailed?: (f: TaskFailure, willRetry: boolean) => void;
  /** Called as each attempt ends, whatever its outcome (the dashboard's timeline, `/metrics`). */
  onAttemptEnded?: (a: AttemptEnd) => void;
  signal?: AbortSignal;
}

export class JobFailedError extends SheafError {
  constructor(readonly jobName: string, readonly failure: TaskFailure, attempts: number) {
    // A user code error's message already names its record (UserCodeError); others get it appended.
    const named = failure.code === "USER_CODE_ERROR" || failure.code === "FATAL_USER_ERROR";
    const where = failure.input && !named ? describeLocation(failure.input) : "";
    super("JOB_FAILED", `job ${jobName} failed: task ${failure.taskId} (attempt ${failure.attempt} of ${attempts})${where}: ${failure.message}`);
  }
}

/** How often a stage looks for stragglers. */
const SPECULATION_EVERY_MS = 500;
/**
 * Tasks of a stage attempted at once: the rest are made from the plan when a lane takes them, so
 * that the coordinator's memory (each attempt's promises, frames, message) grows with this window,
 * not with the stage's size. Far more than any cluster's threads, so the queue never runs dry while
 * the window refills: 2,048 covers eight full batches of the shortest tasks (queue-executor.ts),
 * about 100 ms of the coordinator's top rate. Each lane costs ~3 KB live, and V8 lets the heap grow
 * to about four times what is live: 4,096 lanes held ~40 MB more RSS at no faster rate
 * (bench/coordinator-memory.mjs).
 */
const WINDOW = 2048;
/** Finished tasks' durations kept for the median speculation compares against (the latest ones). */
const DURATIONS_KEPT = 1024;
/** How often one map task's output may be lost and regenerated before the job gives up. */
const MAX_REGENERATIONS = 3;
/** Committed results read back from the store per round trip. */
const READ_BATCH = 1000;

interface LiveAttempt {
  task: Task;
  stop: Stop;
  startedAt: number;
  backup: boolean;
}

export class JobDriver {
  private readonly committed: CommittedResults;
  private readonly store: JobStore;
  private committer: OutputCommitter;
  private readonly retry: RetryPolicy;
  private readonly progress: JobProgress;
  private readonly abort = new AbortController();
  private failure: JobFailedError | undefined;
  /** Running attempts per task: a commit stops the task's other attempts. */
  private readonly live = new Map<TaskId, Set<LiveAttempt>>();
  /** Runs of each task so far (a queue keys each run by it). */
  private readonly copies = new Map<TaskId, number>();
  /**
   * Failed attempts of each task that count against its limit: not a backup's, nor a run that
   * found its input lost (its map task is re-run instead). A run's attempt number is this plus 1.
   */
  private readonly failures = new Map<TaskId, number>();
  private readonly regenerating = new Map<TaskId, Promise<void>>();
  private readonly regenerations = new Map<TaskId, number>();
  /** Bumped whenever the committed map outputs change, and the reduce tasks' list of them as last written. */
  private mapGeneration = 0;
  private inputsList: { generation: number; ref: ReduceInputs } | undefined;

  constructor(private readonly plan: JobPlan, private readonly executor: TaskExecutor, private readonly options: DriverOptions = {}) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.store = options.store ?? new MemoryJobStore();
    this.committed = new CommittedResults(plan.splits.length, plan.reduces);
    this.committer = new OutputCommitter(plan.config, undefined, this.guard, options.onCommitStep, this.store);
    this.progress = {
      stage: "map",
      mapsDone: 0,
      mapsTotal: plan.splits.length,
      reducesDone: 0,
      reducesTotal: plan.reduces,
      recordsIn: 0,
      bytesIn: 0,
      bytesTotal: plan.inputs.reduce((n, f) => n + f.size, 0),
      running: 0,
      failedAttempts: 0,
      startedAt: options.startedAt ?? Date.now(),
    };
    // One listener stops every live attempt (a listener per attempt costs O(attempts) to add and remove).
    this.abort.signal.addEventListener("abort", () => {
      for (const set of this.live.values()) for (const a of set) a.stop.abort(this.abort.signal.reason);
    }, { once: true });
    if (options.signal?.aborted) this.abort.abort(options.signal.reason);
    else options.signal?.addEventListener("abort", this.follow, { once: true });
  }

  /** Follows the caller's signal; removed when the job ends, as stages of one pipeline share it. */
  private readonly follow = () => this.abort.abort(this.options.signal?.reason);

  async run(): Promise<JobReport> {
    const sink = await outputSink(this.plan.config.formats.output, this.plan.config.objectOutput);
    if (sink) this.committer = new OutputCommitter(this.plan.config, sink, this.guard, this.options.onCommitStep, this.store);
    // Outside the try: a refused output folder (another job's output) must not be aborted.
    if (this.options.prepareOutput ?? true) await this.committer.prepare(this.options.overwrite ?? false);
    try {
      // Attempts create their folders only below these (mkdirBelow), so that none can outlive the
      // job's end; made again on resume, in case a leader died between removing them and the job's end.
      await this.guard("create the job's folders");
      if (!isObjectUrl(this.plan.config.scratch)) {
        await mkdir(this.plan.config.scratch, { recursive: true });
        await mkdir(outputTemporaryDir(this.plan.config.output), { recursive: true });
      }
      // Read back from a store a job commit will act on: each result must name files where its task writes.
      for await (const stored of this.store.load()) {
        for (const r of stored) checkResult(this.plan.config, r);
        for (const r of stored) {
          if (this.committed.has(r.taskId)) continue; // a scan may give an entry twice
          this.committed.add(r);
          this.count(r, 1);
        }
      }
      this.emitProgress();
      await this.runStage("map", this.plan.splits.length, (i) => mapTask(this.plan, i));
      const badRecords = this.badRecords();
      if (this.plan.reduces > 0) {
        this.progress.stage = "reduce";
        this.emitProgress();
        const inputs = await this.reduceInputs();
        await this.runStage("reduce", this.plan.reduces, (p) => this.reduceTask(p, inputs));
      }
      this.progress.stage = "commit";
      this.emitProgress();
      // Each part is its task's: the reduces' with reduces, the maps' in a map-only job.
      const parts: PartFile[] = [];
      const missing = await this.readCommitted(this.committed.withFiles(this.plan.reduces > 0 ? "reduce" : "map"), (r) => r.part && parts.push(r.part));
      if (missing) throw this.interrupt(new Interrupted(`the committed result of ${missing} is gone from the job's store`));
      await this.committer.commitJob(this.plan.config.jobId, parts, badRecords, this.plan.config.fingerprint, this.options.overwrite ?? false);
      return this.report();
    } catch (err) {
      if (this.interrupted) throw this.refused ?? this.abort.signal.reason;
      await this.committer.abort(this.plan.config.jobId);
      throw err;
    } finally {
      this.options.signal?.removeEventListener("abort", this.follow);
      // Asynchronous, so a large job's cleanup does not stall the other jobs a coordinator drives;
      // retried, as stopped attempts may still be writing; and never replacing the outcome.
      // A stale leader must not remove it: the next leader's attempts use it.
      if (!this.interrupted) {
        await this.guard("remove the scratch folder")
          .then(() => removeScratch(this.plan.config.scratch))
          .catch(() => {});
      }
    }
  }

  private get interrupted(): boolean {
    return this.refused !== undefined || this.abort.signal.reason instanceof Interrupted;
  }

  /** Set once the store refused an effect: this driver no longer acts for the job, whatever its other outcome. */
  private refused: Interrupted | undefined;

  /** JobStore.guard, remembering a refusal (and stopping the job's attempts) so nothing else is tried after it. */
  private readonly guard = async (what: string): Promise<void> => {
    if (this.refused) throw this.refused;
    try {
      await this.store.guard(what);
    } catch (err) {
      this.refused = err instanceof Interrupted ? err : new Interrupted(`cannot ${what}: ${messageOf(err)}`);
      this.abort.abort(this.refused);
      throw this.refused;
    }
  };

  /** The reduce task of partition p, reading the currently committed output of every map task. */
  private reduceTask(p: number, inputs: ReduceInputs): ReduceTask {
    return { kind: "reduce", job: this.plan.config, taskId: taskId("reduce", p), index: p, attempt: 0, inputs };
  }

  /**
   * The list of committed map outputs, written to the scratch space once per change (a map task
   * re-run changes it), and again if it went missing.
   */
  private async reduceInputs(): Promise<ReduceInputs> {
    const cached = this.inputsList;
    if (cached && cached.generation === this.mapGeneration && (isObjectUrl(cached.ref.path) || existsSync(cached.ref.path))) return cached.ref;
    for (;;) {
      const generation = this.mapGeneration;
      // A map task that emitted nothing wrote no output (its result has no mapOutput): nothing to read.
      const refs: MapOutputRef[] = [];
      const missing = await this.readCommitted(this.committed.withFiles("map"), ({ taskId: producer, mapOutput: out }) => {
        if (out) refs.push({ producer, path: out.path, indexCrc: out.indexCrc, ...(out.url ? { url: out.url } : {}) });
      });
      // A map output taken back or committed while they were read: read them again.
      if (this.mapGeneration !== generation) continue;
      if (missing) throw this.interrupt(new Interrupted(`the committed result of ${missing} is gone from the job's store`));
      // Into the scratch folder the driver made at start (never made again here: see mkdirBelow).
      const ref = await writeReduceInputs(this.plan.config.scratch, refs);
      this.inputsList = { generation, ref };
      return ref;
    }
  }

  /**
   * Reads back the committed results of `ids` (in their order) from the store, a batch per round
   * trip, each checked again as when the job resumes: the store, not this process, holds them.
   * Returns the first id whose result was not there (the caller decides), if any; a store that
   * cannot be read leaves the job to be resumed.
   */
  private async readCommitted(ids: Iterable<TaskId>, each: (r: TaskResult) => void): Promise<TaskId | undefined> {
    const batch: TaskId[] = [];
    let missing: TaskId | undefined;
    const read = async (): Promise<void> => {
      const taken = batch.splice(0);
      let results: (TaskResult | undefined)[];
      try {
        results = await this.store.results(taken);
      } catch (err) {
        throw this.interrupt(new Interrupted(`cannot read committed results: ${messageOf(err)}`));
      }
      results.forEach((r, i) => {
        if (!r) return void (missing ??= taken[i]);
        checkResult(this.plan.config, r);
        each(r);
      });
    };
    for (const id of ids) if (batch.push(id) === READ_BATCH) await read();
    if (batch.length > 0) await read();
    return missing;
  }

  /** Stops the job's attempts for `reason` (this driver no longer acts for the job) and returns it. */
  private interrupt(reason: Interrupted): Interrupted {
    this.abort.abort(reason);
    return reason;
  }

  /** Records skipped by map tasks, in map order; more than the job allows fails it. */
  private badRecords(): BadRecord[] {
    const all = this.committed.badRecords();
    const limit = this.plan.config.skipBadRecords;
    if (all.length > limit) {
      const first = all[0]!;
      throw new SheafError(
        "TOO_MANY_BAD_RECORDS",
        `job ${this.plan.config.name} failed: ${plural(all.length, "bad record")}, more than skipBadRecords (${limit}); the first at ${first.file} byte ${first.offset}: ${first.error}`,
      );
    }
    return all;
  }

  /**
   * Runs every uncommitted task of a stage (`count` of `kind`, task i made by `make(i)` when its
   * turn comes, so only the window's tasks exist at once), with backups for stragglers; the first
   * task out of attempts fails the job.
   */
  private async runStage(kind: TaskKind, count: number, make: (index: number) => Task): Promise<void> {
    let pending = 0;
    for (let i = 0; i < count; i++) if (!this.committed.hasTask(kind, i)) pending++;
    const durations = new Durations(DURATIONS_KEPT);
    const speculate = this.plan.config.speculative ? setInterval(() => this.speculate(kind, pending, durations), SPECULATION_EVERY_MS) : undefined;
    const errors: unknown[] = [];
    try {
      // WINDOW lanes, each taking the next uncommitted task when its last one ends.
      let next = 0;
      const lane = async (): Promise<void> => {
        for (;;) {
          while (next < count && this.committed.hasTask(kind, next)) next++;
          if (next >= count) return;
          await this.runTask(make(next++), durations).catch((err) => void errors.push(err));
        }
      };
      await Promise.all(Array.from({ length: Math.min(WINDOW, pending) }, lane));
    } finally {
      clearInterval(speculate);
    }
    if (this.failure) throw this.failure;
    if (this.interrupted) throw this.abort.signal.reason;
    if (this.abort.signal.aborted) throw new SheafError("JOB_CANCELLED", `job ${this.plan.config.name} was cancelled`);
    // Never let a stage pass with a task uncommitted, whatever went wrong in the scheduler itself.
    for (let i = 0; i < count; i++) {
      if (this.committed.hasTask(kind, i)) continue;
      const why = errors[0];
      throw new SheafError("SCHEDULER_ERROR", `job ${this.plan.config.name}: task ${taskId(kind, i)} ended uncommitted${why ? `: ${(why as Error).message}` : ""}`);
    }
  }

  /** Looks at the live attempts only (at most the window), never the whole stage. */
  private speculate(kind: TaskKind, stageSize: number, durations: Durations): void {
    // Not while the job is ending, nor while a lost map output is being re-run (reduces need it).
    if (this.abort.signal.aborted || this.regenerating.size > 0) return;
    const byId = new Map<TaskId, Task>();
    const running = [...this.live].flatMap(([id, attempts]) => {
      const live = [...attempts];
      if (live.length === 0 || this.committed.has(id) || live[0]!.task.kind !== kind) return [];
      byId.set(id, live[0]!.task);
      return [{ taskId: id, startedAt: Math.min(...live.map((a) => a.startedAt)), hasBackup: live.some((a) => a.backup) }];
    });
    for (const id of stragglers(running, durations.latest, stageSize * durations.fractionKept, Date.now())) {
      const task = byId.get(id)!;
      // A reduce backup first writes its inputs list into the job's scratch folder, which may be
      // gone (a newer leader ended the job while this one was paused) or full. Nothing may throw out
      // of this timer (it would end the process): no backup then; the task's own attempt goes on.
      const backup = task.kind === "reduce" ? this.reduceInputs().then((inputs) => this.reduceTask(task.index, inputs)) : Promise.resolve(task);
      void backup.then((t) => this.attempt(t, true)).catch(() => {});
    }
  }

  /** Attempts a task until one attempt commits (this one's or a backup's), or it runs out of attempts. */
  private async runTask(template: Task, durations?: Durations): Promise<void> {
    const signal = this.abort.signal;
    const started = Date.now();
    for (;;) {
      if (signal.aborted || this.committed.has(template.taskId)) return;
      // A reduce task reads every map output: wait while one is being re-run.
      while (template.kind === "reduce" && this.regenerating.size > 0) await Promise.allSettled(this.regenerating.values());
      if (signal.aborted || this.committed.has(template.taskId)) return;
      const task = template.kind === "reduce" ? this.reduceTask(template.index, await this.reduceInputs()) : template;
      const outcome = await this.attempt(task, false).catch(() => undefined);
      if (!outcome || signal.aborted) return;
      if (outcome.ok || this.committed.has(template.taskId)) {
        durations?.add(Date.now() - started);
        return;
      }
      const f = outcome.failure;
      const max = this.retry.maxAttempts;
      if (f.producer) {
        // The input was lost, not this task's fault: re-run the map task that wrote it, then retry;
        // this run costs the task no attempt.
        const regenerated = await this.regenerate(f.producer, f).then(() => true, () => false);
        if (regenerated) continue;
      }
      // This run was attempt failures + 1 (see attempt()); the executor retried nothing within it.
      const used = Math.min((this.failures.get(template.taskId) ?? 0) + 1, max);
      this.failures.set(template.taskId, used);
      const failure = { ...f, attempt: used };
      const willRetry = f.retryable && used < max;
      this.options.onAttemptFailed?.(failure, willRetry);
      if (!willRetry) {
        this.failure ??= new JobFailedError(this.plan.config.name, failure, f.retryable ? max : used);
        // Failing the job removes or stops its other tasks in the queue, which a newer leader
        // awaits too: only the leader may (a refusal interrupts the driver instead).
        await this.guard("fail the job").then(() => this.abort.abort(), () => {});
        return;
      }
      await sleep(backoffDelay(this.retry, used), signal);
    }
  }

  /**
   * Runs one attempt and commits it if it succeeds first. Resolves with its outcome; a failure is
   * counted. A backup attempt's failure does not fail the task: its original attempt goes on.
   */
  private async attempt(task: Task, backup: boolean): Promise<{ ok: true } | { ok: false; failure: TaskFailure }> {
    const copy = this.copies.get(task.taskId) ?? 0;
    this.copies.set(task.taskId, copy + 1);
    const live: LiveAttempt = { task, stop: new Stop(), startedAt: Date.now(), backup };
    if (this.abort.signal.aborted) live.stop.abort(this.abort.signal.reason);
    let set = this.live.get(task.taskId);
    if (!set) this.live.set(task.taskId, (set = new Set()));
    set.add(live);
    this.progress.running++;
    // Attempts out are shown as they go out, not at the next commit: a stage whose tasks wait for a
    // worker shows them queued (status says so when no worker is live).
    this.progressSoon();
    try {
      const runId = copy === 0 ? undefined : `${copy}-${randomBytes(3).toString("hex")}`;
      // A backup runs as the attempt it backs up: it adds no attempt to the task's count.
      const attempt = (this.failures.get(task.taskId) ?? 0) + 1;
      // One spread, then a plain property: a second spread made an object of ~2 KB in dictionary mode.
      const run: Task = { ...task, attempt, copy, runId };
      if (backup) run.backup = true;
      const outcome = await this.executor.run(run, live.stop, () => (live.startedAt = Date.now()));
      if (outcome.ok) {
        const won = await this.commit(outcome.result, live);
        this.ended(run, live, won ? "committed" : "discarded", outcome.result.stats, outcome.result.ranOn);
        return { ok: true };
      }
      const f = outcome.failure;
      const stopped = live.stop.aborted || ["STOPPED", "SUPERSEDED", "JOB_CANCELLED"].includes(f.code);
      this.ended(run, live, stopped ? "stopped" : "failed", undefined, f.ranOn, f);
      this.progress.failedAttempts++;
      this.progress.lastFailure = `${outcome.failure.taskId} attempt ${outcome.failure.attempt}: ${outcome.failure.message}`;
      this.emitProgress();
      return outcome;
    } finally {
      this.progress.running--;
      set.delete(live);
      if (set.size === 0 && this.live.get(task.taskId) === set) this.live.delete(task.taskId);
    }
  }

  /** Tells onAttemptEnded how an attempt ended (a listener's error must not fail the task). */
  private ended(run: Task, live: LiveAttempt, outcome: AttemptEnd["outcome"], stats?: TaskResult["stats"], ranOn?: TaskResult["ranOn"], f?: TaskFailure): void {
    if (!this.options.onAttemptEnded) return;
    const a: AttemptEnd = { taskId: run.taskId, kind: run.kind, index: run.index, attempt: run.attempt, backup: run.backup === true, start: live.startedAt, end: Date.now(), outcome };
    if (ranOn) Object.assign(a, ranOn);
    if (stats) Object.assign(a, { recordsIn: stats.recordsIn, bytesIn: stats.bytesIn, recordsOut: stats.recordsOut, bytesOut: stats.bytesOut });
    if (f) {
      a.code = f.code;
      a.error = f.message.slice(0, 2000);
      if (f.input) a.where = describeLocation(f.input).trim();
      if (f.producer) a.lostInput = true;
    }
    try {
      this.options.onAttemptEnded(a);
    } catch {}
  }

  /** First success wins: a later attempt's files are discarded, and the task's other attempts stopped; true when this one won. */
  private async commit(result: TaskResult, self: LiveAttempt): Promise<boolean> {
    let won = false;
    try {
      won = !this.committed.has(result.taskId) && (await this.store.commit(result));
      // The winner itself, reported again: a resumed job takes the result of a finished queue entry,
      // while the commit of that same result, sent before a Redis outage, landed after this driver
      // loaded. It is that commit, not a loser: its files are the committed ones.
      if (!won && !this.committed.has(result.taskId)) won = sameFiles(await this.store.committed(result.taskId), result);
    } catch (err) {
      // The store refused (a stale coordinator) or is unreachable: leave the job to be resumed.
      this.abort.abort(err instanceof Interrupted ? err : new Interrupted(`cannot commit ${result.taskId}: ${(err as Error).message}`));
      throw err;
    }
    if (!won) {
      // A loser's files go, unless they are the winner's own (one result reported twice), as the
      // store says; one that cannot say keeps them (they go with the scratch space at the job's end).
      if (result.mapOutput || result.part) {
        const winner = await this.store.committed(result.taskId).then((r) => ({ r }), () => undefined);
        if (winner && !sameFiles(winner.r, result)) await this.committer.discard(result);
      }
      return false;
    }
    this.committed.add(result);
    // A re-run of a lost map output gets a new run id (regenerate): no run count is kept once committed.
    this.copies.delete(result.taskId);
    // Only a task whose output can be lost runs again once committed: the others' attempt counts go.
    if (!result.mapOutput) this.failures.delete(result.taskId);
    if (result.kind === "map") this.mapGeneration++;
    this.count(result, 1);
    for (const other of this.live.get(result.taskId) ?? []) if (other !== self) other.stop.abort(new SheafError("SUPERSEDED", "another attempt committed"));
    this.progressSoon();
    return true;
  }

  /**
   * Re-runs a committed map task whose output a reducer found corrupt or missing: once, however many
   * reducers noticed. The lost files stay until the job ends, as other reducers may be reading them.
   */
  private regenerate(producer: TaskId, cause: TaskFailure): Promise<void> {
    let pending = this.regenerating.get(producer);
    if (pending) return pending;
    pending = (async (): Promise<void> => {
      // The committed result is in the store, not here: read it back to see what was lost.
      const committed = this.committed.has(producer) ? await this.store.committed(producer) : undefined;
      const current = committed?.mapOutput?.path;
      if (current && current !== cause.lost) return; // already re-run since that reducer started
      const count = (this.regenerations.get(producer) ?? 0) + 1;
      this.regenerations.set(producer, count);
      if (count > MAX_REGENERATIONS) throw new SheafError("MAP_OUTPUT_LOST", `output of ${producer} lost ${count} times`);
      this.options.onAttemptFailed?.({ ...cause, message: `${cause.message}; re-running ${producer}` }, true);
      if (committed) {
        // Taken back here first: a reduce inputs' list being read now is read again (reduceInputs).
        this.committed.remove(committed);
        this.count(committed, -1);
        this.mapGeneration++;
        // Else the store still says committed what this driver no longer does: leave the job to be resumed.
        await this.store.uncommit(producer).catch((err: unknown) => {
          throw this.interrupt(err instanceof Interrupted ? err : new Interrupted(`cannot take back ${producer}: ${messageOf(err)}`));
        });
      }
      // Never the first run's queue id: its entry may still hold the result whose output was lost.
      this.copies.set(producer, Math.max(1, this.copies.get(producer) ?? 0));
      await this.runTask(mapTask(this.plan, taskOf(producer).index));
      if (!this.committed.has(producer)) throw new SheafError("MAP_OUTPUT_LOST", `${producer} could not be re-run`);
    })().finally(() => this.regenerating.delete(producer));
    this.regenerating.set(producer, pending);
    return pending;
  }

  private count(result: TaskResult, sign: 1 | -1): void {
    const p = this.progress;
    if (result.kind === "map") {
      p.mapsDone += sign;
      p.recordsIn += sign * result.stats.recordsIn;
      p.bytesIn += sign * result.stats.bytesIn;
    } else p.reducesDone += sign;
  }

  /** Commits of one turn (a batch's tasks end together) report progress once. */
  private progressDue: NodeJS.Immediate | undefined;
  private progressSoon(): void {
    this.progressDue ??= setImmediate(() => this.emitProgress());
  }

  private emitProgress(): void {
    clearImmediate(this.progressDue);
    this.progressDue = undefined;
    const snapshot = { ...this.progress };
    this.options.onProgress?.(snapshot);
    this.store.progress(snapshot).catch(() => {}); // status is best-effort; commits are not
  }

  private report(): JobReport {
    const { counters: sums, badRecords, ...totals } = this.committed.totals;
    const counters = { ...sums, ...(badRecords ? { "skipped-bad-records": badRecords } : {}) };
    return { ...this.progress, ...totals, counters, millis: Date.now() - this.progress.startedAt };
  }
}

/** Whether a committed result names the same files as `other`: one attempt's result, reported twice. */
function sameFiles(committed: TaskResult | undefined, other: TaskResult): boolean {
  if (!committed || (!committed.mapOutput && !committed.part)) return false;
  return committed.mapOutput?.path === other.mapOutput?.path && committed.part?.path === other.part?.path;
}

/**
 * Finished tasks' durations for speculation: the latest `kept`, and how many in all, so a stage of
 * 100,000 tasks does not sort 100,000 numbers every half second.
 */
class Durations {
  readonly latest: number[] = [];
  count = 0;
  constructor(private readonly kept: number) {}
  add(ms: number): void {
    this.latest[this.count++ % this.kept] = ms;
  }
  /** The fraction of all durations that `latest` holds (1 until it wraps). */
  get fractionKept(): number {
    return this.count === 0 ? 1 : this.latest.length / this.count;
  }
}


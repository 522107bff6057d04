/**
 * The JobStore of a cluster: committed results and progress in Redis, so any coordinator can resume
 * the job. Writes are fenced: each carries the writer's leader epoch and is refused unless that
 * coordinator still holds the lease at that epoch, so a leader paused past its lease cannot write;
 * its file-system effects pass the same fence first (guard).
 */
import type { Redis } from "ioredis";
import type { Keys } from "../core/cluster/keys.js";
import type { JobId, TaskId } from "../core/ids.js";
import type { TaskResult } from "../core/tasks.js";
import { LeaderWrites, type Fence } from "../core/cluster/state/leader-writes.js";
import { readField } from "../core/cluster/state/fields.js";
import { checkMessage, Schemas } from "../core/security/messages.js";
import type { JobStore } from "../engine/job-store.js";
import type { JobProgress } from "../core/progress.js";
import { countRejection, Rejected } from "../core/security/rejections.js";
import type { Signer } from "../core/security/signing.js";

export type { Fence } from "../core/cluster/state/leader-writes.js";

/** Progress writes are throttled; commits never are. */
const PROGRESS_EVERY_MS = 250;
/** Committed results read back per round trip when a job resumes. */
const LOAD_BATCH = 1000;

export class RedisJobStore implements JobStore {
  private lastProgress = 0;
  private pending: JobProgress | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly commits: { result: TaskResult; resolve: (won: boolean) => void; reject: (err: unknown) => void }[] = [];
  private readonly writes: LeaderWrites;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly jobId: JobId,
    fence: Fence,
    /** Signs the stored plan, checked whenever it is read back: a plan is the coordinator's word, not Redis's. */
    private readonly signer?: Signer,
  ) {
    this.writes = new LeaderWrites(redis, keys, fence);
  }

  /** Stores the job's plan (JSON) unless one is stored already, and returns the one stored, once its signature holds. */
  async storePlan(plan: string): Promise<string> {
    const sig = this.signer ? JSON.stringify(this.signer.sign("plan", this.planMessage(plan))) : "";
    const [stored, storedSig] = await this.writes.storePlan(this.jobId, plan, sig);
    return this.checkedPlan(stored, storedSig);
  }

  /** The plan stored by an earlier leader of this job, once its signature holds; undefined when none is. */
  async storedPlan(): Promise<string | undefined> {
    const [plan, sig] = await Promise.all([readField(this.redis, this.keys.job(this.jobId), "plan"), readField(this.redis, this.keys.job(this.jobId), "planSig")]);
    return plan ? this.checkedPlan(plan, sig ?? null) : undefined;
  }

  private async checkedPlan(plan: string, sig: string | null): Promise<string> {
    if (!this.signer) return plan;
    let parsed: unknown;
    try {
      parsed = JSON.parse(sig ?? "");
    } catch {
      parsed = undefined;
    }
    const problem = this.signer.check("plan", this.planMessage(plan), parsed);
    if (problem) {
      await countRejection(this.redis, this.keys, "FORGED_PLAN").catch(() => {});
      throw new Rejected("FORGED_PLAN", `stored plan of job ${this.jobId} refused: ${problem}`);
    }
    return plan;
  }

  /** What a plan's signature covers: the plan's text, bound to its job. */
  private planMessage(plan: string): { jobId: string; plan: string } {
    return { jobId: this.jobId, plan };
  }

  async guard(what: string): Promise<void> {
    await this.writes.guard(`${what} of ${this.jobId}`);
  }

  /** By HSCAN, about LOAD_BATCH results a round trip (HGETALL read a 100,000-task job's whole hash, and parsed it, at once). */
  async *load(): AsyncIterable<TaskResult[]> {
    let cursor = "0";
    do {
      const [next, flat] = await this.redis.hscan(this.keys.committed(this.jobId), cursor, "COUNT", LOAD_BATCH);
      cursor = next;
      const batch: TaskResult[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) batch.push(this.parseResult(flat[i]!, flat[i + 1]!));
      yield batch;
    } while (cursor !== "0");
  }

  /**
   * Commits made in the same turn of the event loop go to Redis as one fenced script (a batch's
   * tasks end together): one round trip and one fence check for them all, each still first-wins.
   */
  commit(result: TaskResult): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.commits.push({ result, resolve, reject });
      if (this.commits.length === 1) setImmediate(() => void this.flushCommits());
    });
  }

  private async flushCommits(): Promise<void> {
    const batch = this.commits.splice(0);
    try {
      const won = await this.writes.commit(this.jobId, batch.map((c) => [c.result.taskId, JSON.stringify(c.result)] as const));
      batch.forEach((c, i) => c.resolve(won[i] === true));
    } catch (err) {
      for (const c of batch) c.reject(err);
    }
  }

  async committed(taskId: TaskId): Promise<TaskResult | undefined> {
    const json = await this.redis.hget(this.keys.committed(this.jobId), taskId);
    return json === null ? undefined : this.parseResult(taskId, json);
  }

  async results(taskIds: readonly TaskId[]): Promise<(TaskResult | undefined)[]> {
    if (taskIds.length === 0) return [];
    const json = await this.redis.hmget(this.keys.committed(this.jobId), ...taskIds);
    return json.map((j, i) => (j === null ? undefined : this.parseResult(taskIds[i]!, j)));
  }

  /** A committed result read back, checked as any message from Redis is. */
  private parseResult(taskId: string, json: string): TaskResult {
    return checkMessage(Schemas.result, JSON.parse(json), `committed result of ${this.jobId} ${taskId}`);
  }

  async published(): Promise<boolean> {
    return (await readField(this.redis, this.keys.job(this.jobId), "published")) === "1";
  }

  async markPublished(): Promise<void> {
    await this.writes.published(this.jobId);
  }

  async uncommit(taskId: TaskId): Promise<void> {
    await this.writes.uncommit(this.jobId, taskId);
  }

  /** The job's share of the workers' slots now, written with its progress. */
  shareOf: (() => JobProgress["share"]) | undefined;

  async progress(p: JobProgress): Promise<void> {
    this.pending = p;
    const wait = this.lastProgress + PROGRESS_EVERY_MS - Date.now();
    if (wait > 0) {
      this.timer ??= setTimeout(() => { this.timer = undefined; void this.flush().catch(() => {}); }, wait); // refused to a stale leader: the next one writes progress
      return;
    }
    await this.flush();
  }

  /** Writes the latest progress now. */
  async flush(extra: object = {}): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastProgress = Date.now();
    if (!this.pending && Object.keys(extra).length === 0) return;
    const share = this.shareOf?.();
    await this.writes.progress(this.jobId, JSON.stringify({ ...this.pending, ...(share ? { share } : {}), ...extra }));
  }
}

/** The JobStore of a cluster: committed results and progress in Redis, so any coordinator can resume the job. */
import type { Redis } from "ioredis";
import type { Keys } from "../core/cluster/keys.js";
import type { JobId, TaskId } from "../core/ids.js";
import type { TaskResult } from "../core/tasks.js";
import type { JobStore } from "./job-store.js";
import type { JobProgress } from "../core/progress.js";

/** Progress writes are throttled; commits never are. */
const PROGRESS_EVERY_MS = 250;

export class RedisJobStore implements JobStore {
  private lastProgress = 0;
  private pending: JobProgress | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly redis: Redis, private readonly keys: Keys, private readonly jobId: JobId) {}

  async load(): Promise<Map<TaskId, TaskResult>> {
    const all = await this.redis.hgetall(this.keys.committed(this.jobId));
    return new Map(Object.entries(all).map(([id, json]) => [id as TaskId, JSON.parse(json) as TaskResult]));
  }

  async commit(result: TaskResult): Promise<boolean> {
    return (await this.redis.hsetnx(this.keys.committed(this.jobId), result.taskId, JSON.stringify(result))) === 1;
  }

  async progress(p: JobProgress): Promise<void> {
    this.pending = p;
    const wait = this.lastProgress + PROGRESS_EVERY_MS - Date.now();
    if (wait > 0) {
      this.timer ??= setTimeout(() => { this.timer = undefined; void this.flush(); }, wait);
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
    await this.redis.hset(this.keys.job(this.jobId), "progress", JSON.stringify({ ...this.pending, ...extra }));
  }
}

/** The warning `status` and `submit --wait` give when a job's tasks wait and no worker is live. */
import type { Redis } from "ioredis";
import type { JobRecord } from "../core/cluster/jobs.js";
import type { Keys } from "../core/cluster/keys.js";
import { listWorkers } from "../core/cluster/workers.js";

/** Whether a job has tasks queued that no worker will take: it runs, has attempts out, and no worker is live. */
export function waitsForWorkers(record: JobRecord, liveWorkers: number): boolean {
  return liveWorkers === 0 && record.state === "running" && (record.progress?.running ?? 0) > 0;
}

export const NO_WORKER = "no live worker: its tasks wait in the queue until one starts (sheaf worker; sheaf workers lists them)";

/** How often a follower looks at the live workers. */
const CHECK_MS = 2_000;

/** For `submit --wait`: says once when a job's tasks start waiting for a worker, and once when one is live again. */
export class WorkerWatch {
  private checkedAt = 0;
  private waiting = false;

  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  /** "none" when the job just started waiting, "back" when it just stopped, else undefined. */
  async check(record: JobRecord): Promise<"none" | "back" | undefined> {
    if (Date.now() - this.checkedAt < CHECK_MS) return undefined;
    this.checkedAt = Date.now();
    const live = await listWorkers(this.redis, this.keys).then((w) => w.length, () => 1);
    const waiting = waitsForWorkers(record, live);
    if (waiting === this.waiting) return undefined;
    this.waiting = waiting;
    return waiting ? "none" : "back";
  }
}

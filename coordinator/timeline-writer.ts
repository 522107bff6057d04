/**
 * The leader's writer of a job's timeline (core/cluster/timeline.ts): attempts that ended are kept
 * in memory and written at most every FLUSH_MS in one transaction, so the record costs the cluster
 * a round trip per flush, not per task. Best-effort, like progress: a lost flush loses lines of the
 * timeline, never a result.
 */
import type { Redis } from "ioredis";
import type { AttemptEnd } from "../core/attempts.js";
import { appendAttempts } from "../core/cluster/timeline.js";
import type { Keys } from "../core/cluster/keys.js";
import type { JobId } from "../core/ids.js";

const FLUSH_MS = 500;
/** Entries held while Redis does not answer; beyond that the oldest go. */
const HELD_MAX = 20_000;

export class TimelineWriter {
  private pending: AttemptEnd[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly redis: Redis, private readonly keys: Keys, private readonly jobId: JobId) {}

  add(a: AttemptEnd): void {
    this.pending.push(a);
    if (this.pending.length > HELD_MAX) this.pending.splice(0, this.pending.length - HELD_MAX);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Writes what is pending now (and waits for a write under way). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0);
    this.writing = this.writing.then(() => appendAttempts(this.redis, this.keys, this.jobId, batch)).catch(() => {});
    return this.writing;
  }
}

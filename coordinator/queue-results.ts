/**
 * How an executor learns its queue jobs' ends: one listener on the shared QueueEvents for each kind of
 * event, dispatching by queue id to a map of waiters, so that each event costs O(1) whatever the
 * number of tasks. (BullMQ's `job.waitUntilFinished` adds three listeners per job, one of them on the
 * queue's single `closing` event: removing it scans every other waiter's, O(n) per task.)
 *
 * Events are a hint, not the truth, twice over. What an event says is never taken: a completed or
 * failed event only makes the waiter read its queue entry (its return value or failure, set by the
 * script that finished the entry under its lock), since anyone who can write to the event stream
 * (the worker's Redis user too) could otherwise report any result for any task. And BullMQ trims its
 * event stream (about 10,000 events), so a
 * coordinator that falls behind, or reconnects, can miss one. A waiter that has heard nothing for a
 * while is looked up in Redis (its job's state), as is one whose add found the job already there
 * (the `duplicated` event: a resumed coordinator re-adding a task that may have finished).
 */
import type { Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";

export type Finish = { ok: true; value: unknown } | { ok: false; reason: string };

interface Waiter {
  settle: (f: Finish) => void;
  onActive?: () => void;
  /** When it was registered or last looked up. */
  checkedAt: number;
}

/** How long a waiter may hear nothing before its job is looked up in Redis, and how often to look. */
const LOOKUP_AFTER_MS = 5_000;

export class QueueResults {
  private readonly waiters = new Map<string, Waiter>();
  private readonly timer: NodeJS.Timeout;
  private sweeping = false;
  private readonly onCompleted = ({ jobId }: { jobId: string }) => this.readEntry(jobId);
  private readonly onFailed = ({ jobId }: { jobId: string }) => this.readEntry(jobId);
  /** Queue ids whose entries are read together, in one round trip per turn of the event loop. */
  private toRead: string[] = [];
  private readonly onActive = ({ jobId }: { jobId: string }) => {
    const w = this.waiters.get(jobId);
    if (w) w.checkedAt = Date.now();
    w?.onActive?.();
  };
  private readonly onDuplicated = ({ jobId }: { jobId: string }) => {
    if (this.waiters.has(jobId)) void this.lookUp([jobId]);
  };

  constructor(private readonly queue: Queue, private readonly events: QueueEvents, private readonly redis: Redis) {
    events.on("completed", this.onCompleted);
    events.on("failed", this.onFailed);
    events.on("active", this.onActive);
    events.on("duplicated", this.onDuplicated);
    this.timer = setInterval(() => void this.sweep(), LOOKUP_AFTER_MS).unref();
  }

  /** Waits for queue job `id` to complete (its return value) or fail for good (its reason). Register before adding the job. */
  wait(id: string, onActive?: () => void): Promise<Finish> {
    return new Promise((settle) => this.waiters.set(id, { settle, onActive, checkedAt: Date.now() }));
  }

  /** Stops waiting for `id` (its promise never settles). */
  forget(id: string): void {
    this.waiters.delete(id);
  }

  private readEntry(id: string): void {
    if (!this.waiters.has(id)) return;
    this.toRead.push(id);
    if (this.toRead.length === 1) setImmediate(() => void this.readEntries().catch(() => {})); // unread: the sweep looks later
  }

  /**
   * Settles each waiter from its entry as the finishing script left it (finishedOn set): a completed
   * one by its return value, a failed one by its reason. An entry not finished (the event was not
   * BullMQ's) is left to the sweep.
   */
  private async readEntries(): Promise<void> {
    const ids = this.toRead;
    this.toRead = [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(this.queue.toKey(id), "finishedOn", "returnvalue", "failedReason");
    const rows = (await pipe.exec()) ?? [];
    ids.forEach((id, i) => {
      const [err, fields] = rows[i] ?? [];
      if (err || !Array.isArray(fields)) return;
      const [finishedOn, returnvalue, failedReason] = fields as (string | null)[];
      if (!finishedOn) return;
      if (returnvalue !== null && returnvalue !== undefined) {
        let value: unknown;
        try {
          value = JSON.parse(returnvalue);
        } catch {
          return this.finish(id, { ok: false, reason: `queue job ${id}: its return value is not JSON` });
        }
        this.finish(id, { ok: true, value });
      } else if (failedReason !== null && failedReason !== undefined) this.finish(id, { ok: false, reason: failedReason });
    });
  }

  private finish(id: string, f: Finish): void {
    const w = this.waiters.get(id);
    if (!w) return;
    this.waiters.delete(id);
    w.settle(f);
  }

  /** Looks up the waiters that heard nothing for a while (bounded by the tasks in flight, not by the job). */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      const quiet = [...this.waiters].filter(([, w]) => now - w.checkedAt >= LOOKUP_AFTER_MS).map(([id]) => id);
      for (const id of quiet) this.waiters.get(id)!.checkedAt = now;
      await this.lookUp(quiet);
    } catch {
      // Redis unreachable: the next sweep looks again.
    } finally {
      this.sweeping = false;
    }
  }

  private async lookUp(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 100) {
      await Promise.all(
        ids.slice(i, i + 100).map(async (id) => {
          const state = await this.queue.getJobState(id);
          // Gone while awaited (removed by hand, or trimmed): the task runs again.
          if (state === "unknown") return this.finish(id, { ok: false, reason: `queue job ${id} is gone` });
          // Read as an event's entry is: one pipelined read for all of them.
          if (state === "completed" || state === "failed") this.readEntry(id);
        }),
      );
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.events.off("completed", this.onCompleted);
    this.events.off("failed", this.onFailed);
    this.events.off("active", this.onActive);
    this.events.off("duplicated", this.onDuplicated);
  }
}

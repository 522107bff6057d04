/**
 * How an executor learns its queue jobs' ends: one listener on the shared QueueEvents for each kind of
 * event, dispatching by queue id to a map of waiters, so that each event costs O(1) whatever the
 * number of tasks. (BullMQ's `job.waitUntilFinished` adds three listeners per job, one of them on the
 * queue's single `closing` event: removing it scans every other waiter's, O(n) per task.)
 *
 * Events are a hint, not the truth: BullMQ trims its event stream (about 10,000 events), so a
 * coordinator that falls behind, or reconnects, can miss one. A waiter that has heard nothing for a
 * while is looked up in Redis (its job's state), as is one whose add found the job already there
 * (the `duplicated` event: a resumed coordinator re-adding a task that may have finished).
 */
import { Job as BullJob, type Queue, type QueueEvents } from "bullmq";

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
  private readonly onCompleted = ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) => this.finish(jobId, { ok: true, value: returnvalue });
  private readonly onFailed = ({ jobId, failedReason }: { jobId: string; failedReason: string }) => this.finish(jobId, { ok: false, reason: failedReason });
  private readonly onActive = ({ jobId }: { jobId: string }) => {
    const w = this.waiters.get(jobId);
    if (w) w.checkedAt = Date.now();
    w?.onActive?.();
  };
  private readonly onDuplicated = ({ jobId }: { jobId: string }) => {
    if (this.waiters.has(jobId)) void this.lookUp([jobId]);
  };

  constructor(private readonly queue: Queue, private readonly events: QueueEvents) {
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
          if (state !== "completed" && state !== "failed") return;
          const job = await BullJob.fromId(this.queue, id);
          if (!job) return;
          this.finish(id, state === "completed" ? { ok: true, value: job.returnvalue } : { ok: false, reason: job.failedReason });
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

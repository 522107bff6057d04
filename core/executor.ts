/** The seam between scheduling and running: the embedded runner's thread pool and a cluster's queue both implement it. */
import type { Task, TaskOutcome } from "./tasks.js";

export interface TaskExecutor {
  /** How many tasks it runs at once. */
  readonly concurrency: number;
  /**
   * Runs one attempt. Failures resolve as `{ ok: false }`; it rejects only when aborted.
   * `onStart` is called when the attempt starts running (after waiting for a thread or a worker).
   */
  run(task: Task, signal?: StopSignal, onStart?: () => void): Promise<TaskOutcome>;
  /** Stops the threads or connections; waits for them to end. */
  close(): Promise<void>;
}

/**
 * What stops one attempt (its job's end, another attempt's commit): the part of an AbortSignal an
 * executor uses. An AbortSignal is one; the driver gives each attempt a lighter one (an
 * AbortController cost about 4 µs and 1.4 KB of garbage per attempt of a 100,000-task job).
 */
export interface StopSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
}

/** A StopSignal that its owner stops. */
export class Stop implements StopSignal {
  aborted = false;
  reason: unknown;
  private listeners: (() => void)[] | undefined;

  addEventListener(_type: "abort", listener: () => void): void {
    (this.listeners ??= []).push(listener);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners ?? [];
    this.listeners = undefined;
    for (const l of listeners) l();
  }
}

/** An AbortSignal that follows `stop` (for APIs that take only AbortSignals). */
export function abortSignalOf(stop: StopSignal): AbortSignal {
  if (stop instanceof AbortSignal) return stop;
  const c = new AbortController();
  if (stop.aborted) c.abort(stop.reason);
  else stop.addEventListener("abort", () => c.abort(stop.reason), { once: true });
  return c.signal;
}

/**
 * Which running tasks deserve a backup attempt: near the end of a stage (most tasks done, few left),
 * a task running far longer than the median finished one, as Hadoop's and Spark's speculative
 * execution do. The first attempt to commit wins; the other is stopped.
 */
import type { TaskId } from "../core/ids.js";

export interface RunningTask {
  taskId: TaskId;
  /** When its oldest live attempt started running (not when it was queued). */
  startedAt: number;
  hasBackup: boolean;
}

export interface SpeculationPolicy {
  /** Fraction of the stage's tasks that must be done first. @defaultValue 0.5 */
  minDone: number;
  /** A task is a straggler past this multiple of the median duration… @defaultValue 2 */
  slowFactor: number;
  /** …and past the median by at least this much, in ms. @defaultValue 1000 */
  minExtraMs: number;
}

export const DEFAULT_SPECULATION: SpeculationPolicy = { minDone: 0.5, slowFactor: 2, minExtraMs: 1000 };

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function stragglers(running: readonly RunningTask[], doneDurations: readonly number[], stageSize: number, now: number, policy = DEFAULT_SPECULATION): TaskId[] {
  if (doneDurations.length === 0 || doneDurations.length < stageSize * policy.minDone) return [];
  const m = median(doneDurations);
  const limit = Math.max(m * policy.slowFactor, m + policy.minExtraMs);
  return running.filter((t) => !t.hasBackup && now - t.startedAt > limit).map((t) => t.taskId);
}

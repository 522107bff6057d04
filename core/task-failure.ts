/** What a failed attempt reports: the error, classified (retryable or not, a lost intermediate file). */
import { userFrame, userStack } from "./artifact.js";
import { diskFull, messageOf, SheafError, UserCodeError } from "./errors.js";
import { CORRUPT } from "./shuffle/segment.js";
import type { Task, TaskFailure } from "./tasks.js";

/** Turns anything a task threw into data that survives structured clone. */
export function toFailure(err: unknown, task: Pick<Task, "taskId" | "attempt">): TaskFailure {
  const e = err as Partial<UserCodeError> & { code?: unknown; stack?: string };
  const thrown = err instanceof UserCodeError && err.cause instanceof Error ? err.cause : err;
  const at = err instanceof UserCodeError ? userFrame(err.cause) : undefined;
  const base = {
    taskId: task.taskId,
    attempt: task.attempt,
    message: messageOf(err),
    stack: userStack(thrown) ?? e?.stack,
    ...(at ? { at } : {}),
  };
  // Before SheafError (which CorruptSegmentError is), and by code too (an error that lost its class).
  if (e?.code === CORRUPT) {
    // Retrying the reader cannot help: the task that wrote the file must run again.
    const segment = (err as { segment?: { producer?: string; path: string } }).segment;
    const producer = segment?.producer as TaskFailure["producer"];
    return { ...base, code: CORRUPT, retryable: true, ...(producer ? { producer, lost: segment!.path } : {}) };
  }
  const full = err instanceof SheafError ? undefined : diskFull(err);
  if (full) return { ...base, message: full.message, code: full.code, retryable: true };
  if (err instanceof SheafError) {
    return { ...base, code: err.code, retryable: err.retryable, ...(err instanceof UserCodeError && err.input ? { input: err.input } : {}) };
  }
  return { ...base, code: typeof e?.code === "string" ? e.code : "TASK_ERROR", retryable: true };
}

/**
 * The messages between whoever schedules tasks and whoever runs them: plain data, structured-clone
 * safe. Each is defined once, by its schema (security/messages.ts), and re-exported here.
 */
import type { TaskFailure, TaskResult } from "./security/messages.js";

export type { BadRecord, JobConfig, MapTask, PartFile, ReduceTask, Task, TaskFailure, TaskResult, TaskStats } from "./security/messages.js";

export type TaskOutcome = { ok: true; result: TaskResult } | { ok: false; failure: TaskFailure };

/** The tail of what an attempt's own code printed (console.*), bounded: the last lines kept, a count of those dropped. */
export interface PrintedTail {
  lines: string[];
  dropped: number;
}

/**
 * What a thread tells about an attempt beside its outcome: when it ran, on which thread, and what
 * it printed. The pool takes it off the outcome (which goes on unchanged) and hands it to whoever
 * records attempts (a worker, into Redis).
 */
export interface AttemptRun {
  startedAt: number;
  endedAt: number;
  threadId: number;
  printed?: PrintedTail;
}

export type ThreadOutcome = TaskOutcome & { run?: AttemptRun };

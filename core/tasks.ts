/**
 * The messages between whoever schedules tasks and whoever runs them: plain data, structured-clone
 * safe. Each is defined once, by its schema (security/messages.ts), and re-exported here.
 */
import type { TaskFailure, TaskResult } from "./security/messages.js";

export type { BadRecord, JobConfig, MapTask, PartFile, ReduceTask, Task, TaskFailure, TaskResult, TaskStats } from "./security/messages.js";

export type TaskOutcome = { ok: true; result: TaskResult } | { ok: false; failure: TaskFailure };

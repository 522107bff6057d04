/**
 * The package root, `import … from "sheaf"` in a program: the job API (defineJob, the formats, the
 * helpers) and the runner API (`run`, `connect`). A job module bundled by Sheaf gets the job API
 * alone (core/api), never the runner.
 */
export * from "../core/api/index.js";
export { SheafError } from "../core/errors.js";
export { connect, run, type ClusterClient, type ConnectOptions, type JobHandle, type JobOptions, type JobRecord, type JobReport, type PipelineRunReport, type RunOptions, type RunRecord, type ScheduleRecord, type Schedules, type ScheduleSpec, type ScheduleTiming } from "./api.js";
export type { WorkerBeat } from "../core/cluster/workers.js";
export type { AttemptLog } from "../core/cluster/attempt-logs.js";
export type { AttemptEnd } from "../core/attempts.js";
export type { LogFilter } from "./logs.js";

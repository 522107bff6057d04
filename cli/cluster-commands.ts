/** What the cluster commands need, loaded only when one runs (see cli/main.ts). */
export { Coordinator } from "../coordinator/coordinator.js";
export { QueueWorker } from "../worker/queue-worker.js";
export { DashboardServer } from "../dashboard/server.js";
export { cancelJob, FINISHED, listJobs, readJob } from "../core/cluster/jobs.js";
export { cancelRun, isRunId, listRuns, readRun, RUN_FINISHED } from "../core/cluster/runs.js";
export { Keys } from "../core/cluster/keys.js";
export { connectRedis, redisUrlFrom, untilConnected } from "../core/cluster/redis.js";
export { addSchedule, backfill, listSchedules, pauseSchedule, removeSchedule, renderSchedules, resumeSchedule, updateSchedule } from "../runner/schedule.js";
export { renderJob, renderJobTable, renderRejections, renderRun } from "../runner/status.js";
export { readOverview } from "../runner/status-data.js";
export { readRejections } from "../core/security/rejections.js";
export { submit, waitForJob, waitForRun } from "../runner/submit.js";
export { jobEnded, runEnded } from "../runner/ended.js";
export { AllowedRoots } from "../core/security/roots.js";
export { parseEvery } from "../core/schedule-clock.js";

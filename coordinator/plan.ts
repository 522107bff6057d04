/** Turns a job and its inputs into tasks: one map task per split, one reduce task per partition. */
import type { Job } from "../core/api/job.js";
import { taskId } from "../core/ids.js";
import { listInputs, type InputFile } from "../core/inputs.js";
import { planSplits } from "../core/splits.js";
import type { JobConfig, MapTask } from "../core/tasks.js";

export interface JobPlan {
  config: JobConfig;
  inputs: InputFile[];
  /** Map tasks with attempt 0: each attempt gets its own number. */
  maps: MapTask[];
  /** Number of reduce tasks (0 for a map-only job). */
  reduces: number;
}

export interface PlanOptions {
  /** Input arguments: files, folders, globs. */
  inputs: readonly string[];
  splitSize: number;
  /** From the command line; overrides the job's own. */
  partitions?: number;
  /** Used when neither the command line nor the job names a partition count. */
  defaultPartitions: number;
}

export function planJob(job: Job, base: Omit<JobConfig, "partitions">, options: PlanOptions): JobPlan {
  const inputs = listInputs(options.inputs, base.cwd);
  const countLines = job.input.format === "lines" && job.input.lineNumbers;
  const splits = planSplits(inputs, options.splitSize, countLines, base.cwd);
  const reduces = job.reduce ? (options.partitions ?? job.partitions ?? options.defaultPartitions) : 0;
  const config: JobConfig = { ...base, partitions: reduces };
  const maps = splits.map((split, index): MapTask => ({ kind: "map", job: config, taskId: taskId("map", index), index, attempt: 0, split }));
  return { config, inputs, maps, reduces };
}

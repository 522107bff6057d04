/** Turns a job and its inputs into tasks: one map task per split, one reduce task per partition. */
import type { Job } from "../core/api/job.js";
import { JOB_DEFAULTS } from "../core/defaults.js";
import { taskId } from "../core/ids.js";
import { inputReader, readsFiles } from "../core/formats/registry.js";
import { listInputs, type InputFile } from "../core/inputs.js";
import type { JobConfig, MapTask } from "../core/tasks.js";
import { sampleRangeBoundaries } from "./range-sample.js";
import { SplitTable } from "./split-table.js";

/** A job's plan: its config, inputs, splits (map task i reads split i) and reduce count. */
export interface JobPlan {
  config: JobConfig;
  inputs: InputFile[];
  splits: SplitTable;
  reduces: number;
}

/** Map task i of a plan, made when it is attempted (a plan holds no task objects: split-table.ts). */
export function mapTask(plan: JobPlan, index: number): MapTask {
  return { kind: "map", job: plan.config, taskId: taskId("map", index), index, attempt: 0, split: plan.splits.at(index) };
}

export interface PlanOptions {
  /** Input arguments: files, folders, globs. */
  inputs: readonly string[];
  splitSize: number;
  /** From the command line; overrides the job's own. */
  partitions?: number;
  /** Used when neither the command line nor the job names a partition count. */
  defaultPartitions: number;
  /** From the command line; override the job's own. */
  taskTimeoutMs?: number;
  speculative?: boolean;
  checkpointBytes?: number;
  /** Tasks that can run at once, when known (a local run's threads): readers that group units keep a file from going to fewer tasks. */
  parallelism?: number;
}

/**
 * The plan options of a job's settings (a `sheaf run`'s, or a cluster job record's: the same fields),
 * made in one place for both transports.
 */
export function planOptionsOf(s: Omit<PlanOptions, "defaultPartitions">, defaultPartitions: number = JOB_DEFAULTS.partitions): PlanOptions {
  const { inputs, splitSize, partitions, taskTimeoutMs, speculative, checkpointBytes, parallelism } = s;
  return { inputs, splitSize, partitions, defaultPartitions, taskTimeoutMs, speculative, checkpointBytes, ...(parallelism ? { parallelism } : {}) };
}

/** What the job itself decides, unless the command line overrides it. */
type JobDefaults = "partitions" | "taskTimeoutMs" | "skipBadRecords" | "speculative" | "checkpointBytes" | "checkpointMs" | "formats";

export const DEFAULT_CHECKPOINT = { bytes: JOB_DEFAULTS.checkpointBytes, ms: 10_000, share: 0.05 };

/** Lists the inputs (a table source has none) and asks the input format to cut them into splits. */
export async function planJob(job: Job, base: Omit<JobConfig, JobDefaults>, options: PlanOptions): Promise<JobPlan> {
  const inputs = readsFiles(job.input) ? await listInputs(options.inputs, base.cwd) : [];
  const splits = await (await inputReader(job.input)).plan(inputs, options.splitSize, base.cwd, options.parallelism);
  const reduces = job.reduce ? (options.partitions ?? job.partitions ?? options.defaultPartitions) : 0;
  const rangeBoundaries = job.partitioner === "range" && reduces > 1 ? await sampleRangeBoundaries(job, splits, reduces, base.cwd, base.params) : undefined;
  const config: JobConfig = {
    ...base,
    ...(rangeBoundaries ? { rangeBoundaries } : {}),
    formats: { input: job.input, output: job.output },
    partitions: reduces,
    taskTimeoutMs: options.taskTimeoutMs ?? job.taskTimeout ?? JOB_DEFAULTS.taskTimeoutMs,
    skipBadRecords: job.skipBadRecords ?? 0,
    speculative: options.speculative ?? job.speculative ?? true,
    checkpointBytes: options.checkpointBytes ?? DEFAULT_CHECKPOINT.bytes,
    checkpointMs: DEFAULT_CHECKPOINT.ms,
    ...(options.checkpointBytes === undefined ? { checkpointShare: DEFAULT_CHECKPOINT.share } : {}),
  };
  return { config, inputs, splits: SplitTable.from(splits), reduces };
}

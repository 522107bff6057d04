/** What `run` and `submit` both take from the command line about a job: inputs, output, and how to cut and run it. */
import { JOB_DEFAULTS as CORE_DEFAULTS } from "../core/defaults.js";
import { availableParallelism } from "node:os";
import { isAbsolute, join, resolve, sep } from "node:path";
import { listInputs } from "../core/inputs.js";
import { isObjectUrl } from "../core/store/location.js";
import { absoluteLocation, objectOutputScratch } from "../core/storage.js";
import type { AllowedRoots } from "../core/security/roots.js";
import type { Job } from "../core/api/job.js";
import { SheafError } from "../core/errors.js";
import { readsFiles, writesFiles } from "../core/formats/registry.js";

export interface JobSettings {
  /** Empty for a job whose input is a table source. */
  inputs: string[];
  /** Undefined for a job whose output is a sink. */
  output?: string;
  workdir: string;
  splitSize: number;
  partitions?: number;
  params: Record<string, string>;
  sortBufferBytes: number;
  overwrite: boolean;
  /** Wait while another job writes the output, instead of refusing. */
  waitForOutput?: boolean;
  maxAttempts: number;
  taskTimeoutMs?: number;
  checkpointBytes?: number;
  speculative?: boolean;
  /** On a cluster: the pool the job's tasks share the workers' slots in, and its weight there (coordinator/fair-share.ts). */
  pool?: string;
  priority?: number;
  /** `--allow-root` folders (with `SHEAF_ALLOW_ROOTS`): inputs, output and workdir must lie inside them. */
  allowRoots?: string[];
}

/** core/defaults.ts's, and `sheaf run`'s thread count. */
export const JOB_DEFAULTS = { ...CORE_DEFAULTS, threads: availableParallelism() };

/**
 * The output folder of a job, absolute: `--output`, or for a sink (which writes no files) a
 * private folder in the job's scratch space where attempts keep their staging state. Refuses a
 * job that needs `--input` or `--output` and lacks it, and one given a flag it cannot use.
 */
export function resolveOutput(job: Job, settings: Pick<JobSettings, "inputs" | "output">, scratch: string): string {
  if (readsFiles(job.input) && settings.inputs.length === 0) {
    throw new SheafError("MISSING_INPUT", `job ${job.name} reads ${job.input.format} files: give --input <path|glob>`);
  }
  if (!readsFiles(job.input) && settings.inputs.length > 0) {
    throw new SheafError("UNUSED_INPUT", `job ${job.name} reads from ${job.input.format}, not files: drop --input`);
  }
  if (!writesFiles(job.output)) {
    if (settings.output !== undefined) throw new SheafError("UNUSED_OUTPUT", `job ${job.name} loads its output into ${job.output.format}, not files: drop --output`);
    return objectOutputScratch(scratch);
  }
  if (settings.output === undefined) throw new SheafError("MISSING_OUTPUT", `job ${job.name} writes ${job.output.format} files: give --output <dir>`);
  // Parts bound for an object store are written in the scratch space first (core/store/object-output.ts).
  return isObjectUrl(settings.output) ? objectOutputScratch(scratch) : resolve(settings.output);
}

/** The job's output prefix in an object store, when `--output` is one. */
export const objectOutputOf = (settings: Pick<JobSettings, "output">): string | undefined => (settings.output !== undefined && isObjectUrl(settings.output) ? settings.output : undefined);

/** Refuses, before anything is bundled or queued, a workdir, output or input file outside the allowed roots. */
export async function confineSettings(roots: AllowedRoots, settings: Pick<JobSettings, "inputs" | "output" | "workdir">, cwd: string): Promise<void> {
  if (!roots.confined) return;
  roots.check(absoluteLocation(settings.workdir), "workdir");
  if (settings.output !== undefined && !isObjectUrl(settings.output)) roots.check(resolve(settings.output), "output");
  // Each file as listed (a folder's symlinks included), resolved as the OS would follow it.
  for (const f of settings.inputs.length ? await listInputs(settings.inputs, cwd) : []) {
    if (!isObjectUrl(f.path)) roots.check(isAbsolute(f.path) ? f.path : cwd + sep + f.path, "input");
  }
}

/** Where a job's output goes, for messages: the folder, or the sink's table. */
export function describeSink(job: Job): string {
  return job.output.format === "postgres" ? `PostgreSQL table ${job.output.table}` : "";
}

/** Refuses the pipeline-only flags (`--at`, `--tz`, `--force`, `--only`, `--from`) for a plain job, which would ignore them. */
export function refusePipelineFlags(job: Job, flags: { at?: string; tz?: string; force?: boolean; only?: string; from?: string }): void {
  const given = [flags.at !== undefined && "--at", flags.tz !== undefined && "--tz", flags.force && "--force", flags.only !== undefined && "--only", flags.from !== undefined && "--from"].filter(Boolean);
  if (given.length) {
    throw new SheafError("PIPELINE_ONLY", `${given.join(", ")} ${given.length > 1 ? "are" : "is"} for pipelines: job ${job.name} has no logical time or stages (pass values to a job with --param)`);
  }
}

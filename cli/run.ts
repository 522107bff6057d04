/**
 * `sheaf run`: the embedded runner. The same planner, tasks, shuffle and commit as a cluster,
 * with a thread pool in this process as the executor.
 */
import { resolve, sep } from "node:path";
import { JobDriver, type JobReport } from "../coordinator/driver.js";
import { planJob } from "../coordinator/plan.js";
import { loadJob } from "../core/artifact.js";
import { SheafError } from "../core/errors.js";
import { newJobId } from "../core/ids.js";
import { jobScratchDir } from "../core/storage.js";
import { ThreadPool } from "../worker/pool.js";
import { bundleJob } from "./bundle.js";
import { describeSink, resolveOutput, type JobSettings } from "./job-settings.js";
import { ProgressReporter } from "./progress.js";

export interface RunOptions extends JobSettings {
  threads: number;
  quiet?: boolean;
}

export async function runJob(jobFile: string, options: RunOptions, signal?: AbortSignal): Promise<JobReport> {
  const workdir = resolve(options.workdir);
  const artifact = await bundleJob(jobFile, workdir);
  const job = await loadJob(artifact.path, jobFile);
  const jobId = newJobId(job.name);
  const scratch = jobScratchDir(workdir, jobId);
  const output = resolveOutput(job, options, scratch);
  const plan = await planJob(
    job,
    { jobId, name: job.name, artifact: artifact.path, params: options.params, cwd: process.cwd(), output, scratch, sortBufferBytes: options.sortBufferBytes },
    {
      inputs: options.inputs,
      splitSize: options.splitSize,
      partitions: options.partitions,
      defaultPartitions: options.threads,
      taskTimeoutMs: options.taskTimeoutMs,
      speculative: options.speculative,
      checkpointBytes: options.checkpointBytes,
    },
  );
  const inside = plan.inputs.find((f) => resolve(f.path).startsWith(output + sep));
  if (inside) throw new SheafError("OUTPUT_OVERLAPS_INPUT", `output folder ${options.output} holds input file ${inside.path}: choose an output folder outside the inputs`);

  const progress = options.quiet ? undefined : new ProgressReporter(job.name);
  const pool = new ThreadPool({ threads: options.threads });
  try {
    const driver = new JobDriver(plan, pool, {
      retry: { maxAttempts: options.maxAttempts, backoffMs: 250 },
      overwrite: options.overwrite,
      onProgress: (p) => progress?.update(p),
      onAttemptFailed: (f, retry) => progress?.attemptFailed(f, retry),
      signal,
    });
    const report = await driver.run();
    progress?.stop();
    if (progress) process.stderr.write(progress.summary(report, options.output ?? describeSink(job)) + "\n");
    return report;
  } finally {
    progress?.stop();
    await pool.close();
  }
}

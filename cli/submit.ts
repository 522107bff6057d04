/** `sheaf submit`: bundle the job into the shared workdir, record it in Redis, print its id; with --wait, follow it. */
import { resolve } from "node:path";
import type { Redis } from "ioredis";
import { OutputCommitter } from "../coordinator/committer.js";
import { loadJob } from "../core/artifact.js";
import { FINISHED, readJob, submitJob, type JobRecord } from "../core/cluster/jobs.js";
import { Keys } from "../core/cluster/keys.js";
import { SheafError } from "../core/errors.js";
import { newJobId, type JobId } from "../core/ids.js";
import { isReport } from "../core/progress.js";
import { listInputs } from "../core/inputs.js";
import { bundleJob } from "./bundle.js";
import { resolveOutput, type JobSettings } from "./job-settings.js";
import { writesFiles } from "../core/formats/registry.js";
import { jobScratchDir } from "../core/storage.js";
import { ProgressReporter } from "./progress.js";

/** Checks what can be checked here (inputs, output, the job module) so mistakes fail before they queue. */
export async function submit(redis: Redis, keys: Keys, jobFile: string, o: JobSettings): Promise<JobId> {
  const cwd = process.cwd();
  const workdir = resolve(o.workdir);
  const artifact = await bundleJob(jobFile, workdir);
  const job = await loadJob(artifact.path, jobFile);
  const id = newJobId(job.name);
  const output = resolveOutput(job, o, jobScratchDir(workdir, id));
  if (o.inputs.length) listInputs(o.inputs, cwd);
  if (writesFiles(job.output)) new OutputCommitter(output).check(o.overwrite);
  await submitJob(redis, keys, {
    id,
    name: job.name,
    artifact: artifact.path,
    workdir,
    inputs: o.inputs,
    output,
    cwd,
    params: o.params,
    partitions: o.partitions,
    splitSize: o.splitSize,
    sortBufferBytes: o.sortBufferBytes,
    maxAttempts: o.maxAttempts,
    taskTimeoutMs: o.taskTimeoutMs,
    checkpointBytes: o.checkpointBytes,
    speculative: o.speculative,
    overwrite: o.overwrite,
    submittedAt: Date.now(),
  });
  return id;
}

/** Follows a job to its end, showing progress on stderr; resolves with its final record. */
export async function waitForJob(redis: Redis, keys: Keys, id: JobId, quiet = false): Promise<JobRecord> {
  let reporter: ProgressReporter | undefined;
  for (;;) {
    const record = await readJob(redis, keys, id);
    if (!record) throw new SheafError("NO_SUCH_JOB", `no job ${id} under prefix ${keys.prefix}`);
    if (!quiet && record.progress) {
      reporter ??= new ProgressReporter(record.spec.name);
      reporter.update(record.progress);
    }
    if (FINISHED.has(record.state)) {
      reporter?.stop();
      const p = record.progress;
      if (record.state === "succeeded" && p && isReport(p) && !quiet) {
        process.stderr.write((reporter ?? new ProgressReporter(record.spec.name)).summary(p, record.spec.output) + "\n");
      }
      return record;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

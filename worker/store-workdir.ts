/**
 * Tasks of a job whose workdir is an object store (core/store/local-workdir.ts), as this worker runs
 * them: the job's scratch space and output staging are this host's copy of the workdir (made here,
 * since no coordinator shares this disk), and a reduce task's list of map outputs is fetched there
 * from the store. The thread then runs the task as it runs any other; only the artifact is found
 * through the workdir's URL (core/artifact.ts). Tasks of a job with a folder workdir pass unchanged.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SheafError } from "../core/errors.js";
import { isObjectUrl } from "../core/store/location.js";
import { fetchToHost, localWorkdirs, onThisHost } from "../core/store/local-workdir.js";
import { outputTemporaryDir } from "../core/storage.js";
import type { Task } from "../core/tasks.js";
import { sweepLocalDir } from "./local-dir.js";

/** This host's scratch folders of the store-workdir jobs it ran tasks of, removed when each job ends. */
const scratches = new Map<string, string>();

export async function storeTaskOnThisHost<T extends Task>(task: T): Promise<T> {
  const { workdir, scratch, output, jobId } = task.job;
  if (!isObjectUrl(workdir)) return task;
  const local = onThisHost(workdir, scratch);
  const localOutput = onThisHost(workdir, output);
  mkdirSync(local, { recursive: true });
  if (localOutput !== output) mkdirSync(outputTemporaryDir(localOutput), { recursive: true });
  scratches.set(jobId, local);
  const job = { ...task.job, scratch: local, output: localOutput };
  if (task.kind === "map") return { ...task, job };
  // Fetched every time (a few bytes per map task): a copy that fails its CRC is then never stuck here.
  const list = await fetchToHost(workdir, task.inputs.path, true);
  if (!list) throw new SheafError("REDUCE_INPUTS_LOST", `job ${task.job.name}, ${task.taskId}: list of map outputs ${task.inputs.path} is not in the store`, true);
  return { ...task, job, inputs: { ...task.inputs, path: list } };
}

/** Removes this host's scratch folder of an ended job. */
export function storeJobEnded(jobId: string): void {
  const local = scratches.get(jobId);
  if (local === undefined) return;
  scratches.delete(jobId);
  rmSync(local, { recursive: true, force: true });
}

/** At start: removes this host's scratch folders of store-workdir jobs untouched for a day (whose end this worker missed). */
export function sweepStoreScratch(): number {
  let removed = 0;
  for (const copy of existsSync(localWorkdirs()) ? readdirSync(localWorkdirs()) : []) {
    const jobs = join(localWorkdirs(), copy, "jobs");
    if (existsSync(jobs)) removed += sweepLocalDir(jobs);
  }
  return removed;
}

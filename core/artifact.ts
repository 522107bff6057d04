/** Loads a bundled job module and checks that its default export is a job. */
import { pathToFileURL } from "node:url";
import { isJob, type Job } from "./api/job.js";
import { SheafError, messageOf } from "./errors.js";

const cache = new Map<string, Promise<Job>>();

/** Imports the artifact once per thread; every task of the job reuses the module. */
export function loadJob(artifact: string, label = artifact): Promise<Job> {
  let job = cache.get(artifact);
  if (!job) {
    job = importJob(artifact, label);
    cache.set(artifact, job);
    job.catch(() => cache.delete(artifact));
  }
  return job;
}

async function importJob(artifact: string, label: string): Promise<Job> {
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(artifact).href);
  } catch (err) {
    throw new SheafError("BAD_JOB_MODULE", `job module ${label} failed to load: ${messageOf(err)}`);
  }
  if (!isJob(mod.default)) {
    const got = mod.default === undefined ? "it has no default export" : "its default export is not a job";
    throw new SheafError("BAD_JOB_MODULE", `job module ${label} must \`export default defineJob({...})\`: ${got}`);
  }
  return mod.default;
}

/** Loads a bundled job or pipeline module and checks its default export. */
import { pathToFileURL } from "node:url";
import { isJob, type Job } from "./api/job.js";
import { isPipeline, type Pipeline } from "./api/pipeline.js";
import { SheafError, messageOf } from "./errors.js";

const cache = new Map<string, Promise<Job | Pipeline>>();

/** Imports the artifact once per thread; every task of the job (or pipeline) reuses the module. */
export function loadModule(artifact: string, label = artifact): Promise<Job | Pipeline> {
  let mod = cache.get(artifact);
  if (!mod) {
    mod = importModule(artifact, label);
    cache.set(artifact, mod);
    mod.catch(() => cache.delete(artifact));
  }
  return mod;
}

/** The job of a job module, or of one stage of a pipeline module. */
export async function loadJob(artifact: string, label = artifact, stage?: string): Promise<Job> {
  const mod = await loadModule(artifact, label);
  if (isJob(mod)) {
    // A scheduled job runs as a pipeline of one stage named after it.
    if (stage !== undefined && stage !== mod.name) throw new SheafError("BAD_JOB_MODULE", `${label} is a job, not a pipeline with stage ${stage}`);
    return mod;
  }
  const found = stage === undefined ? undefined : mod.stages.find((s) => s.name === stage);
  if (!found) throw new SheafError("BAD_JOB_MODULE", stage === undefined ? `${label} is a pipeline (${mod.name}), not a job` : `pipeline ${mod.name} has no stage ${stage}`);
  return found.job;
}

async function importModule(artifact: string, label: string): Promise<Job | Pipeline> {
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(artifact).href);
  } catch (err) {
    throw new SheafError("BAD_JOB_MODULE", `job module ${label} failed to load: ${messageOf(err)}`);
  }
  if (!isJob(mod.default) && !isPipeline(mod.default)) {
    const got = mod.default === undefined ? "it has no default export" : "its default export is neither a job nor a pipeline";
    throw new SheafError("BAD_JOB_MODULE", `job module ${label} must \`export default defineJob({...})\` or \`definePipeline({...})\`: ${got}`);
  }
  return mod.default;
}

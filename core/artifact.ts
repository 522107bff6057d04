/** Loads a bundled job or pipeline module and checks its default export. */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { isJob, type Job } from "./api/job.js";
import { isPipeline, type Pipeline } from "./api/pipeline.js";
import { SheafError, messageOf } from "./errors.js";
import { artifactPath } from "./storage.js";

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

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The job a task runs: its artifact named by hash, found in the workdir's `artifacts/`, and imported
 * only if its content has that hash (a file replaced behind the engine's back is refused).
 */
export async function loadTaskJob(workdir: string, sha256: string, label: string, stage?: string): Promise<Job> {
  return loadJob(await verifiedArtifact(workdir, sha256, label), label, stage);
}

/** The path of the artifact `sha256` in the workdir, once its content is checked to have that hash. */
export async function verifiedArtifact(workdir: string, sha256: string, label: string): Promise<string> {
  if (!SHA256.test(sha256)) throw new SheafError("BAD_ARTIFACT", `job ${label}: artifact ${JSON.stringify(sha256.slice(0, 80))} is not a sha256`);
  const path = artifactPath(workdir, sha256);
  if (!verified.has(path)) {
    let content: Buffer;
    try {
      content = await readFile(path);
    } catch (err) {
      throw new SheafError("BAD_ARTIFACT", `job ${label}: artifact ${path} cannot be read: ${messageOf(err)}`);
    }
    const actual = createHash("sha256").update(content).digest("hex");
    if (actual !== sha256) throw new SheafError("BAD_ARTIFACT", `job ${label}: artifact ${path} does not match its hash (it holds ${actual})`);
    verified.add(path);
  }
  return path;
}

/** Artifacts whose hash this thread checked (content-addressed files never change once right). */
const verified = new Set<string>();

/** The sha256 an artifact path names (`…/artifacts/<sha256>.mjs`). */
export function artifactHash(path: string): string {
  const m = /([0-9a-f]{64})\.mjs$/.exec(path);
  if (!m) throw new SheafError("BAD_ARTIFACT", `${path} is not a content-addressed artifact`);
  return m[1]!;
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

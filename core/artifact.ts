/** Loads a bundled job or pipeline module and checks its default export. */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { isJob, type Job } from "./api/job.js";
import { isPipeline, type Pipeline } from "./api/pipeline.js";
import { SheafError, messageOf } from "./errors.js";
import { artifactPath } from "./storage.js";
import { loadLocation, mapStack } from "./load-location.js";
import { isObjectUrl } from "./store/location.js";
import { fetchToHost, onThisHost } from "./store/local-workdir.js";

/** Modules imported by this thread, by sha256: every task of the job (or pipeline) reuses one. */
const cache = new Map<string, Promise<Job | Pipeline>>();
/** The code and private copy each of them was imported from, by sha256: their frames in a stack are mapped back to the user's files. */
const imported = new Map<string, { code: string; copy: string; label: string }>();

/** `err`'s stack with the frames in an artifact this thread imported mapped back to the user's files. */
export function userStack(err: unknown): string | undefined {
  const stack = (err as { stack?: unknown } | null)?.stack;
  if (typeof stack !== "string") return undefined;
  const m = /([0-9a-f]{64})\.mjs:\d+:\d+/.exec(stack);
  const source = m ? imported.get(m[1]!) : undefined;
  return source ? mapStack(stack, source.code, source.copy) : stack;
}

/**
 * `file:line:column` in the user's own sources where `err` (thrown by a job's code) was thrown: the
 * innermost frame of its stack in an artifact this thread imported, through the artifact's inline
 * source map; undefined if none.
 */
export function userFrame(err: unknown): string | undefined {
  const stack = String((err as { stack?: unknown } | null)?.stack ?? "");
  const m = /([0-9a-f]{64})\.mjs:\d+:\d+/.exec(stack);
  const source = m ? imported.get(m[1]!) : undefined;
  return source ? loadLocation(err, source.code, source.copy, source.label) : undefined;
}

/**
 * Imports the artifact at `path` (`…/artifacts/<sha256>.mjs`) once per thread, if its content has
 * the hash its name gives: a file replaced behind the engine's back is refused, not run.
 */
export function loadModule(path: string, label = path): Promise<Job | Pipeline> {
  return loadOnce({ path }, label);
}

/** loadModule, with the bytes already read and verified where the artifact was found (artifactOnThisHost). */
function loadOnce(artifact: OnThisHost, label: string): Promise<Job | Pipeline> {
  const sha256 = artifactHash(artifact.path);
  let mod = cache.get(sha256);
  if (!mod) {
    const code = artifact.verified ? Promise.resolve(artifact.verified) : verifiedCode(artifact.path, sha256, label);
    mod = code.then((code) => importModule(code, sha256, label));
    cache.set(sha256, mod);
    mod.catch(() => cache.delete(sha256));
  }
  return mod;
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The job a task runs: its artifact named by hash, found in the workdir's `artifacts/`, and imported
 * only if its content has that hash.
 */
export async function loadTaskJob(workdir: string, sha256: string, label: string, stage?: string): Promise<Job> {
  return jobOf(await loadOnce(await artifactOnThisHost(workdir, checkSha(sha256, label), label), label), label, stage);
}

/** The module of the artifact `sha256` in the workdir, checked as loadTaskJob checks it. */
export async function loadArtifact(workdir: string, sha256: string, label: string): Promise<Job | Pipeline> {
  return loadOnce(await artifactOnThisHost(workdir, checkSha(sha256, label), label), label);
}

/** An artifact's file on this host; `verified`, its bytes when finding it read them and checked their hash. */
interface OnThisHost {
  path: string;
  verified?: Buffer;
}

/**
 * The artifact's file: in a shared workdir, where it lies; in a store workdir, this host's copy,
 * fetched if missing or not matching its hash (a fetched copy is verified as it is read to be imported).
 */
async function artifactOnThisHost(workdir: string, sha256: string, label: string): Promise<OnThisHost> {
  const path = artifactPath(workdir, sha256);
  if (!isObjectUrl(workdir)) return { path };
  const local = onThisHost(workdir, path);
  if (cache.has(sha256)) return { path: local }; // imported by this thread already: not read again
  if (existsSync(local)) {
    const code = readFileSync(local);
    if (createHash("sha256").update(code).digest("hex") === sha256) return { path: local, verified: code };
  }
  if (!(await fetchToHost(workdir, path, true))) throw new SheafError("BAD_ARTIFACT", `job ${label}: artifact ${path} is not in the store`);
  return { path: local };
}

function checkSha(sha256: string, label: string): string {
  if (!SHA256.test(sha256)) throw new SheafError("BAD_ARTIFACT", `job ${label}: artifact ${JSON.stringify(sha256.slice(0, 80))} is not a sha256`);
  return sha256;
}

/** The artifact's bytes, read once, if they have the hash `sha256`. */
async function verifiedCode(path: string, sha256: string, label: string): Promise<Buffer> {
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (err) {
    throw new SheafError("BAD_ARTIFACT", `job ${label}: artifact ${path} cannot be read: ${messageOf(err)}`);
  }
  const actual = createHash("sha256").update(content).digest("hex");
  if (actual !== sha256) throw new SheafError("BAD_ARTIFACT", `job ${label}: artifact ${path} does not match its hash (it holds ${actual})`);
  return content;
}

/** The sha256 an artifact path names (`…/artifacts/<sha256>.mjs`). */
export function artifactHash(path: string): string {
  const m = /([0-9a-f]{64})\.mjs$/.exec(path);
  if (!m) throw new SheafError("BAD_ARTIFACT", `${path} is not a content-addressed artifact`);
  return m[1]!;
}

/** The job of a job module, or of one stage of a pipeline module. */
function jobOf(mod: Job | Pipeline, label: string, stage: string | undefined): Job {
  if (isJob(mod)) {
    // A scheduled job runs as a pipeline of one stage named after it.
    if (stage !== undefined && stage !== mod.name) throw new SheafError("BAD_JOB_MODULE", `${label} is a job, not a pipeline with stage ${stage}`);
    return mod;
  }
  const found = stage === undefined ? undefined : mod.stages.find((s) => s.name === stage);
  if (!found) throw new SheafError("BAD_JOB_MODULE", stage === undefined ? `${label} is a pipeline (${mod.name}), not a job` : `pipeline ${mod.name} has no stage ${stage}`);
  return found.job;
}

/**
 * Imports exactly the bytes that were verified. `import()` of the shared path would open it a second
 * time, and whoever can write the workdir could swap the file between the check and the load; so the
 * bytes go to a private copy (a fresh 0700 folder of this process's own) which is imported, then removed.
 */
async function importModule(code: Buffer, sha256: string, label: string): Promise<Job | Pipeline> {
  let mod: { default?: unknown };
  const dir = await mkdtemp(join(tmpdir(), "sheaf-code-"));
  const copy = join(dir, `${sha256}.mjs`);
  try {
    await writeFile(copy, code, { flag: "wx", mode: 0o400 });
    mod = await import(pathToFileURL(copy).href);
    imported.set(sha256, { code: code.toString("utf8"), copy, label });
  } catch (err) {
    // Where in the user's files, as a build error names it: `jobs/x.ts:4:13: …`.
    const at = loadLocation(err, code.toString("utf8"), copy, label);
    throw new SheafError("BAD_JOB_MODULE", `job module ${label} failed to load: ${at ? `${at}: ` : ""}${messageOf(err)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (!isJob(mod.default) && !isPipeline(mod.default)) {
    const got = mod.default === undefined ? "it has no default export" : "its default export is neither a job nor a pipeline";
    throw new SheafError("BAD_JOB_MODULE", `job module ${label} must \`export default defineJob({...})\` or \`definePipeline({...})\`: ${got}`);
  }
  return mod.default;
}

/**
 * Where things live. The workdir holds job artifacts and intermediate files: a folder every process
 * of a cluster shares, or an object store prefix (`s3://bucket/prefix`), which then holds what
 * crosses hosts (artifacts, the reduce tasks' input lists) while each process keeps the rest in a
 * local copy of it (core/store/local-workdir.ts). Attempts write output under `<output>/_temporary`
 * (same filesystem as the output, so commits are renames).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import type { JobId, TaskId } from "./ids.js";
import { SheafError } from "./errors.js";
import { isObjectUrl } from "./store/location.js";

/**
 * A location written as a URL (`scheme://...`) instead of a path is refused, naming it, before
 * anything runs: read as a path, `s3://bucket/out` would quietly become a local folder `s3:/bucket/out`.
 * An input or output may be in an object store (`s3://bucket/prefix`).
 */
export function checkLocation(location: string, what: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === "s3") return;
  const why = scheme === "file" ? "give the path itself, not a file:// URL" : `${scheme}:// is not a storage Sheaf knows`;
  throw new SheafError("UNSUPPORTED_STORAGE", `${what} ${location}: ${why}; give a folder path or s3://bucket/prefix`);
}

/** A location as every process names it: a path made absolute, an object store prefix without its trailing `/`. */
export const absoluteLocation = (location: string): string => (isObjectUrl(location) ? location.replace(/\/+$/, "") : resolve(location));

/** `segments` below `base`, a folder or an object store prefix (where path.join would fold `s3://` into `s3:/`). */
export const below = (base: string, ...segments: string[]): string => (isObjectUrl(base) ? [base.replace(/\/+$/, ""), ...segments].join("/") : join(base, ...segments));

export const artifactsDir = (workdir: string) => below(workdir, "artifacts");
export const artifactPath = (workdir: string, sha256: string) => below(artifactsDir(workdir), `${sha256}.mjs`);
export const jobScratchDir = (workdir: string, jobId: JobId) => below(workdir, "jobs", jobId);
/** Where a job whose output is a sink (a table, an object store) keeps its attempts' parts: in its scratch space. */
export const objectOutputScratch = (scratch: string) => below(scratch, "output");

/**
 * An attempt's name in folder names: its number and a random suffix, since two attempts can share
 * a number (a backup attempt, a re-run map task, a queue that restarts counting).
 */
export const attemptName = (attempt: number) => `attempt-${attempt}-${randomHex4()}`;

/** Four random bytes, as hex, from a pool: one randomBytes call per attempt cost ~50 µs of an empty task. */
let pool = Buffer.alloc(0);
let used = 0;
function randomHex4(): string {
  if (used + 4 > pool.length) [pool, used] = [randomBytes(1024), 0];
  return pool.toString("hex", used, (used += 4));
}

/** A task's folder in the job's scratch space: its attempts' folders and its checkpoint. */
export const taskScratchDir = (scratch: string, task: TaskId) => join(scratch, task);
/** An attempt's private folder for spills and its map output. */
export const attemptScratchDir = (scratch: string, task: TaskId, attempt: string) => join(scratch, task, attempt);

export const outputTemporaryDir = (output: string) => join(output, "_temporary");
/** An attempt's private folder for its part file. */
export const attemptOutputDir = (output: string, task: TaskId, attempt: string) => join(outputTemporaryDir(output), `${task}-${attempt}`);
export const successMarker = (output: string) => join(output, "_SUCCESS");
/**
 * Where a job assembles its output before swapping it in: a hidden folder beside the output (on the
 * same filesystem, so parts move by rename), named after the job.
 */
export const stagingDir = (output: string, jobId: string) => join(dirname(output), `.${basename(output)}.sheaf-${jobId}`);

/**
 * Where a task keeps its checkpoint: beside the files it protects, so they can be hard-linked —
 * in the scratch space for a map task's runs, under `_temporary` for a part file.
 */
export const checkpointDir = (base: { scratch: string; output: string }, task: TaskId, writesPart: boolean) =>
  writesPart ? join(outputTemporaryDir(base.output), `${task}-checkpoint`) : join(base.scratch, task, "checkpoint");

/**
 * Creates `dir` and any missing folders between it and `root`, but never `root` itself: the
 * coordinator creates an output's `_temporary` and a job's scratch folder when the job starts and
 * removes them when it ends, so an attempt still running after that (orphaned by a failover, or
 * retried by the queue after the commit) fails with ENOENT instead of recreating them.
 */
export function mkdirBelow(root: string, dir: string): void {
  const rel = relative(root, dir);
  if (rel.startsWith("..") || rel === "") throw new SheafError("INTERNAL", `${dir} is not below ${root}`);
  let path = root;
  for (const part of rel.split(sep)) {
    path = join(path, part);
    try {
      mkdirSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

/**
 * Path checks for what arrives from Redis or a checkpoint: each folder a job names must lie inside
 * the allowed roots, and each file a task, result or plan names must lie where the job's own
 * layout puts it (a map output in the job's scratch, a part under `<output>/_temporary`), so a
 * message can point the engine at nothing else.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { readsFiles, writesFiles } from "../formats/registry.js";
import { SheafError } from "../errors.js";
import { absoluteLocation, jobScratchDir, outputTemporaryDir } from "../storage.js";
import type { JobConfig, Task, TaskResult } from "../tasks.js";
import type { Split } from "../splits.js";
import { isInside, type AllowedRoots } from "./roots.js";
import { isObjectUrl, keyBelow } from "../store/location.js";
import { folderOf } from "../store/manifest.js";
import { isMapOutputUrl, MAP_OUTPUT } from "../shuffle/remote.js";

function refuse(what: string, path: string, where: string): never {
  throw new SheafError("PATH_NOT_ALLOWED", `${what} ${path} is outside ${where}`);
}

/** `path` must be `dir` or lie under it, after `..` is resolved. */
export function checkUnder(dir: string, path: string, what: string): void {
  if (isObjectUrl(dir)) {
    if (!keyBelow(dir, path)) refuse(what, path, dir);
  } else if (!isAbsolute(path) || !isInside(resolve(dir), resolve(path))) refuse(what, path, dir);
}

/**
 * Opens for reading a file that a checkpoint names, only if it is a regular file under `dir`
 * reached from `root` (an existing folder of the job's layout, at or above `dir`) through no
 * symlink: `checkUnder` is lexical, and a link planted below `root` (the file, or a folder on its
 * way) would lead the read anywhere. The folders are resolved and must be what they name; the file
 * is opened with O_NOFOLLOW. Throws PATH_NOT_ALLOWED; a missing file throws as the system does.
 */
export function openConfined(path: string, dir: string, root: string, what: string): number {
  checkUnder(dir, path, what);
  checkUnder(root, dir, what);
  const linked = (): never => {
    throw new SheafError("PATH_NOT_ALLOWED", `${what} ${path} is not a regular file reached without symbolic links under ${dir}`);
  };
  const rel = relative(resolve(root), resolve(path));
  if (rel === "") linked();
  const real = join(realpathSync(root), rel);
  if (realpathSync(dirname(real)) !== dirname(real)) linked();
  // Without O_NOFOLLOW (Windows) an lstat stands in, open to a swap between the two.
  if (constants.O_NOFOLLOW === undefined && lstatSync(real).isSymbolicLink()) linked();
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOOP") linked();
    throw err;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    linked();
  }
  return fd;
}

/** The job's folders inside the roots, and its scratch where its id puts it. */
export function checkJobConfig(job: JobConfig, roots: AllowedRoots): void {
  const label = `job ${job.name}`;
  if (absoluteLocation(job.scratch) !== jobScratchDir(absoluteLocation(job.workdir), job.jobId)) refuse(`${label}: scratch folder`, job.scratch, `the workdir's jobs/${job.jobId}`);
  roots.check(job.workdir, `${label}: workdir`);
  roots.check(job.output, `${label}: output`);
}

/** An input file, resolved against the job's working directory as the OS would (symlinks and all). */
export function checkInputFile(job: JobConfig, file: string, roots: AllowedRoots): void {
  // Roots bound the filesystem; an object is the store's credentials' to allow.
  if (!roots.confined || !readsFiles(job.formats.input) || isObjectUrl(file)) return;
  roots.check(isAbsolute(file) ? file : job.cwd + sep + file, `job ${job.name}: input`);
}

export function checkSplit(job: JobConfig, split: Split, roots: AllowedRoots): void {
  checkInputFile(job, split.file, roots);
}

/** Everything a task message names, before the worker touches any of it. */
export function checkTask(task: Task, roots: AllowedRoots): void {
  checkJobConfig(task.job, roots);
  checkTaskFiles(task, roots);
}

/** What a task names beyond its job's folders (checked once for the tasks of a batch). */
export function checkTaskFiles(task: Task, roots: AllowedRoots): void {
  if (task.kind === "map") checkSplit(task.job, task.split, roots);
  else checkUnder(task.job.scratch, task.inputs.path, `job ${task.job.name}, ${task.taskId}: list of map outputs`);
}

/** A result's files where its task writes them; a sink's staged part is checked by the sink itself. */
export function checkResult(job: JobConfig, result: TaskResult): void {
  const label = `job ${job.name}, ${result.taskId}`;
  // A map task writes a map output (or nothing) with reduces, a part without: never the other.
  const mapOnly = job.partitions === 0;
  if (result.kind === "map" && (mapOnly ? result.mapOutput || !result.part : result.part)) {
    throw new SheafError("BAD_MESSAGE", `${label}: a map result of a ${mapOnly ? "map-only job must name a part file" : "job with reduce must not name a part file"}`);
  }
  const served = result.mapOutput?.url;
  if (served !== undefined) {
    // On a worker's own disk: only its URL is ever used, and it must name this job's task (and its
    // path end as that worker lays it out: the path is what a lost output is known by).
    const { path } = result.mapOutput!;
    const attempt = served.slice(served.lastIndexOf("/") + 1);
    if (!isMapOutputUrl(served, job.jobId, result.taskId) || !path.endsWith(`${sep}${job.jobId}${sep}${result.taskId}${sep}${attempt}${sep}${MAP_OUTPUT}`)) {
      throw new SheafError("BAD_MESSAGE", `${label}: map output ${served} (${path}) is not this job's task's`);
    }
  } else if (result.mapOutput) checkUnder(resolve(job.scratch, result.taskId), result.mapOutput.path, `${label}: map output`);
  if (result.part && job.objectOutput) {
    // Staged under the job's own keys: a result cannot point the commit at another job's objects.
    const staging = `${folderOf(job.objectOutput)}_temporary/${job.jobId}/`;
    if (!result.part.path.startsWith(staging) || result.part.path.includes("/../")) refuse(`${label}: part`, result.part.path, staging);
  } else if (result.part && writesFiles(job.formats.output)) checkUnder(outputTemporaryDir(job.output), result.part.path, `${label}: part file`);
}

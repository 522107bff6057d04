/**
 * Where things live. The workdir (shared by every process of a cluster) holds job artifacts and
 * intermediate files; attempts write output under `<output>/_temporary` (same filesystem as the
 * output, so commits are renames).
 */
import { join } from "node:path";
import type { JobId, TaskId } from "./ids.js";

export const artifactsDir = (workdir: string) => join(workdir, "artifacts");
export const artifactPath = (workdir: string, sha256: string) => join(artifactsDir(workdir), `${sha256}.mjs`);
export const jobScratchDir = (workdir: string, jobId: JobId) => join(workdir, "jobs", jobId);

/** An attempt's private folder for spills and its map output. */
export const attemptScratchDir = (scratch: string, task: TaskId, attempt: number) => join(scratch, task, `attempt-${attempt}`);

export const outputTemporaryDir = (output: string) => join(output, "_temporary");
/** An attempt's private folder for its part file. */
export const attemptOutputDir = (output: string, task: TaskId, attempt: number) => join(outputTemporaryDir(output), `${task}-attempt-${attempt}`);
export const successMarker = (output: string) => join(output, "_SUCCESS");

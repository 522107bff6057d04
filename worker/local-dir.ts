/**
 * A worker's local dir (`sheaf worker --local-dir`): where its map tasks keep spills and map
 * outputs, laid out as `<dir>/<job>/<task>/<attempt>/`, and where its reduce tasks put the segments
 * they fetch. What the worker's main thread tells a task about it travels beside the task message
 * (added after admission, never read from the queue).
 */
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Segment } from "../core/shuffle/segment.js";
import { isSafeId } from "../core/security/roots.js";

export interface LocalShuffle {
  /** The local dir. */
  dir: string;
  /** Where this worker's shuffle server is reached: `http://host:port`. */
  base: string;
}

/** A task as the worker hands it to a thread: with its local dir, and (a reduce) the segments fetched for it, by producer. */
export type LocalTask<T> = T & { local?: LocalShuffle; fetched?: Record<string, Segment> };

/** Leftovers older than this are removed when a worker starts (a job whose end it missed: it was down). */
export const LEFTOVER_MS = 24 * 3600_000;

/** Creates the local dir; removes each job folder in it untouched for LEFTOVER_MS. Returns how many went. */
export function sweepLocalDir(dir: string, now = Date.now()): number {
  mkdirSync(dir, { recursive: true });
  let removed = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    try {
      if (now - statSync(path).mtimeMs < LEFTOVER_MS) continue;
      rmSync(path, { recursive: true, force: true });
      removed++;
    } catch {
      // gone meanwhile, or not ours to remove: left as it is
    }
  }
  return removed;
}

/** Removes a job's map outputs and fetched segments once the job has ended (its id checked: it names a folder). */
export function removeJobDir(dir: string, jobId: string): void {
  if (isSafeId(jobId)) rmSync(join(dir, jobId), { recursive: true, force: true });
}

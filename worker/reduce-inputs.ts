/**
 * What a reduce task reads: its partition's segment of every committed map output, found through
 * the driver's list of map outputs and each output's segment index; merged in passes of at most
 * MERGE_FAN_IN runs, so a reduce over thousands of map outputs never holds them all open at once.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { MERGE_FAN_IN } from "../core/shuffle/merge.js";
import { readReduceInputs } from "../core/shuffle/reduce-inputs.js";
import { readSegment } from "../core/shuffle/segment-index.js";
import type { Segment } from "../core/shuffle/segment.js";
import { checkUnder } from "../core/security/confine.js";
import { checkMessage, Schemas } from "../core/security/messages.js";
import type { ReduceTask } from "../core/tasks.js";
import type { MapOutputRef } from "../core/shuffle/reduce-inputs.js";
import { SheafError } from "../core/errors.js";
import type { LocalTask } from "./local-dir.js";
import { mergeRuns } from "./run-merge.js";

/** The list of map outputs a reduce task reads, checked. */
export function mapOutputRefs(task: ReduceTask): MapOutputRef[] {
  return checkMessage(Schemas.mapOutputRefs, readReduceInputs(task.inputs), `list of map outputs ${task.inputs.path}`);
}

/**
 * This partition's segment of each map output, in map-task order: read where it lies (a shared
 * folder), or, for one served by another worker, the copy this worker's main thread fetched.
 */
export function reduceSegments(task: LocalTask<ReduceTask>): Segment[] {
  return mapOutputRefs(task).map((r) => {
    if (r.url !== undefined) {
      const fetched = task.fetched?.[r.producer];
      if (!fetched) throw new SheafError("INTERNAL", `${task.taskId}: map output of ${r.producer} (${r.url}) was not fetched`);
      return fetched;
    }
    checkUnder(task.job.scratch, r.path, `job ${task.job.name}, ${task.taskId}: map output`);
    return readSegment(r.path, task.index, task.job.partitions, r.indexCrc, r.producer);
  });
}

/**
 * Merges consecutive groups of runs until at most `fanIn` are left (equal keys keep run order, so
 * the result is the same as one wide merge). Intermediate runs go to `dir`; `cleanup` removes them.
 */
export function boundFanIn(segments: Segment[], dir: string, fanIn = MERGE_FAN_IN): { segments: Segment[]; cleanup: () => void } {
  const made: string[] = [];
  let runs = segments;
  for (let pass = 0; runs.length > fanIn; pass++) {
    const next: Segment[] = [];
    for (let i = 0; i < runs.length; i += fanIn) {
      const group = runs.slice(i, i + fanIn);
      if (group.length === 1) {
        next.push(group[0]!);
        continue;
      }
      const path = join(dir, `premerge-${pass}-${String(i / fanIn).padStart(5, "0")}`);
      made.push(path);
      const merged = mergeRuns(group.map(({ path: p, ...s }) => ({ path: p, segments: [s] })), 1, path);
      next.push({ path, ...merged.segments[0]! });
    }
    runs = next;
  }
  return { segments: runs, cleanup: () => made.forEach((p) => rmSync(p, { force: true })) };
}

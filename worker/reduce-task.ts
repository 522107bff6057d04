/**
 * One reduce task: k-way merge this partition's run from every map task, reduce key by key, write
 * the part file. It checkpoints the part file and the last key written; an attempt that finds a
 * checkpoint continues the part file and skips the keys already reduced.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Job } from "../core/api/job.js";
import type { RecordWriter } from "../core/formats/format.js";
import { createRecordWriter, extensionOf } from "../core/formats/registry.js";
import { partName } from "../core/ids.js";
import { decodeFrom, Grouper, Merger, MERGE_FAN_IN } from "../core/shuffle/merge.js";
import { boundFanIn, reduceSegments } from "./reduce-inputs.js";
import { CorruptSegmentError } from "../core/shuffle/segment.js";
import { RunReader } from "../core/shuffle/run-reader.js";
import { attemptName, attemptOutputDir, attemptScratchDir, checkpointDir, mkdirBelow, outputTemporaryDir } from "../core/storage.js";
import type { ReduceTask, TaskResult } from "../core/tasks.js";
import { Checkpointer, checkpointPolicy, continueOrForget, resumeFrom, type ReduceCheckpoint } from "./checkpoint.js";
import { Context } from "./context.js";
import type { LocalTask } from "./local-dir.js";
import { displayKey, refuseAsync, runHook, wrapUserError } from "./user-code.js";

export async function runReduceTask(task: LocalTask<ReduceTask>, job: Job): Promise<TaskResult> {
  const started = Date.now();
  const ctx = new Context(task);
  const attempt = attemptName(task.attempt);
  const outDir = attemptOutputDir(task.job.output, task.taskId, attempt);
  const ckptDir = checkpointDir(task.job, task.taskId, true);
  const name = partName(task.index, extensionOf(job.output));
  const path = join(outDir, name);
  let writer: RecordWriter | undefined;
  let merger: Merger | undefined;
  const premerge = attemptScratchDir(task.job.scratch, task.taskId, attempt);
  let cleanup = () => {};
  try {
    const root = outputTemporaryDir(task.job.output); // a checkpoint's part is reached from here through no link
    mkdirBelow(root, outDir);
    let resumed = resumeFrom<ReduceCheckpoint>(ckptDir, "reduce", outDir, { root });
    if (resumed && !continueOrForget(resumed.manifest, resumed.part, path, root)) resumed = undefined;
    if (resumed) ctx.restoreCounters(resumed.counters);
    /** Keys up to this one (an encoding) are already in the part file. */
    const done = resumed ? Buffer.from(resumed.lastKey, "base64").toString("latin1") : undefined;
    writer = await createRecordWriter(job.output, { path, job: task.job, taskId: task.taskId, attempt }, resumed?.part);
    const segments = reduceSegments(task);
    let runs = segments;
    if (segments.length > MERGE_FAN_IN) {
      mkdirBelow(task.job.scratch, premerge);
      ({ segments: runs, cleanup } = boundFanIn(segments, premerge));
    }
    merger = new Merger(runs.map((s) => new RunReader(s)));
    const groups = new Grouper(merger);
    const reduce = job.reduce!;
    const checkpointer = new Checkpointer(ckptDir, attempt, checkpointPolicy(task.job), "reduce");
    await runHook(job, "setup", ctx);
    let skipped = 0;
    for (let ek = groups.nextKey(); ek !== undefined; ek = groups.nextKey()) {
      if (done !== undefined && ek <= done) {
        skipped++;
        continue;
      }
      const key = decodeFrom(merger, ek);
      let out: unknown;
      try {
        out = reduce(key, groups.values(), ctx);
        refuseAsync("reduce", out);
      } catch (err) {
        throw wrapUserError("reduce", { file: "", offset: 0, key: displayKey(key) }, err);
      }
      if (out !== undefined) {
        const pending = writer.write(key, out);
        if (pending) await pending;
      }
      if (checkpointer.due(writer.size)) {
        // A part that cannot be continued from a prefix (columnar, database) is not checkpointed.
        const progress = writer.sync();
        if (progress) {
          const part = { path, ...progress };
          checkpointer.save({ kind: "reduce", lastKey: Buffer.from(ek, "latin1").toString("base64"), counters: ctx.counterValues(), part }, part.bytes);
        } else checkpointer.skip(writer.size);
      }
    }
    await runHook(job, "cleanup", ctx);
    const { bytes, records } = await writer.close();
    merger.close();
    rmSync(premerge, { recursive: true, force: true });
    if (resumed || checkpointer.saved) rmSync(ckptDir, { recursive: true, force: true }); // done: its links would only hold disk space
    return {
      kind: "reduce",
      taskId: task.taskId,
      attempt: task.attempt,
      part: { path: writer.staged ?? path, name, bytes, records },
      counters: ctx.counterValues(),
      stats: {
        recordsIn: segments.reduce((n, s) => n + s.records, 0),
        bytesIn: segments.reduce((n, s) => n + s.length, 0),
        recordsOut: records,
        bytesOut: bytes,
        spills: 0,
        millis: Date.now() - started,
        ...(resumed ? { resumed: skipped } : {}),
      },
    };
  } catch (err) {
    merger?.close();
    cleanup();
    rmSync(premerge, { recursive: true, force: true });
    await writer?.abandon().catch(() => {});
    rmSync(outDir, { recursive: true, force: true });
    // Its checkpoints may hold output made from the corrupt run (a run's CRC is checked at its end).
    if (err instanceof CorruptSegmentError) rmSync(ckptDir, { recursive: true, force: true });
    throw err;
  }
}

/** One map task: read a split, map each record, and either shuffle the pairs or (map-only) write a part file. */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Job } from "../core/api/job.js";
import type { Key } from "../core/api/types.js";
import { readRecords } from "../core/formats/input-reader.js";
import { createRecordWriter, extensionOf, type RecordWriter } from "../core/formats/output-writer.js";
import { partName } from "../core/ids.js";
import { attemptOutputDir, attemptScratchDir } from "../core/storage.js";
import type { MapTask, TaskResult } from "../core/tasks.js";
import { Context } from "./context.js";
import { MapOutputBuffer } from "./map-output.js";
import { checkOutputKey, makeCombiner, makePartitioner, runHook, wrapUserError } from "./user-code.js";

export function runMapTask(task: MapTask, job: Job): TaskResult {
  const started = Date.now();
  const ctx = new Context(task);
  const scratch = attemptScratchDir(task.job.scratch, task.taskId, task.attempt);
  const outDir = attemptOutputDir(task.job.output, task.taskId, task.attempt);
  const mapOnly = task.job.partitions === 0;
  let shuffle: MapOutputBuffer | undefined;
  let writer: RecordWriter | undefined;
  let partPath = "";
  try {
    let emit: (key: Key, value?: unknown) => void;
    if (mapOnly) {
      mkdirSync(outDir, { recursive: true });
      partPath = join(outDir, partName(task.index, extensionOf(job.output)));
      const w = (writer = createRecordWriter(job.output, partPath));
      emit = (key, value) => {
        checkOutputKey(key);
        w.write(key, value);
      };
    } else {
      mkdirSync(scratch, { recursive: true });
      const n = task.job.partitions;
      const s = (shuffle = new MapOutputBuffer({
        partitions: n,
        budget: task.job.sortBufferBytes,
        dir: scratch,
        partitioner: makePartitioner(job, n),
        combine: makeCombiner(job, ctx),
      }));
      emit = (key, value) => s.add(key, value);
    }

    runHook(job, "setup", ctx);
    let recordsIn = 0;
    const { map, mapBatch } = job;
    const read = readRecords(task.split, job.input, (batch) => {
      ctx.batch = batch;
      const records = batch.records;
      if (mapBatch) {
        ctx.index = 0;
        try {
          mapBatch(records, emit, ctx);
        } catch (err) {
          throw wrapUserError("mapBatch", batch.location(0), err);
        }
      } else {
        for (let i = 0; i < records.length; i++) {
          ctx.index = i;
          try {
            map!(records[i], emit, ctx);
          } catch (err) {
            throw wrapUserError("map", batch.location(i), err);
          }
        }
      }
      recordsIn += records.length;
    }, task.job.cwd);
    ctx.batch = undefined;
    runHook(job, "cleanup", ctx);

    const stats = { recordsIn, bytesIn: read.bytes, recordsOut: 0, bytesOut: 0, spills: 0, millis: 0 };
    const result: TaskResult = { kind: "map", taskId: task.taskId, attempt: task.attempt, counters: ctx.counterValues(), stats };
    if (writer) {
      const { bytes, records } = writer.close();
      result.part = { path: partPath, name: partName(task.index, extensionOf(job.output)), bytes, records };
      stats.recordsOut = records;
      stats.bytesOut = bytes;
    } else if (shuffle) {
      const out = shuffle.finish(join(scratch, "map.out"));
      result.mapOutput = out;
      stats.spills = shuffle.spillCount;
      stats.recordsOut = shuffle.records;
      stats.bytesOut = out.segments.reduce((n, s) => n + s.length, 0);
    }
    stats.millis = Date.now() - started;
    return result;
  } catch (err) {
    // A failed attempt leaves nothing behind that anyone could read.
    writer?.abandon();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * One map task: read a split, map each record, and either shuffle the pairs or (map-only) write a
 * part file. It checkpoints as it goes; an attempt that finds a checkpoint resumes from it.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Job } from "../core/api/job.js";
import type { Key } from "../core/api/types.js";
import { SheafError, UserCodeError, messageOf } from "../core/errors.js";
import { readRecords, type RecordBatch } from "../core/formats/input-reader.js";
import { createRecordWriter, extensionOf, type RecordWriter } from "../core/formats/output-writer.js";
import { partName } from "../core/ids.js";
import { CorruptSegmentError } from "../core/shuffle/segment.js";
import { attemptName, attemptOutputDir, attemptScratchDir, checkpointDir } from "../core/storage.js";
import type { BadRecord, MapTask, TaskResult } from "../core/tasks.js";
import { Checkpointer, continuePart, resumeFrom, type MapCheckpoint } from "./checkpoint.js";
import { Context } from "./context.js";
import { MapOutputBuffer } from "./map-output.js";
import { checkOutputKey, makeCombiner, makePartitioner, runHook, wrapUserError } from "./user-code.js";

export function runMapTask(task: MapTask, job: Job): TaskResult {
  const started = Date.now();
  const ctx = new Context(task);
  const attempt = attemptName(task.attempt);
  const scratch = attemptScratchDir(task.job.scratch, task.taskId, attempt);
  const outDir = attemptOutputDir(task.job.output, task.taskId, attempt);
  const mapOnly = task.job.partitions === 0;
  const ckptDir = checkpointDir(task.job, task.taskId, mapOnly);
  const partFile = partName(task.index, extensionOf(job.output));
  const partPath = join(outDir, partFile);
  let shuffle: MapOutputBuffer | undefined;
  let writer: RecordWriter | undefined;
  try {
    mkdirSync(mapOnly ? outDir : scratch, { recursive: true });
    const resumed = resumeFrom<MapCheckpoint>(ckptDir, "map", scratch);
    if (resumed) ctx.restoreCounters(resumed.counters);

    let emit: (key: Key, value?: unknown) => void;
    if (mapOnly) {
      if (resumed?.part) continuePart(resumed.part, partPath);
      const w = (writer = createRecordWriter(job.output, partPath, resumed?.part));
      emit = (key, value) => {
        checkOutputKey(key);
        w.write(key, value);
      };
    } else {
      const n = task.job.partitions;
      const s = (shuffle = new MapOutputBuffer({
        partitions: n,
        budget: task.job.sortBufferBytes,
        dir: scratch,
        partitioner: makePartitioner(job, n),
        combine: makeCombiner(job, ctx),
        spills: resumed?.spills,
      }));
      emit = (key, value) => s.add(key, value);
    }

    // With skipBadRecords, a record's pairs are held until its map returns, so a record that
    // throws half-way leaves none behind.
    const skipLimit = task.job.skipBadRecords;
    const badRecords: BadRecord[] = [...(resumed?.badRecords ?? [])];
    const held: [Key, unknown][] = [];
    const sink = emit;
    if (skipLimit > 0 && !job.mapBatch) emit = (key, value) => void held.push([key, value]);

    const split = resumed ? { ...task.split, start: resumed.offset, firstLine: resumed.nextLine } : task.split;
    const base = { recordsIn: resumed?.recordsIn ?? 0, bytesIn: resumed?.bytesIn ?? 0 };
    let recordsIn = base.recordsIn;
    const checkpointer = new Checkpointer(ckptDir, attempt, { everyBytes: task.job.checkpointBytes, everyMs: task.job.checkpointMs });
    const checkpoint = (batch: RecordBatch) => {
      const bytesIn = base.bytesIn + (batch.end - split.start);
      if (!checkpointer.due(bytesIn)) return;
      checkpointer.save(
        {
          kind: "map",
          offset: batch.end,
          nextLine: batch.nextLine,
          recordsIn,
          bytesIn,
          counters: ctx.counterValues(),
          badRecords,
          spills: shuffle?.flushToDisk() ?? [],
          part: writer ? { path: partPath, ...writer.sync() } : undefined,
        },
        bytesIn,
      );
    };

    runHook(job, "setup", ctx);
    const { map, mapBatch } = job;
    const read = readRecords(split, job.input, (batch) => {
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
            const error = wrapUserError("map", batch.location(i), err);
            if (skipLimit === 0 || !(error instanceof UserCodeError) || !error.retryable) throw error;
            held.length = 0;
            badRecords.push({ ...batch.location(i), error: messageOf(err) });
            if (badRecords.length > skipLimit) {
              throw new SheafError("TOO_MANY_BAD_RECORDS", `more than skipBadRecords (${skipLimit}) bad records in this task; the last: ${error.message}`);
            }
            continue;
          }
          if (held.length) {
            for (const [k, v] of held) sink(k, v);
            held.length = 0;
          }
        }
      }
      recordsIn += records.length;
      ctx.batch = undefined;
      checkpoint(batch);
    }, task.job.cwd);
    runHook(job, "cleanup", ctx);

    const stats = { recordsIn, bytesIn: base.bytesIn + read.bytes, recordsOut: 0, bytesOut: 0, spills: 0, millis: 0, ...(resumed ? { resumed: base.bytesIn } : {}) };
    const result: TaskResult = { kind: "map", taskId: task.taskId, attempt: task.attempt, counters: ctx.counterValues(), stats };
    if (badRecords.length) result.badRecords = badRecords;
    if (writer) {
      const { bytes, records } = writer.close();
      result.part = { path: partPath, name: partFile, bytes, records };
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
    if (resumed || checkpointer.saved) rmSync(ckptDir, { recursive: true, force: true }); // done: its links would only hold disk space
    return result;
  } catch (err) {
    // A failed attempt leaves nothing behind that anyone could read (its checkpoint keeps links of its own).
    writer?.abandon();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
    // A corrupt spilled run: the checkpoint that kept it would fail the same way again.
    if (err instanceof CorruptSegmentError) rmSync(ckptDir, { recursive: true, force: true });
    throw err;
  }
}

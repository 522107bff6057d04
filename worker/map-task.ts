/**
 * One map task: read a split, map each record, and either shuffle the pairs or (map-only) write a
 * part file. It checkpoints as it goes; an attempt that finds a checkpoint resumes from it.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Job } from "../core/api/job.js";
import type { Key } from "../core/api/types.js";
import type { RecordLocation } from "../core/api/types.js";
import { SheafError, UserCodeError, describeLocation, messageOf } from "../core/errors.js";
import type { ReadBatch, RecordWriter } from "../core/formats/format.js";
import { createRecordWriter, extensionOf, inputReader } from "../core/formats/registry.js";
import { partName } from "../core/ids.js";
import { CorruptSegmentError } from "../core/shuffle/segment.js";
import { writeSegmentIndex } from "../core/shuffle/segment-index.js";
import { MAP_OUTPUT } from "../core/shuffle/remote.js";
import { attemptName, attemptOutputDir, attemptScratchDir, checkpointDir, mkdirBelow, outputTemporaryDir } from "../core/storage.js";
import type { BadRecord, MapTask, TaskResult } from "../core/tasks.js";
import { Checkpointer, checkpointPolicy, continueOrForget, refuseResume, resumedSplit, resumeFrom, type MapCheckpoint } from "./checkpoint.js";
import { Context } from "./context.js";
import type { LocalTask } from "./local-dir.js";
import { MapOutputBuffer } from "./map-output.js";
import { checkOutputKey, makeCombiner, makePartitioner, refuseAsync, runHook, wrapUserError } from "./user-code.js";

export async function runMapTask(task: LocalTask<MapTask>, job: Job): Promise<TaskResult> {
  const started = Date.now();
  const ctx = new Context(task);
  const attempt = attemptName(task.attempt);
  const mapOnly = task.job.partitions === 0;
  // With a local dir, spills, the map output and its checkpoint stay on this worker's disk (a retry
  // on another worker starts over rather than resume: it could not read them).
  const local = mapOnly ? undefined : task.local;
  const localJob = local && join(local.dir, task.job.jobId);
  const scratch = localJob ? join(localJob, task.taskId, attempt) : attemptScratchDir(task.job.scratch, task.taskId, attempt);
  const outDir = attemptOutputDir(task.job.output, task.taskId, attempt);
  const ckptDir = localJob ? join(localJob, task.taskId, "checkpoint") : checkpointDir(task.job, task.taskId, mapOnly);
  const partFile = partName(task.index, extensionOf(job.output));
  const partPath = join(outDir, partFile);
  let shuffle: MapOutputBuffer | undefined;
  let writer: RecordWriter | undefined;
  // Made on the first file it must hold (a spill, a checkpoint, the output): a map task that emits
  // nothing, the common case of a tiny split, then costs no file work at all.
  let made = false;
  const makeScratch = () => {
    // The local dir has no coordinator to make a job's folder: the attempt makes what it needs (a late
    // attempt's leftovers go with the job's folder when its end is announced, or a day later).
    if (!made) localJob ? mkdirSync(scratch, { recursive: true }) : mkdirBelow(task.job.scratch, scratch);
    made = true;
  };
  try {
    if (mapOnly) mkdirBelow(outputTemporaryDir(task.job.output), outDir);
    // A checkpoint's files lie below this folder of the layout, reached through no link; its resume only moves the read within the task's split.
    const root = mapOnly ? outputTemporaryDir(task.job.output) : (localJob ?? task.job.scratch);
    let resumed = resumeFrom<MapCheckpoint>(ckptDir, "map", scratch, { root, refuse: (cp) => refuseResume(task.split, cp.resume) });
    if (resumed?.part && !continueOrForget(resumed.manifest, resumed.part, partPath, root)) resumed = undefined;
    if (resumed) ctx.restoreCounters(resumed.counters);

    let emit: (key: Key, value?: unknown) => void;
    /** Writes that apply backpressure (a columnar or database writer): awaited after each batch. */
    const writes: Promise<void>[] = [];
    if (mapOnly) {
      const w = (writer = await createRecordWriter(job.output, { path: partPath, job: task.job, taskId: task.taskId, attempt }, resumed?.part));
      emit = (key, value) => {
        checkOutputKey(key);
        const pending = w.write(key, value);
        if (pending) writes.push(pending);
      };
    } else {
      const n = task.job.partitions;
      const s = (shuffle = new MapOutputBuffer({
        partitions: n,
        budget: task.job.sortBufferBytes,
        dir: scratch,
        makeDir: makeScratch,
        partitioner: makePartitioner(job, n, task.job.rangeBoundaries),
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

    const split = resumed ? resumedSplit(task.split, resumed.resume) : task.split;
    const base = { recordsIn: resumed?.recordsIn ?? 0, bytesIn: resumed?.bytesIn ?? 0 };
    let recordsIn = base.recordsIn;
    const checkpointer = new Checkpointer(ckptDir, attempt, checkpointPolicy(task.job), shuffle ? "map" : "map-only");
    /** A byte-range split's size: what is left of it tells a checkpoint how much work it would still protect. */
    const splitBytes = split.unit === undefined || split.unit === "bytes" ? split.end - split.start : undefined;
    // A checkpoint after a batch is taken when the next one arrives: after the split's last batch
    // the task is about to finish, and a checkpoint there would only cost time.
    const checkpoint = (batch: Pick<ReadBatch, "bytes" | "resume">) => {
      const bytesIn = base.bytesIn + batch.bytes;
      const left = splitBytes === undefined ? undefined : Math.max(0, splitBytes - batch.bytes);
      if (!checkpointer.due(bytesIn, shuffle?.buffered ?? 0, left)) return;
      // A part that cannot be continued from a prefix (columnar, database) is not checkpointed.
      const progress = writer?.sync();
      if (writer && !progress) return checkpointer.skip(bytesIn);
      if (shuffle) makeScratch(); // its checkpoint folder sits beside the attempt's
      checkpointer.save(
        {
          kind: "map",
          resume: batch.resume,
          recordsIn,
          bytesIn,
          counters: ctx.counterValues(),
          badRecords,
          spills: shuffle?.flushToDisk() ?? [],
          part: progress ? { path: partPath, ...progress } : undefined,
        },
        bytesIn,
      );
    };
    /** A record the reader could not decode (a bad CSV row): skipped within the budget, else the task fails naming it. */
    const onBadRecord = (location: RecordLocation, message: string) => {
      if (skipLimit === 0) throw new SheafError("BAD_RECORD", `${message}${describeLocation(location)}`);
      badRecords.push({ ...location, error: message });
      if (badRecords.length > skipLimit) {
        throw new SheafError("TOO_MANY_BAD_RECORDS", `more than skipBadRecords (${skipLimit}) bad records in this task; the last${describeLocation(location)}: ${message}`);
      }
    };

    await runHook(job, "setup", ctx);
    const { map, mapBatch } = job;
    const reader = await inputReader(job.input);
    let mapped: Pick<ReadBatch, "bytes" | "resume"> | undefined;
    const read = await reader.read(split, async (batch) => {
      if (mapped) checkpoint(mapped);
      ctx.batch = batch;
      if (mapBatch) {
        ctx.index = 0;
        try {
          const pending = mapBatch(batch.batch, emit, ctx);
          if (pending) await pending;
        } catch (err) {
          throw wrapUserError("mapBatch", batch.length ? batch.location(0) : undefined, err);
        }
      } else {
        const records = batch.records;
        for (let i = 0; i < records.length; i++) {
          ctx.index = i;
          try {
            const r = map!(records[i], emit, ctx);
            if (r !== undefined) refuseAsync("map", r);
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
      recordsIn += batch.length;
      ctx.batch = undefined;
      if (writes.length) await Promise.all(writes.splice(0));
      mapped = { bytes: batch.bytes, resume: batch.resume };
    }, { cwd: task.job.cwd, onBadRecord });
    await runHook(job, "cleanup", ctx);

    const stats = { recordsIn, bytesIn: base.bytesIn + read.bytes, recordsOut: 0, bytesOut: 0, spills: 0, millis: 0, ...(resumed ? { resumed: base.bytesIn } : {}) };
    const result: TaskResult = { kind: "map", taskId: task.taskId, attempt: task.attempt, counters: ctx.counterValues(), stats };
    if (badRecords.length) result.badRecords = badRecords;
    if (writer) {
      const { bytes, records } = await writer.close();
      result.part = { path: writer.staged ?? partPath, name: partFile, bytes, records };
      stats.recordsOut = records;
      stats.bytesOut = bytes;
    } else if (shuffle && !shuffle.empty) {
      // An empty output leaves no mapOutput: no file is written, and reduces do not read it.
      const out = shuffle.finish(join(scratch, MAP_OUTPUT));
      result.mapOutput = { path: out.path, indexCrc: writeSegmentIndex(out.path, out.segments) };
      if (local) result.mapOutput.url = `${local.base}/${task.job.jobId}/${task.taskId}/${attempt}`;
      stats.spills = shuffle.spillCount;
      stats.recordsOut = shuffle.records;
      stats.bytesOut = out.segments.reduce((n, s) => n + s.length, 0);
    }
    stats.millis = Date.now() - started;
    if (resumed || checkpointer.saved) rmSync(ckptDir, { recursive: true, force: true }); // done: its links would only hold disk space
    return result;
  } catch (err) {
    // A failed attempt leaves nothing behind that anyone could read (its checkpoint keeps links of its own).
    await writer?.abandon().catch(() => {});
    rmSync(scratch, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
    // A corrupt spilled run: the checkpoint that kept it would fail the same way again.
    if (err instanceof CorruptSegmentError) rmSync(ckptDir, { recursive: true, force: true });
    throw err;
  }
}

/** One reduce task: k-way merge this partition's run from every map task, reduce key by key, write the part file. */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Job } from "../core/api/job.js";
import { createRecordWriter, extensionOf, type RecordWriter } from "../core/formats/output-writer.js";
import { partName } from "../core/ids.js";
import { decodeKey } from "../core/keys.js";
import { Grouper, Merger } from "../core/shuffle/merge.js";
import { RunReader } from "../core/shuffle/run-reader.js";
import { attemptOutputDir } from "../core/storage.js";
import type { ReduceTask, TaskResult } from "../core/tasks.js";
import { Context } from "./context.js";
import { displayKey, runHook, wrapUserError } from "./user-code.js";

export function runReduceTask(task: ReduceTask, job: Job): TaskResult {
  const started = Date.now();
  const ctx = new Context(task);
  const outDir = attemptOutputDir(task.job.output, task.taskId, task.attempt);
  const name = partName(task.index, extensionOf(job.output));
  const path = join(outDir, name);
  let writer: RecordWriter | undefined;
  let merger: Merger | undefined;
  try {
    mkdirSync(outDir, { recursive: true });
    writer = createRecordWriter(job.output, path);
    merger = new Merger(task.segments.map((s) => new RunReader(s)));
    const groups = new Grouper(merger);
    const reduce = job.reduce!;
    runHook(job, "setup", ctx);
    let keys = 0;
    for (let ek = groups.nextKey(); ek !== undefined; ek = groups.nextKey()) {
      const key = decodeKey(ek);
      let out: unknown;
      try {
        out = reduce(key, groups.values(), ctx);
      } catch (err) {
        throw wrapUserError("reduce", { file: "", offset: 0, key: displayKey(key) }, err);
      }
      if (out !== undefined) writer.write(key, out);
      keys++;
    }
    runHook(job, "cleanup", ctx);
    const { bytes, records } = writer.close();
    return {
      kind: "reduce",
      taskId: task.taskId,
      attempt: task.attempt,
      part: { path, name, bytes, records },
      counters: ctx.counterValues(),
      stats: {
        recordsIn: task.segments.reduce((n, s) => n + s.records, 0),
        bytesIn: task.segments.reduce((n, s) => n + s.length, 0),
        recordsOut: records,
        bytesOut: bytes,
        spills: 0,
        millis: Date.now() - started,
      },
    };
  } catch (err) {
    merger?.close();
    writer?.abandon();
    rmSync(outDir, { recursive: true, force: true });
    throw err;
  }
}

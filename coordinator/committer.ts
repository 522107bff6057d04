/**
 * The output commit protocol, as Hadoop's FileOutputCommitter (v1): attempts write under
 * `<output>/_temporary/<task>-attempt-<n>/`; a task commit links the part file into
 * `_temporary/committed/` (first attempt wins: link fails if the name exists); the job commit
 * renames every committed part into place, then writes `_SUCCESS`. Abort leaves no part files.
 */
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SheafError } from "../core/errors.js";
import { committedDir, outputTemporaryDir, successMarker } from "../core/storage.js";
import type { PartFile } from "../core/tasks.js";

/** Files and folders the engine writes in an output folder. */
const OURS = /^(part-\d+(\.\w+)?|_SUCCESS|_temporary|_bad_records)$/;

export class OutputCommitter {
  constructor(readonly output: string) {}

  /** Checks the output folder can be written; with `overwrite`, clears a previous job's output. */
  prepare(overwrite: boolean): void {
    if (existsSync(this.output)) {
      const entries = readdirSync(this.output);
      const foreign = entries.filter((e) => !OURS.test(e));
      if (foreign.length) {
        throw new SheafError("OUTPUT_NOT_EMPTY", `output folder ${this.output} holds files that are not a job's output (${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", …" : ""}): choose an empty or new folder`);
      }
      if (entries.includes("_SUCCESS") && !overwrite) {
        throw new SheafError("OUTPUT_EXISTS", `output folder ${this.output} already holds a finished job's output (_SUCCESS): pass --overwrite to replace it`);
      }
      // What is left of an earlier, unfinished job (or the one being overwritten) goes.
      for (const e of entries) rmSync(join(this.output, e), { recursive: true, force: true });
    }
    mkdirSync(committedDir(this.output), { recursive: true });
  }

  /** Commits an attempt's part file; false if another attempt of the task already committed (this one's file is removed). */
  commitTask(part: PartFile, attemptDir: string): boolean {
    let won = true;
    try {
      linkSync(part.path, join(committedDir(this.output), part.name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      won = false;
    }
    rmSync(attemptDir, { recursive: true, force: true });
    return won;
  }

  /** Moves the committed parts into place, then writes `_SUCCESS`, last. */
  commitJob(): void {
    const dir = committedDir(this.output);
    for (const name of readdirSync(dir).sort()) renameSync(join(dir, name), join(this.output, name));
    rmSync(outputTemporaryDir(this.output), { recursive: true, force: true });
    const fd = openSync(successMarker(this.output), "w");
    fsyncSync(fd);
    closeSync(fd);
  }

  /** Leaves no `_SUCCESS` and no part files. */
  abort(): void {
    rmSync(outputTemporaryDir(this.output), { recursive: true, force: true });
    if (!existsSync(this.output)) return;
    for (const e of readdirSync(this.output)) if (OURS.test(e)) rmSync(join(this.output, e), { recursive: true, force: true });
    if (readdirSync(this.output).length === 0) rmSync(this.output, { recursive: true, force: true });
  }
}

/**
 * The output side of the commit protocol, as Hadoop's FileOutputCommitter: attempts write under
 * `<output>/_temporary/<task>-attempt-<n>/`; the job store records which attempt of each task
 * committed (first wins); the job commit renames the committed parts into place, then writes
 * `_SUCCESS`. Abort leaves no part files.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SheafError } from "../core/errors.js";
import { outputTemporaryDir, successMarker } from "../core/storage.js";
import type { BadRecord, PartFile } from "../core/tasks.js";

/** Files and folders the engine writes in an output folder. */
const OURS = /^(part-\d+(\.\w+)?|_SUCCESS|_temporary|_bad_records)$/;

export class OutputCommitter {
  constructor(readonly output: string) {}

  /** Refuses an output folder that holds other files, or a finished job's output without `overwrite`. */
  check(overwrite: boolean): string[] {
    if (!existsSync(this.output)) return [];
    if (!statSync(this.output).isDirectory()) throw new SheafError("OUTPUT_NOT_A_FOLDER", `output ${this.output} exists and is not a folder`);
    const entries = readdirSync(this.output);
    const foreign = entries.filter((e) => !OURS.test(e));
    if (foreign.length) {
      throw new SheafError("OUTPUT_NOT_EMPTY", `output folder ${this.output} holds files that are not a job's output (${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", …" : ""}): choose an empty or new folder`);
    }
    if (entries.includes("_SUCCESS") && !overwrite) {
      throw new SheafError("OUTPUT_EXISTS", `output folder ${this.output} already holds a finished job's output (_SUCCESS): pass --overwrite to replace it`);
    }
    return entries;
  }

  /** Checks the output folder, then clears what an earlier unfinished job (or the one being overwritten) left. */
  prepare(overwrite: boolean): void {
    for (const e of this.check(overwrite)) rmSync(join(this.output, e), { recursive: true, force: true });
    mkdirSync(outputTemporaryDir(this.output), { recursive: true });
  }

  /** Moves each task's committed part file into place, lists skipped records in `_bad_records`, then writes `_SUCCESS`, last. */
  commitJob(parts: readonly PartFile[], badRecords: readonly BadRecord[] = []): void {
    for (const part of [...parts].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const target = join(this.output, part.name);
      // Idempotent, for a coordinator that died halfway through the job commit and resumed it.
      if (!existsSync(part.path) && existsSync(target)) continue;
      renameSync(part.path, target);
    }
    if (badRecords.length) {
      const clean = (s: string) => s.replace(/[\t\n\\]/g, (c) => (c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\\\"));
      const lines = badRecords.map((b) => `${clean(b.file)}\t${b.offset}\t${b.line ?? ""}\t${clean(b.error)}\n`);
      writeFileSync(join(this.output, "_bad_records"), "file\toffset\tline\terror\n" + lines.join(""));
    }
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

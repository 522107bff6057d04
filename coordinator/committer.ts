/**
 * The output side of the commit protocol, as Hadoop's FileOutputCommitter: attempts write under
 * `<output>/_temporary/<task>-attempt-<n>/`; the job store records which attempt of each task
 * committed (first wins); the job commit renames the committed parts into place, then writes
 * `_SUCCESS`. Abort leaves no part files. A job whose output is a sink (PostgreSQL) stages its
 * parts there instead: the job commit hands them to the sink, which makes them visible at once.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SheafError } from "../core/errors.js";
import { outputTemporaryDir, successMarker } from "../core/storage.js";
import type { OutputSink } from "../core/formats/format.js";
import { FINGERPRINT_FILE } from "../core/pipeline/fingerprint.js";
import type { BadRecord, PartFile, TaskResult } from "../core/tasks.js";

/** Files and folders the engine writes in an output folder. */
const OURS = /^(part-\d+(\.\w+)?|_SUCCESS|_temporary|_bad_records|_fingerprint)$/;

/** Passes, or rejects (Interrupted) when this process may no longer act for the job: see JobStore.guard. */
export type Guard = (what: string) => Promise<void>;

export class OutputCommitter {
  /**
   * `output` is the output folder; for a sink, a private folder in the job's scratch space. Every
   * effect that removes, publishes or (re)creates files first passes `guard`.
   */
  constructor(readonly output: string, private readonly sink?: OutputSink, private readonly guard: Guard = async () => {}) {}

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

  /** Checks the output folder (or the sink), then clears what an earlier unfinished job (or the one being overwritten) left. */
  async prepare(overwrite: boolean): Promise<void> {
    await this.sink?.check();
    const entries = this.check(overwrite || this.sink !== undefined);
    await this.guard("prepare the output");
    for (const e of entries) rmSync(join(this.output, e), { recursive: true, force: true });
    mkdirSync(outputTemporaryDir(this.output), { recursive: true });
  }

  /** Removes the files (or staged part) of an attempt that lost the race to commit. */
  async discard(result: TaskResult): Promise<void> {
    await this.guard(`discard a losing attempt of ${result.taskId}`);
    if (result.mapOutput) rmSync(dirname(result.mapOutput.path), { recursive: true, force: true });
    if (!result.part) return;
    // A sink's part is a staged table, not a file (its attempt folder goes with the job's scratch space).
    if (this.sink) await this.sink.discard(result.part).catch(() => {}); // the job's abort removes what remains
    else rmSync(dirname(result.part.path), { recursive: true, force: true });
  }

  /**
   * Moves each task's committed part file into place, lists skipped records in `_bad_records`, then
   * writes `_SUCCESS`, last. A sink loads the staged parts in one transaction instead, once per job.
   */
  async commitJob(jobId: string, parts: readonly PartFile[], badRecords: readonly BadRecord[] = [], fingerprint?: string): Promise<void> {
    await this.guard("commit the job");
    if (this.sink) {
      await this.sink.commit(jobId, [...parts].sort((a, b) => (a.name < b.name ? -1 : 1)));
      return;
    }
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
    // Attempts create their folders only inside `_temporary` (core/storage.ts mkdirBelow): once it
    // is gone, a late attempt (orphaned by a failover) fails instead of recreating it. Retried, as
    // such an attempt may be adding a file while the folder is removed.
    await this.guard("publish the job's output");
    rmSync(outputTemporaryDir(this.output), { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    // A pipeline stage's output records what made it, so a rerun with the same fingerprint skips it.
    if (fingerprint) writeFileSync(join(this.output, FINGERPRINT_FILE), fingerprint + "\n");
    const fd = openSync(successMarker(this.output), "w");
    fsyncSync(fd);
    closeSync(fd);
  }

  /** Leaves no `_SUCCESS` and no part files, and a sink's destination as it was. */
  async abort(jobId: string): Promise<void> {
    await this.guard("abort the job");
    await this.sink?.abort(jobId).catch(() => {}); // staged leftovers are also dropped by the next abort or commit of the job

    rmSync(outputTemporaryDir(this.output), { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    if (!existsSync(this.output)) return;
    for (const e of readdirSync(this.output)) if (OURS.test(e)) rmSync(join(this.output, e), { recursive: true, force: true });
    if (readdirSync(this.output).length === 0) rmSync(this.output, { recursive: true, force: true });
  }
}

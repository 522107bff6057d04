/**
 * The output side of the commit protocol, as Hadoop's FileOutputCommitter: attempts write under
 * `<output>/_temporary/<task>-attempt-<n>/`; the job store records which attempt of each task
 * committed (first wins); the job commit assembles the committed parts, `_bad_records`,
 * `_fingerprint` and `_SUCCESS` in a staging folder beside the output, then swaps it in.
 *
 * Overwrite is atomic from a reader's view: a previous output is never touched before the swap, so
 * a failed, cancelled or killed job leaves it complete, and the swap is one step (renameat2 with
 * RENAME_EXCHANGE, core/exchange.ts): a reader sees the old output or the new one, never neither.
 * Every step is idempotent and detectable, so a coordinator killed at any point of the commit is
 * finished by the next one: a `_COMMITTING` file naming the job marks the staging folder until the
 * swap, and the new output after it until the old one is gone.
 *
 * A job whose output is a sink (PostgreSQL) stages its parts there instead: the job commit hands
 * them to the sink, which makes them visible at once.
 */
import type { JobStore } from "./job-store.js";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SheafError } from "../core/errors.js";
import { exchangePaths } from "../core/exchange.js";
import { outputTemporaryDir, stagingDir, successMarker } from "../core/storage.js";
import type { OutputSink } from "../core/formats/format.js";
import { FINGERPRINT_FILE } from "../core/pipeline/fingerprint.js";
import type { BadRecord, PartFile, TaskResult } from "../core/tasks.js";

/** Files and folders the engine writes in an output folder. */
const OURS = /^(part-\d+(\.\w+)?|_SUCCESS|_temporary|_bad_records|_fingerprint|_COMMITTING)$/;
/** Names the job whose commit is under way in the folder that holds it. */
const COMMITTING = "_COMMITTING";

/** Refuses an output folder that holds other files, or a finished job's output without `overwrite`; returns its entries. */
export function checkOutputFolder(output: string, overwrite: boolean): string[] {
  if (!existsSync(output)) return [];
  if (!statSync(output).isDirectory()) throw new SheafError("OUTPUT_NOT_A_FOLDER", `output ${output} exists and is not a folder`);
  const entries = readdirSync(output);
  const foreign = entries.filter((e) => !OURS.test(e));
  if (foreign.length) {
    throw new SheafError("OUTPUT_NOT_EMPTY", `output folder ${output} holds files that are not a job's output (${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", …" : ""}): choose an empty or new folder`);
  }
  if (entries.includes("_SUCCESS") && !overwrite) {
    throw new SheafError("OUTPUT_EXISTS", `output folder ${output} already holds a finished job's output (_SUCCESS): pass --overwrite to replace it`);
  }
  return entries;
}

/** Passes, or rejects (Interrupted) when this process may no longer act for the job: see JobStore.guard. */
export type Guard = (what: string) => Promise<void>;

/** The steps of a job commit, for tests that stop it after each one (a coordinator killed there). */
export type CommitStep = "staged" | "parts" | "success" | "swapped" | "old-removed";

/**
 * A test seam for the commit protocol's crash safety: with `SHEAF_TEST_KILL_AFTER_COMMIT_STEP=<step>`,
 * the process committing (a coordinator, or `sheaf run`) kills itself (SIGKILL) right after that
 * step of a job commit, as a crash there would; with `throw:<step>`, the commit fails there instead
 * (as a full disk or a lost mount would make it), and the job aborts.
 */
export function killAfterCommitStep(): ((step: CommitStep) => void) | undefined {
  const at = process.env.SHEAF_TEST_KILL_AFTER_COMMIT_STEP;
  if (!at) return undefined;
  return (step) => {
    if (at === `throw:${step}`) throw new SheafError("COMMIT_FAILED", `the commit failed after its step "${step}" (SHEAF_TEST_KILL_AFTER_COMMIT_STEP)`);
    if (at === step) process.kill(process.pid, "SIGKILL");
  };
}

export class OutputCommitter {
  readonly output: string;
  private readonly staging: string;

  /**
   * `job.output` is the output folder; for a sink, a private folder in the job's scratch space. Every
   * effect that removes, publishes or (re)creates files first passes `guard`. `afterStep` is a test seam.
   */
  constructor(
    private readonly job: { output: string; jobId: string },
    private readonly sink?: OutputSink,
    private readonly guard: Guard = async () => {},
    private readonly afterStep: (step: CommitStep) => void = () => {},
    /** Where the job records that its output is swapped in (the job store); absent, a resume relies on the files alone. */
    private readonly record?: Pick<JobStore, "published" | "markPublished">,
  ) {
    this.output = job.output;
    this.staging = stagingDir(job.output, job.jobId);
  }

  /** Refuses an output folder that holds other files, or a finished job's output without `overwrite`. */
  check(overwrite: boolean): string[] {
    return checkOutputFolder(this.output, overwrite);
  }

  /**
   * Checks the output folder (or the sink) and makes `_temporary` for the attempts. A previous
   * output stays as it is, complete, until the commit swaps the new one in.
   */
  async prepare(overwrite: boolean): Promise<void> {
    await this.sink?.check(overwrite);
    this.check(overwrite || this.sink !== undefined);
    await this.guard("prepare the output");
    mkdirSync(outputTemporaryDir(this.output), { recursive: true });
  }

  /** Removes the files (or staged part) of an attempt that lost the race to commit. */
  async discard(result: TaskResult): Promise<void> {
    await this.guard(`discard a losing attempt of ${result.taskId}`);
    // A served map output is on its worker's disk, not here: that worker removes it when the job ends.
    if (result.mapOutput && !result.mapOutput.url) rmSync(dirname(result.mapOutput.path), { recursive: true, force: true });
    if (!result.part) return;
    // A sink's part is a staged table, not a file (its attempt folder goes with the job's scratch space).
    if (this.sink) await this.sink.discard(result.part).catch(() => {}); // the job's abort removes what remains
    else rmSync(dirname(result.part.path), { recursive: true, force: true });
  }

  /**
   * Publishes the job's output: its committed parts, `_bad_records` (skipped records) and, for a
   * pipeline stage, `_fingerprint`, with `_SUCCESS` last, swapped in for whatever the output folder
   * held. Without `overwrite`, an output another job finished meanwhile is refused, not replaced.
   * A sink loads the staged parts in one transaction instead, once per job.
   */
  async commitJob(jobId: string, parts: readonly PartFile[], badRecords: readonly BadRecord[] = [], fingerprint?: string, overwrite = true): Promise<void> {
    await this.guard("commit the job");
    if (this.sink) {
      await this.sink.commit(jobId, [...parts].sort((a, b) => (a.name < b.name ? -1 : 1)), fingerprint, this.afterStep);
      return;
    }
    if (this.committing(this.output)) {
      // A resumed commit, past its swap.
      await this.record?.markPublished();
      return this.finishSwap();
    }
    // A resumed commit that had finished: the output is this job's, whatever `_temporary` holds now
    // (an attempt redelivered after the commit can write its part there again).
    if (!this.committing(this.staging) && (await this.record?.published())) return this.removeTemporary();
    const sorted = [...parts].sort((a, b) => (a.name < b.name ? -1 : 1));
    if (!this.committing(this.staging) && sorted.length > 0 && sorted.every((p) => !existsSync(p.path)) && existsSync(successMarker(this.output))) {
      // A resumed commit that had finished (its parts moved, its marker gone): only `_temporary`,
      // made again by the resume, is left to remove.
      return this.removeTemporary();
    }
    mkdirSync(this.staging, { recursive: true });
    writeFileSync(join(this.staging, COMMITTING), this.job.jobId);
    this.afterStep("staged");
    for (const part of sorted) {
      const target = join(this.staging, part.name);
      // Idempotent, for a coordinator that died halfway through the job commit and resumed it.
      if (!existsSync(part.path) && existsSync(target)) continue;
      renameSync(part.path, target);
    }
    if (badRecords.length) {
      const clean = (s: string) => s.replace(/[\t\n\\]/g, (c) => (c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\\\"));
      const lines = badRecords.map((b) => `${clean(b.file)}\t${b.offset}\t${b.line ?? ""}\t${clean(b.error)}\n`);
      writeFileSync(join(this.staging, "_bad_records"), "file\toffset\tline\terror\n" + lines.join(""));
    }
    // A pipeline stage's output records what made it, so a rerun with the same fingerprint skips it.
    if (fingerprint) writeFileSync(join(this.staging, FINGERPRINT_FILE), fingerprint + "\n");
    this.afterStep("parts");
    await this.removeTemporary();
    const fd = openSync(successMarker(this.staging), "w");
    fsyncSync(fd);
    closeSync(fd);
    this.afterStep("success");
    await this.guard("publish the job's output");
    this.swapIn(overwrite);
    this.afterStep("swapped");
    await this.record?.markPublished();
    await this.finishSwap();
  }

  /** Whether `dir` holds this job's `_COMMITTING` mark. */
  private committing(dir: string): boolean {
    try {
      return readFileSync(join(dir, COMMITTING), "utf8") === this.job.jobId;
    } catch {
      return false;
    }
  }

  /**
   * Attempts create their folders only inside `_temporary` (core/storage.ts mkdirBelow): once it is
   * gone, a late attempt (orphaned by a failover) fails instead of recreating it. Retried, as such an
   * attempt may be adding a file while the folder is removed.
   */
  private async removeTemporary(): Promise<void> {
    await this.guard("remove the output's _temporary");
    rmSync(outputTemporaryDir(this.output), { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }

  /** The staged output takes the output folder's place, in one step where the system allows. */
  private swapIn(overwrite: boolean): void {
    const old = `${this.staging}.old`;
    if (!existsSync(this.output)) {
      // No output (a first job, or the fallback below stopped between its two renames).
      renameSync(this.staging, this.output);
      return;
    }
    // Another job may have finished this output while this one ran.
    this.check(overwrite);
    if (exchangePaths(this.staging, this.output)) return;
    renameSync(this.output, old);
    renameSync(this.staging, this.output);
  }

  /** After the swap: the previous output (now at the staging path) goes, then the mark. */
  private async finishSwap(): Promise<void> {
    await this.guard("remove the previous output");
    for (const dir of [this.staging, `${this.staging}.old`]) rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    this.afterStep("old-removed");
    // A resume made `_temporary` again in the new output; the mark goes last.
    rmSync(outputTemporaryDir(this.output), { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    rmSync(join(this.output, COMMITTING), { force: true });
  }

  /**
   * Leaves the output as it was (a previous output complete, `_SUCCESS` included), and a sink's
   * destination too: removes only what this job made, its attempts' `_temporary` and its staging
   * folder, and the output folder if that leaves it empty (this job made it).
   */
  async abort(jobId: string): Promise<void> {
    await this.guard("abort the job");
    await this.sink?.abort(jobId).catch(() => {}); // staged leftovers are also dropped by the next abort or commit of the job
    if (this.committing(this.output)) return; // swapped in already: the job's output is published
    rmSync(outputTemporaryDir(this.output), { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    rmSync(this.staging, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    if (existsSync(this.output) && readdirSync(this.output).length === 0) rmSync(this.output, { recursive: true, force: true });
  }
}

/**
 * One writer per output folder. A job takes its output for itself before it prepares it, with a
 * lock file beside it (`.<name>.sheaf-writer`, created exclusively) naming the job, and gives it back
 * when it ends; a second job naming that output while the first runs is refused, naming it (two
 * jobs on one output used to fail each other, one removing the other's `_temporary`). A lock whose
 * holder is gone (a `sheaf run` killed on this host, a cluster job that ended) is taken over, and
 * what that holder's commit left beside the output is cleared.
 * `sheaf run` and a cluster's coordinator use the same lock, so they exclude each other too.
 */
import { randomBytes } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { diskFull, SheafError } from "./errors.js";
import { ifValid, Schemas, type WriterLock } from "./security/messages.js";
import { sleep } from "./sleep.js";
import { stagingDir } from "./storage.js";

export type { WriterLock } from "./security/messages.js";

/** Whether the holder still runs: asked of Redis for a cluster job; a run on this host by its pid. */
export type Liveness = (holder: WriterLock) => boolean | Promise<boolean>;

export const writerLockPath = (output: string) => join(dirname(output), `.${basename(output)}.sheaf-writer`);

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function parse(text: string): WriterLock | undefined {
  try {
    return ifValid(Schemas.writerLock, JSON.parse(text));
  } catch {
    return undefined; // not a lock Sheaf wrote whole: taken over (as is one that does not fit its schema)
  }
}

const read = (path: string): WriterLock | undefined => parse(readText(path) ?? "");

/** A `sheaf run` on this host is alive while its pid is; one on another host is taken to be. */
export function processAlive(holder: WriterLock): boolean {
  if (holder.by !== "run" || holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The refusal of a second writer: names the output, the job holding it, and where its lock lies. */
export function writerBusy(output: string, holder: WriterLock, lock = writerLockPath(output)): SheafError {
  return new SheafError(
    "OUTPUT_BUSY",
    `output ${output} is being written by job ${holder.jobId} (${holder.by === "run" ? `sheaf run, pid ${holder.pid} on ${holder.host}` : "on the cluster"}, since ${new Date(holder.since).toISOString()}): wait for it to end or cancel it, or pass --wait-for-output (a lock left by a crash: ${lock})`,
  );
}
const busy = (output: string, holder: WriterLock) => writerBusy(output, holder);

/**
 * An output's writer lock, whatever the output: an output folder's lock file (here), or a sink's
 * own (a PostgreSQL table's row in `sheaf_writers`). `sheaf run`, `submit` and the coordinator
 * take, check and release it the same way.
 */
export interface OutputLock {
  /** Takes it for `jobId` (again, on a resume); OUTPUT_BUSY while another live job holds it. */
  take(jobId: string, by: WriterLock["by"], alive: Liveness): Promise<void>;
  /** OUTPUT_BUSY if another live job holds it (checked, not taken). */
  checkFree(alive: Liveness, jobId?: string): Promise<void>;
  /** Gives it back, if `jobId` still holds it. */
  release(jobId: string): Promise<void>;
}

/** The writer lock of an output folder. */
export function folderLock(output: string): OutputLock {
  return {
    take: (jobId, by, alive) => takeOutput(output, jobId, by, alive),
    checkFree: (alive, jobId) => checkOutputFree(output, alive, jobId),
    release: async (jobId) => releaseOutput(output, jobId),
  };
}

/** A holder as this process would be one. */
export const holderOf = (jobId: string, by: WriterLock["by"]): WriterLock => ({ jobId, by, pid: process.pid, host: hostname(), since: Date.now() });

/** Refuses when another live job holds the output (checked, not taken: `submit` asks before queuing). */
export async function checkOutputFree(output: string, alive: Liveness, jobId?: string): Promise<void> {
  const holder = read(writerLockPath(output));
  if (holder && holder.jobId !== jobId && (await alive(holder))) throw busy(output, holder);
}

/** Takes the output for `jobId` (again, on a resume); throws OUTPUT_BUSY while another live job holds it. */
export async function takeOutput(output: string, jobId: string, by: WriterLock["by"], alive: Liveness): Promise<void> {
  const path = writerLockPath(output);
  mkdirSync(dirname(path), { recursive: true });
  // Written whole under a private name, then linked in place (link fails if the lock exists): a
  // reader never sees a lock half-written, which it would take for a dead holder's.
  const draft = `${path}.${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    writeFileSync(draft, JSON.stringify(holderOf(jobId, by)));
  } catch (err) {
    rmSync(draft, { force: true });
    throw diskFull(err, draft, "its output's writer lock") ?? err;
  }
  try {
    for (let tries = 0; tries < 5; tries++) {
      try {
        linkSync(draft, path);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const text = readText(path);
      if (text === undefined) continue; // removed meanwhile
      const holder = parse(text);
      if (holder?.jobId === jobId) return;
      if (holder && (await alive(holder))) throw busy(output, holder);
      removeStale(path, text, draft);
      if (holder) cleanUpAfter(output, holder.jobId);
    }
    throw new SheafError("OUTPUT_BUSY", `output ${output}: could not take its lock ${path}`);
  } finally {
    rmSync(draft, { force: true });
  }
}

/**
 * Removes a dead holder's lock, and only it: moved aside first, then checked to be the lock that
 * was judged dead. Another taker may have replaced it meanwhile (removing it unseen would let two
 * jobs hold the output): that one is put back.
 */
function removeStale(path: string, deadText: string, draft: string): void {
  const aside = `${draft}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return; // already moved by another taker
  }
  if (readText(aside) !== deadText) {
    try {
      linkSync(aside, path);
    } catch {
      // a third taker holds it now: it stays theirs
    }
  }
  rmSync(aside, { force: true });
}

/**
 * Takes the output with `take`, waiting while another live job holds it (`--wait-for-output`):
 * `onWait` is told once, with whom it waits for; an abort of `signal` ends the wait with its reason.
 */
export async function takeOutputWhenFree(take: () => Promise<void>, o: { signal?: AbortSignal; onWait?: (busy: string) => void; everyMs?: number } = {}): Promise<void> {
  let told = false;
  for (;;) {
    try {
      return await take();
    } catch (err) {
      if (!(err instanceof SheafError && err.code === "OUTPUT_BUSY")) throw err;
      if (o.signal?.aborted) throw o.signal.reason ?? err;
      if (!told) o.onWait?.(err.message);
      told = true;
      await sleep(o.everyMs ?? 500, o.signal);
    }
  }
}

/**
 * What a dead holder left of its commit: its staging folder (the new output not swapped in yet, or
 * the previous one swapped out), and its `_COMMITTING` mark. Killed between the two renames of the
 * fallback swap, it left no output folder: the previous output is put back first.
 */
function cleanUpAfter(output: string, deadJobId: string): void {
  const staging = stagingDir(output, deadJobId);
  if (!existsSync(output) && existsSync(`${staging}.old`)) renameSync(`${staging}.old`, output);
  for (const dir of [staging, `${staging}.old`]) rmSync(dir, { recursive: true, force: true });
  try {
    if (readFileSync(join(output, "_COMMITTING"), "utf8") === deadJobId) unlinkSync(join(output, "_COMMITTING"));
  } catch {
    // no mark of its own there
  }
}

/** Gives the output back, if `jobId` still holds it. */
export function releaseOutput(output: string, jobId: string): void {
  const path = writerLockPath(output);
  if (read(path)?.jobId !== jobId) return;
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/**
 * Checkpoints inside a task, so that a retried attempt resumes instead of starting over.
 *
 * Each attempt keeps its own checkpoint: `<dir>/checkpoint-<attempt>.json`, replaced atomically,
 * plus hard links (in `<dir>/<attempt>/`) to the durable files it relies on: a map task's spilled
 * runs, or the part file a reduce (or map-only) task is writing. The links keep those files alive
 * after their attempt's own folder is removed. Attempts that run at once (a retry beside a backup)
 * never overwrite each other's checkpoint; one that resumes takes the furthest checkpoint it can
 * use, links its files into its own folder first, and starts from scratch if none is usable.
 */
import { closeSync, constants, existsSync, fstatSync, linkSync, lstatSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SheafError, messageOf } from "../core/errors.js";
import { mkdirBelow } from "../core/storage.js";
import { checkUnder, openConfined } from "../core/security/confine.js";
import { checkMessage, Schemas, type Checkpoint, type PartProgress } from "../core/security/messages.js";
import type { Split } from "../core/splits.js";
import type { JobConfig } from "../core/tasks.js";

export interface CheckpointPolicy {
  /** Checkpoint after this many input bytes (map) or output bytes (reduce)… */
  everyBytes: number;
  /** …or after this long, whichever comes first… */
  everyMs: number;
  /**
   * …but with at most this share of the task's time spent checkpointing: one that took t (the spill
   * or sync before it included) is followed by at least t / share - t of work. A combining map's
   * checkpoint writes its whole table (about 0.15 s for 100,000 keys): at 16 MiB, a fast map would
   * otherwise spend a tenth of its time on checkpoints. The task's end is a checkpoint too (its
   * output is kept): a checkpoint with less work left after it than would pay it back is not taken.
   */
  maxShare?: number;
}

export type { Checkpoint, MapCheckpoint, PartProgress, ReduceCheckpoint } from "../core/security/messages.js";

/** A checkpoint as resumed, with the manifest it came from (to forget it if it cannot be continued). */
export type Resumed<C extends Checkpoint> = C & { manifest: string };

const MANIFEST = /^checkpoint-(.+)\.json$/;

export function checkpointPolicy(job: JobConfig): CheckpointPolicy {
  return { everyBytes: job.checkpointBytes, everyMs: job.checkpointMs, maxShare: job.checkpointShare };
}

/**
 * What a checkpoint has cost on this thread, per byte it had to write (a map's buffered pairs, a
 * part's unsynced bytes), by kind of task: the estimate that holds a task's first checkpoint to the
 * share too. Without it a short map paid for a snapshot of its buffer early on, then again for its
 * output: a TeraSort map task of 64 MiB spent an eighth of its time on one checkpoint it never used.
 */
const costPerByte = new Map<string, number>();

const CLOCK_EVERY = { asks: 64, bytes: 64 << 10 };

export class Checkpointer {
  /** Whether this attempt saved a checkpoint (then its folder needs removing when the task is done). */
  saved = false;
  private lastAt = Date.now();
  private lastBytes = 0;
  /** When `due` last said yes: the checkpoint's cost runs from then until `save` or `skip`. */
  private dueAt = 0;
  /** No checkpoint before this (ms since the epoch): the last one's cost, paid back in work. */
  private notBefore = 0;
  private readonly links: string;
  private readonly linked = new Set<string>();

  /** The bytes the checkpoint `due` agreed to had to write. */
  private pending = 0;
  /** Asks since `due` last read the clock, and the bytes then. */
  private asks = 0;
  private clockBytes = 0;
  /** A checkpoint is due by size but waits for its cost to be paid back (a matter of time only). */
  private held = false;
  /** When `due` was first told the input left, and the bytes then: the pace that says how long the rest will take. */
  private pace: { at: number; bytes: number } | undefined;

  /** `kind`: which tasks' checkpoints cost alike (their cost is learned per thread and kind). */
  constructor(private readonly dir: string, attempt: string, private readonly policy: CheckpointPolicy, private readonly kind = "") {
    this.links = join(dir, attempt);
  }

  /**
   * True when enough work was done since the last checkpoint. `pending`: the bytes a checkpoint now
   * would write (by default those done since the last); under a share, one whose estimated cost the
   * work since the last would not pay back waits. `left`: the input bytes the task has still to read,
   * when known; under a share, one whose cost they would not pay back is not taken (a 64 MiB word
   * count map took a snapshot of its 100,000 keys a second before writing them as its output).
   */
  due(bytes: number, pending = bytes - this.lastBytes, left?: number): boolean {
    if (left !== undefined && !this.pace) this.pace = { at: Date.now(), bytes };
    // Asked per record by a reduce: the clock (about 80 ns a read here) is read every 64 asks or
    // 64 KiB, unless the bytes just made a checkpoint due (and it is not held back by its cost).
    const byBytes = bytes - this.lastBytes >= this.policy.everyBytes;
    if ((!byBytes || this.held) && bytes - this.clockBytes < CLOCK_EVERY.bytes && ++this.asks < CLOCK_EVERY.asks) return false;
    this.asks = 0;
    this.clockBytes = bytes;
    const now = Date.now();
    const share = this.policy.maxShare;
    const rate = costPerByte.get(this.kind);
    const payback = share && rate !== undefined ? rate * pending * (1 / share - 1) : 0;
    const leftMs = this.leftMs(now, bytes, left);
    // Not yet learned, a checkpoint's cost is unknown and at its highest (a thread's first write runs
    // cold: a word count's 100,000 keys took 0.15-0.25 s, 0.03 s warm): a task with less than the
    // time bound left would gain little from it, and is not made to pay for the lesson.
    const unlearned = !!share && rate === undefined && leftMs < this.policy.everyMs;
    this.held = now < this.notBefore || now - this.lastAt < payback || leftMs < payback || unlearned;
    if (this.held || (!byBytes && now - this.lastAt < this.policy.everyMs)) return false;
    this.dueAt = now;
    this.pending = pending;
    return true;
  }

  /** How long reading `left` more bytes will take at this attempt's pace so far (Infinity when unknown). */
  private leftMs(now: number, bytes: number, left: number | undefined): number {
    const p = this.pace;
    return left === undefined || !p || bytes <= p.bytes ? Infinity : (left * (now - p.at)) / (bytes - p.bytes);
  }

  /** Counts the work as checkpointed without saving (a part that cannot be continued), so `due` asks again later. */
  skip(bytes: number): void {
    this.pending = 0; // nothing was written: no cost to learn
    this.done(bytes);
  }

  private done(bytes: number): void {
    const now = Date.now();
    const share = this.policy.maxShare;
    if (share) this.notBefore = now + (now - this.dueAt) * (1 / share - 1);
    if (share && this.pending > 0) costPerByte.set(this.kind, (now - this.dueAt) / this.pending);
    this.lastAt = now;
    this.lastBytes = bytes;
  }

  /**
   * Links the files the checkpoint relies on, then replaces this attempt's manifest, atomically.
   * Best effort: an attempt that cannot checkpoint (another attempt finished the task and removed
   * the folder, a full disk) carries on, and a later attempt resumes from an older one, or starts over.
   */
  save(checkpoint: Checkpoint, bytes: number): void {
    try {
      this.write(checkpoint, bytes);
      this.saved = true;
    } catch {
      // Nothing to undo: a manifest is only ever replaced whole, and stray links go with the folder.
    }
    this.done(bytes);
  }

  private write(checkpoint: Checkpoint, bytes: number): void {
    mkdirBelow(dirname(this.dir), this.links); // the checkpoint folder with it, never its parent (`_temporary`, the scratch folder)
    const link = (path: string) => {
      const target = join(this.links, basename(path));
      if (!this.linked.has(target)) {
        linkSync(path, target);
        this.linked.add(target);
      }
      return target;
    };
    const stored: Checkpoint =
      checkpoint.kind === "map"
        ? { ...checkpoint, spills: checkpoint.spills.map((r) => ({ ...r, path: link(r.path) })), part: checkpoint.part && { ...checkpoint.part, path: link(checkpoint.part.path) } }
        : { ...checkpoint, part: { ...checkpoint.part, path: link(checkpoint.part.path) } };
    const name = `checkpoint-${basename(this.links)}.json`;
    const tmp = join(this.dir, `${name}.tmp`);
    writeFileSync(tmp, JSON.stringify({ ...stored, progress: bytes }));
    renameSync(tmp, join(this.dir, name));
  }
}

/** What `resumeFrom` needs beyond the folders. */
export interface ResumeOptions<C extends Checkpoint> {
  /**
   * The folder of the job's layout the checkpoint folder lies in (the job's scratch, or the
   * output's `_temporary`): no file a checkpoint names may be reached through a symlink below it.
   * @defaultValue the checkpoint folder's parent
   */
  root?: string;
  /** Why a checkpoint of the right kind cannot be used by this task (a map's resume outside its split), if it cannot. */
  refuse?: (cp: C) => string | undefined;
}

/**
 * The furthest of the task's checkpoints whose files can still be linked into `into` (this
 * attempt's folder), or undefined when there is none. A manifest that is not what an attempt of
 * this task writes is logged, dropped and never followed.
 */
export function resumeFrom<C extends Checkpoint>(dir: string, kind: C["kind"], into: string, options: ResumeOptions<C> = {}): Resumed<C> | undefined {
  let names: string[];
  // Most tasks have none: a failed readdir builds an error (~80 µs of an empty task), existsSync does not.
  if (!existsSync(dir)) return undefined;
  try {
    names = readdirSync(dir).filter((n) => MANIFEST.test(n));
  } catch {
    return undefined;
  }
  const root = options.root ?? dirname(dir);
  const found = names.flatMap((n) => {
    const manifest = join(dir, n);
    try {
      const cp = readManifest<C>(manifest, dir, root, kind);
      const refused = cp && options.refuse?.(cp);
      if (refused) throw new SheafError("BAD_CHECKPOINT", refused);
      return cp ? [{ cp, manifest }] : [];
    } catch (err) {
      drop(manifest, err);
      return [];
    }
  });
  found.sort((a, b) => (b.cp.progress ?? 0) - (a.cp.progress ?? 0));
  for (const { cp, manifest } of found) {
    try {
      const adopted = adopt(cp, into, dir, root);
      if (adopted) return { ...adopted, manifest };
    } catch (err) {
      drop(manifest, err);
    }
  }
  return undefined;
}

/** A hostile manifest: said why, and removed, so no later attempt reads it again. */
function drop(manifest: string, err: unknown): void {
  process.stderr.write(`sheaf: checkpoint ${manifest} not used: ${messageOf(err)}\n`);
  rmSync(manifest, { force: true });
}

/**
 * A manifest of `kind`, checked; undefined when it is gone or of another kind. Throws (the caller
 * drops it) when it is not what an attempt writes: a link, a malformed one, or one naming a file
 * outside its own folder.
 */
function readManifest<C extends Checkpoint>(path: string, dir: string, root: string, kind: C["kind"]): C | undefined {
  let fd: number;
  try {
    fd = openConfined(path, dir, root, "checkpoint");
  } catch (err) {
    if (err instanceof SheafError) throw err;
    return undefined; // removed by an attempt that finished the task
  }
  let cp: Checkpoint;
  try {
    cp = checkMessage(Schemas.checkpoint, JSON.parse(readFileSync(fd, "utf8")), "it");
  } catch (err) {
    throw err instanceof SheafError ? err : new SheafError("BAD_CHECKPOINT", messageOf(err));
  } finally {
    closeSync(fd);
  }
  // Every file a checkpoint names is a link it made in its own folder: the rest is checked as each is opened.
  const files = cp.kind === "map" ? [...cp.spills.map((r) => r.path), ...(cp.part ? [cp.part.path] : [])] : [cp.part.path];
  for (const f of files) checkUnder(dir, f, "a file it names:");
  return cp.kind === kind ? (cp as C) : undefined;
}

/**
 * The checkpoint with its map spills linked into `into`, or undefined when its files are gone.
 * Throws when a spill is not a regular file in the checkpoint's folder (a planted link).
 */
function adopt<C extends Checkpoint>(cp: C, into: string, dir: string, root: string): C | undefined {
  // Only spills are linked: a map task's folder is made lazily, when it has a file to hold.
  if (cp.kind !== "map" || cp.spills.length === 0) return cp;
  mkdirBelow(dirname(into), into);
  const adopted: string[] = [];
  const adopt = (file: string, name: string) => {
    const target = join(into, name);
    // The file opened without following links is the one linked: link(2) does not follow a
    // symlink either, and a swap in between leaves a link whose inode differs, refused here.
    const fd = openConfined(file, dir, root, "spilled run");
    try {
      const opened = fstatSync(fd);
      linkSync(file, target);
      adopted.push(target);
      const linked = lstatSync(target);
      if (!linked.isFile() || linked.ino !== opened.ino || linked.dev !== opened.dev) {
        throw new SheafError("PATH_NOT_ALLOWED", `spilled run ${file} changed while it was linked`);
      }
    } finally {
      closeSync(fd);
    }
    return target;
  };
  try {
    const spills = cp.spills.map((r, i) => ({ ...r, path: adopt(r.path, `resumed-${String(i).padStart(5, "0")}`) }));
    return { ...cp, spills } as C;
  } catch (err) {
    for (const f of adopted) rmSync(f, { force: true });
    if (err instanceof SheafError) throw err;
    return undefined;
  }
}

/** The resume fields a map checkpoint may set: where the read continues, never what it reads. */
const RESUME_FIELDS = ["start", "firstLine", "skip"] as const;

/** Why a map checkpoint's resume cannot continue `split` (undefined when it can): it may only move the read within it. */
export function refuseResume(split: Split, resume: Partial<Split>): string | undefined {
  const other = Object.keys(resume).find((k) => !(RESUME_FIELDS as readonly string[]).includes(k));
  if (other !== undefined) return `its resume sets ${other}, which only the task's own split may`;
  const { start, firstLine, skip } = resume;
  if (start !== undefined && !(Number.isSafeInteger(start) && start >= split.start && start <= split.end)) {
    return `its resume starts at ${start}, outside the task's split [${split.start}, ${split.end}]`;
  }
  if (firstLine !== undefined && !(Number.isSafeInteger(firstLine) && firstLine >= (split.firstLine ?? 1))) {
    return `its resume's first line ${firstLine} is before the split's`;
  }
  if (skip !== undefined && !(Number.isSafeInteger(skip) && skip >= 0)) return `its resume skips ${skip} records`;
  return undefined;
}

/** The task's split, continued where a checkpoint's resume (checked by `refuseResume`) says: only the resume fields are taken. */
export function resumedSplit(split: Split, resume: Partial<Split>): Split {
  const moved: Split = { ...split };
  for (const k of RESUME_FIELDS) if (resume[k] !== undefined) moved[k] = resume[k];
  return moved;
}

/**
 * Starts a part file from a checkpoint's, or, when that file cannot be copied (a concurrent attempt
 * finished and removed it, the disk lost it, it is not a regular file in the checkpoint's folder),
 * forgets the checkpoint so that this attempt and every later one start clean instead of failing
 * the same way. Returns whether it continued. `root`: as for `resumeFrom`.
 */
export function continueOrForget(manifest: string, from: PartProgress, to: string, root = dirname(dirname(manifest))): boolean {
  try {
    continuePart(from, to, dirname(manifest), root);
    return true;
  } catch (err) {
    if (err instanceof SheafError) drop(manifest, err);
    else rmSync(manifest, { force: true });
    rmSync(to, { force: true });
    return false;
  }
}

const COPY_CHUNK = 1 << 20;

/**
 * Starts a part file from a checkpoint's: a copy of its first `bytes` bytes. Read through a
 * descriptor opened without following links (not copyFileSync, which follows them), from a file
 * that must lie in `dir` and hold at least those bytes.
 */
export function continuePart(from: PartProgress, to: string, dir: string, root: string): void {
  const src = openConfined(from.path, dir, root, "part file");
  try {
    const size = fstatSync(src).size;
    if (size < from.bytes) throw new SheafError("BAD_CHECKPOINT", `part file ${from.path} holds ${size} bytes, fewer than its checkpoint's ${from.bytes}`);
    // O_NOFOLLOW: nor is the copy written through a link planted in this attempt's folder.
    const dst = openSync(to, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0), 0o666);
    try {
      const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(1, from.bytes)));
      for (let pos = 0; pos < from.bytes; ) {
        const n = readSync(src, buf, 0, Math.min(buf.length, from.bytes - pos), pos);
        if (n <= 0) throw new SheafError("BAD_CHECKPOINT", `part file ${from.path} ended at byte ${pos}, before its checkpoint's ${from.bytes}`);
        for (let off = 0; off < n; ) off += writeSync(dst, buf, off, n - off);
        pos += n;
      }
    } finally {
      closeSync(dst);
    }
  } finally {
    closeSync(src);
  }
}

/**
 * Checkpoints inside a task, so that a retried attempt resumes instead of starting over.
 *
 * A checkpoint is `<dir>/checkpoint.json`, replaced atomically, plus hard links (in
 * `<dir>/<attempt>/`) to the durable files it relies on: a map task's spilled runs, or the part
 * file a reduce (or map-only) task is writing. The links keep those files alive after their
 * attempt's own folder is removed; an attempt that resumes links them into its own folder first,
 * and starts from scratch if it cannot (a newer checkpoint replaced them).
 */
import { closeSync, copyFileSync, existsSync, linkSync, openSync, readFileSync, renameSync, rmSync, ftruncateSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { mkdirBelow } from "../core/storage.js";
import type { Split } from "../core/splits.js";
import type { BadRecord } from "../core/tasks.js";
import type { RunFile } from "./run-merge.js";

export interface CheckpointPolicy {
  /** Checkpoint after this many input bytes (map) or output bytes (reduce)… */
  everyBytes: number;
  /** …or after this long, whichever comes first. */
  everyMs: number;
}

/** The part file written so far: its first `bytes` bytes hold `records` whole records. */
export interface PartProgress {
  path: string;
  bytes: number;
  records: number;
}

export interface MapCheckpoint {
  kind: "map";
  /** Where the read continues: the split fields the reader set after the last mapped batch. */
  resume: Partial<Split>;
  recordsIn: number;
  bytesIn: number;
  counters: Record<string, number>;
  badRecords: BadRecord[];
  /** With reduce: the runs holding every pair emitted so far. */
  spills: RunFile[];
  /** Map-only: the part file so far. */
  part?: PartProgress;
}

export interface ReduceCheckpoint {
  kind: "reduce";
  /** The encoding of the last key whose output is in the part file (base64 of its bytes). */
  lastKey: string;
  counters: Record<string, number>;
  part: PartProgress;
}

export type Checkpoint = MapCheckpoint | ReduceCheckpoint;

export class Checkpointer {
  /** Whether this attempt saved a checkpoint (then its folder needs removing when the task is done). */
  saved = false;
  private lastAt = Date.now();
  private lastBytes = 0;
  private readonly links: string;
  private readonly linked = new Set<string>();

  constructor(private readonly dir: string, attempt: string, private readonly policy: CheckpointPolicy) {
    this.links = join(dir, attempt);
  }

  /** True when enough work was done since the last checkpoint. */
  due(bytes: number): boolean {
    return bytes - this.lastBytes >= this.policy.everyBytes || Date.now() - this.lastAt >= this.policy.everyMs;
  }

  /** Counts the work as checkpointed without saving (a part that cannot be continued), so `due` asks again later. */
  skip(bytes: number): void {
    this.lastAt = Date.now();
    this.lastBytes = bytes;
  }

  /** Links the files the checkpoint relies on, then replaces `checkpoint.json`, atomically. */
  save(checkpoint: Checkpoint, bytes: number): void {
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
    const tmp = join(this.dir, `checkpoint.json.${basename(this.links)}.tmp`);
    writeFileSync(tmp, JSON.stringify(stored));
    renameSync(tmp, join(this.dir, "checkpoint.json"));
    this.saved = true;
    this.lastAt = Date.now();
    this.lastBytes = bytes;
  }
}

/**
 * The task's latest checkpoint, with its files linked into `into` (this attempt's folder), or
 * undefined when there is none or its files are gone.
 */
export function resumeFrom<C extends Checkpoint>(dir: string, kind: C["kind"], into: string): C | undefined {
  const path = join(dir, "checkpoint.json");
  if (!existsSync(path)) return undefined;
  let cp: Checkpoint;
  try {
    cp = JSON.parse(readFileSync(path, "utf8")) as Checkpoint;
  } catch {
    return undefined;
  }
  if (cp.kind !== kind) return undefined;
  mkdirBelow(dirname(into), into);
  const adopted: string[] = [];
  const adopt = (file: string, name: string) => {
    const target = join(into, name);
    linkSync(file, target);
    adopted.push(target);
    return target;
  };
  try {
    if (cp.kind === "map") {
      const spills = cp.spills.map((r, i) => ({ ...r, path: adopt(r.path, `resumed-${String(i).padStart(5, "0")}`) }));
      return { ...cp, spills } as C;
    }
    return cp as C;
  } catch {
    for (const f of adopted) rmSync(f, { force: true });
    return undefined;
  }
}

/**
 * Starts a part file from a checkpoint's, or, when that file cannot be copied (a concurrent attempt
 * finished and removed it, the disk lost it), forgets the checkpoint so that this attempt and every
 * later one start clean instead of failing the same way. Returns whether it continued.
 */
export function continueOrForget(dir: string, from: PartProgress, to: string): boolean {
  try {
    continuePart(from, to);
    return true;
  } catch {
    rmSync(join(dir, "checkpoint.json"), { force: true });
    rmSync(to, { force: true });
    return false;
  }
}

/** Starts a part file from a checkpoint's: a copy of its first `bytes` bytes. */
export function continuePart(from: PartProgress, to: string): void {
  copyFileSync(from.path, to);
  const fd = openSync(to, "r+");
  try {
    ftruncateSync(fd, from.bytes);
  } finally {
    closeSync(fd);
  }
}

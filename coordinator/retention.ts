/**
 * Retention, run by the coordinator's leader: finished job and pipeline run records past the bounds
 * are deleted with their keys (see pruneRecords) at most once a second, at a cost of O(what goes),
 * never O(history). Less often (every minute, or the artifact grace period if shorter): artifacts
 * that nothing unfinished names are deleted from the workdirs the coordinator has seen, as are the
 * scratch folders of jobs no longer running (core/leftovers.ts), and each schedule's fired due
 * times are pruned to the same bounds as the records.
 */
import { readdir, stat, unlink } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Redis } from "ioredis";
import { Keys } from "../core/cluster/keys.js";
import { pruneRecords } from "../core/cluster/state/unfenced-writes.js";
import { RECORD_FIELDS } from "../core/cluster/state/fields.js";
import { pruneFiredDueTimes } from "../core/cluster/schedules.js";
import { messageOf } from "../core/errors.js";
import type { JobId } from "../core/ids.js";
import { artifactsDir } from "../core/storage.js";
import { isObjectUrl } from "../core/store/location.js";
import { deleteObjects, listObjects } from "../core/store/s3.js";
import { collectOrphans } from "../core/leftovers.js";
import { removeTree } from "../engine/remove-tree.js";
import { plural } from "../core/show.js";
import { SERVICE_DEFAULTS } from "../core/defaults.js";

export interface RetentionOptions {
  /** Finished jobs kept (and, separately, finished pipeline runs). @defaultValue 1000 */
  keepJobs?: number;
  /** Finished jobs and runs are deleted this long after they finished. @defaultValue 7 days */
  keepForMs?: number;
  /**
   * An unreferenced artifact is deleted only once it is older than this: a submitter writes (or
   * touches) the artifact before the record that names it. @defaultValue 1 hour
   */
  artifactGraceMs?: number;
}

export const RETENTION_DEFAULTS = { keepJobs: SERVICE_DEFAULTS.keepJobs, keepForMs: SERVICE_DEFAULTS.keepForMs, artifactGraceMs: SERVICE_DEFAULTS.artifactGraceMs } as const;

const SWEEP_EVERY_MS = 1000;
const MAX_GC_EVERY_MS = 60_000;
const ARTIFACT = /^[0-9a-f]{64}\.mjs$/;

export class Retention {
  private readonly o: Required<RetentionOptions>;
  private readonly workdirs = new Set<string>();
  private readonly admitted = new Set<string>();
  private lastSweep = 0;
  private lastGc = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    options: RetentionOptions,
    private readonly log: (m: string) => void,
  ) {
    this.o = { ...RETENTION_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  }

  /** A workdir whose artifacts to collect: the coordinator learns them from the jobs it drives. */
  noteWorkdir(dir: string): void {
    this.workdirs.add(dir);
  }

  /**
   * A workdir a job this coordinator admitted names (its signature and allowed roots checked):
   * scratch folders are collected only there, never in one an unchecked record names.
   */
  noteAdmittedWorkdir(dir: string): void {
    this.workdirs.add(dir);
    this.admitted.add(dir);
  }

  /** Prunes records past the bounds (at most once a second) and collects artifacts (less often). */
  async sweep(now = Date.now()): Promise<void> {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    const bounds = { keep: this.o.keepJobs, keepForMs: this.o.keepForMs };
    let pruned = 0;
    for (const [zset, keyOf] of [[this.keys.jobs, (id: string) => this.keys.job(id as JobId)], [this.keys.runs, (id: string) => this.keys.run(id)]] as const) {
      for (let n = -1; n !== 0; pruned += n) n = await pruneRecords(this.redis, this.keys, zset, keyOf, bounds, now);
    }
    if (pruned) this.log(`retention: deleted ${plural(pruned, "finished record")}`);
    if (now - this.lastGc >= Math.min(MAX_GC_EVERY_MS, this.o.artifactGraceMs)) {
      this.lastGc = now;
      await this.collectArtifacts(now).catch((err) => this.log(`retention: cannot collect artifacts: ${messageOf(err)}`));
      await this.pruneSchedules(now).catch((err) => this.log(`retention: cannot prune schedules' fired due times: ${messageOf(err)}`));
      await this.collectScratch(now).catch((err) => this.log(`retention: cannot collect scratch folders: ${messageOf(err)}`));
    }
  }

  /** Each schedule's record of fired due times, kept like job records (its history list is capped already). */
  private async pruneSchedules(now: number): Promise<void> {
    for (const name of await this.redis.smembers(this.keys.schedules)) {
      await pruneFiredDueTimes(this.redis, this.keys, name, this.o.keepJobs, now - this.o.keepForMs, now);
    }
  }

  /**
   * Scratch folders of this prefix's jobs that are not unfinished in Redis (killed, or their record
   * wiped), older than the artifact grace period by job id, and of dead `sheaf run`s on this host;
   * in workdirs of admitted jobs only (core/leftovers.ts).
   */
  private async collectScratch(now: number): Promise<void> {
    const live = new Set(await this.redis.zrange(Keys.unfinished(this.keys.jobs), "0", "-1"));
    let removed = 0;
    for (const workdir of this.admitted) {
      removed += (await collectOrphans(workdir, this.keys.prefix, live, { graceMs: this.o.artifactGraceMs, now }, removeTree)).length;
    }
    if (removed) this.log(`retention: removed ${plural(removed, "scratch folder")} of jobs no longer running`);
  }

  /** Deletes artifacts older than the grace period that no unfinished job or run, nor any schedule, names. */
  private async collectArtifacts(now: number): Promise<void> {
    const live = await this.liveArtifacts();
    let deleted = 0;
    for (const workdir of this.workdirs) {
      const dir = artifactsDir(workdir);
      if (isObjectUrl(dir)) {
        // A store's objects cannot be touched: a submitter puts an artifact again to make it fresh.
        const old = (await listObjects(`${dir}/`)).filter((o) => ARTIFACT.test(basename(o.path)) && !live.has(basename(o.path)) && o.modified !== undefined && now - o.modified >= this.o.artifactGraceMs);
        await deleteObjects(old.map((o) => o.path));
        deleted += old.length;
        continue;
      }
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!ARTIFACT.test(name) || live.has(name)) continue;
        const path = join(dir, name);
        const st = await stat(path).catch(() => undefined);
        if (!st || now - st.mtimeMs < this.o.artifactGraceMs) continue;
        await unlink(path).then(() => deleted++, () => {});
      }
    }
    if (deleted) this.log(`retention: deleted ${deleted} unreferenced artifacts`);
  }

  /** The artifact file names every unfinished job and run, and every schedule, names (noting their workdirs). */
  private async liveArtifacts(): Promise<Set<string>> {
    const [jobs, runs, schedules] = await Promise.all([
      this.redis.zrange(Keys.unfinished(this.keys.jobs), "0", "-1"),
      this.redis.zrange(Keys.unfinished(this.keys.runs), "0", "-1"),
      this.redis.smembers(this.keys.schedules),
    ]);
    const pipe = this.redis.pipeline();
    for (const id of jobs) pipe.hget(this.keys.job(id as JobId), RECORD_FIELDS.spec);
    for (const id of runs) pipe.hget(this.keys.run(id), RECORD_FIELDS.spec);
    for (const name of schedules) pipe.hget(this.keys.schedule(name), "spec");
    const live = new Set<string>();
    for (const [err, text] of (await pipe.exec()) ?? []) {
      if (err) throw err; // a spec not read: collect nothing rather than something live
      if (typeof text !== "string") continue;
      const spec = JSON.parse(text) as { artifact?: string; workdir?: string; job?: { workdir?: string }; settings?: { workdir?: string } };
      if (spec.artifact) live.add(basename(spec.artifact));
      const workdir = spec.workdir ?? spec.job?.workdir ?? spec.settings?.workdir;
      if (workdir) this.noteWorkdir(workdir);
    }
    return live;
  }
}

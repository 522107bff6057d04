/**
 * What dead jobs leave behind: their scratch folders (`<workdir>/jobs/<jobId>`) and, for a
 * PostgreSQL sink, committed staging tables. A job removes both when it ends; one killed (a
 * `sheaf run` SIGKILLed, a cluster job whose Redis state was wiped) never does.
 *
 * Every scratch folder is marked by whoever drives its job: a `sheaf run` with its pid and host
 * (RUN_OWNER), a cluster's coordinator with its Redis prefix (CLUSTER_OWNER). The next `sheaf run`
 * on the workdir removes the folders of runs dead on this host; a coordinator removes the folders
 * marked with its own prefix whose job Redis does not know as unfinished, once their job id (which
 * starts with its creation time) is older than a grace period, and dead runs' folders. A folder
 * marked by another prefix, or not marked, is never touched: clusters may share a workdir.
 */
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { processAlive } from "./output-writer-lock.js";
import { ifValid, Schemas } from "./security/messages.js";

export const RUN_OWNER = "sheaf-run.owner";
export const CLUSTER_OWNER = "sheaf-cluster.owner";
const JOBS = "jobs";

/** Marks a `sheaf run` job's scratch folder (made by then) as this process's. */
export function markRunOwner(scratch: string, jobId: string): void {
  mark(scratch, RUN_OWNER, { jobId, by: "run", pid: process.pid, host: hostname(), since: Date.now() });
}

/**
 * Writes a mark whole or not at all (aside, then renamed: a mark read half-written looks like a
 * dead run's). Best effort: a full disk must not fail the job for it; an unmarked folder is only
 * never collected.
 */
function mark(scratch: string, name: string, what: unknown): void {
  const aside = join(scratch, `${name}.${process.pid}`);
  try {
    writeFileSync(aside, JSON.stringify(what));
    renameSync(aside, join(scratch, name));
  } catch {
    rmSync(aside, { force: true });
  }
}

/** Marks a cluster job's scratch folder (made by then) with the coordinator's Redis prefix. */
export function markClusterOwner(scratch: string, prefix: string): void {
  mark(scratch, CLUSTER_OWNER, { prefix });
}

/** Whose a scratch folder is: a `sheaf run` alive or dead, a cluster job (of which prefix), or unknown (no mark). */
export function scratchOwner(scratch: string): "live run" | "dead run" | { prefix: string } | "unknown" {
  let text: string;
  try {
    text = readFileSync(join(scratch, RUN_OWNER), "utf8");
  } catch {
    try {
      const { prefix } = JSON.parse(readFileSync(join(scratch, CLUSTER_OWNER), "utf8")) as { prefix?: unknown };
      return typeof prefix === "string" ? { prefix } : "unknown";
    } catch {
      return "unknown";
    }
  }
  let owner;
  try {
    owner = ifValid(Schemas.writerLock, JSON.parse(text));
  } catch {}
  if (owner) return processAlive(owner) ? "live run" : "dead run";
  // Not a mark Sheaf wrote (they are renamed in whole): dead once it has not changed for a minute.
  return Date.now() - (statSync(join(scratch, RUN_OWNER), { throwIfNoEntry: false })?.mtimeMs ?? 0) > 60_000 ? "dead run" : "live run";
}

/** When a job was created, from its id (`<name>-YYYYMMDDhhmmss-<random>`, UTC); undefined if it is not one. */
export function jobIdTime(jobId: string): number | undefined {
  const m = /-(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})-[0-9a-z]+$/.exec(jobId);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : undefined;
}

/** Scratch folders of `sheaf run` jobs dead on this host: removed with `remove`; returns their job ids. */
export async function collectDeadRuns(workdir: string, remove: (dir: string) => Promise<void>): Promise<string[]> {
  const dead = jobFolders(workdir).filter((id) => scratchOwner(join(workdir, JOBS, id)) === "dead run");
  for (const id of dead) await remove(join(workdir, JOBS, id));
  return dead;
}

/**
 * Scratch folders no live job owns, for a coordinator of `prefix`: its own jobs' that are not
 * unfinished in Redis (`live`) and older than `graceMs` by job id, and dead runs' on this host.
 */
export async function collectOrphans(
  workdir: string, prefix: string, live: ReadonlySet<string>, o: { graceMs: number; now: number }, remove: (dir: string) => Promise<void>,
): Promise<string[]> {
  const gone: string[] = [];
  for (const id of jobFolders(workdir)) {
    const owner = scratchOwner(join(workdir, JOBS, id));
    const orphan = owner === "dead run" ||
      (typeof owner === "object" && owner.prefix === prefix && !live.has(id) && o.now - (jobIdTime(id) ?? o.now) >= o.graceMs);
    if (!orphan) continue;
    await remove(join(workdir, JOBS, id));
    gone.push(id);
  }
  return gone;
}

function jobFolders(workdir: string): string[] {
  try {
    return readdirSync(join(workdir, JOBS), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

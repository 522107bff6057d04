/**
 * What dead jobs leave behind: their scratch folders (`<workdir>/jobs/<jobId>`) and, for a
 * PostgreSQL sink, committed staging tables. A job removes both when it ends; one killed (a
 * `sheaf run` SIGKILLed, a cluster job whose Redis state was wiped) never does.
 *
 * A `sheaf run` marks its scratch folder with its pid and host (RUN_OWNER): the next `sheaf run` on
 * the workdir removes the folders whose run is dead on this host. A cluster's coordinator removes
 * the folders of jobs Redis does not know as unfinished, once their job id is older than a grace
 * period (a job id starts with its creation time), and leaves marked folders to `sheaf run` unless
 * they are older than the retention period.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { processAlive } from "./output-writer-lock.js";

export const RUN_OWNER = "sheaf-run.owner";
const JOBS = "jobs";

/** Marks a `sheaf run` job's scratch folder (made by then) as this process's. */
export function markRunOwner(scratch: string, jobId: string): void {
  writeFileSync(join(scratch, RUN_OWNER), JSON.stringify({ jobId, by: "run", pid: process.pid, host: hostname(), since: Date.now() }));
}

/** Whose a scratch folder is: a `sheaf run` alive or dead, or a cluster job (no mark). */
export function scratchOwner(scratch: string): "live run" | "dead run" | "cluster" {
  let text: string;
  try {
    text = readFileSync(join(scratch, RUN_OWNER), "utf8");
  } catch {
    return "cluster";
  }
  try {
    return processAlive(JSON.parse(text)) ? "live run" : "dead run";
  } catch {
    return "dead run"; // half-written by a run that died as it started
  }
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
 * Scratch folders no live job owns, for a coordinator: not an unfinished job in Redis (`live`), and
 * older than `graceMs` by job id; a `sheaf run`'s only once dead or older than `runGraceMs`.
 */
export async function collectOrphans(
  workdir: string, live: ReadonlySet<string>, o: { graceMs: number; runGraceMs: number; now: number }, remove: (dir: string) => Promise<void>,
): Promise<string[]> {
  const gone: string[] = [];
  for (const id of jobFolders(workdir)) {
    const age = o.now - (jobIdTime(id) ?? o.now);
    if (live.has(id) || age < o.graceMs) continue;
    const owner = scratchOwner(join(workdir, JOBS, id));
    if (owner === "live run" && age < o.runGraceMs) continue;
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

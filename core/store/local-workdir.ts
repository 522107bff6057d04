/**
 * A workdir in an object store (`s3://bucket/prefix`), for hosts that share nothing but Redis and
 * the store. The store holds only what must cross hosts: job artifacts by hash, and the lists of map
 * outputs that reduce tasks read (written by the coordinator, read by workers). Everything else a
 * process writes (spills, checkpoints, parts before their upload) goes to its own local copy of the
 * workdir, laid out the same, under the OS temp folder: task code keeps its paths, and a checkpoint
 * is therefore resumed only by a retry on the same host; a retry elsewhere starts the task over (a
 * checkpoint is hard links to the attempt's spilled runs; copying them to the store would cost the
 * bandwidth local disks are there to save).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { SheafError } from "../errors.js";
import { isObjectUrl, keyBelow } from "./location.js";
import { getObject } from "./s3.js";

/** Where this host keeps its copies of store workdirs. */
export const localWorkdirs = (): string => join(tmpdir(), "sheaf-workdirs");

/** The folder that stands for `workdir` on this host: itself, or for a store, a local copy named after it. */
export function localWorkdir(workdir: string): string {
  if (!isObjectUrl(workdir)) return workdir;
  return join(localWorkdirs(), createHash("sha256").update(workdir).digest("hex").slice(0, 16));
}

/** Where `location` (below the workdir, as every process names it) lies in this host's copy of the workdir. */
export function onThisHost(workdir: string, location: string): string {
  if (!isObjectUrl(workdir)) return location;
  if (!location.startsWith(`${workdir.replace(/\/+$/, "")}/`)) return location;
  const rest = keyBelow(workdir, location);
  if (!rest) throw new SheafError("PATH_NOT_ALLOWED", `${location} is not a plain key below the workdir ${workdir}`);
  return join(localWorkdir(workdir), ...rest);
}

/**
 * The local file of an object below a store workdir, fetched once per host (to a private name, then
 * renamed in place; `again` replaces a copy found bad); undefined when the store has no such object. Callers verify the content
 * (an artifact's hash, a list's CRC): a local copy is trusted no more than the object itself.
 */
export async function fetchToHost(workdir: string, url: string, again = false): Promise<string | undefined> {
  const local = onThisHost(workdir, url);
  if (!again && existsSync(local)) return local;
  const body = await getObject(url);
  if (!body) return undefined;
  mkdirSync(dirname(local), { recursive: true });
  const tmp = `${local}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, body);
  renameSync(tmp, local);
  return local;
}

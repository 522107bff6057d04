/**
 * Map outputs kept on a worker's local disk and served over HTTP (`sheaf worker --local-dir`): their
 * layout, the URL a map result names them by, and the token that authenticates a fetch. Shared by
 * the worker (which writes, serves and fetches them) and the coordinator (which checks a result's
 * URL names its own job and task before any reducer is sent there).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import { isSafeId } from "../security/roots.js";

/** The two files of a map output an attempt folder holds, and the only ones the server hands out. */
export const MAP_OUTPUT = "map.out";
export const MAP_INDEX = "map.out.idx";

const TASK = /^map-\d{5,}$/;
/** storage.ts attemptName: `attempt-<n>-<8 hex>`. */
const ATTEMPT = /^attempt-\d+-[0-9a-f]{8}$/;

/** A map attempt's folder under a worker's local dir. */
export const localAttemptDir = (root: string, job: string, task: string, attempt: string) => join(root, job, task, attempt);

export interface ServedFile {
  job: string;
  task: string;
  attempt: string;
  file: typeof MAP_OUTPUT | typeof MAP_INDEX;
}

/**
 * The file a request path names (`/<job>/<task>/<attempt>/<file>`), each part checked against what
 * Sheaf itself writes, or undefined: the server builds its path from these ids, never from the raw
 * URL, so no `..`, encoded slash or absolute path reaches the file system.
 */
export function parseServedPath(pathname: string): ServedFile | undefined {
  const parts = pathname.split("/");
  if (parts.length !== 5 || parts[0] !== "") return undefined;
  const [, job, task, attempt, file] = parts as [string, string, string, string, string];
  if (!isSafeId(job) || !TASK.test(task) || !ATTEMPT.test(attempt) || (file !== MAP_OUTPUT && file !== MAP_INDEX)) return undefined;
  return { job, task, attempt, file };
}

/**
 * Whether `url` is what a worker advertises for this job's map task: `http://host:port/<job>/<task>/<attempt>`.
 * A result naming anything else (another job's files, a path with `..`, another scheme) is refused.
 */
export function isMapOutputUrl(url: string, job: string, task: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== "http:" || u.username || u.password || u.search || u.hash || `${u.origin}${u.pathname}` !== url) return false;
  const served = parseServedPath(`${u.pathname}/${MAP_OUTPUT}`);
  return served !== undefined && served.job === job && served.task === task;
}

/** The key every shuffle token is derived from: SHEAF_SECRET itself never leaves the process. */
export function shuffleKey(secret: string): Buffer {
  return createHmac("sha256", secret).update("sheaf shuffle v1").digest();
}

/**
 * The token for one request path: bound to the path, so a token sent to a host named by a forged
 * result (one written into Redis by someone without the secret) opens that one file, nothing else.
 */
export function shuffleToken(key: Buffer, pathname: string): string {
  return createHmac("sha256", key).update(pathname).digest("hex");
}

/** Whether an `Authorization` header carries the token for `pathname`, compared in constant time. */
export function tokenMatches(key: Buffer, pathname: string, header: string | undefined): boolean {
  const m = /^Bearer ([0-9a-f]{64})$/.exec(header ?? "");
  if (!m) return false;
  return timingSafeEqual(Buffer.from(m[1]!, "hex"), Buffer.from(shuffleToken(key, pathname), "hex"));
}

/**
 * Resolves `--input` arguments (files, folders, globs) into a sorted list of files.
 * Folders are read recursively; names starting with `_` or `.` are skipped, as Hadoop does,
 * so a Sheaf output folder can be the input of the next job.
 */
import { readdirSync, statSync, type Stats } from "node:fs";
import { join, resolve } from "node:path";
import { SheafError } from "./errors.js";
import { isObjectUrl, objectUrl, parseObjectUrl } from "./store/location.js";
import { listObjects } from "./store/s3.js";
import { readManifest } from "./store/manifest.js";

export interface InputFile {
  /** The path as listed (relative paths stay relative to the working directory), or an object's s3:// URL. */
  path: string;
  size: number;
  /** An object's ETag (a file's version is its mtime, read when needed). */
  etag?: string;
}

export class MissingInputError extends SheafError {
  constructor(readonly missing: string[]) {
    super("MISSING_INPUT", `input not found: ${missing.join(", ")}`);
  }
}

const GLOB_CHARS = /[*?[]/;

function hidden(name: string): boolean {
  return name.startsWith("_") || name.startsWith(".");
}

function walk(cwd: string, dir: string, out: InputFile[]): void {
  for (const entry of readdirSafe(cwd, dir)) {
    if (hidden(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(cwd, path, out);
    else if (entry.isFile() || entry.isSymbolicLink()) {
      const st = statOrNull(cwd, path);
      if (st?.isFile()) out.push({ path, size: st.size });
    }
  }
}

function statOrNull(cwd: string, path: string): Stats | null {
  try {
    return statSync(resolve(cwd, path));
  } catch {
    return null;
  }
}

/** Translates one path segment of a glob (`*`, `?`, `[...]`) into a regular expression. */
function segmentRegex(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const close = segment.indexOf("]", i + 1);
      if (close < 0) re += "\\[";
      else {
        re += "[" + segment.slice(i + 1, close).replace(/^!/, "^").replace(/\\/g, "\\\\") + "]";
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp("^" + re + "$");
}

function expandGlob(cwd: string, pattern: string): string[] {
  const parts = pattern.split(/[\\/]/);
  const out: string[] = [];
  const step = (base: string, rest: string[]): void => {
    if (rest.length === 0) { out.push(base); return; }
    const [seg, ...tail] = rest as [string, ...string[]];
    if (seg === "**") {
      step(base, tail);
      for (const e of readdirSafe(cwd, base)) if (e.isDirectory() && !hidden(e.name)) step(join(base, e.name), rest);
      return;
    }
    if (!GLOB_CHARS.test(seg)) { if (statOrNull(cwd, join(base, seg))) step(join(base, seg), tail); return; }
    const re = segmentRegex(seg);
    for (const e of readdirSafe(cwd, base)) if (!e.name.startsWith(".") && re.test(e.name)) step(join(base, e.name), tail);
  };
  step(pattern.startsWith("/") ? "/" : ".", parts.filter((p) => p !== ""));
  return out;
}

/** A folder's entries, sorted; a folder that is not there is empty, one that cannot be read (EACCES, EIO) an error. */
function readdirSafe(cwd: string, dir: string) {
  try {
    return readdirSync(resolve(cwd, dir), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw new SheafError("INPUT_UNREADABLE", `cannot read input folder ${dir}: ${code ?? (err as Error).message}`);
  }
}

/**
 * Lists every input file once, sorted by path; throws MissingInputError naming every argument that
 * matched nothing. Relative arguments are resolved against `cwd` (the submitter's working
 * directory) but listed as given, so records name their files the same way on every machine. An
 * `s3://bucket/key` argument names an object, a folder of objects (a key prefix ending at a `/`),
 * or a glob on keys.
 */
export async function listInputs(args: readonly string[], cwd = process.cwd()): Promise<InputFile[]> {
  const files: InputFile[] = [];
  const missing: string[] = [];
  for (const arg of args) {
    const found = isObjectUrl(arg) ? await listObjectInput(arg) : listLocalInput(arg, cwd);
    if (found) files.push(...found);
    else missing.push(arg);
  }
  if (missing.length) throw new MissingInputError(missing);
  const seen = new Set<string>();
  return files
    .filter((f) => {
      const key = isObjectUrl(f.path) ? f.path : resolve(cwd, f.path);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The files one local argument names, or undefined when it names nothing (an empty folder names no file, but is there). */
function listLocalInput(arg: string, cwd: string): InputFile[] | undefined {
  const files: InputFile[] = [];
  const paths = GLOB_CHARS.test(arg) && !statOrNull(cwd, arg) ? expandGlob(cwd, arg) : [arg];
  for (const path of paths) {
    const st = statOrNull(cwd, path);
    if (!st) continue;
    if (st.isDirectory()) walk(cwd, path, files);
    else files.push({ path, size: st.size });
  }
  return files.length === 0 && !paths.some((p) => statOrNull(cwd, p)?.isDirectory()) ? undefined : files;
}

/**
 * The objects one `s3://` argument names: the object itself, else every object under it as a folder
 * (names under it starting with `_` or `.` skipped, as in a folder), or the objects a glob matches.
 */
async function listObjectInput(arg: string): Promise<InputFile[] | undefined> {
  const { bucket, key } = parseObjectUrl(arg);
  const glob = key.search(GLOB_CHARS);
  if (glob >= 0) {
    const matches = keyMatcher(key);
    const listed = await listObjects(objectUrl(bucket, key.slice(0, glob)));
    const found = listed.filter((o) => matches(o.path.slice(`s3://${bucket}/`.length)));
    return found.length ? found.map(({ path, size, etag }) => ({ path, size, etag })) : undefined;
  }
  const folder = key === "" || key.endsWith("/") ? key : `${key}/`;
  const listed = await listObjects(objectUrl(bucket, key));
  const exact = listed.find((o) => o.path === objectUrl(bucket, key));
  if (exact && key !== folder) return [{ path: exact.path, size: exact.size, etag: exact.etag }];
  const under = listed.filter((o) => o.path.startsWith(objectUrl(bucket, folder)));
  if (under.length === 0) return undefined;
  // A job's output: the parts its manifest lists, and nothing else (an overwrite's old or new parts beside them).
  if (under.some((o) => o.path === objectUrl(bucket, `${folder}_SUCCESS`))) {
    const manifest = await readManifest(objectUrl(bucket, folder));
    if (manifest) {
      return manifest.parts.map((p) => {
        const o = under.find((x) => x.path === objectUrl(bucket, folder + p.name));
        if (!o) throw new SheafError("MISSING_INPUT", `input ${arg}: part ${p.name}, listed in its _SUCCESS manifest, is not there`);
        return { path: o.path, size: o.size, etag: o.etag };
      });
    }
  }
  return under
    .filter((o) => !o.path.slice(objectUrl(bucket, folder).length).split("/").some(hidden))
    .map(({ path, size, etag }) => ({ path, size, etag }));
}

/** Whether a key matches a glob of keys: `*`, `?`, `[...]` within a segment, `**` across segments. */
function keyMatcher(pattern: string): (key: string) => boolean {
  const segments = pattern.split("/").map((seg) => (seg === "**" ? "**" : segmentRegex(seg)));
  const match = (parts: string[], i: number, j: number): boolean => {
    if (i === segments.length) return j === parts.length;
    const seg = segments[i]!;
    if (seg === "**") return match(parts, i + 1, j) || (j < parts.length && !hidden(parts[j]!) && match(parts, i, j + 1));
    return j < parts.length && seg.test(parts[j]!) && match(parts, i + 1, j + 1);
  };
  return (key) => match(key.split("/"), 0, 0);
}

/**
 * Resolves `--input` arguments (files, folders, globs) into a sorted list of files.
 * Folders are read recursively; names starting with `_` or `.` are skipped, as Hadoop does,
 * so a Sheaf output folder can be the input of the next job.
 */
import { readdirSync, statSync, type Stats } from "node:fs";
import { join, resolve } from "node:path";
import { SheafError } from "./errors.js";

export interface InputFile {
  /** The path as listed (relative paths stay relative to the working directory). */
  path: string;
  size: number;
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
 * directory) but listed as given, so records name their files the same way on every machine.
 */
export function listInputs(args: readonly string[], cwd = process.cwd()): InputFile[] {
  const files: InputFile[] = [];
  const missing: string[] = [];
  for (const arg of args) {
    const before = files.length;
    const paths = GLOB_CHARS.test(arg) && !statOrNull(cwd, arg) ? expandGlob(cwd, arg) : [arg];
    for (const path of paths) {
      const st = statOrNull(cwd, path);
      if (!st) continue;
      if (st.isDirectory()) walk(cwd, path, files);
      else files.push({ path, size: st.size });
    }
    if (files.length === before && !paths.some((p) => statOrNull(cwd, p)?.isDirectory())) missing.push(arg);
  }
  if (missing.length) throw new MissingInputError(missing);
  const seen = new Set<string>();
  return files
    .filter((f) => {
      const key = resolve(cwd, f.path);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

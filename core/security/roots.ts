/**
 * Allowed roots (`--allow-root`, `SHEAF_ALLOW_ROOTS`): with any set, every input, output, workdir
 * and checkpoint path must resolve inside one of them, symlinks included, so neither `..` nor a link
 * can lead out. Ids and names that become path segments are checked here too.
 */
import { realpathSync } from "node:fs";
import { delimiter, isAbsolute, resolve, sep } from "node:path";
import { isObjectUrl } from "../store/location.js";
import { SheafError } from "../errors.js";

export class AllowedRoots {
  private constructor(readonly roots: readonly string[]) {}

  /** The roots named by flags and by `SHEAF_ALLOW_ROOTS` (separated by ':'); each must exist. */
  static from(flags: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): AllowedRoots {
    const named = [...flags, ...(env.SHEAF_ALLOW_ROOTS ?? "").split(delimiter)].filter((r) => r !== "");
    const roots = named.map((r) => {
      try {
        return realpathSync(resolve(r));
      } catch {
        throw new SheafError("BAD_ALLOW_ROOT", `allowed root ${r} does not exist`);
      }
    });
    return new AllowedRoots([...new Set(roots)]);
  }

  static readonly open = new AllowedRoots([]);

  get confined(): boolean {
    return this.roots.length > 0;
  }

  /** Refuses a path that resolves (symlinks included) outside every root; `what` names it in the error. */
  check(path: string, what: string): void {
    // Roots bound the filesystem; an object is the store's credentials' to allow.
    if (!this.confined || isObjectUrl(path)) return;
    const real = realPath(path);
    if (real === undefined || !this.roots.some((root) => isInside(root, real))) {
      throw new SheafError("PATH_NOT_ALLOWED", `${what} ${path} is outside the allowed roots (${this.roots.join(", ")})`);
    }
  }
}

/**
 * Where a path leads, as the operating system would follow it: the longest part of it that exists
 * is resolved with its symlinks, and the rest (to be created) must hold no `..`. Undefined when it
 * cannot be told.
 */
export function realPath(path: string): string | undefined {
  if (!isAbsolute(path) || path.includes("\0")) return undefined;
  // Not path.resolve: it would drop `link/..` lexically, where the system follows the link first.
  const segments = path.split(sep).filter((s) => s !== "" && s !== ".");
  for (let n = segments.length; n >= 0; n--) {
    let base: string;
    try {
      base = realpathSync(sep + segments.slice(0, n).join(sep));
    } catch {
      continue;
    }
    const rest = segments.slice(n);
    if (rest.includes("..")) return undefined;
    return rest.length ? resolve(base, ...rest) : base;
  }
  return undefined;
}

/** Whether `child` is `parent` or lies under it (both absolute and normalized). */
export function isInside(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/** Job, run and task ids become folder names: letters, digits, '.', '_', '-' only, and never `.` or `..`. */
const ID = /^[A-Za-z0-9_.-]{1,240}$/;

export function isSafeId(id: unknown): id is string {
  return typeof id === "string" && ID.test(id) && !/^\.+$/.test(id);
}

export function checkId(id: unknown, what: string): string {
  if (!isSafeId(id)) throw new SheafError("BAD_ID", `${what} ${JSON.stringify(String(id).slice(0, 80))} is not a valid id (letters, digits, '.', '_', '-')`);
  return id;
}

/**
 * Swapping two folders in one step: Linux's renameat2(RENAME_EXCHANGE), through native/exchange.c
 * (built by `npm run build` where a C compiler is found). Where it is missing, or the filesystem
 * refuses it, callers fall back to two renames, leaving an instant with neither folder in place.
 */
import { createRequire } from "node:module";

interface Native {
  exchange(a: string, b: string): void;
}

let native: Native | null | undefined;

function load(): Native | null {
  if (native !== undefined) return native;
  const require = createRequire(import.meta.url);
  // From dist/core (the build), or from core/ run as source (tests).
  for (const path of ["../native/exchange.node", "../dist/native/exchange.node"]) {
    try {
      return (native = require(path) as Native);
    } catch {
      // not built here
    }
  }
  return (native = null);
}

/** Codes meaning the system cannot exchange here, rather than that something is wrong with the paths. */
const UNSUPPORTED = new Set(["ENOSYS", "EINVAL", "ENOTSUP", "EOPNOTSUPP", "EXDEV"]);

/** Swaps `a` and `b` (both must exist) in one step; false, with nothing changed, where that cannot be done. */
export function exchangePaths(a: string, b: string): boolean {
  const n = load();
  if (!n) return false;
  try {
    n.exchange(a, b);
    return true;
  } catch (err) {
    if (UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? "")) return false;
    throw err;
  }
}

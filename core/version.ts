/** Sheaf's version: the one in the package.json two folders up from dist/core, or one up from core. */
import { readFileSync } from "node:fs";

let cached: string | undefined;

export function sheafVersion(): string {
  if (cached) return cached;
  for (const up of ["../../package.json", "../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "sheaf" && pkg.version) return (cached = pkg.version);
    } catch {
      // not there
    }
  }
  return (cached = "unknown");
}

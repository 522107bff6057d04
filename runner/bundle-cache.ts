/**
 * Bundles already built, so that running an unchanged job again neither loads nor starts esbuild
 * (40-100 ms of a small job's start). An entry is found by the job file, the folder esbuild ran
 * in (the inline source map names files relative to it) and the engine and esbuild versions; it is
 * used only if every file the bundle was built from still holds the bytes it had, every folder
 * holding one still has its modification time (a file added beside an import may change what it
 * resolves to), and every package.json, tsconfig.json and jsconfig.json above them is as it was
 * (they steer resolution and compilation), or is still absent.
 *
 * The cache is private to the user (`$SHEAF_CACHE_DIR`, else `$XDG_CACHE_HOME/sheaf`, else
 * `~/.cache/sheaf`; a folder of mode 0700), never the workdir: whoever can write a shared workdir
 * must not be able to choose the code a job file runs as. The code itself is kept in the entry and
 * hashed again when read; the artifact is then written to the workdir as a fresh bundle would be.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";

/** What a cache entry holds. */
interface Entry {
  key: string;
  /** Each input's absolute path and sha256. */
  files: [string, string][];
  /** Each folder holding an input, and its mtime (ms). */
  folders: [string, number][];
  /** Each package.json / tsconfig.json / jsconfig.json path above an input, and its sha256 or null if absent. */
  configs: [string, string | null][];
  code: string;
}

const CONFIGS = ["package.json", "tsconfig.json", "jsconfig.json"];
/** Bumped when what a bundle is built with changes in a way the versions below do not show. */
const FORMAT = 1;

const sha = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");

function readOrNull(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}

/** The user's private cache folder, made if absent; undefined where none can be had safely. */
function cacheDir(): string | undefined {
  const base = process.env.SHEAF_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "sheaf");
  const dir = join(base, "bundles");
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    // Another user's folder, or one others may write, is not trusted with code.
    if (typeof process.getuid === "function" && st.uid !== process.getuid()) return undefined;
    if ((st.mode & 0o022) !== 0) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

export class BundleCache {
  private constructor(
    private readonly dir: string,
    private readonly key: string,
  ) {}

  /** The cache of one job file bundled in `cwd`; undefined when there is no private folder to keep it in. */
  static for(jobFile: string, cwd: string, versions: { engine: string; esbuild: string }): BundleCache | undefined {
    const dir = cacheDir();
    if (!dir) return undefined;
    return new BundleCache(dir, sha(JSON.stringify([FORMAT, versions.engine, versions.esbuild, resolve(cwd, jobFile), cwd])));
  }

  private get path(): string {
    return join(this.dir, `${this.key}.json`);
  }

  /** The code bundled before, if every input is as it was then. */
  lookup(): string | undefined {
    const text = readOrNull(this.path);
    if (!text) return undefined;
    let entry: Entry;
    try {
      entry = JSON.parse(text.toString("utf8")) as Entry;
    } catch {
      return undefined;
    }
    if (entry.key !== this.key || typeof entry.code !== "string") return undefined;
    for (const [path, hash] of entry.files) {
      const now = readOrNull(path);
      if (!now || sha(now) !== hash) return undefined;
    }
    for (const [folder, mtime] of entry.folders) {
      try {
        if (statSync(folder).mtimeMs !== mtime) return undefined;
      } catch {
        return undefined;
      }
    }
    for (const [path, hash] of entry.configs) {
      const now = readOrNull(path);
      if ((now === null ? null : sha(now)) !== hash) return undefined;
    }
    return entry.code;
  }

  /**
   * Keeps `code`, built from `inputs` (absolute paths) by a build that began at `startedAt` (epoch ms).
   * Not kept if an input or its folder changed from a second before the build on: the bytes read
   * now might not be the ones bundled, and taking them for those would run stale code later.
   */
  store(code: string, inputs: string[], startedAt: number): void {
    const recent = (path: string) => statSync(path).mtimeMs >= startedAt - 1000;
    const recentOrGone = (path: string) => {
      try {
        return recent(path);
      } catch {
        return true;
      }
    };
    const files: [string, string][] = [];
    const folders = new Map<string, number>();
    const configs: [string, string | null][] = [];
    try {
      for (const path of inputs) {
        if (recent(path)) return;
        files.push([path, sha(readFileSync(path))]);
        const dir = dirname(path);
        if (!folders.has(dir)) {
          if (recent(dir)) return;
          folders.set(dir, statSync(dir).mtimeMs);
        }
      }
    } catch {
      return; // an input gone already: nothing worth keeping
    }
    const seen = new Set<string>();
    for (const path of inputs) {
      for (let dir = dirname(path); !seen.has(dir); dir = dirname(dir)) {
        seen.add(dir);
        for (const name of CONFIGS) {
          const bytes = readOrNull(join(dir, name));
          if (bytes && recentOrGone(join(dir, name))) return;
          configs.push([join(dir, name), bytes === null ? null : sha(bytes)]);
        }
        if (dirname(dir) === dir) break;
      }
    }
    const entry: Entry = { key: this.key, files, folders: [...folders], configs, code };
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(entry), { mode: 0o600 });
      renameSync(tmp, this.path);
    } catch {
      // A cache that cannot be written only costs the next run a build.
    }
  }
}

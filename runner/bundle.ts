/**
 * Bundles a job module (TypeScript, its local imports and npm packages) into one content-addressed
 * JS artifact, `<workdir>/artifacts/<sha256>.mjs`. `import … from "sheaf"` resolves to the engine
 * running the CLI, so a job file works from any folder.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Message } from "esbuild";
import { SheafError } from "../core/errors.js";
import { artifactPath, artifactsDir } from "../core/storage.js";
import { isObjectUrl } from "../core/store/location.js";
import { localWorkdir } from "../core/store/local-workdir.js";
import { putObject } from "../core/store/s3.js";
import { sheafVersion } from "../core/version.js";
import { BundleCache } from "./bundle-cache.js";

const PUBLIC_API = fileURLToPath(new URL("../core/api/index.js", import.meta.url));

/** esbuild's version, read without loading it (a cache key: another esbuild may bundle differently). */
const ESBUILD_VERSION = (JSON.parse(readFileSync(createRequire(import.meta.url).resolve("esbuild/package.json"), "utf8")) as { version: string }).version;

/** Lets CommonJS packages inside the bundle `require` Node's built-ins. */
const BANNER = 'import { createRequire as __sheafCreateRequire } from "node:module"; const require = __sheafCreateRequire(import.meta.url);';

export interface Artifact {
  sha256: string;
  /** As every process names it: `<workdir>/artifacts/<sha256>.mjs`, a path or an object store URL. */
  path: string;
  /** The file on this host (in a store workdir, this host's copy). */
  local: string;
}

/** `file:line:column: text`; esbuild counts columns in bytes, editors and Node in characters. */
function formatMessage(m: Message): string {
  const at = m.location;
  const column = at ? Buffer.from(at.lineText, "utf8").subarray(0, at.column).toString("utf8").length + 1 : 0;
  return `${at ? `${at.file}:${at.line}:${column}: ` : ""}${m.text}`;
}

export async function bundleJob(jobFile: string, workdir: string): Promise<Artifact> {
  if (!existsSync(jobFile)) throw new SheafError("JOB_NOT_FOUND", `job file not found: ${jobFile}`);
  const cwd = process.cwd();
  // esbuild is loaded only when the job is not in the cache: the module and its service process
  // cost a small job more than its run.
  const cache = BundleCache.for(jobFile, cwd, { engine: sheafVersion(), esbuild: ESBUILD_VERSION });
  let code = cache?.lookup();
  if (code === undefined) {
    const startedAt = Date.now();
    const { code: built, inputs } = await build(jobFile, cwd);
    code = built;
    cache?.store(code, inputs, startedAt);
  }
  const sha256 = createHash("sha256").update(code).digest("hex");
  const local = storeArtifact(code, sha256, localWorkdir(workdir));
  if (!isObjectUrl(workdir)) return { sha256, path: local, local };
  // Put again even when there: a fresh write is what spares it from the coordinator's collection.
  const path = artifactPath(workdir, sha256);
  await putObject(path, code);
  return { sha256, path, local };
}

/** Bundles the job with esbuild: its code, and the absolute paths of every file it was built from. */
async function build(jobFile: string, cwd: string): Promise<{ code: string; inputs: string[] }> {
  const esbuild = await import("esbuild");
  try {
    const result = await esbuild.build({
      entryPoints: [jobFile],
      absWorkingDir: cwd,
      bundle: true,
      write: false,
      metafile: true,
      format: "esm",
      platform: "node",
      target: "node20",
      logLevel: "silent",
      banner: { js: BANNER },
      // Inline, so the artifact stays one self-checking file: an error while it loads is named by
      // the line of the user's file (core/load-location.ts). Sources' text left out: positions suffice.
      sourcemap: "inline",
      sourcesContent: false,
      plugins: [
        {
          name: "sheaf-public-api",
          setup(b) {
            b.onResolve({ filter: /^sheaf$/ }, () => ({ path: PUBLIC_API }));
          },
        },
      ],
    });
    return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs).map((p) => resolve(cwd, p)) };
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    const detail = errors?.length ? errors.map(formatMessage).slice(0, 3).join("; ") : (err as Error).message;
    throw new SheafError("BAD_JOB_MODULE", `job file ${jobFile} does not build: ${detail}`);
  }
}

/** Writes the artifact into a folder workdir (or reuses the one there), returning its path. */
function storeArtifact(code: string, sha256: string, workdir: string): string {
  const path = artifactPath(workdir, sha256);
  const write = () => {
    mkdirSync(artifactsDir(workdir), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, path);
  };
  // An artifact already there is reused only if it still holds what its name says.
  if (!existsSync(path) || createHash("sha256").update(readFileSync(path)).digest("hex") !== sha256) write();
  else {
    // Made fresh again: the coordinator's artifact collection spares an artifact younger than its
    // grace period, which covers the time until the record naming it reaches Redis.
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch {
      write(); // collected in between
    }
  }
  return path;
}

/**
 * Bundles a job module (TypeScript, its local imports and npm packages) into one content-addressed
 * JS artifact, `<workdir>/artifacts/<sha256>.mjs`. `import … from "sheaf"` resolves to the engine
 * running the CLI, so a job file works from any folder.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build, type Message } from "esbuild";
import { SheafError } from "../core/errors.js";
import { artifactPath, artifactsDir } from "../core/storage.js";
import { isObjectUrl } from "../core/store/location.js";
import { localWorkdir } from "../core/store/local-workdir.js";
import { putObject } from "../core/store/s3.js";

const PUBLIC_API = fileURLToPath(new URL("../core/api/index.js", import.meta.url));

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
  let code: string;
  try {
    const result = await build({
      entryPoints: [jobFile],
      bundle: true,
      write: false,
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
    code = result.outputFiles[0]!.text;
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    const detail = errors?.length ? errors.map(formatMessage).slice(0, 3).join("; ") : (err as Error).message;
    throw new SheafError("BAD_JOB_MODULE", `job file ${jobFile} does not build: ${detail}`);
  }
  const sha256 = createHash("sha256").update(code).digest("hex");
  const local = storeArtifact(code, sha256, localWorkdir(workdir));
  if (!isObjectUrl(workdir)) return { sha256, path: local, local };
  // Put again even when there: a fresh write is what spares it from the coordinator's collection.
  const path = artifactPath(workdir, sha256);
  await putObject(path, code);
  return { sha256, path, local };
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

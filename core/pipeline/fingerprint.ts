/**
 * Skip-if-committed: a stage's fingerprint covers the job code (the pipeline artifact's hash),
 * its resolved inputs (each file's path, size and mtime, an object's size and ETag, or the fingerprint of the upstream stage
 * that wrote it), its parameters, partitions and output. A committed output records the
 * fingerprint it was made with; a rerun whose fingerprint matches skips the stage.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { outputSink } from "../formats/registry.js";
import { listInputs } from "../inputs.js";
import { isObjectUrl } from "../store/location.js";
import { readManifest } from "../store/manifest.js";
import { successMarker } from "../storage.js";
import type { ResolvedStage } from "./stages.js";

/** The file a committed output keeps its fingerprint in (written just before `_SUCCESS`). */
export const FINGERPRINT_FILE = "_fingerprint";

/** `upstream` holds the fingerprints of the stages already run or skipped in this run. */
export async function stageFingerprint(stage: ResolvedStage, artifactSha: string, upstream: ReadonlyMap<string, string>, cwd: string): Promise<string> {
  const inputs = [];
  for (const [i, path] of stage.inputs.entries()) {
    const from = stage.from[i];
    if (from) inputs.push({ stage: from, fingerprint: upstream.get(from) ?? "" });
    // An object's version is its ETag; a file's, its mtime.
    else inputs.push((await listInputs([path], cwd)).map((f) => (f.etag !== undefined ? { path: f.path, size: f.size, etag: f.etag } : { path: f.path, size: f.size, mtime: statSync(resolve(cwd, f.path)).mtimeMs })));
  }
  const after = stage.dependsOn.filter((d) => !stage.upstream.includes(d)).map((d) => ({ after: d, fingerprint: upstream.get(d) ?? "" }));
  const params = Object.fromEntries(Object.entries(stage.params).sort(([a], [b]) => (a < b ? -1 : 1)));
  const text = JSON.stringify({ artifact: artifactSha, stage: stage.name, inputs, after, params, partitions: stage.partitions ?? null, output: stage.output ?? null });
  return createHash("sha256").update(text).digest("hex");
}

/**
 * The fingerprint a stage's committed output was made with, or undefined when none is committed: a
 * folder's `_fingerprint` beside its `_SUCCESS`; a sink's, recorded in the destination by the load
 * that filled it, while what it loaded can still be there (outputSink's committedFingerprint).
 */
export async function committedFingerprint(stage: ResolvedStage): Promise<string | undefined> {
  if (stage.sink) return (await outputSink(stage.sink))?.committedFingerprint();
  // An output in an object store keeps it in its manifest (core/store/object-output.ts).
  if (stage.output && isObjectUrl(stage.output)) return (await readManifest(stage.output))?.fingerprint;
  if (!stage.output || !existsSync(successMarker(stage.output))) return undefined;
  try {
    return readFileSync(join(stage.output, FINGERPRINT_FILE), "utf8").trim();
  } catch {
    return undefined;
  }
}

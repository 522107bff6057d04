/**
 * A pipeline run's stages with their templates expanded: inputs as paths (an upstream stage's
 * input becomes its output folder), outputs as folders, parameters merged (`--param` over the
 * stage's own). Plain data: a cluster stores it with the run.
 */
import { JOB_DEFAULTS } from "../defaults.js";
import { existsSync } from "node:fs";
import { isAbsolute, resolve, sep } from "node:path";
import type { Pipeline } from "../api/pipeline.js";
import { writesFiles } from "../formats/registry.js";
import { closest } from "../did-you-mean.js";
import { SheafError } from "../errors.js";
import { checkLocation } from "../storage.js";
import { isObjectUrl } from "../store/location.js";
import { expand, logicalTime } from "./templates.js";
import type { ResolvedStage, StageOutcome } from "../security/messages.js";

export type { ResolvedStage, StageOutcome, StageState } from "../security/messages.js";

export interface RunContext {
  /** The logical time. */
  at: Date;
  /** The zone the logical time is read in (a schedule's); UTC by default. */
  tz?: string;
  /** From `--param`: over every stage's own. */
  params: Record<string, string>;
  cwd: string;
  /** `--partitions`, over every job's own; and the count for a job that names none (the thread count, a cluster's default). */
  partitions?: number;
  /** @defaultValue 4, a coordinator's default */
  defaultPartitions?: number;
}

export function resolveStages(pipeline: Pipeline, run: RunContext): ResolvedStage[] {
  const { date, time } = logicalTime(run.at, run.tz);
  const outputs = new Map<string, string | undefined>();
  const resolved = pipeline.stages.map((stage): ResolvedStage => {
    const params = { ...stage.params, ...run.params };
    const where = `pipeline ${pipeline.name}, stage ${stage.name}`;
    const ctx = { date, time, params };
    if (stage.output !== undefined) checkLocation(expand(stage.output, ctx, where), `${where}: output`);
    for (const i of stage.inputs) checkLocation(expand(i, ctx, where), `${where}: input`);
    const output = stage.output === undefined ? undefined : absolute(expand(stage.output, ctx, where), run.cwd);
    outputs.set(stage.name, output);
    for (const i of stage.inputs) if (!outputs.has(i)) refuseMisspeltStage(i, expand(i, ctx, where), run.cwd, pipeline, where);
    const upstream = stage.inputs.filter((i) => outputs.has(i));
    const inputs = stage.inputs.map((i) => (outputs.has(i) ? outputs.get(i)! : expand(i, ctx, where)));
    const from = stage.inputs.map((i) => (outputs.has(i) ? i : null));
    // Resolved here, so the fingerprint covers the count the stage really runs with.
    const partitions = stage.job.reduce ? (stage.partitions ?? run.partitions ?? stage.job.partitions ?? run.defaultPartitions ?? JOB_DEFAULTS.partitions) : undefined;
    const sink = writesFiles(stage.job.output) ? undefined : stage.job.output;
    return { name: stage.name, inputs, from, upstream, dependsOn: [...stage.dependsOn], output, ...(sink ? { sink } : {}), ...(partitions ? { partitions } : {}), params, ...(stage.pool !== undefined ? { pool: stage.pool } : {}), ...(stage.priority !== undefined ? { priority: stage.priority } : {}) };
  });
  checkOutputs(pipeline.name, resolved);
  return resolved;
}

/**
 * An input that is neither a stage nor a path that exists, but is close to a stage's name, is a
 * misspelt stage: refused now, before any stage runs, rather than read as a path once the stages
 * before it have run.
 */
function refuseMisspeltStage(input: string, path: string, cwd: string, pipeline: Pipeline, where: string): void {
  if (pipeline.stages.some((s) => s.name === input) || /[*?[{]/.test(path) || existsSync(resolve(cwd, path))) return;
  const meant = closest(input, pipeline.stages.map((s) => s.name));
  if (meant) throw new SheafError("UNKNOWN_STAGE", `${where}: input ${JSON.stringify(input)} names no stage and no file: did you mean stage ${JSON.stringify(meant)}?`);
}

/** Two stages writing one folder (or one inside the other's) would overwrite each other's output and fingerprint. */
function checkOutputs(pipeline: string, stages: readonly ResolvedStage[]): void {
  const written = stages.filter((s): s is ResolvedStage & { output: string } => s.output !== undefined);
  for (const a of written) {
    for (const b of written) {
      if (a === b) continue;
      if (a.output === b.output || b.output.startsWith(a.output + sep)) {
        throw new SheafError("PIPELINE_OUTPUTS", `pipeline ${pipeline}: stages ${a.name} and ${b.name} write ${a.output === b.output ? "the same output folder" : "nested output folders"} (${b.output})`);
      }
    }
  }
}

function absolute(path: string, cwd: string): string {
  return isAbsolute(path) || isObjectUrl(path) ? path : resolve(cwd, path);
}

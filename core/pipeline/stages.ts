/**
 * A pipeline run's stages with their templates expanded: inputs as paths (an upstream stage's
 * input becomes its output folder), outputs as folders, parameters merged (`--param` over the
 * stage's own). Plain data: a cluster stores it with the run.
 */
import { isAbsolute, resolve } from "node:path";
import type { Pipeline } from "../api/pipeline.js";
import { expand, logicalTime } from "./templates.js";

export interface ResolvedStage {
  name: string;
  /** Input paths and globs, upstream outputs included, relative to the run's cwd. */
  inputs: string[];
  /** For each input, the stage whose output it is, or null for a path the pipeline names. */
  from: (string | null)[];
  /** Stages whose output this one reads. */
  upstream: string[];
  /** Every stage that must succeed first (upstream, then `after`). */
  dependsOn: string[];
  /** Absolute output folder; undefined for a sink. */
  output?: string;
  partitions?: number;
  params: Record<string, string>;
}

export interface RunContext {
  /** The logical time. */
  at: Date;
  /** The zone the logical time is read in (a schedule's); UTC by default. */
  tz?: string;
  /** From `--param`: over every stage's own. */
  params: Record<string, string>;
  cwd: string;
}

export function resolveStages(pipeline: Pipeline, run: RunContext): ResolvedStage[] {
  const { date, time } = logicalTime(run.at, run.tz);
  const outputs = new Map<string, string | undefined>();
  return pipeline.stages.map((stage) => {
    const params = { ...stage.params, ...run.params };
    const where = `pipeline ${pipeline.name}, stage ${stage.name}`;
    const ctx = { date, time, params };
    const output = stage.output === undefined ? undefined : absolute(expand(stage.output, ctx, where), run.cwd);
    outputs.set(stage.name, output);
    const upstream = stage.inputs.filter((i) => outputs.has(i));
    const inputs = stage.inputs.map((i) => (outputs.has(i) ? outputs.get(i)! : expand(i, ctx, where)));
    const from = stage.inputs.map((i) => (outputs.has(i) ? i : null));
    return { name: stage.name, inputs, from, upstream, dependsOn: [...stage.dependsOn], output, ...(stage.partitions ? { partitions: stage.partitions } : {}), params };
  });
}

function absolute(path: string, cwd: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

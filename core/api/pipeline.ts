/**
 * A pipeline: a DAG of jobs whose outputs feed later stages (design §1b). Validated once, when the
 * module is loaded, so a mistake fails before anything runs.
 */
import { isJob, type Job } from "./job.js";

export interface StageSpec {
  /** The job this stage runs (a `defineJob(...)` value, usually imported from its own file). */
  job: Job;
  /** Paths or globs, the name of an earlier stage (its output), or a list mixing both. Templates allowed. */
  input?: string | readonly string[];
  /** The output folder (templates allowed). None for a stage whose job writes to a sink. */
  output?: string;
  /** Reduce tasks; overrides the job's. */
  partitions?: number;
  /** Parameters for `ctx.params`; `--param` on the command line overrides them. */
  params?: Readonly<Record<string, string>>;
  /** Stages that must succeed first, without feeding this one data. */
  after?: readonly string[];
  /** On a cluster: the pool this stage's job takes its share in, over the run's `--pool`. */
  pool?: string;
  /** On a cluster: this stage's job's weight in its pool, over the run's `--priority`. */
  priority?: number;
}

export interface PipelineSpec {
  /** Letters, digits, `.`, `_` and `-`. */
  name: string;
  stages: Readonly<Record<string, StageSpec>>;
}

export interface Stage {
  readonly name: string;
  readonly job: Job;
  /** File inputs (paths, globs) and upstream stages' names, as written. */
  readonly inputs: readonly string[];
  readonly output?: string;
  readonly partitions?: number;
  readonly params: Readonly<Record<string, string>>;
  readonly pool?: string;
  readonly priority?: number;
  /** Every stage this one waits for: the stages its input names, then `after`. */
  readonly dependsOn: readonly string[];
}

export interface Pipeline {
  readonly name: string;
  /** In a topological order: every stage after the stages it depends on. */
  readonly stages: readonly Stage[];
  readonly sheafPipeline: 1;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const STAGE_FIELDS = new Set(["job", "input", "output", "partitions", "params", "after", "pool", "priority"]);
const POOL = /^[A-Za-z0-9._-]{1,64}$/;

/** Validates a pipeline: unknown stages, cycles, stages without a job, sinks used as file inputs. */
export function definePipeline(spec: PipelineSpec): Pipeline {
  if (spec === null || typeof spec !== "object") throw new TypeError("definePipeline expects an object");
  if (typeof spec.name !== "string" || !NAME.test(spec.name)) throw new TypeError(`pipeline.name must be a name of letters, digits, '.', '_' or '-', got ${JSON.stringify(spec.name)}`);
  const entries = Object.entries(spec.stages ?? {});
  if (entries.length === 0) throw new TypeError(`pipeline ${spec.name} has no stages`);
  const names = new Set(entries.map(([n]) => n));
  const stages = new Map<string, Stage>();
  for (const [name, s] of entries) {
    const where = `pipeline ${spec.name}, stage ${name}`;
    if (!NAME.test(name)) throw new TypeError(`${where}: a stage name is letters, digits, '.', '_' or '-'`);
    if (s === null || typeof s !== "object") throw new TypeError(`${where}: expected { job, input?, output?, … }`);
    for (const k of Object.keys(s)) if (!STAGE_FIELDS.has(k)) throw new TypeError(`${where}: ${k} is not a stage field (known: ${[...STAGE_FIELDS].join(", ")})`);
    if (!isJob(s.job)) throw new TypeError(`${where} has no job: job must be the default export of a job module (defineJob(...))`);
    const inputs = s.input === undefined ? [] : typeof s.input === "string" ? [s.input] : [...s.input];
    if (inputs.some((i) => typeof i !== "string" || i === "")) throw new TypeError(`${where}: input must be paths, globs or stage names`);
    const after = [...(s.after ?? [])];
    for (const a of after) if (!names.has(a)) throw new TypeError(`${where}: after names an unknown stage ${JSON.stringify(a)} (stages: ${[...names].join(", ")})`);
    if (s.output !== undefined && (typeof s.output !== "string" || s.output === "")) throw new TypeError(`${where}: output must be a folder path`);
    const sink = s.job.output.format === "postgres";
    if (sink && s.output !== undefined) throw new TypeError(`${where}: its job loads ${s.job.output.format}, which takes no output folder`);
    if (!sink && s.output === undefined) throw new TypeError(`${where}: output is missing (its job writes ${s.job.output.format} files)`);
    const source = s.job.input.format === "postgres";
    if (source && inputs.length) throw new TypeError(`${where}: its job reads ${s.job.input.format}, which takes no input`);
    if (!source && inputs.length === 0) throw new TypeError(`${where}: input is missing (paths, globs or an earlier stage)`);
    if (s.partitions !== undefined && !(Number.isInteger(s.partitions) && s.partitions >= 1)) throw new TypeError(`${where}: partitions must be a positive integer`);
    if (s.pool !== undefined && (typeof s.pool !== "string" || !POOL.test(s.pool))) throw new TypeError(`${where}: pool must be a pool name (letters, digits, '.', '_' or '-')`);
    if (s.priority !== undefined && !(Number.isInteger(s.priority) && s.priority >= 1)) throw new TypeError(`${where}: priority must be a positive integer`);
    const params = { ...(s.params ?? {}) };
    for (const [k, v] of Object.entries(params)) if (typeof v !== "string") throw new TypeError(`${where}: params.${k} must be a string`);
    const upstream = inputs.filter((i) => names.has(i));
    stages.set(name, Object.freeze({ name, job: s.job, inputs, output: s.output, partitions: s.partitions, params, ...(s.pool !== undefined ? { pool: s.pool } : {}), ...(s.priority !== undefined ? { priority: s.priority } : {}), dependsOn: [...new Set([...upstream, ...after])] }));
  }
  for (const stage of stages.values()) {
    for (const i of stage.inputs) {
      const up = stages.get(i);
      if (up && up.output === undefined) throw new TypeError(`pipeline ${spec.name}, stage ${stage.name}: input names stage ${up.name}, which loads a sink and writes no files (use after: ["${up.name}"] to wait for it)`);
    }
  }
  return Object.freeze({ name: spec.name, stages: Object.freeze(topological(spec.name, stages)), sheafPipeline: 1 as const });
}

/** Stages ordered so that each comes after its dependencies; a cycle is an error naming it. */
function topological(pipeline: string, stages: Map<string, Stage>): Stage[] {
  const order: Stage[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw new TypeError(`pipeline ${pipeline} has a cycle: ${cycle.join(" → ")}`);
    }
    state.set(name, "visiting");
    const stage = stages.get(name)!;
    for (const d of stage.dependsOn) visit(d, [...path, name]);
    state.set(name, "done");
    order.push(stage);
  };
  for (const name of stages.keys()) visit(name, []);
  return order;
}

/** True for the value `definePipeline` returns (also across bundles). */
export function isPipeline(value: unknown): value is Pipeline {
  return typeof value === "object" && value !== null && (value as { sheafPipeline?: unknown }).sheafPipeline === 1;
}

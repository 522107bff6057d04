/**
 * The runner API's options: the CLI's flags in camelCase, validated once here with an error naming
 * the field, and turned into the settings `run` and `submit` share. Defaults are core/defaults.ts's.
 */
import { JOB_DEFAULTS } from "../core/defaults.js";
import { SheafError } from "../core/errors.js";
import { checkLocation } from "../core/storage.js";
import { lazily, valibot } from "../core/security/valibot.js";
import type { JobSettings } from "./job-settings.js";
import type { PipelineSettings } from "./submit.js";

// Built, with valibot, at the first check (core/security/valibot.ts): valibot is the CommonJS build
// the message schemas use, one copy per thread.
const jobOptionsSchema = lazily((v) => {
  const Count = v.pipe(v.number(), v.integer(), v.minValue(1));

  return v.strictObject({
    input: v.optional(v.union([v.string(), v.array(v.string())])),
    output: v.optional(v.string()),
    workdir: v.optional(v.string()),
    partitions: v.optional(Count),
    splitSize: v.optional(Count),
    sortBuffer: v.optional(Count),
    params: v.optional(v.record(v.string(), v.string())),
    maxAttempts: v.optional(Count),
    taskTimeout: v.optional(Count),
    checkpointEvery: v.optional(Count),
    speculative: v.optional(v.boolean()),
    overwrite: v.optional(v.boolean()),
    waitForOutput: v.optional(v.boolean()),
    pool: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,64}$/, "must be a pool name (letters, digits, '.', '_' or '-')"))),
    priority: v.optional(Count),
    allowRoots: v.optional(v.array(v.string())),
    at: v.optional(v.union([v.string(), v.date()])),
    tz: v.optional(v.string()),
    force: v.optional(v.boolean()),
    only: v.optional(v.string()),
    from: v.optional(v.string()),
    notify: v.optional(v.pipe(v.string(), v.regex(/^https?:\/\/\S+$/, "must be an http:// or https:// URL"))),
    notifySuccess: v.optional(v.boolean()),
  });
});

/** What `run` and `submit` take: a job's (or pipeline's) settings, as the CLI's flags give them. */
export interface JobOptions {
  /** Input files, folders or globs (none for a table source or a pipeline). */
  input?: string | string[];
  /** The output folder (none for a sink or a pipeline). */
  output?: string;
  /** Artifacts and intermediate files. @defaultValue `$SHEAF_WORKDIR`, else `.sheaf` */
  workdir?: string;
  /** Reduce tasks; overrides the job's `partitions`. @defaultValue the job's, else 4 */
  partitions?: number;
  /** Target bytes per map task. @defaultValue 64 MiB */
  splitSize?: number;
  /** Map-side sort buffer per task, in bytes, before sorted runs spill. @defaultValue 128 MiB */
  sortBuffer?: number;
  /** Job parameters, in `ctx.params`. */
  params?: Record<string, string>;
  /** Attempts per task before the job fails. @defaultValue 4 */
  maxAttempts?: number;
  /** Milliseconds before an attempt is stopped and retried; overrides the job's `taskTimeout`. */
  taskTimeout?: number;
  /** Bytes of work between a task's checkpoints. @defaultValue 16 MiB */
  checkpointEvery?: number;
  /** `false`: no backup attempts for stragglers. @defaultValue the job's, else true */
  speculative?: boolean;
  /** Replace a finished job's output, atomically. @defaultValue false */
  overwrite?: boolean;
  /** While another job writes the output, wait for it instead of refusing. @defaultValue false */
  waitForOutput?: boolean;
  /** On a cluster: the pool whose share of the workers' slots the job takes. @defaultValue `default` */
  pool?: string;
  /** On a cluster: the job's weight within its pool (2 gets twice the slots of 1 while both run). @defaultValue 1 */
  priority?: number;
  /** Inputs, output and workdir must lie inside these folders (with `SHEAF_ALLOW_ROOTS`). */
  allowRoots?: string[];
  /** Pipelines: the logical time, and the zone it is read in. @defaultValue now, UTC */
  at?: string | Date;
  tz?: string;
  /** Pipelines: rerun every stage; rerun one stage; rerun a stage and those after it. */
  force?: boolean;
  only?: string;
  from?: string;
  /** `submit`: POST the job's (or run's) failure to this URL, as JSON (README, Alerts). @defaultValue none */
  notify?: string;
  /** `submit` of a pipeline: also POST `run.succeeded` to `notify`. @defaultValue false */
  notifySuccess?: boolean;
}

/** Checks `o` (unknown fields refused, each naming the field) and gives the settings it stands for. */
export function jobSettingsOf(o: unknown, caller: string): JobSettings & PipelineSettings {
  const parsed = valibot().safeParse(jobOptionsSchema(), o ?? {});
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const field = issue.path?.map((p) => String(p.key)).join(".") || "options";
    throw new SheafError("BAD_OPTION", `${caller}: option ${field}: ${issue.message}`);
  }
  const x = parsed.output;
  for (const input of typeof x.input === "string" ? [x.input] : (x.input ?? [])) checkLocation(input, `${caller}: input`);
  if (x.output !== undefined) checkLocation(x.output, `${caller}: output`);
  const workdir = x.workdir ?? process.env.SHEAF_WORKDIR ?? ".sheaf";
  checkLocation(workdir, `${caller}: workdir`);
  return {
    inputs: x.input === undefined ? [] : typeof x.input === "string" ? [x.input] : x.input,
    output: x.output,
    workdir,
    splitSize: x.splitSize ?? JOB_DEFAULTS.splitSize,
    partitions: x.partitions,
    params: x.params ?? {},
    sortBufferBytes: x.sortBuffer ?? JOB_DEFAULTS.sortBufferBytes,
    overwrite: x.overwrite ?? false,
    waitForOutput: x.waitForOutput,
    pool: x.pool,
    priority: x.priority,
    maxAttempts: x.maxAttempts ?? JOB_DEFAULTS.maxAttempts,
    taskTimeoutMs: x.taskTimeout,
    checkpointBytes: x.checkpointEvery,
    speculative: x.speculative,
    allowRoots: x.allowRoots ?? [], // SHEAF_ALLOW_ROOTS is added where they are used (AllowedRoots.from)
    at: x.at instanceof Date ? x.at.toISOString() : x.at,
    tz: x.tz,
    force: x.force,
    only: x.only,
    ...(x.notify ? { notify: { url: x.notify, ...(x.notifySuccess ? { success: true } : {}) } } : {}),
    from: x.from,
  };
}

/**
 * Schemas of everything Sheaf reads back from Redis or from a checkpoint folder: task messages,
 * results, stored plans, job/run/schedule records and checkpoint manifests. A message is checked
 * before use rather than cast, so a malformed or hostile one is refused with a clear error instead
 * of reaching the file system. Objects are loose (extra fields pass through untouched): the schema
 * pins down the fields whose shape matters, paths and ids above all.
 */
import { isAbsolute } from "node:path";
import * as v from "valibot";
import { SheafError } from "../errors.js";
import { isSafeId } from "./roots.js";

const AbsPath = v.pipe(v.string(), v.check((s) => isAbsolute(s) && !s.includes("\0"), "must be an absolute path"));
const PathText = v.pipe(v.string(), v.check((s) => s !== "" && !s.includes("\0"), "must be a path"));
const Id = v.pipe(v.string(), v.check((s: string) => isSafeId(s), "must be letters, digits, '.', '_' or '-'"));
const TaskIdSchema = v.pipe(v.string(), v.regex(/^(map|reduce)-\d{5,}$/, "must be a task id"));
const Sha256 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "must be a sha256"));
const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Positive = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
const Params = v.record(v.string(), v.string());
const Format = v.looseObject({ format: v.string() });

const JobConfigSchema = v.looseObject({
  jobId: Id,
  name: Id,
  artifact: Sha256,
  workdir: AbsPath,
  params: Params,
  cwd: AbsPath,
  partitions: Count,
  output: AbsPath,
  formats: v.looseObject({ input: Format, output: Format }),
  stage: v.optional(Id),
  fingerprint: v.optional(v.string()),
  scratch: AbsPath,
  rangeBoundaries: v.optional(v.array(v.string())),
  sortBufferBytes: Positive,
  taskTimeoutMs: Positive,
  skipBadRecords: Count,
  speculative: v.boolean(),
  checkpointBytes: Positive,
  checkpointMs: Positive,
  checkpointShare: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
});

const SplitSchema = v.looseObject({
  file: PathText,
  start: Count,
  end: Count,
  unit: v.optional(v.picklist(["bytes", "rowGroups", "batches", "whole", "range"])),
  firstLine: v.optional(Positive),
  skip: v.optional(Count),
  range: v.optional(v.looseObject({ lo: v.nullable(v.string()), hi: v.nullable(v.string()), nulls: v.optional(v.boolean()) })),
  bytes: v.optional(Count),
});


/** A task's own fields; its job's config is checked apart where many tasks share one (a plan, a batch). */
const TaskFields = {
  taskId: TaskIdSchema,
  index: Count,
  attempt: Count,
  copy: v.optional(Count),
  runId: v.optional(v.pipe(v.string(), v.regex(/^\d+-[0-9a-f]+$/, "must be a run id"))),
};
const MapTaskFields = { kind: v.literal("map"), ...TaskFields, split: SplitSchema };
const ReduceTaskFields = { kind: v.literal("reduce"), ...TaskFields, inputs: v.looseObject({ path: AbsPath, maps: Count, crc: Count }) };
const TaskSchema = v.variant("kind", [v.looseObject({ ...MapTaskFields, job: JobConfigSchema }), v.looseObject({ ...ReduceTaskFields, job: JobConfigSchema })]);
const TaskFieldsSchema = v.variant("kind", [v.looseObject(MapTaskFields), v.looseObject(ReduceTaskFields)]);

/** The list of map outputs a reduce task reads (a file in the job's scratch space). */
const MapOutputRefsSchema = v.array(v.looseObject({ producer: TaskIdSchema, path: AbsPath, indexCrc: Count }));

const PartSchema = v.looseObject({ path: PathText, name: v.pipe(v.string(), v.regex(/^part-\d+(\.\w+)?$/, "must be a part name")), bytes: Count, records: Count });

const ResultSchema = v.pipe(
  v.looseObject({
    kind: v.picklist(["map", "reduce"]),
    taskId: TaskIdSchema,
    attempt: Count,
    mapOutput: v.optional(v.looseObject({ path: AbsPath, indexCrc: Count })),
    part: v.optional(PartSchema),
    counters: v.record(v.string(), v.number()),
    stats: v.looseObject({ recordsIn: Count, bytesIn: Count, recordsOut: Count, bytesOut: Count }),
    badRecords: v.optional(v.array(v.looseObject({ file: v.string(), offset: Count, error: v.string() }))),
  }),
  // A map task that wrote no output must say it emitted nothing: reduces skip it.
  v.check((r) => r.kind !== "map" || r.mapOutput !== undefined || r.part !== undefined || r.stats.recordsOut === 0, "a map result without output must have emitted no records"),
);

const PlanSchema = v.looseObject({
  config: JobConfigSchema,
  inputs: v.array(v.looseObject({ path: PathText, size: Count })),
  maps: v.array(v.looseObject(MapTaskFields)), // each bound to the config once checked (checkPlan)
  reduces: Count,
});

const JobSubmissionSchema = v.looseObject({
  id: Id,
  name: Id,
  artifact: AbsPath,
  workdir: AbsPath,
  inputs: v.array(PathText),
  output: AbsPath,
  cwd: AbsPath,
  params: Params,
  partitions: v.optional(Positive),
  splitSize: Positive,
  sortBufferBytes: Positive,
  maxAttempts: Positive,
  overwrite: v.boolean(),
  waitForOutput: v.optional(v.boolean()),
  submittedAt: Count,
  stage: v.optional(Id),
  run: v.optional(Id),
});

const StageSchema = v.looseObject({ name: Id, output: v.optional(v.string()) });

const RunSubmissionSchema = v.looseObject({
  id: Id,
  pipeline: Id,
  artifact: AbsPath,
  artifactSha: Sha256,
  stages: v.array(StageSchema),
  job: v.looseObject({ artifact: AbsPath, workdir: AbsPath, cwd: AbsPath }),
  submittedAt: Count,
});

const ScheduleSpecSchema = v.looseObject({
  name: Id,
  artifact: AbsPath,
  artifactSha: Sha256,
  settings: v.looseObject({ workdir: AbsPath, cwd: AbsPath }),
});

const PartProgressSchema = v.looseObject({ path: AbsPath, bytes: Count, records: Count });
/**
 * Where a map's read continues: offsets and counts within the task's own split, never what it reads
 * (`file`, `unit`, `range`, `end`). Strict: any other field refuses the checkpoint. The map task
 * also checks them against its split.
 */
const ResumeSchema = v.strictObject({ start: v.optional(Count), firstLine: v.optional(Positive), skip: v.optional(Count) });
const CheckpointSchema = v.variant("kind", [
  v.looseObject({ kind: v.literal("map"), resume: ResumeSchema, spills: v.array(v.looseObject({ path: AbsPath })), part: v.optional(PartProgressSchema) }),
  v.looseObject({ kind: v.literal("reduce"), lastKey: v.string(), part: PartProgressSchema }),
]);

export const Schemas = {
  task: TaskSchema,
  taskFields: TaskFieldsSchema,
  jobConfig: JobConfigSchema,
  result: ResultSchema,
  plan: PlanSchema,
  job: JobSubmissionSchema,
  run: RunSubmissionSchema,
  schedule: ScheduleSpecSchema,
  checkpoint: CheckpointSchema,
  mapOutputRefs: MapOutputRefsSchema,
} as const;

/**
 * Returns `data` typed as T when it fits the schema; otherwise throws BAD_MESSAGE naming `what` and
 * the first fields that do not fit.
 */
export function checkMessage<T>(schema: v.GenericSchema, data: unknown, what: string): T {
  const r = v.safeParse(schema, data);
  if (r.success) return data as T;
  const where = r.issues.slice(0, 3).map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.message}`);
  throw new SheafError("BAD_MESSAGE", `${what} is malformed (${where.join("; ")})`);
}

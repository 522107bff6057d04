/**
 * Schemas of everything Sheaf reads back from Redis, from a queue or from disk: task messages,
 * results and failures, stored plans, job/run/schedule records, checkpoint manifests, the list of
 * map outputs, writer locks. They are the one definition of these messages: each type is the
 * schema's output (`v.InferOutput`), re-exported where it is used (core/tasks.ts, jobs.ts, …).
 *
 * A message is checked before use rather than cast, so a malformed or hostile one is refused with a
 * clear error instead of reaching the file system. Extra fields pass through untouched (checkMessage
 * returns the message itself, not a copy). Schemas only check and narrow types, never transform
 * values: `typed` below names the type of a value the schema cannot spell (a branded id, a format
 * object it checks only loosely), and changes nothing.
 */
import { isAbsolute } from "node:path";
import type * as v from "valibot";
import type { InputFormat, OutputFormat } from "../api/formats.js";
import { SheafError } from "../errors.js";
import type { JobId, TaskId } from "../ids.js";
import { isSafeId } from "./roots.js";
import { lazily, valibot, type Valibot } from "./valibot.js";

/** The schemas, built with valibot once one is first needed (core/security/valibot.ts). */
function build(v: Valibot) {
  /** The value unchanged, known as T from here on (see the module comment). */
  const typed = <T>() => v.transform<any, T>((x) => x as T);

  const AbsPath = v.pipe(v.string(), v.check((s) => isAbsolute(s) && !s.includes("\0"), "must be an absolute path"));
  /** A map output served by the worker that wrote it (core/shuffle/remote.ts checks what it names). */
  const ShuffleUrl = v.pipe(v.string(), v.maxLength(2048), v.regex(/^http:\/\/[^\s\0]+$/, "must be an http:// URL"));
  const ObjectUrl = v.pipe(v.string(), v.regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\0]*)?$/, "must be an s3://bucket/prefix URL"));
  /** A folder or file, or (a workdir, its artifacts and scratch, an output) a place in an object store. */
  const Location = v.union([AbsPath, ObjectUrl]);
  const PathText = v.pipe(v.string(), v.check((s) => s !== "" && !s.includes("\0"), "must be a path"));
  const Id = v.pipe(v.string(), v.check((s: string) => isSafeId(s), "must be letters, digits, '.', '_' or '-'"));
  const JobIdSchema = v.pipe(Id, typed<JobId>());
  const TaskIdSchema = v.pipe(v.string(), v.regex(/^(map|reduce)-\d{5,}$/, "must be a task id"), typed<TaskId>());
  const Sha256 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "must be a sha256"));
  const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
  const Positive = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
  const Params = v.record(v.string(), v.string());
  const Counters = v.record(v.string(), v.number());
  const Format = v.looseObject({ format: v.string() });

  const JobConfigSchema = v.object({
    jobId: JobIdSchema,
    name: Id,
    /**
     * The sha256 of the bundled job module, never a path: workers load `<workdir>/artifacts/<sha256>.mjs`
     * and check its hash before importing it.
     */
    artifact: Sha256,
    /** The work directory (artifacts, intermediate files): a shared folder's absolute path, or an object store prefix. */
    workdir: Location,
    params: Params,
    /** The submitter's working directory: relative input paths are resolved against it. */
    cwd: AbsPath,
    /** Number of reduce partitions (0 for a map-only job). */
    partitions: Count,
    /** The job's output folder (for a sink, or an object output: `<scratch>/output`, where attempts keep their scratch). */
    output: Location,
    /** An output in an object store (`s3://bucket/prefix`): `output` is then where attempts keep their parts before uploading them. */
    objectOutput: v.optional(ObjectUrl),
    /** The job's input and output formats, as its module declares them (checked here for their `format` only). */
    formats: v.object({ input: v.pipe(Format, typed<InputFormat>()), output: v.pipe(Format, typed<OutputFormat>()) }),
    /** For a pipeline stage: its name (the artifact's default export is the pipeline), and the fingerprint its output records. */
    stage: v.optional(Id),
    fingerprint: v.optional(v.string()),
    /** The job's folder for intermediate files (in a store workdir, its prefix there; each host keeps a local copy). */
    scratch: Location,
    /**
     * `partitioner: "range"`: the sampled boundaries, key encodings (base64) in ascending order;
     * partition p holds the keys from boundary p-1 (inclusive) to boundary p (exclusive).
     */
    rangeBoundaries: v.optional(v.array(v.string())),
    /** Map-side sort buffer, in bytes: past it, sorted runs spill to disk. */
    sortBufferBytes: Positive,
    /** An attempt's deadline, in ms. */
    taskTimeoutMs: Positive,
    /** Bad records a task may skip (the job-wide limit; the driver enforces the total). */
    skipBadRecords: Count,
    /** Backup attempts for stragglers near the end of a stage. */
    speculative: v.boolean(),
    /** Tasks checkpoint after this many bytes (input for map, output for reduce)… */
    checkpointBytes: Positive,
    /** …or this many ms, whichever comes first… */
    checkpointMs: Positive,
    /**
     * …spending at most this share of a task's time on checkpoints (the default cadence: a combining
     * map's checkpoint writes its whole table). Absent when the user set the size, which then bounds
     * the work a retry redoes exactly.
     */
    checkpointShare: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  });

  const SplitSchema = v.object({
    /** The input file, as listed; for a table source, a label naming the table or query. */
    file: PathText,
    start: Count,
    end: Count,
    /**
     * What start and end count: bytes (the default), Parquet row groups, Arrow record batches, or
     * `whole` for a file read in one piece (gzip, multiline CSV); `range` for a key range of a table.
     */
    unit: v.optional(v.picklist(["bytes", "rowGroups", "batches", "whole", "range"])),
    /** 1-based number of the first line the split owns, when the format counts lines. */
    firstLine: v.optional(Positive),
    /** Records of the split already mapped by an earlier attempt (a resumed split skips them). */
    skip: v.optional(Count),
    /** A key range of a table source: `splitBy` values in [lo, hi), decimal strings; null is open. */
    range: v.optional(v.object({ lo: v.nullable(v.string()), hi: v.nullable(v.string()), nulls: v.optional(v.boolean()) })),
    /** Bytes the split covers, for progress (the file size share, or an estimate). */
    bytes: v.optional(Count),
  });

  const ReduceInputsSchema = v.object({ path: Location, maps: Count, crc: Count });

  /** A task's own fields; its job's config is checked apart where many tasks share one (a plan, a batch). */
  const TaskFields = {
    taskId: TaskIdSchema,
    index: Count,
    /**
     * The attempt number, from 1: failed attempts of the task that counted against its limit, plus 1.
     * A backup attempt and a re-run of a map task whose output was lost do not add to it.
     */
    attempt: Count,
    /** A backup attempt for a straggler: its failure does not fail the task (the attempt it backs up goes on). */
    backup: v.optional(v.boolean()),
    /**
     * Which run of the task this is, from 0: a backup attempt, a retry the scheduler decided on, or a
     * map task re-run because its output was lost.
     */
    copy: v.optional(Count),
    /**
     * Unique name of a run after the first (copy > 0), so that a queue keys it apart from every
     * earlier run, those of a previous coordinator included. The first run has none: a resuming
     * coordinator must find the same queue job again.
     */
    runId: v.optional(v.pipe(v.string(), v.regex(/^\d+-[0-9a-f]+$/, "must be a run id"))),
  };
  const MapTaskFields = { kind: v.literal("map"), ...TaskFields, split: SplitSchema };
  const ReduceTaskFields = {
    kind: v.literal("reduce"),
    ...TaskFields,
    /** The committed map outputs, in map-task order: this partition's run of each is read through its segment index. */
    inputs: ReduceInputsSchema,
  };
  const MapTaskSchema = v.object({ ...MapTaskFields, job: JobConfigSchema });
  const ReduceTaskSchema = v.object({ ...ReduceTaskFields, job: JobConfigSchema });
  const TaskSchema = v.variant("kind", [MapTaskSchema, ReduceTaskSchema]);
  const MapTaskFieldsSchema = v.object(MapTaskFields);
  const TaskFieldsSchema = v.variant("kind", [MapTaskFieldsSchema, v.object(ReduceTaskFields)]);

  const MapOutputRefSchema = v.object({
    /** The map task that wrote it (re-run when it is found corrupt or missing). */
    producer: TaskIdSchema,
    path: AbsPath,
    /** CRC-32 of its segment index. */
    indexCrc: Count,
    /** Where its worker serves it (`--local-dir`): `path` is then on that worker's disk, fetched, never read here. */
    url: v.optional(ShuffleUrl),
  });
  /** The list of map outputs a reduce task reads (a file in the job's scratch space). */
  const MapOutputRefsSchema = v.array(MapOutputRefSchema);

  const PartSchema = v.object({
    /** Where the attempt wrote it (under `<output>/_temporary/`); for a sink, where it staged it (a table). */
    path: PathText,
    /** Its final name in the output folder. */
    name: v.pipe(v.string(), v.regex(/^part-\d+(\.\w+)?$/, "must be a part name")),
    bytes: Count,
    records: Count,
  });

  /**
   * Where an attempt ran, as its worker says in the result or failure it sends back: the leader keeps
   * it in the job's timeline (cluster/timeline.ts). `worker` is the id of its heartbeat (cluster/workers.ts).
   */
  const RanOnSchema = v.object({
    host: v.pipe(v.string(), v.maxLength(255)),
    worker: v.pipe(v.string(), v.maxLength(300)),
    /** The worker thread, when the attempt reached one. */
    thread: v.optional(Count),
  });

  const TaskStatsSchema = v.object({
    recordsIn: Count,
    bytesIn: Count,
    recordsOut: Count,
    bytesOut: Count,
    spills: Count,
    millis: v.pipe(v.number(), v.minValue(0)),
    /** What a resumed attempt did not redo: input bytes (map) or keys (reduce) covered by its checkpoint. */
    resumed: v.optional(Count),
  });

  const BadRecordSchema = v.object({ file: v.string(), offset: Count, line: v.optional(Count), row: v.optional(Count), error: v.string() });

  const ResultSchema = v.pipe(
    v.object({
      kind: v.picklist(["map", "reduce"]),
      taskId: TaskIdSchema,
      attempt: Count,
      /**
       * Map tasks of a job with reduce: the map output file, and the CRC of its segment index (one
       * segment per partition, beside it). Absent when the task emitted nothing (stats.recordsOut 0):
       * it wrote no file, and reduce tasks skip it. With `url`, the file is on the worker's local disk
       * (`sheaf worker --local-dir`) and reducers fetch it from there.
       */
      mapOutput: v.optional(v.object({ path: AbsPath, indexCrc: Count, url: v.optional(ShuffleUrl) })),
      /** Reduce tasks, and map tasks of a map-only job. */
      part: v.optional(PartSchema),
      counters: Counters,
      stats: TaskStatsSchema,
      /** Records skipped because map threw on them (with `skipBadRecords`). */
      badRecords: v.optional(v.array(BadRecordSchema)),
      ranOn: v.optional(RanOnSchema),
    }),
    // A map task that wrote no output must say it emitted nothing: reduces skip it.
    v.check((r) => r.kind !== "map" || r.mapOutput !== undefined || r.part !== undefined || r.stats.recordsOut === 0, "a map result without output must have emitted no records"),
  );

  const RecordLocationSchema = v.object({
    file: v.string(),
    offset: v.number(),
    line: v.optional(v.number()),
    row: v.optional(v.number()),
    key: v.optional(v.string()),
  });
  const FailureSchema = v.object({
    code: v.string(),
    message: v.string(),
    /** False when retrying cannot help (FatalError, a job module that does not load). */
    retryable: v.boolean(),
    /** The failed task's id; `rejected` for a message a worker refused before it knew its task. */
    taskId: v.pipe(v.string(), typed<TaskId>()),
    attempt: Count,
    /** The record being processed, when the error came from user code. */
    input: v.optional(RecordLocationSchema),
    /** For map outputs found corrupt or missing: the map task to re-run, and the file that was lost. */
    producer: v.optional(TaskIdSchema),
    lost: v.optional(v.string()),
    /** The stack, its frames in the job's code mapped back to the user's files. */
    stack: v.optional(v.string()),
    /** Where in the user's files their code threw (`jobs/x.ts:12:7`), when it did. */
    at: v.optional(v.string()),
    ranOn: v.optional(RanOnSchema),
  });

  const InputFileSchema = v.object({ path: PathText, size: Count });
  /**
   * A plan's splits, a column per field (engine/split-table.ts): 100,000 one-byte splits are a few
   * arrays of numbers, not 100,000 objects (map task i is split i).
   */
  const SplitColumnsSchema = v.object({
    files: v.array(PathText),
    /** Per split: its file's index in `files`, then its start and end. */
    file: v.array(Count),
    start: v.array(Count),
    end: v.array(Count),
    /** Per split: the number of its first line, 0 where the format counts none. */
    firstLine: v.optional(v.array(Count)),
    /** The other fields (unit, bytes, range…) of the splits that have any, by split index. */
    rest: v.optional(v.record(v.pipe(v.string(), v.regex(/^\d+$/, "must be a split index")), v.partial(v.omit(SplitSchema, ["file", "start", "end"])))),
  });
  const PlanSchema = v.object({
    config: JobConfigSchema,
    inputs: v.array(InputFileSchema),
    /** Map task i reads split i, and gets each attempt its own number. */
    splits: SplitColumnsSchema,
    /** Number of reduce tasks (0 for a map-only job). */
    reduces: Count,
  });

  /**
   * Where a job's, run's or schedule's events are POSTed (`--notify`): failures always, a run's
   * success with `success`, and for a schedule `schedule.late` once a run is not finished `slaMs`
   * after it was due (coordinator/notifier.ts).
   */
  const NotifySchema = v.object({
    url: v.pipe(v.string(), v.regex(/^https?:\/\/\S+$/, "must be an http:// or https:// URL")),
    success: v.optional(v.boolean()),
    slaMs: v.optional(Positive),
  });

  /** How a job's tasks are cut and run: on a job's submission and on a pipeline run's alike. */
  const TaskSettings = {
    splitSize: Positive,
    sortBufferBytes: Positive,
    maxAttempts: Positive,
    taskTimeoutMs: v.optional(Positive),
    checkpointBytes: v.optional(Positive),
    speculative: v.optional(v.boolean()),
  };

  /** What every job submission carries but a pipeline stage's job takes from its run. */
  const SubmissionSettings = {
    /** Absolute path of the bundled job in the shared workdir. */
    artifact: Location,
    workdir: Location,
    cwd: AbsPath,
    ...TaskSettings,
    overwrite: v.boolean(),
    /** While another job writes the output, the coordinator waits for it (else the job fails OUTPUT_BUSY). */
    waitForOutput: v.optional(v.boolean()),
    /** The pool whose share of the cluster's slots the job's tasks take (coordinator/fair-share.ts), and its weight there. */
    pool: v.optional(Id),
    priority: v.optional(Positive),
  };
  const JobSubmissionSchema = v.object({
    id: JobIdSchema,
    name: Id,
    ...SubmissionSettings,
    inputs: v.array(PathText),
    /** Absolute output folder, or an output prefix in an object store (s3://). */
    output: v.union([AbsPath, ObjectUrl]),
    params: Params,
    partitions: v.optional(Positive),
    submittedAt: Count,
    /** A pipeline stage's job: the stage (in the pipeline artifact), its fingerprint, and the run it belongs to. */
    stage: v.optional(Id),
    fingerprint: v.optional(v.string()),
    run: v.optional(Id),
    notify: v.optional(NotifySchema),
  });

  const StageSchema = v.object({
    name: Id,
    /** Input paths and globs, upstream outputs included, relative to the run's cwd. */
    inputs: v.array(v.string()),
    /** For each input, the stage whose output it is, or null for a path the pipeline names. */
    from: v.array(v.nullable(v.string())),
    /** Stages whose output this one reads. */
    upstream: v.array(v.string()),
    /** Every stage that must succeed first (upstream, then `after`). */
    dependsOn: v.array(v.string()),
    /** Absolute output folder; undefined for a sink. */
    output: v.optional(v.string()),
    /** A sink's output format (its skip check asks the destination what it last loaded). */
    sink: v.optional(v.pipe(Format, typed<OutputFormat>())),
    partitions: v.optional(Positive),
    params: Params,
    /** The stage's own pool and weight, over the run's. */
    pool: v.optional(Id),
    priority: v.optional(Positive),
  });

  const RunSubmissionSchema = v.object({
    id: Id,
    pipeline: Id,
    artifact: Location,
    artifactSha: Sha256,
    /** The logical time (ISO) and the zone its {date} and {time} are read in. */
    at: v.string(),
    tz: v.optional(v.string()),
    force: v.boolean(),
    /** Rerun one stage alone, or one stage and every stage after it (pipeline-runner.ts StageSelection). */
    only: v.optional(v.string()),
    from: v.optional(v.string()),
    stages: v.array(StageSchema),
    /** Settings every stage's job inherits (split size, attempts, …): a job submission without its per-stage fields. */
    job: v.object(SubmissionSettings),
    /** The schedule that fired it, and the due time it is keyed by. */
    schedule: v.optional(v.object({ name: v.string(), due: v.number() })),
    submittedAt: Count,
    /** `submit --notify`; a scheduled run's events go where its schedule's notify says. */
    notify: v.optional(NotifySchema),
  });

  const StageOutcomeSchema = v.object({
    state: v.picklist(["pending", "running", "succeeded", "skipped", "failed", "cancelled", "not run"]),
    jobId: v.optional(v.string()),
    startedAt: v.optional(v.number()),
    millis: v.optional(v.number()),
    recordsIn: v.optional(v.number()),
    recordsOut: v.optional(v.number()),
    /** Bytes read and written, and the job's counters: what a plain run's summary shows. */
    bytesIn: v.optional(v.number()),
    bytesOut: v.optional(v.number()),
    counters: v.optional(Counters),
    error: v.optional(v.string()),
    fingerprint: v.optional(v.string()),
  });

  const RunSettingsSchema = v.object({
    workdir: Location,
    cwd: AbsPath,
    params: Params,
    /** `--partitions`: over every stage's job. */
    partitions: v.optional(Positive),
    ...TaskSettings,
    pool: v.optional(Id),
    priority: v.optional(Positive),
    /** A job module (not a pipeline) runs as a pipeline of one stage: these are its paths (templates allowed). */
    inputs: v.optional(v.array(v.string())),
    output: v.optional(v.string()),
  });

  const ScheduleSpecSchema = v.object({
    name: Id,
    /** The module as given to `schedule add`, and its bundled artifact. */
    module: v.string(),
    artifact: Location,
    artifactSha: Sha256,
    cron: v.optional(v.string()),
    everyMs: v.optional(Positive),
    tz: v.optional(v.string()),
    overlap: v.picklist(["skip", "queue"]),
    settings: RunSettingsSchema,
    createdAt: Count,
    /** When its module was last bundled (`schedule add` or `update`). */
    bundledAt: v.optional(Count),
    /** `schedule add --notify URL [--sla DURATION] [--notify-success]`: where its runs' events go. */
    notify: v.optional(NotifySchema),
  });

  const ScheduleEventSchema = v.object({
    due: v.number(),
    /** started, skipped (a run was still going), queued, succeeded, failed, cancelled. */
    outcome: v.string(),
    run: v.optional(v.string()),
    at: v.number(),
    note: v.optional(v.string()),
  });

  const PartProgressSchema = v.object({ path: AbsPath, bytes: Count, records: Count });

  const RunFileSchema = v.object({
    path: AbsPath,
    /** One segment per partition (its place in the run file). */
    segments: v.array(v.object({ offset: Count, length: Count, records: Count, crc: Count, producer: v.optional(v.string()) })),
  });

  /**
   * Where a map's read continues: offsets and counts within the task's own split, never what it reads
   * (`file`, `unit`, `range`, `end`). Strict: any other field refuses the checkpoint. The map task
   * also checks them against its split.
   */
  const ResumeSchema = v.strictObject({ start: v.optional(Count), firstLine: v.optional(Positive), skip: v.optional(Count) });
  /** How far it got (input bytes for map, output bytes for reduce): a resume takes the furthest. */
  const progress = v.optional(v.pipe(v.number(), v.minValue(0)));
  const MapCheckpointSchema = v.object({
    kind: v.literal("map"),
    /** Where the read continues: the split fields the reader set after the last mapped batch. */
    resume: ResumeSchema,
    recordsIn: Count,
    bytesIn: Count,
    counters: Counters,
    badRecords: v.array(BadRecordSchema),
    /** With reduce: the runs holding every pair emitted so far. */
    spills: v.array(RunFileSchema),
    /** Map-only: the part file so far. */
    part: v.optional(PartProgressSchema),
    progress,
  });
  const ReduceCheckpointSchema = v.object({
    kind: v.literal("reduce"),
    /** The encoding of the last key whose output is in the part file (base64 of its bytes). */
    lastKey: v.string(),
    counters: Counters,
    part: PartProgressSchema,
    progress,
  });
  const CheckpointSchema = v.variant("kind", [MapCheckpointSchema, ReduceCheckpointSchema]);

  const WriterLockSchema = v.object({
    jobId: v.string(),
    /** `run` (a `sheaf run` process, `pid` on `host`) or `cluster` (a job driven through Redis). */
    by: v.picklist(["run", "cluster"]),
    pid: v.number(),
    host: v.string(),
    since: v.number(),
  });

  const StagingOwnerSchema = v.object({ job: v.string(), scratch: v.string(), host: v.optional(v.string()) });

  const Schemas = {
    task: TaskSchema,
    taskFields: TaskFieldsSchema,
    jobConfig: JobConfigSchema,
    result: ResultSchema,
    failure: FailureSchema,
    plan: PlanSchema,
    job: JobSubmissionSchema,
    run: RunSubmissionSchema,
    stageOutcome: StageOutcomeSchema,
    schedule: ScheduleSpecSchema,
    scheduleEvent: ScheduleEventSchema,
    checkpoint: CheckpointSchema,
    mapOutputRefs: MapOutputRefsSchema,
    writerLock: WriterLockSchema,
    stagingOwner: StagingOwnerSchema,
  } as const;
  return { Schemas, JobConfigSchema, SplitSchema, ReduceInputsSchema, MapTaskSchema, ReduceTaskSchema, TaskSchema, MapOutputRefSchema, PartSchema, RanOnSchema, TaskStatsSchema, BadRecordSchema, ResultSchema, FailureSchema, SplitColumnsSchema, PlanSchema, NotifySchema, JobSubmissionSchema, StageSchema, RunSubmissionSchema, StageOutcomeSchema, RunSettingsSchema, ScheduleSpecSchema, ScheduleEventSchema, PartProgressSchema, RunFileSchema, MapCheckpointSchema, ReduceCheckpointSchema, CheckpointSchema, WriterLockSchema, StagingOwnerSchema };
}

type Built = ReturnType<typeof build>;
const built = lazily(build);

/** What every task of a job needs to know about the job. */
export type JobConfig = v.InferOutput<Built["JobConfigSchema"]>;
/**
 * A map task's share of the input. For text it is a byte range of a file; other formats count
 * `start` and `end` in their own `unit`. Plain data: plans are stored as JSON.
 */
export type Split = v.InferOutput<Built["SplitSchema"]>;
/** What a reduce task's message carries: where the list of map outputs is and how to check it. */
export type ReduceInputs = v.InferOutput<Built["ReduceInputsSchema"]>;
export type MapTask = v.InferOutput<Built["MapTaskSchema"]>;
export type ReduceTask = v.InferOutput<Built["ReduceTaskSchema"]>;
/** A task message: what whoever schedules tasks sends whoever runs them. */
export type Task = v.InferOutput<Built["TaskSchema"]>;
export type MapOutputRef = v.InferOutput<Built["MapOutputRefSchema"]>;
/** A file written by an attempt, to be committed into the output (or a sink's staged part). */
export type PartFile = v.InferOutput<Built["PartSchema"]>;
export type RanOn = v.InferOutput<Built["RanOnSchema"]>;
export type TaskStats = v.InferOutput<Built["TaskStatsSchema"]>;
/** A record skipped because map threw on it (with `skipBadRecords`). */
export type BadRecord = v.InferOutput<Built["BadRecordSchema"]>;
/** What a task's attempt returns. */
export type TaskResult = v.InferOutput<Built["ResultSchema"]>;
/** An error that crossed a thread or process boundary, as data. */
export type TaskFailure = v.InferOutput<Built["FailureSchema"]>;
export type SplitColumns = v.InferOutput<Built["SplitColumnsSchema"]>;
/** A job's plan as stored (Redis) and sent (from its planning thread): engine/plan.ts's JobPlan in columns. */
export type StoredPlan = v.InferOutput<Built["PlanSchema"]>;
export type NotifySpec = v.InferOutput<Built["NotifySchema"]>;
/** What `sheaf submit` sends: everything the coordinator needs to plan the job. */
export type JobSubmission = v.InferOutput<Built["JobSubmissionSchema"]>;
/** A pipeline stage resolved for a run: its inputs, output and dependencies. */
export type ResolvedStage = v.InferOutput<Built["StageSchema"]>;
/**
 * A run of a pipeline module — or of a job module, as a pipeline of one stage named after the job —
 * with its stages resolved for the logical time `at` (read in `tz`).
 */
export type RunSubmission = v.InferOutput<Built["RunSubmissionSchema"]>;
/** What became of a stage in a run: shown by run summaries and `status`, stored with a cluster's run. */
export type StageOutcome = v.InferOutput<Built["StageOutcomeSchema"]>;
export type StageState = StageOutcome["state"];
/** The settings a schedule's runs are submitted with. */
export type RunSettings = v.InferOutput<Built["RunSettingsSchema"]>;
export type ScheduleSpec = v.InferOutput<Built["ScheduleSpecSchema"]>;
/** One entry of a schedule's history. */
export type ScheduleEvent = v.InferOutput<Built["ScheduleEventSchema"]>;
/** The part file written so far: its first `bytes` bytes hold `records` whole records. */
export type PartProgress = v.InferOutput<Built["PartProgressSchema"]>;
/** A sorted run file and its segments, one per partition. */
export type RunFile = v.InferOutput<Built["RunFileSchema"]>;
export type MapCheckpoint = v.InferOutput<Built["MapCheckpointSchema"]>;
export type ReduceCheckpoint = v.InferOutput<Built["ReduceCheckpointSchema"]>;
/** A task's checkpoint manifest (`checkpoint-<attempt>.json`). */
export type Checkpoint = v.InferOutput<Built["CheckpointSchema"]>;
/** Who writes an output: its lock file's content, or a sink's writer row. */
export type WriterLock = v.InferOutput<Built["WriterLockSchema"]>;
/** Whose a sink's staging table is (the table's comment). */
export type StagingOwner = v.InferOutput<Built["StagingOwnerSchema"]>;

/** The message schemas by name; reading one builds them all (and loads valibot) the first time. */
export const Schemas: Built["Schemas"] = new Proxy({} as Built["Schemas"], { get: (_, name) => built().Schemas[name as keyof Built["Schemas"]] });

/**
 * Returns `data`, typed as the schema's output, when it fits the schema; otherwise throws
 * BAD_MESSAGE naming `what` and the first fields that do not fit. `data` itself is returned, not a
 * copy: fields the schema does not name pass through (the schemas transform nothing).
 */
export function checkMessage<S extends v.GenericSchema>(schema: S, data: unknown, what: string): v.InferOutput<S> {
  const r = valibot().safeParse(schema, data);
  if (r.success) return data as v.InferOutput<S>;
  const where = r.issues.slice(0, 3).map((i) => `${valibot().getDotPath(i) ?? "(root)"}: ${i.message}`);
  throw new SheafError("BAD_MESSAGE", `${what} is malformed (${where.join("; ")})`);
}

/** `data` typed as the schema's output when it fits; undefined otherwise (for what is only shown, or taken over when malformed). */
export function ifValid<S extends v.GenericSchema>(schema: S, data: unknown): v.InferOutput<S> | undefined {
  return valibot().is(schema, data) ? (data as v.InferOutput<S>) : undefined;
}

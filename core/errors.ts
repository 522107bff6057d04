/**
 * Engine errors carry a code; callers tell them apart by code, never by message text. A leaf: it
 * imports nothing of Sheaf's, so any module may throw a SheafError.
 */

/**
 * Every code a SheafError (and a task failure the engine reports) can carry, by kind. README.md
 * ("Error codes") explains the groups; `new SheafError("TYPO", …)` does not compile.
 */
export const ERROR_CODES = [
  // Options, arguments and input the user gave.
  "BAD_OPTION", "BAD_ARGUMENT", "BAD_ID", "BAD_TIME", "BAD_TEMPLATE", "BAD_SELECTION", "BAD_ALLOW_ROOT",
  "BAD_REDIS_URL", "UI_TOKEN_REQUIRED", "BAD_SCHEDULE", "INVALID_SCHEDULE", "INVALID_RANGE", "BACKFILL_TOO_BIG", "TOO_MANY_RUNS",
  "UNKNOWN_STAGE", "PIPELINE_ONLY", "PIPELINE_PATHS", "PIPELINE_OUTPUTS", "UNUSED_INPUT", "UNUSED_OUTPUT", "NO_OUTPUT",
  // The job module.
  "BAD_JOB_MODULE", "BAD_ARTIFACT", "ASYNC_USER_CODE", "USER_CODE_ERROR", "FATAL_USER_ERROR",
  // Inputs and outputs.
  "MISSING_INPUT", "INPUT_UNREADABLE", "BAD_INPUT", "BAD_RECORD", "RECORD_TOO_LARGE", "TOO_MANY_BAD_RECORDS",
  "BAD_COLUMNS", "BAD_SPLIT_COLUMN", "BAD_OUTPUT", "BAD_OUTPUT_ROW", "BAD_PART", "MISSING_OUTPUT",
  "OUTPUT_EXISTS", "OUTPUT_NOT_EMPTY", "OUTPUT_NOT_A_FOLDER", "OUTPUT_OVERLAPS_INPUT", "OUTPUT_BUSY", "UNSUPPORTED_STORAGE", "STORE_ERROR", "STORE_DENIED",
  "NO_SPACE", "COMMIT_FAILED", "STAGING_LOST", "DATABASE_ERROR", "DATABASE_UNREACHABLE",
  // Planning a job (in its own thread).
  "PLAN_FAILED", "PLAN_ERROR", "PLAN_TIMEOUT", "PLAN_OUT_OF_MEMORY", "PLAN_EXITED", "RANGE_SAMPLE_FAILED",
  // Jobs, runs and schedules as they end or are looked up.
  "JOB_FAILED", "JOB_CANCELLED", "JOB_ABORTED", "JOB_FINISHED", "JOB_NOT_FOUND", "NO_SUCH_JOB",
  "PIPELINE_FAILED", "PIPELINE_CANCELLED", "RUN_EXISTS", "SCHEDULE_EXISTS", "NO_SUCH_SCHEDULE", "SCHEDULER_ERROR",
  "INTERRUPTED", "SUPERSEDED", "ABANDONED",
  // Tasks and their intermediate files (task failures, retried unless said otherwise).
  "TASK_ERROR", "TASK_LOST", "BAD_RESULT", "STOPPED", "REJECTED", "CORRUPT_INTERMEDIATE", "REDUCE_INPUTS_LOST",
  "MAP_OUTPUT_LOST", "BAD_CHECKPOINT",
  // Redis.
  "NO_REDIS", "REDIS_UNREACHABLE", "REDIS_EVICTS",
  // Security: paths, keys, signatures, refused messages.
  "PATH_NOT_ALLOWED", "BAD_MESSAGE", "FORGED_JOB", "FORGED_RUN", "FORGED_SCHEDULE", "FORGED_TASK", "FORGED_BATCH",
  "FORGED_PLAN", "FORGED_DUE", "REPLAYED_TASK", "WEAK_SECRET", "NO_SIGNING_KEY", "NO_KEYS", "KEYS_EXIST",
  "KEY_EXPOSED", "BAD_KEY", "BAD_KEYS",
  // A bug in Sheaf: an assertion that failed (the CLI reports it as an unexpected error).
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether `code` is one of ERROR_CODES (for a code that crossed a thread or process as data). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && KNOWN.has(code);
}

export class SheafError extends Error {
  /** `options.cause`: the error this one explains, for the logs. */
  constructor(readonly code: ErrorCode, message: string, readonly retryable = false, options?: ErrorOptions) {
    super(message, options);
    this.name = "SheafError";
  }
}

/** Where a record came from, for an error naming it (the shape of the job API's RecordLocation, plus a reduce's key). */
export interface ErrorLocation {
  file: string;
  offset: number;
  line?: number;
  row?: number;
  key?: string;
}

/**
 * A full disk (ENOSPC) or quota (EDQUOT) as NO_SPACE, naming the path written and what it was;
 * undefined for any other error. Not a record's fault, never a bad record to skip, and retryable:
 * another attempt, elsewhere or later, may have room.
 */
export function diskFull(err: unknown, path?: string, what = "its output"): SheafError | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code !== "ENOSPC" && code !== "EDQUOT") return undefined;
  const where = path ?? (err as NodeJS.ErrnoException).path;
  return new SheafError("NO_SPACE", `no space left${where ? ` on ${where}` : " on the device"} (${code === "EDQUOT" ? "disk quota exceeded" : "disk full"}) while the task wrote ${what}`, true, { cause: err });
}

/**
 * `cause` less a lead that names `what` again ("job wc failed: task …" after "job <id> failed:"),
 * so a failure names its job once; empty when all it says is that `what` was cancelled.
 */
export function causeAfter(cause: string, what: string): string {
  for (const lead of [`${what} failed: `, `${what}: `]) if (cause.startsWith(lead)) return cause.slice(lead.length);
  return cause === `${what} was cancelled` ? "" : cause;
}

/** User code (map, combine, reduce, setup, cleanup, partitioner) threw. */
export class UserCodeError extends SheafError {
  constructor(readonly where: string, readonly input: ErrorLocation | undefined, override readonly cause: unknown) {
    const fatal = (cause as { sheafFatal?: unknown } | null)?.sheafFatal === true;
    super(fatal ? "FATAL_USER_ERROR" : "USER_CODE_ERROR", `${where} threw${describeLocation(input)}: ${messageOf(cause)}`, !fatal);
  }
}

export function describeLocation(input: ErrorLocation | undefined): string {
  if (!input) return "";
  if (input.key !== undefined) return ` on key ${input.key}`;
  if (input.row !== undefined) return ` on the record at ${input.file} row ${input.row}`;
  const line = input.line !== undefined ? `, line ${input.line}` : "";
  return ` on the record at ${input.file} byte ${input.offset}${line}`;
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** An error's message, then its causes' (`cannot fire: caused by: …`): one line for a log. */
export function messageWithCauses(err: unknown): string {
  const parts = [messageOf(err)];
  for (let e = (err as { cause?: unknown } | null)?.cause; e !== undefined && e !== null && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    parts.push(messageOf(e));
  }
  return parts.join(": caused by: ");
}


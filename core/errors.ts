/** Engine errors carry a code; callers tell them apart by code, never by message text. */
import type { RecordLocation } from "./api/types.js";

export class SheafError extends Error {
  /** `options.cause`: the error this one explains, for the logs. */
  constructor(readonly code: string, message: string, readonly retryable = false, options?: ErrorOptions) {
    super(message, options);
    this.name = "SheafError";
  }
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
  constructor(readonly where: string, readonly input: (RecordLocation & { key?: string }) | undefined, override readonly cause: unknown) {
    const fatal = (cause as { sheafFatal?: unknown } | null)?.sheafFatal === true;
    super(fatal ? "FATAL_USER_ERROR" : "USER_CODE_ERROR", `${where} threw${describeLocation(input)}: ${messageOf(cause)}`, !fatal);
  }
}

export function describeLocation(input: (RecordLocation & { key?: string }) | undefined): string {
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


/**
 * The services' log lines (`sheaf coordinator`, `sheaf worker`): each with a timestamp, the
 * component, and the job, task and attempt it concerns when it concerns one.
 *
 * - text (default): `2026-12-07T04:00:00.000Z worker: task map-00003 started  job=j-… attempt=1` (a job or
 *   task the message names already is not repeated after it)
 * - json: one object per line, `{"time","level","component","msg","job"?,"task"?,"attempt"?,…}`, for log shippers.
 *
 * A Logger is also a plain `(message) => void`, so it goes wherever a RedisLog does.
 */

export type LogFormat = "text" | "json";
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** What a line concerns, beside its message. */
export interface LogFields {
  job?: string;
  task?: string;
  attempt?: number;
  /** "info" unless said otherwise. */
  level?: "info" | "warn" | "error";
  [extra: string]: string | number | boolean | undefined;
}

export interface Logger {
  (message: string, fields?: LogFields): void;
}

/** One line, newline included. */
export function formatLogLine(format: LogFormat, component: string, message: string, fields: LogFields = {}, now = new Date()): string {
  const { level = "info", ...rest } = fields;
  const extra = Object.entries(rest).filter(([, v]) => v !== undefined);
  if (format === "json") return JSON.stringify({ time: now.toISOString(), level, component, msg: message, ...Object.fromEntries(extra) }) + "\n";
  // In text, a field the message already names (`job <id> succeeded`) is not said twice.
  const shown = extra.filter(([k, v]) => !(k === "job" || k === "task" ? message.includes(String(v)) : false));
  const suffix = shown.length ? "  " + shown.map(([k, v]) => `${k}=${String(v)}`).join(" ") : "";
  return `${now.toISOString()} ${component}: ${message}${suffix}\n`;
}

/** A logger writing to `write` (stderr by default). */
export function createLogger(component: string, format: LogFormat = "text", write: (line: string) => void = (l) => void process.stderr.write(l)): Logger {
  return (message, fields) => write(formatLogLine(format, component, message, fields));
}

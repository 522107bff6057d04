/**
 * In a worker thread: a task's own console output, captured per attempt. Each line goes to the
 * worker's stderr at once, prefixed with its job, task and attempt (or as a JSON line), and the
 * tail of it (at most TAIL_LINES lines and TAIL_BYTES bytes) is kept for `sheaf logs`.
 *
 * Installed only when the pool asks (the env variable SHEAF_CAPTURE_CONSOLE, `text` or `json`):
 * `sheaf run` leaves a job's console as it is.
 */
import { format } from "node:util";
import { formatLogLine, type LogFormat } from "../core/log.js";
import type { PrintedTail, Task } from "../core/tasks.js";

export const TAIL_LINES = 200;
export const TAIL_BYTES = 16 * 1024;
/** One line kept at most this long (the rest cut, marked with an ellipsis). */
const LINE_CHARS = 2000;

const METHODS = ["log", "info", "warn", "error", "debug", "trace"] as const;

interface Capture {
  prefix: string;
  fields: { job: string; task: string; attempt: number };
  lines: string[];
  bytes: number;
  dropped: number;
}

let current: Capture | undefined;
let installed: LogFormat | undefined;

function install(fmt: LogFormat): void {
  installed = fmt;
  for (const method of METHODS) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      const c = current;
      if (!c) return original(...args);
      const text = method === "trace" ? `Trace: ${format(...args)}\n${callers()}` : format(...args);
      for (const raw of text.split("\n")) keep(c, raw.length > LINE_CHARS ? raw.slice(0, LINE_CHARS) + "…" : raw, method);
    };
  }
}

/** The stack of console.trace's caller, as console.trace prints it. */
function callers(): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, callers);
  return holder.stack?.split("\n").slice(2).join("\n") ?? "";
}

function keep(c: Capture, line: string, method: string): void {
  const now = new Date();
  process.stderr.write(installed === "json" ? formatLogLine("json", "job", line, { ...c.fields, stream: method }, now) : `${now.toISOString()} ${c.prefix} ${line}\n`);
  c.lines.push(line);
  c.bytes += Buffer.byteLength(line) + 1;
  while (c.lines.length > TAIL_LINES || (c.bytes > TAIL_BYTES && c.lines.length > 1)) {
    c.bytes -= Buffer.byteLength(c.lines.shift()!) + 1;
    c.dropped++;
  }
}

/** Starts capturing `task`'s output (a no-op unless the pool asked for capture). */
export function beginCapture(task: Task): void {
  const fmt = process.env.SHEAF_CAPTURE_CONSOLE;
  if (fmt !== "text" && fmt !== "json") return;
  if (!installed) install(fmt);
  current = {
    prefix: `[${task.job.jobId} ${task.taskId}#${task.attempt}]`,
    fields: { job: task.job.jobId, task: task.taskId, attempt: task.attempt },
    lines: [],
    bytes: 0,
    dropped: 0,
  };
}

/** Ends the capture; what was printed, if anything. Output printed later (a stray timer) goes to the console unprefixed. */
export function endCapture(): PrintedTail | undefined {
  const c = current;
  current = undefined;
  return c && c.lines.length ? { lines: c.lines, dropped: c.dropped } : undefined;
}

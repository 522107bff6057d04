/** `sheaf logs`: what a job's own code printed, per attempt (core/cluster/attempt-logs.ts). */
import type { AttemptLog } from "../core/cluster/attempt-logs.js";
import { plural } from "./format.js";
import { printable, printableReport } from "./status.js";

export interface LogFilter {
  task?: string;
  attempt?: number;
}

export function selectLogs(logs: readonly AttemptLog[], filter: LogFilter): AttemptLog[] {
  return logs.filter((l) => (filter.task === undefined || l.task === filter.task) && (filter.attempt === undefined || l.attempt === filter.attempt));
}

/** Each attempt's lines under a header naming its task, attempt, host and end; what Redis held is printed escaped. */
export function renderLogs(jobId: string, logs: readonly AttemptLog[], filter: LogFilter = {}): string {
  const shown = selectLogs(logs, filter);
  if (shown.length === 0) {
    const which = [filter.task && `task ${filter.task}`, filter.attempt !== undefined && `attempt ${filter.attempt}`].filter(Boolean).join(" ");
    return printableReport(`no output recorded for job ${printable(jobId)}${which ? ` ${which}` : ""} (an attempt that printed nothing keeps none)`);
  }
  const out: string[] = [];
  for (const l of shown) {
    out.push(`== ${printable(l.task)} attempt ${l.attempt}${l.runId ? ` (run ${printable(l.runId)})` : ""} on ${printable(l.host)}, ended ${new Date(l.at).toISOString()} ==`);
    if (l.dropped) out.push(`(${plural(l.dropped, "earlier line")} not kept)`);
    for (const line of l.lines) out.push(printable(line));
    if (l.error) out.push(`failed: ${printable(l.error)}${l.where ? ` (at ${printable(l.where)})` : ""}`);
  }
  return printableReport(out.join("\n"));
}

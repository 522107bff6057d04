/** `sheaf workers`: the live workers, from their heartbeats (core/cluster/workers.ts). */
import type { JobRecord } from "../core/cluster/jobs.js";
import type { WorkerBeat } from "../core/cluster/workers.js";
import { bytes, duration } from "./format.js";
import { printable, printableReport } from "./status.js";

/** A table of the live workers: host, pid, threads, running attempts, last heartbeat, memory, version. */
export function renderWorkers(workers: readonly WorkerBeat[], now = Date.now()): string {
  if (workers.length === 0) return "no live workers";
  const rows = [
    ["HOST", "PID", "THREADS", "RUNNING", "HEARTBEAT", "MEMORY", "VERSION", "UP", "TASKS"],
    ...workers.map((w) => [
      printable(w.host), String(w.pid), String(w.threads), String(w.runningCount), `${duration(Math.max(0, now - w.at))} ago`,
      bytes(w.rss), printable(w.version), duration(Math.max(0, now - w.startedAt)),
      printable(w.running.slice(0, 3).join(" ") + (w.runningCount > 3 ? " …" : "")),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return printableReport(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n"));
}

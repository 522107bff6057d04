/** `sheaf status`: a table of recent jobs, or one job in detail. */
import type { JobRecord } from "../core/cluster/jobs.js";
import { isReport } from "../core/progress.js";
import { bytes, count, duration } from "./format.js";

function elapsed(r: JobRecord, now: number): string {
  if (!r.startedAt) return "-";
  return duration((r.finishedAt ?? now) - r.startedAt);
}

function progressText(r: JobRecord): string {
  const p = r.progress;
  if (!p) return r.state === "queued" ? "waiting for a coordinator" : "-";
  const parts = [`map ${p.mapsDone}/${p.mapsTotal}`];
  if (p.reducesTotal > 0) parts.push(`reduce ${p.reducesDone}/${p.reducesTotal}`);
  return parts.join("  ");
}

export function renderJobTable(records: readonly JobRecord[], now = Date.now()): string {
  if (records.length === 0) return "no jobs";
  const rows = [["ID", "NAME", "STATE", "PROGRESS", "ELAPSED"], ...records.map((r) => [r.spec.id, r.spec.name, r.state, progressText(r), elapsed(r, now)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

export function renderJob(r: JobRecord, now = Date.now()): string {
  const p = r.progress;
  const s = r.spec;
  const lines = [
    `job       ${s.id} (${s.name})`,
    `state     ${r.state}${p && r.state === "running" ? `, stage ${p.stage}` : ""}${r.cancelRequested && r.state === "running" ? " (cancelling)" : ""}`,
    `submitted ${new Date(s.submittedAt).toISOString()}${r.startedAt ? `   elapsed ${elapsed(r, now)}` : ""}`,
    `input     ${s.inputs.join(" ")}`,
    `output    ${s.output}`,
  ];
  if (p) {
    lines.push(`map       ${p.mapsDone}/${p.mapsTotal} done`);
    if (p.reducesTotal > 0) lines.push(`reduce    ${p.reducesDone}/${p.reducesTotal} done`);
    if (r.state === "running") lines.push(`tasks     ${p.running} running or queued`);
    lines.push(`read      ${count(p.recordsIn)} records, ${bytes(p.bytesIn)} of ${bytes(p.bytesTotal)}`);
    if (isReport(p)) {
      lines.push(`written   ${count(p.recordsOut)} records, ${bytes(p.bytesOut)} in ${p.parts} part files`);
      const counters = Object.entries(p.counters).sort(([a], [b]) => (a < b ? -1 : 1));
      if (counters.length) lines.push(`counters  ${counters.map(([k, v]) => `${k}=${count(v)}`).join("  ")}`);
    }
  }
  const failed = Math.max(r.failedAttempts, p?.failedAttempts ?? 0);
  if (failed) lines.push(`failed    ${failed} attempts; latest: ${r.lastFailure ?? p?.lastFailure ?? "?"}`);
  if (r.error) lines.push(`error     ${r.error}`);
  return lines.join("\n");
}

/** `sheaf status`: a table of recent jobs and pipeline runs, or one of them in detail. */
import type { JobRecord } from "../core/cluster/jobs.js";
import type { RunRecord } from "../core/cluster/runs.js";
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

function runElapsed(r: RunRecord, now: number): string {
  return r.startedAt ? duration((r.finishedAt ?? now) - r.startedAt) : "-";
}

/** `stages 1/3: clean succeeded, daily running, load pending`. */
function stagesText(r: RunRecord): string {
  const names = r.spec.stages.map((s) => s.name);
  const done = names.filter((n) => ["succeeded", "skipped"].includes(r.stages[n]?.state ?? "")).length;
  return `stages ${done}/${names.length}: ${names.map((n) => `${n} ${r.stages[n]?.state ?? "pending"}`).join(", ")}`;
}

function runName(r: RunRecord): string {
  return r.spec.schedule ? `${r.spec.pipeline} (schedule ${r.spec.schedule.name})` : r.spec.pipeline;
}

/** Jobs and pipeline runs, newest first; a stage's job shows inside its run, not on its own. */
export function renderJobTable(records: readonly JobRecord[], now = Date.now(), runs: readonly RunRecord[] = []): string {
  const entries = [
    ...records.filter((r) => !r.spec.run).map((r) => ({ at: r.spec.submittedAt, row: [r.spec.id, r.spec.name, r.state, progressText(r), elapsed(r, now)] })),
    ...runs.map((r) => ({ at: r.spec.submittedAt, row: [r.spec.id, runName(r), r.state, stagesText(r), runElapsed(r, now)] })),
  ].sort((a, b) => b.at - a.at);
  if (entries.length === 0) return "no jobs";
  const rows = [["ID", "NAME", "STATE", "PROGRESS", "ELAPSED"], ...entries.map((e) => e.row)];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

/** A line for `status` when messages or records were refused (forged, tampered, out of bounds): a sign of an attack or a misconfigured secret. */
export function renderRejections(counts: Record<string, number>): string {
  const parts = Object.entries(counts).filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : 1)).map(([code, n]) => `${code} ${n}`);
  return parts.length ? `\nrefused messages and records: ${parts.join(", ")} (see the coordinator's and workers' logs)` : "";
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

export function renderRun(r: RunRecord, now = Date.now()): string {
  const s = r.spec;
  const lines = [
    `pipeline  ${s.id} (${s.pipeline})${s.schedule ? `, schedule ${s.schedule.name} due ${new Date(s.schedule.due).toISOString()}` : ""}`,
    `state     ${r.state}${r.cancelRequested && r.state === "running" ? " (cancelling)" : ""}`,
    `logical   ${s.at}${s.tz ? ` (${s.tz})` : ""}${s.force ? "   --force" : ""}`,
    `submitted ${new Date(s.submittedAt).toISOString()}${r.startedAt ? `   elapsed ${runElapsed(r, now)}` : ""}`,
    "stages",
  ];
  for (const stage of s.stages) {
    const o = r.stages[stage.name];
    const figures = o?.state === "succeeded" ? `  ${duration(o.millis ?? 0)}, ${count(o.recordsIn ?? 0)} records in, ${count(o.recordsOut ?? 0)} out` : "";
    lines.push(`  ${stage.name.padEnd(12)} ${(o?.state ?? "pending").padEnd(9)} ${o?.jobId ?? ""}${figures}${o?.error && o.state !== "succeeded" ? `  ${o.error}` : ""}`);
  }
  if (r.error) lines.push(`error     ${r.error}`);
  return lines.join("\n");
}

/** `sheaf status`: a table of recent jobs and pipeline runs, or one of them in detail. */
import type { JobRecord } from "../core/cluster/jobs.js";
import type { RunRecord } from "../core/cluster/runs.js";
import { isReport } from "../core/progress.js";
import { bytes, countersText, duration, plural } from "./format.js";
import { stageFigures } from "./pipeline-summary.js";
import type { AttemptEnd } from "../core/attempts.js";
import { hostsOf, stageTimings } from "./job-timing.js";
import { NO_WORKER, waitsForWorkers } from "./no-worker.js";
import { workEntries } from "./status-data.js";

export { printable, printableReport } from "./printable.js";
import { printable, printableReport } from "./printable.js";

/** Text from Redis that may span lines (an error): each further line starts under the field's column, so none can pose as a field. */
function printableBlock(text: unknown, indent: string): string {
  return String(text ?? "").split(/\r?\n/).map(printable).join("\n" + indent);
}

const FIELD_INDENT = " ".repeat(10);

function elapsed(r: JobRecord, now: number): string {
  if (!r.startedAt) return "-";
  return duration((r.finishedAt ?? now) - r.startedAt);
}

function progressText(r: JobRecord): string {
  const p = r.progress;
  if (!p) return r.state === "queued" ? "waiting for a coordinator" : "-";
  const parts = [`map ${p.mapsDone}/${p.mapsTotal}`];
  if (p.reducesTotal > 0) parts.push(`reduce ${p.reducesDone}/${p.reducesTotal}`);
  return printable(parts.join("  "));
}

function runElapsed(r: RunRecord, now: number): string {
  return r.startedAt ? duration((r.finishedAt ?? now) - r.startedAt) : "-";
}

/** `stages 1/3: clean succeeded, daily running, load pending`. */
function stagesText(r: RunRecord): string {
  const names = r.spec.stages.map((s) => s.name);
  const done = names.filter((n) => ["succeeded", "skipped"].includes(r.stages[n]?.state ?? "")).length;
  return printable(`stages ${done}/${names.length}: ${names.map((n) => `${n} ${r.stages[n]?.state ?? "pending"}`).join(", ")}`);
}

function runName(r: RunRecord): string {
  return printable(r.spec.schedule ? `${r.spec.pipeline} (schedule ${r.spec.schedule.name})` : r.spec.pipeline);
}

/** Jobs and pipeline runs, newest first; a stage's job shows inside its run, not on its own. */
export function renderJobTable(records: readonly JobRecord[], now = Date.now(), runs: readonly RunRecord[] = []): string {
  const entries = workEntries(records, runs).map((e) => ({
    row: e.kind === "job"
      ? [printable(e.job.spec.id), printable(e.job.spec.name), printable(e.job.state), progressText(e.job), elapsed(e.job, now)]
      : [printable(e.run.spec.id), runName(e.run), printable(e.run.state), stagesText(e.run), runElapsed(e.run, now)],
  }));
  if (entries.length === 0) return "no jobs";
  const rows = [["ID", "NAME", "STATE", "PROGRESS", "ELAPSED"], ...entries.map((e) => e.row)];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return printableReport(rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n"));
}

/** A line for `status` when messages or records were refused (forged, tampered, out of bounds): a sign of an attack or a misconfigured secret. */
export function renderRejections(counts: Record<string, number>): string {
  const parts = Object.entries(counts).filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : 1)).map(([code, n]) => `${printable(code)} ${n}`);
  return parts.length ? `\nrefused messages and records: ${parts.join(", ")} (see the coordinator's and workers' logs)` : "";
}

/** What `status <job>` shows beside the record: the attempts' timeline, and how many workers are live. */
export interface JobDetail {
  timeline?: readonly AttemptEnd[];
  liveWorkers?: number;
}

/** A time of day in UTC to the millisecond, as log lines show it. */
function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

export function renderJob(r: JobRecord, now = Date.now(), detail: JobDetail = {}): string {
  const p = r.progress;
  const s = r.spec;
  const lines = [
    `job       ${printable(s.id)} (${printable(s.name)})`,
    `state     ${printable(r.state)}${p && r.state === "running" ? `, stage ${printable(p.stage)}` : ""}${r.cancelRequested && r.state === "running" ? " (cancelling)" : ""}`,
    `submitted ${new Date(s.submittedAt).toISOString()}${r.startedAt ? `   elapsed ${elapsed(r, now)}` : ""}`,
    ...(r.startedAt ? [`started   ${new Date(r.startedAt).toISOString()}${r.finishedAt ? `   ended ${new Date(r.finishedAt).toISOString()}` : ""}`] : []),
    `input     ${printable(s.inputs.join(" "))}`,
    `output    ${printable(s.output)}`,
  ];
  if (p) {
    lines.push(`map       ${p.mapsDone}/${p.mapsTotal} done`);
    if (p.reducesTotal > 0) lines.push(`reduce    ${p.reducesDone}/${p.reducesTotal} done`);
    if (r.state === "running") lines.push(`tasks     ${p.running} running or queued`);
    if (r.state === "running" && p.share) lines.push(`share     pool ${printable(p.share.pool)}: ${p.share.slots} of the ${p.share.of} task slots out (queued or running)`);
    if (detail.liveWorkers !== undefined && waitsForWorkers(r, detail.liveWorkers)) lines.push(`workers   ${NO_WORKER}`);
    lines.push(`read      ${plural(p.recordsIn, "record")}, ${bytes(p.bytesIn)} of ${bytes(p.bytesTotal)}`);
    if (isReport(p)) {
      lines.push(`written   ${plural(p.recordsOut, "record")}, ${bytes(p.bytesOut)} in ${plural(p.parts, "part file")}`);
      const counters = countersText(p.counters, printable);
      if (counters) lines.push(`counters  ${counters}`);
    }
  }
  const timeline = detail.timeline ?? [];
  for (const [i, t] of stageTimings(timeline).entries()) {
    const last = t.stage === "map" ? (p && p.mapsDone < p.mapsTotal) : (p && p.reducesDone < p.reducesTotal);
    const span = `${clock(t.startedAt)} → ${last && r.state === "running" ? "…" : clock(t.endedAt)}  ${duration((last && r.state === "running" ? now : t.endedAt) - t.startedAt)}`;
    lines.push(`${i === 0 ? "stages" : ""}`.padEnd(10) + `${t.stage.padEnd(7)} ${span}  ${plural(t.attempts, "attempt")}${t.failed ? `, ${t.failed} failed` : ""}`);
  }
  const hosts = hostsOf(timeline);
  if (hosts.length) lines.push(`hosts     ${hosts.map((h) => `${printable(h.host)} (${plural(h.attempts, "attempt")})`).join(", ")}`);
  const failed = Math.max(r.failedAttempts, p?.failedAttempts ?? 0);
  if (failed) lines.push(`failed    ${plural(failed, "attempt")}; latest: ${printableBlock(r.lastFailure ?? p?.lastFailure ?? "?", FIELD_INDENT)}`);
  if (r.error) lines.push(`error     ${printableBlock(r.error, FIELD_INDENT)}`);
  return printableReport(lines.join("\n"));
}

export function renderRun(r: RunRecord, now = Date.now()): string {
  const s = r.spec;
  const lines = [
    `pipeline  ${printable(s.id)} (${printable(s.pipeline)})${s.schedule ? `, schedule ${printable(s.schedule.name)} due ${new Date(s.schedule.due).toISOString()}` : ""}`,
    `state     ${printable(r.state)}${r.cancelRequested && r.state === "running" ? " (cancelling)" : ""}`,
    `logical   ${printable(s.at)}${s.tz ? ` (${printable(s.tz)})` : ""}${s.force ? "   --force" : ""}`,
    `submitted ${new Date(s.submittedAt).toISOString()}${r.startedAt ? `   elapsed ${runElapsed(r, now)}` : ""}`,
    "stages",
  ];
  for (const stage of s.stages) {
    const o = r.stages[stage.name];
    const figures = o?.state === "succeeded" ? `  ${duration(o.millis ?? 0)}, ${stageFigures(o, printable)}` : "";
    lines.push(`  ${printable(stage.name).padEnd(12)} ${printable(o?.state ?? "pending").padEnd(9)} ${printable(o?.jobId ?? "")}${figures}${o?.error && o.state !== "succeeded" ? `  ${printable(o.error)}` : ""}`);
  }
  if (r.error) lines.push(`error     ${printableBlock(r.error, FIELD_INDENT)}`);
  return printableReport(lines.join("\n"));
}

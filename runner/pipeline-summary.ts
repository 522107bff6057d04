/** How a pipeline run reads on a terminal: a line per stage change, and a summary table at the end. */
import type { StageOutcome } from "../engine/pipeline-runner.js";
import { bytes, count, countersText, duration, plural } from "./format.js";

export interface PipelineRunReport {
  pipeline: string;
  at: string;
  stages: Record<string, StageOutcome>;
  millis: number;
}

/** Bytes, when the outcome holds them (one recorded by an earlier version does not). */
const size = (n: number | undefined) => (n === undefined ? "" : ` (${bytes(n)})`);

/**
 * What a stage did, in the figures of a plain run's summary: records and bytes in and out, then
 * the job's counters. `name` escapes counter names read from Redis.
 */
export function stageFigures(o: StageOutcome, name?: (k: string) => string): string {
  const text = `${plural(o.recordsIn ?? 0, "record")}${size(o.bytesIn)} in, ${count(o.recordsOut ?? 0)}${size(o.bytesOut)} out`;
  const counters = countersText(o.counters ?? {}, name);
  return counters ? `${text}; counters ${counters}` : text;
}

export function describeOutcome(o: StageOutcome): string {
  let text: string = o.state;
  if (o.state === "succeeded") text += ` in ${duration(o.millis ?? 0)}, ${stageFigures(o)}`;
  if (o.state === "skipped") text += " (output already committed with the same fingerprint)";
  if (o.error) text += `: ${o.error}`;
  return text;
}

const cell = (n: number | undefined, show: (n: number) => string) => (n === undefined ? "" : show(n));

/** The table at the end of a run: a row per stage with a plain run's figures, then each stage's counters. */
export function pipelineSummary(name: string, stages: Record<string, StageOutcome>, millis: number): string {
  const rows = Object.entries(stages).map(([stage, o]) => [
    stage, o.state, cell(o.millis, duration), cell(o.recordsIn, count), cell(o.bytesIn, bytes), cell(o.recordsOut, count), cell(o.bytesOut, bytes), o.jobId ?? "",
  ]);
  const header = ["stage", "state", "time", "records in", "bytes in", "records out", "bytes out", "job"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => "  " + r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const counters = Object.entries(stages).flatMap(([stage, o]) => {
    const text = countersText(o.counters ?? {});
    return text ? [`  counters of ${stage}: ${text}`] : [];
  });
  const failed = Object.values(stages).some((o) => o.state === "failed" || o.state === "not run" || o.state === "cancelled");
  return [`pipeline ${name} ${failed ? "failed" : "succeeded"} in ${duration(millis)}`, fmt(header), ...rows.map(fmt), ...counters].join("\n");
}

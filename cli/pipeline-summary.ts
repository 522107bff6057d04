/** How a pipeline run reads on a terminal: a line per stage change, and a summary table at the end. */
import type { StageOutcome } from "../coordinator/pipeline-runner.js";
import { count, duration, plural } from "./format.js";

export interface PipelineRunReport {
  pipeline: string;
  at: string;
  stages: Record<string, StageOutcome>;
  millis: number;
}

export function describeOutcome(o: StageOutcome): string {
  let text: string = o.state;
  if (o.state === "succeeded") text += ` in ${duration(o.millis ?? 0)}, ${plural(o.recordsIn ?? 0, "record")} in, ${count(o.recordsOut ?? 0)} out`;
  if (o.state === "skipped") text += " (output already committed with the same fingerprint)";
  if (o.error) text += `: ${o.error}`;
  return text;
}

export function pipelineSummary(name: string, stages: Record<string, StageOutcome>, millis: number): string {
  const rows = Object.entries(stages).map(([stage, o]) => [stage, o.state, o.millis === undefined ? "" : duration(o.millis), o.recordsIn === undefined ? "" : count(o.recordsIn), o.recordsOut === undefined ? "" : count(o.recordsOut), o.jobId ?? ""]);
  const header = ["stage", "state", "time", "records in", "records out", "job"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => "  " + r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const failed = Object.values(stages).some((o) => o.state === "failed" || o.state === "not run" || o.state === "cancelled");
  return [`pipeline ${name} ${failed ? "failed" : "succeeded"} in ${duration(millis)}`, fmt(header), ...rows.map(fmt)].join("\n");
}

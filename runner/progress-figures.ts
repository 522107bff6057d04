/**
 * The rates and ETA of a job's progress, for the live progress line and the dashboard: apart from
 * runner/status-data.ts, whose Redis reads (and their modules) a local run has no use for.
 */
import type { JobProgress } from "../core/progress.js";
import { rate } from "./format.js";

export interface ProgressFigures {
  /** ms since the job started (to its end once finished). */
  elapsedMs: number;
  recordsPerSec: number;
  bytesPerSec: number;
  /** The map stage's time left at the rate so far; undefined when unknown or past the map stage. */
  etaMs?: number;
  /** Fractions done of each stage, 0..1. */
  mapDone: number;
  reduceDone: number;
}

/** Rates and ETA of a job's progress, as the progress line and the dashboard show them. */
export function progressFigures(p: JobProgress, now = Date.now(), finishedAt?: number): ProgressFigures {
  const elapsedMs = Math.max(0, (finishedAt ?? now) - p.startedAt);
  const bytesPerSec = rate(p.bytesIn, elapsedMs);
  const figures: ProgressFigures = {
    elapsedMs,
    recordsPerSec: rate(p.recordsIn, elapsedMs),
    bytesPerSec,
    mapDone: p.mapsTotal ? p.mapsDone / p.mapsTotal : 0,
    reduceDone: p.reducesTotal ? p.reducesDone / p.reducesTotal : 0,
  };
  if (p.stage === "map" && bytesPerSec > 0 && p.bytesIn < p.bytesTotal && finishedAt === undefined) figures.etaMs = Math.round(((p.bytesTotal - p.bytesIn) / bytesPerSec) * 1000);
  return figures;
}

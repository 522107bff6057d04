/** A job's stages' start, end and duration, and the hosts its attempts ran on, from its timeline (core/cluster/timeline.ts). */
import type { AttemptEnd } from "../core/attempts.js";

export interface StageTiming {
  stage: "map" | "reduce";
  startedAt: number;
  /** When its last attempt ended. */
  endedAt: number;
  attempts: number;
  failed: number;
}

export function stageTimings(timeline: readonly AttemptEnd[]): StageTiming[] {
  const stages = new Map<"map" | "reduce", StageTiming>();
  for (const t of timeline) {
    const failed = t.outcome === "failed" ? 1 : 0;
    const s = stages.get(t.kind);
    if (!s) stages.set(t.kind, { stage: t.kind, startedAt: t.start, endedAt: t.end, attempts: 1, failed });
    else {
      s.startedAt = Math.min(s.startedAt, t.start);
      s.endedAt = Math.max(s.endedAt, t.end);
      s.attempts++;
      s.failed += failed;
    }
  }
  return (["map", "reduce"] as const).flatMap((k) => stages.get(k) ?? []);
}

/** Hosts by attempts run there, most first (attempts that never reached a worker are not counted). */
export function hostsOf(timeline: readonly AttemptEnd[]): { host: string; attempts: number }[] {
  const counts = new Map<string, number>();
  for (const t of timeline) if (t.host !== undefined) counts.set(t.host, (counts.get(t.host) ?? 0) + 1);
  return [...counts].map(([host, attempts]) => ({ host, attempts })).sort((a, b) => b.attempts - a.attempts || (a.host < b.host ? -1 : 1));
}

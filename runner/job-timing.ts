/** A job's stages' start, end and duration, and the hosts its attempts ran on, from its timeline (core/cluster/attempt-records.ts). */
import type { AttemptTiming } from "../core/cluster/attempt-records.js";

export interface StageTiming {
  stage: "map" | "reduce";
  startedAt: number;
  /** When its last attempt ended. */
  endedAt: number;
  attempts: number;
  failed: number;
}

export function stageTimings(timeline: readonly AttemptTiming[]): StageTiming[] {
  const stages = new Map<"map" | "reduce", StageTiming>();
  for (const t of timeline) {
    const s = stages.get(t.stage);
    if (!s) stages.set(t.stage, { stage: t.stage, startedAt: t.startedAt, endedAt: t.endedAt, attempts: 1, failed: t.ok ? 0 : 1 });
    else {
      s.startedAt = Math.min(s.startedAt, t.startedAt);
      s.endedAt = Math.max(s.endedAt, t.endedAt);
      s.attempts++;
      if (!t.ok) s.failed++;
    }
  }
  return (["map", "reduce"] as const).flatMap((k) => stages.get(k) ?? []);
}

/** Hosts by attempts run there, most first. */
export function hostsOf(timeline: readonly AttemptTiming[]): { host: string; attempts: number }[] {
  const counts = new Map<string, number>();
  for (const t of timeline) counts.set(t.host, (counts.get(t.host) ?? 0) + 1);
  return [...counts].map(([host, attempts]) => ({ host, attempts })).sort((a, b) => b.attempts - a.attempts || (a.host < b.host ? -1 : 1));
}

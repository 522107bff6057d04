/**
 * What every chaos workload shares: the run's context (the cluster, the report, a seeded random
 * stream of its own, where its files go, whether faults still come, the deadline once they
 * stopped), submitting through the real CLI, and following a job's or a run's record in Redis to
 * its end, or to "vanished" (gone from Redis) or "hung" (past the deadline).
 */
import { join } from "node:path";
import type { ChaosCluster } from "../cluster.js";
import type { Report } from "../report.js";
import { FIXTURE_JOBS } from "../../integration/helpers.js";

export const FAULTY = join(FIXTURE_JOBS, "faulty.ts");

export interface Ctx {
  cc: ChaosCluster;
  report: Report;
  /** This workload's own seeded stream: the same seed makes the same choices. */
  rng: () => number;
  /** A folder of its own on the ordinary disk. */
  scratch: string;
  /** A folder of its own on the small disk that fills up (the ordinary disk without root). */
  small: string;
  /** Before this time faults come and new iterations start. */
  stopAt: number;
  /** Once the faults stopped: anything unfinished past this is hung. */
  deadline: () => number;
  /** When Redis was SIGKILLed with its AOF's last second cut. */
  aofLosses: AofLoss[];
  env: Record<string, string>;
}

export const faulting = (ctx: Ctx): boolean => Date.now() < ctx.stopAt;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const params = (p: Record<string, string | number>): string[] => Object.entries(p).flatMap(([k, v]) => ["--param", `${k}=${v}`]);

export const between = (rng: () => number, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));

export interface Submitted {
  /** The job or run id, when the CLI accepted it. */
  id?: string;
  /** Why it was refused (its first error line). */
  refused?: string;
  /** When the CLI returned. */
  at: number;
}

/** `sheaf <args>` (submit, schedule ...): accepted with the id it printed, or refused with its reason. */
export async function sheaf(ctx: Ctx, args: string[]): Promise<Submitted> {
  const r = await ctx.cc.cluster.run(args, ctx.env);
  const at = Date.now();
  if (r.code === 0) return { id: r.stdout.trim().split("\n")[0], at };
  const line = r.output.split("\n").find((l) => l.startsWith("sheaf:")) ?? r.output.trim().split("\n").at(-1) ?? "";
  return { refused: `exit ${r.code}: ${line.slice(0, 300)}`, at };
}

export type Final = { state: "succeeded" | "failed" | "cancelled" | "vanished" | "hung"; error?: string; record?: Record<string, string> };

/**
 * Follows `<prefix>:job:<id>` (or `:run:`) until it ends. A record missing for 20 s while Redis is
 * up is "vanished"; one still going past the deadline is "hung".
 */
export async function follow(ctx: Ctx, kind: "job" | "run", id: string): Promise<Final> {
  let missingSince: number | undefined;
  for (;;) {
    if (Date.now() > ctx.deadline()) return { state: "hung" };
    let h: Record<string, string>;
    try {
      h = await ctx.cc.redis.hgetall(`sheaf:${kind}:${id}`);
    } catch {
      await sleep(500);
      continue;
    }
    const state = h.state;
    if (state === "succeeded" || state === "failed" || state === "cancelled") return { state, error: h.error, record: h };
    if (state === undefined) {
      if (!ctx.cc.redisUp) missingSince = undefined;
      else if ((missingSince ??= Date.now()) < Date.now() - 20_000) return { state: "vanished" };
    } else missingSince = undefined;
    await sleep(300);
  }
}

/** Redis SIGKILLed `at`, its AOF cut back to its size at `from`: every write acknowledged after `from` is gone. */
export interface AofLoss {
  from: number;
  at: number;
}

/** Writes made between `from` and `to` may have been lost with an AOF cut. */
export const aofLossBetween = (ctx: Ctx, from: number, to: number): boolean => ctx.aofLosses.some((k) => k.at >= from && k.from <= to);

/**
 * A submission acknowledged at `at` (when its CLI returned) and gone from Redis: explained only by
 * a cut that took writes up to then, by a crash soon after (the CLI may return a little after the
 * crash that took its write).
 */
export const lostWithAof = (ctx: Ctx, at: number): boolean => ctx.aofLosses.some((k) => at >= k.from && at <= k.at + 5_000);

/**
 * How many job (or run) records are in each state, for `/metrics`, at a cost per scrape that grows
 * with the unfinished records and the records finished since the last scrape, not with all those
 * retention keeps (core/cluster/records.ts). A finished record's state never changes, so each one is
 * read once and remembered by its finish time; retention deletes the oldest finished first, which
 * drops them from the head. Anything else (a record kept out of order, one deleted by hand) shows
 * as a count that does not match the finished set's, and is mended by reading the set whole.
 */
import type { Redis } from "ioredis";
import { Keys } from "../core/cluster/keys.js";

export interface StateCounts {
  byState: Record<string, number>;
  /** Progress (JSON) of the running records. */
  running: (string | null)[];
}

export class RecordStates {
  /** Finished records read so far: id → [finish time, state]. */
  private readonly finished = new Map<string, [number, string]>();
  private latest = Number.NEGATIVE_INFINITY;

  constructor(private readonly redis: Redis, private readonly zset: string, private readonly keyOf: (id: string) => string) {}

  async counts(): Promise<StateCounts> {
    const finished = Keys.finished(this.zset);
    // Inclusive of the latest finish time seen: another record may have finished in the same ms.
    const [fresh, total, unfinished] = await this.pipeline((p) =>
      p.zrangebyscore(finished, Number.isFinite(this.latest) ? this.latest : "-inf", "+inf", "WITHSCORES").zcard(finished).zrange(Keys.unfinished(this.zset), "0", "-1"),
    ) as [string[], number, string[]];
    await this.learn(pairs(fresh).filter(([id]) => !this.finished.has(id)));
    if (this.finished.size !== total) await this.mend(total);
    const byState: Record<string, number> = {};
    for (const [, state] of this.finished.values()) if (state) byState[state] = (byState[state] ?? 0) + 1;
    const rows = unfinished.length ? await this.pipeline((p) => unfinished.reduce((q, id) => q.hmget(this.keyOf(id), "state", "progress"), p)) as (string | null)[][] : [];
    const running: (string | null)[] = [];
    for (const [state, progress] of rows) {
      // A record ended between the two reads is counted next scrape, from the finished set.
      if (state !== "queued" && state !== "running") continue;
      byState[state] = (byState[state] ?? 0) + 1;
      if (state === "running") running.push(progress ?? null);
    }
    return { byState, running };
  }

  /** Reads and remembers the states of newly finished records. */
  private async learn(entries: [string, number][]): Promise<void> {
    if (entries.length === 0) return;
    const states = await this.pipeline((p) => entries.reduce((q, [id]) => q.hget(this.keyOf(id), "state"), p)) as (string | null)[];
    entries.forEach(([id, at], i) => {
      this.finished.set(id, [at, states[i] ?? ""]); // "": its record is gone (not counted, not read again)
      this.latest = Math.max(this.latest, at);
    });
  }

  /** Drops what retention deleted: from the head by finish time, or, if that does not account for it, by reading the set whole. */
  private async mend(total: number): Promise<void> {
    const [head] = await this.pipeline((p) => p.zrange(Keys.finished(this.zset), "0", "0", "WITHSCORES")) as [string[]];
    const oldest = head.length ? Number(head[1]) : Number.POSITIVE_INFINITY;
    for (const [id, [at]] of this.finished) if (at < oldest) this.finished.delete(id);
    if (this.finished.size === total) return;
    const [all] = await this.pipeline((p) => p.zrange(Keys.finished(this.zset), "0", "-1", "WITHSCORES")) as [string[]];
    const kept = new Map(pairs(all));
    for (const id of this.finished.keys()) if (!kept.has(id)) this.finished.delete(id);
    await this.learn([...kept].filter(([id]) => !this.finished.has(id)));
  }

  private async pipeline(build: (p: ReturnType<Redis["pipeline"]>) => ReturnType<Redis["pipeline"]>): Promise<unknown[]> {
    return ((await build(this.redis.pipeline()).exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return v;
    });
  }
}

/** `[member, score, member, score, …]` → `[[member, score], …]`. */
function pairs(flat: string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
  return out;
}

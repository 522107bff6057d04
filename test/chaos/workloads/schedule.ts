/**
 * A schedule firing every few seconds: the faulty word count to `<dir>/{time}`. Its history is read
 * every few seconds while faults come (the list is capped at 50 events). At the end it is paused
 * and allowed to settle, then: no due time started twice, every run ended, each succeeded run's
 * folder is the oracle's, a failed one left nothing partial, and no folder is there that no run
 * explains.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { countWords, diffCounts, readFolder, sameCounts, writeCorpus } from "../corpus.js";
import { FAULTY, aofLossBetween, lostWithAof, params, sheaf, sleep, type Ctx, type Submitted } from "./common.js";

const NAME = "schedule";
const SCHEDULE = "chaos-tick";
const EVERY_S = 4;

const timeName = (due: number): string => new Date(due).toISOString().slice(0, 19).replace(/:/g, "-");

interface Event {
  due: number;
  outcome: string;
  run?: string;
  at: number;
}

export class ScheduleWorkload {
  private readonly events = new Map<string, Event>();
  private readonly out: string;
  private corpus: string[] = [];
  private oracle = new Map<string, number>();
  private polling = false;
  private poller: Promise<void> | undefined;

  constructor(private readonly ctx: Ctx) {
    this.out = join(ctx.scratch, "runs");
  }

  private addedAt = 0;

  private add(): Promise<Submitted> {
    return sheaf(this.ctx, [
      "schedule", "add", SCHEDULE, FAULTY, "-i", ...this.corpus, "-o", `${this.out}/{time}`, "--every", `${EVERY_S}s`,
      "--split-size", "3k", "--partitions", "2", ...params({ taskMs: 150 }),
    ]);
  }

  async start(): Promise<void> {
    this.corpus = writeCorpus(join(this.ctx.scratch, "corpus"), 2, 200, 50, 21);
    this.oracle = countWords(this.corpus);
    const added = await this.add();
    if (!added.id) throw new Error(`schedule add failed: ${added.refused}`);
    this.addedAt = added.at;
    this.polling = true;
    this.poller = (async () => {
      while (this.polling) {
        await this.readHistory().catch(() => undefined);
        await this.stillThere().catch(() => undefined);
        await sleep(3_000);
      }
    })();
  }

  /** The schedule's record is still in Redis; if it is gone (with the AOF's cut second, or else lost), says so and adds it again. */
  private async stillThere(): Promise<boolean> {
    const { ctx } = this;
    if (!ctx.cc.redisUp || (await ctx.cc.redis.exists(`sheaf:schedule:${SCHEDULE}`))) return true;
    await sleep(2_000); // Redis may be loading its AOF: look again
    if (!ctx.cc.redisUp || (await ctx.cc.redis.exists(`sheaf:schedule:${SCHEDULE}`))) return true;
    ctx.report.outcome(NAME, lostWithAof(ctx, this.addedAt) ? "lost-with-aof" : "lost", `the schedule's record is gone from Redis (added at ${ctx.report.offset(this.addedAt)}); added again`);
    const again = await this.add();
    if (again.id) this.addedAt = again.at;
    return false;
  }

  private async readHistory(): Promise<void> {
    for (const e of await this.ctx.cc.redis.lrange(`sheaf:schedule:${SCHEDULE}:history`, 0, -1)) this.events.set(e, JSON.parse(e) as Event);
  }

  /** Pauses the schedule, waits for it to settle (or the deadline), and checks what it did. */
  async finish(): Promise<void> {
    const { ctx } = this;
    const redis = ctx.cc.redis;
    this.polling = false;
    await this.poller;
    await this.stillThere();
    for (;;) {
      const r = await sheaf(ctx, ["schedule", "pause", SCHEDULE]);
      if (r.id) break;
      if (Date.now() > ctx.deadline()) return ctx.report.outcome(NAME, "hung", `schedule pause never succeeded: ${r.refused}`);
      await sleep(1_000);
    }
    type RunRow = { id: string; due: number; state: string; error?: string; startedAt: number; finishedAt: number };
    const runsOf = async (): Promise<RunRow[]> => {
      const runs: RunRow[] = [];
      for (const id of await redis.zrange("sheaf:runs", "0", "-1")) {
        const h = await redis.hgetall(`sheaf:run:${id}`);
        if (!h.spec) continue;
        const spec = JSON.parse(h.spec) as { schedule?: { name: string; due: number } };
        if (spec.schedule?.name !== SCHEDULE) continue;
        runs.push({ id, due: spec.schedule.due, state: h.state ?? "?", error: h.error, startedAt: Number(h.startedAt), finishedAt: Number(h.finishedAt) });
      }
      return runs.sort((a, b) => a.due - b.due);
    };
    const ended = (s: string) => ["succeeded", "failed", "cancelled"].includes(s);
    let runs: RunRow[] = [];
    for (;;) {
      const [running, queued] = await Promise.all([redis.hget(`sheaf:schedule:${SCHEDULE}`, "running"), redis.llen(`sheaf:schedule:${SCHEDULE}:queue`)]);
      runs = await runsOf();
      if (!running && !queued && runs.every((r) => ended(r.state))) break;
      if (Date.now() > ctx.deadline()) break;
      await sleep(500);
    }
    await this.readHistory();

    // No due time started twice.
    const starts = new Map<number, Event[]>();
    for (const e of this.events.values()) if (e.outcome === "started") starts.set(e.due, [...(starts.get(e.due) ?? []), e]);
    for (const [due, es] of starts) {
      if (es.length < 2) continue;
      const why = `due time ${new Date(due).toISOString()} started ${es.length} times (at ${es.map((e) => ctx.report.offset(e.at)).join(", ")})`;
      // The AOF's cut second may take the record of a firing: the next leader fires it again (first-wins commits keep the folder exact).
      if (es.some((e) => aofLossBetween(ctx, e.at - 1_000, e.at + 1_500))) ctx.report.note(`${NAME}: ${why}, after the AOF lost its last second`);
      else ctx.report.outcome(NAME, "doubled", why);
    }

    // Each run ended, with its folder right.
    const explained = new Set<string>();
    for (const r of runs) {
      const dir = join(this.out, timeName(r.due));
      explained.add(timeName(r.due));
      const view = readFolder(dir);
      if (!ended(r.state)) ctx.report.outcome(NAME, "hung", `${r.id} still ${r.state} after the deadline`);
      else if (r.state === "succeeded") {
        if (view.kind === "complete" && sameCounts(view.counts, this.oracle)) ctx.report.outcome(NAME, "ok", r.id);
        else if (view.kind === "complete") ctx.report.outcome(NAME, "wrong", `${r.id}: ${diffCounts(view.counts, this.oracle)}`);
        else ctx.report.outcome(NAME, view.kind === "bad" ? "partial" : "lost", `${r.id} succeeded; ${dir}: ${view.kind === "bad" ? view.why : view.kind}`);
      } else if (view.kind === "bad") ctx.report.outcome(NAME, "partial", `${r.id} ${r.state}; ${dir}: ${view.why}`);
      else if (view.kind === "complete" && !sameCounts(view.counts, this.oracle)) ctx.report.outcome(NAME, "wrong", `${r.id} ${r.state}; ${dir}: ${diffCounts(view.counts, this.oracle)}`);
      else ctx.report.outcome(NAME, "failed-clean", `${r.id} ${r.state}: ${(r.error ?? "").slice(0, 300)}${view.kind === "complete" ? " (its output is whole)" : ""}`);
    }
    // Runs of one schedule never overlap (the README says so).
    const byStart = runs.filter((r) => r.startedAt > 0).sort((a, b) => a.startedAt - b.startedAt);
    for (let k = 1; k < byStart.length; k++) {
      const [prev, next] = [byStart[k - 1]!, byStart[k]!];
      if (next.startedAt < prev.finishedAt) ctx.report.note(`${NAME}: ${next.id} started at ${ctx.report.offset(next.startedAt)} while ${prev.id} ran until ${ctx.report.offset(prev.finishedAt)}`);
    }
    // A folder no run record explains (its record lost with the AOF?) must still be whole or hold nothing.
    for (const name of existsSync(this.out) ? readdirSync(this.out) : []) {
      if (explained.has(name)) continue;
      if (name.startsWith(".")) {
        // Beside an output: its writer lock or a commit's staging folder, left by a run whose record is gone (no reader takes it for output).
        ctx.report.note(`${NAME}: ${name} left beside the outputs`);
        continue;
      }
      const view = readFolder(join(this.out, name));
      if (view.kind === "bad") ctx.report.outcome(NAME, "partial", `${name} (no run record): ${view.why}`);
      else if (view.kind === "complete" && !sameCounts(view.counts, this.oracle)) ctx.report.outcome(NAME, "wrong", `${name} (no run record): ${diffCounts(view.counts, this.oracle)}`);
      else ctx.report.note(`${NAME}: folder ${name} has no run record (${view.kind})`);
    }
    const skipped = [...this.events.values()].filter((e) => e.outcome === "skipped").length;
    if (skipped) ctx.report.note(`${NAME}: ${skipped} due times skipped (overlap skip) in the history read`);
  }
}

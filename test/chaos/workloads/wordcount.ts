/**
 * Word count on the cluster (the faulty fixture, slowed a little per task), each job to a new
 * output folder, checked against a plain-loop count. About a third of the jobs are submitted twice
 * at once to the same output (the second now and then with --overwrite): each submission is
 * refused, fails cleanly, or succeeds, and the folder ends up exactly the oracle's, never deleted
 * or partial.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { countWords, diffCounts, readFolder, sameCounts, writeCorpus } from "../corpus.js";
import { FAULTY, aofLossBetween, between, faulting, follow, lostWithAof, params, sheaf, sleep, type Ctx, type Final } from "./common.js";

const NAME = "wordcount";

export async function wordcountWorkload(ctx: Ctx): Promise<void> {
  const corpus = writeCorpus(join(ctx.scratch, "corpus"), 3, 400, 80, 11);
  const oracle = countWords(corpus);
  for (let i = 0; faulting(ctx); i++) {
    const out = join(ctx.scratch, `out-${i}`);
    const args = [
      "submit", FAULTY, "-i", ...corpus, "-o", out, "--split-size", "3k", "--partitions", String(between(ctx.rng, 1, 3)), "-q",
      ...params({ taskMs: between(ctx.rng, 50, 400), reduceMs: between(ctx.rng, 0, 200) }),
    ];
    const twice = ctx.rng() < 0.35;
    const overwrite = ctx.rng() < 0.5;
    const stagger = between(ctx.rng, 0, 2_000);
    const started = Date.now();
    const one = async (extra: string[], wait: number): Promise<{ sub: Awaited<ReturnType<typeof sheaf>>; end?: Final }> => {
      await sleep(wait);
      const sub = await sheaf(ctx, [...args, ...extra]);
      return { sub, end: sub.id ? await follow(ctx, "job", sub.id) : undefined };
    };
    const tries = await Promise.all([one([], 0), ...(twice ? [one(overwrite ? ["--overwrite"] : [], stagger)] : [])]);
    const label = (k: number) => `job ${i}${twice ? `.${k + 1}${k === 1 && overwrite ? " (--overwrite)" : ""}` : ""} ${tries[k]!.sub.id ?? ""}`.trimEnd();
    const view = readFolder(out);
    const anySucceeded = tries.some((t) => t.end?.state === "succeeded");
    const aof = aofLossBetween(ctx, started - 1_500, Date.now());
    tries.forEach((t, k) => {
      const what = label(k);
      if (!t.sub.id) return ctx.report.outcome(NAME, "refused", `${what}: ${t.sub.refused}`);
      const end = t.end!;
      if (end.state === "hung") return ctx.report.outcome(NAME, "hung", `${what}: not finished ${Math.round((Date.now() - started) / 1000)} s after it was submitted`);
      if (end.state === "vanished") {
        if (view.kind === "bad") return ctx.report.outcome(NAME, "partial", `${what}: its record is gone from Redis; ${out}: ${view.why}`);
        return ctx.report.outcome(NAME, lostWithAof(ctx, t.sub.at) ? "lost-with-aof" : "lost", `${what}: its record is gone from Redis (submitted at ${ctx.report.offset(t.sub.at)}); ${out} is ${view.kind}`);
      }
      if (end.state === "succeeded") {
        if (view.kind === "complete" && sameCounts(view.counts, oracle)) return ctx.report.outcome(NAME, "ok", what);
        if (view.kind === "complete") return ctx.report.outcome(NAME, "wrong", `${what} succeeded; ${out}: ${diffCounts(view.counts, oracle)}`);
        if (view.kind === "bad") return ctx.report.outcome(NAME, "partial", `${what} succeeded; ${out}: ${view.why}`);
        return ctx.report.outcome(NAME, "lost", `${what} succeeded but ${out} is ${view.kind}`);
      }
      // failed or cancelled: fine while the folder is whole (the other submission's) or holds nothing.
      if (view.kind === "bad") return ctx.report.outcome(NAME, "partial", `${what} ${end.state} (${end.error}); ${out}: ${view.why}`);
      if (view.kind === "complete" && !sameCounts(view.counts, oracle)) return ctx.report.outcome(NAME, "wrong", `${what} ${end.state}; ${out}: ${diffCounts(view.counts, oracle)}`);
      if (view.kind === "complete" && !anySucceeded && !aof) {
        return ctx.report.outcome(NAME, "wrong", `${what} reported ${end.state} (${end.error}) but committed ${out}`);
      }
      ctx.report.outcome(NAME, "failed-clean", `${what} ${end.state}: ${(end.error ?? "").slice(0, 300)}${view.kind === "complete" ? " (the output is whole)" : ""}`);
    });
    if (tries.every((t) => t.end && ["succeeded", "failed", "cancelled"].includes(t.end.state)) && existsSync(join(out, "_temporary"))) {
      ctx.report.note(`${NAME} job ${i}: ${out}/_temporary left behind after its jobs ended`);
    }
    if (tries.some((t) => t.end?.state === "hung")) return; // the cluster is stuck: nothing more to learn here
  }
}

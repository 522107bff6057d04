/**
 * `--overwrite` reruns of one output on the small disk, each with another corpus version, while a
 * reader polls the folder every 25 ms: it must always find a complete version, the one before the
 * rerun or the one being written, never a mix, a partial folder or nothing. A rerun that succeeds
 * leaves its version; one that fails (a full disk, retries spent) leaves the one before.
 */
import { join } from "node:path";
import { canonical, countWords, readFolder, writeCorpus } from "../corpus.js";
import { FAULTY, aofLossBetween, between, faulting, follow, lostWithAof, params, sheaf, type Ctx } from "./common.js";

const NAME = "overwrite";
const VERSIONS = 5;

export async function overwriteWorkload(ctx: Ctx): Promise<void> {
  const corpora = Array.from({ length: VERSIONS }, (_, v) => writeCorpus(join(ctx.scratch, `v${v}`), 3, 120 + 20 * v, 30 + v, 100 + v));
  const byText = new Map<string, number>(corpora.map((files, v) => [canonical(countWords(files)), v]));
  if (byText.size !== VERSIONS) throw new Error("overwrite workload: two corpus versions count the same");
  const out = join(ctx.small, "counts");
  let current: number | undefined; // the version the folder holds (undefined: none yet)
  let writing: number | undefined; // the version a rerun is writing now
  const reported = new Set<string>();

  /** What the reader sees: a version number, "none", or what is wrong. */
  const sees = (): number | "none" | { bad: string } => {
    const view = readFolder(out);
    if (view.kind === "absent" || view.kind === "empty") return "none";
    if (view.kind === "bad") return { bad: view.why };
    const v = byText.get(canonical(view.counts));
    return v ?? { bad: `a mix of versions (${view.counts.size} words)` };
  };
  const poll = setInterval(() => {
    const v = sees();
    let problem: string | undefined;
    if (typeof v === "object") problem = `the reader found ${v.bad}`;
    else if (v === "none" && current !== undefined) problem = `the reader found no output (v${current} was there)`;
    else if (typeof v === "number" && v !== current && v !== writing) problem = `the reader found v${v}: neither the old v${current} nor the new v${writing}`;
    if (problem && !reported.has(problem)) {
      reported.add(problem);
      ctx.report.outcome(NAME, typeof v === "object" && /mix/.test(v.bad) ? "wrong" : typeof v === "object" ? "partial" : v === "none" ? "lost" : "wrong", `${problem} at ${ctx.report.offset()}`);
    }
  }, 25);

  try {
    for (let i = 0; faulting(ctx); i++) {
      let v = between(ctx.rng, 0, VERSIONS - 1);
      if (v === current) v = (v + 1) % VERSIONS;
      const taskMs = between(ctx.rng, 20, 300);
      const started = Date.now();
      writing = v;
      const sub = await sheaf(ctx, [
        "submit", FAULTY, "-i", ...corpora[v]!, "-o", out, "--overwrite", "--split-size", "2k", "--partitions", "3", "-q", ...params({ taskMs }),
      ]);
      const what = `rerun ${i} (v${current ?? "-"} → v${v}) ${sub.id ?? ""}`.trimEnd();
      const end = sub.id ? await follow(ctx, "job", sub.id) : undefined;
      const now = sees();
      const aof = aofLossBetween(ctx, started - 1_500, Date.now());
      if (!sub.id) ctx.report.outcome(NAME, "refused", `${what}: ${sub.refused}`);
      else if (end!.state === "hung") {
        ctx.report.outcome(NAME, "hung", `${what}: not finished ${Math.round((Date.now() - started) / 1000)} s after it was submitted`);
        return;
      } else if (end!.state === "vanished") ctx.report.outcome(NAME, lostWithAof(ctx, sub.at) ? "lost-with-aof" : "lost", `${what}: its record is gone from Redis`);
      else if (end!.state === "succeeded") {
        if (now === v) ctx.report.outcome(NAME, "ok", what);
        else ctx.report.outcome(NAME, typeof now === "object" ? "partial" : "lost", `${what} succeeded but the reader finds ${typeof now === "object" ? now.bad : now === "none" ? "nothing" : `v${now}`}`);
      } else if (now === v && !aof) ctx.report.outcome(NAME, "wrong", `${what} reported ${end!.state} (${end!.error}) but replaced the output`);
      else if (typeof now === "object") ctx.report.outcome(NAME, "partial", `${what} ${end!.state}; the reader finds ${now.bad}`);
      else ctx.report.outcome(NAME, "failed-clean", `${what} ${end!.state}: ${(end!.error ?? "").slice(0, 300)}`);
      // What the folder holds now is the version from here on (old or new, both checked above).
      if (typeof now === "number") current = now;
      writing = undefined;
    }
  } finally {
    clearInterval(poll);
  }
}

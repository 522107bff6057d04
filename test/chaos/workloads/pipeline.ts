/**
 * A three-stage pipeline on the cluster: count words → keep those seen twice or more, times ten →
 * load into PostgreSQL. Half the runs append into a table of their own (its rows must be the
 * oracle's exactly once: never doubled, never half loaded; a resubmit of a finished run skips the
 * load and leaves the rows as they are); half replace one shared table with another corpus version,
 * while a reader polls it: always a whole version, the old or the new. A failed run is resubmitted
 * (its committed stages skip) up to three times.
 */
import { join } from "node:path";
import pg from "pg";
import { canonical, countWords, diffCounts, writeCorpus } from "../corpus.js";
import { writeFileSync } from "node:fs";
import { between, faulting, follow, lostWithAof, params, sheaf, sleep, type Ctx, type Final } from "./common.js";

const NAME = "pipeline";
const VERSIONS = 4;

function moduleSource(table: string, mode: "append" | "replace", name: string): string {
  return `import { defineJob, definePipeline, lines, postgres, sum, tsv } from "sheaf";
const pause = (ms: number) => { if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };
const count = defineJob({
  name: "count", input: lines(), partitions: 2, output: tsv(),
  setup(ctx) { pause(Number(ctx.params.taskMs ?? 0)); },
  map(line: string, emit) { for (const w of line.toLowerCase().match(/[a-z0-9]+/g) ?? []) emit(w, 1); },
  combine: (_w, n: Iterable<number>) => sum(n),
  reduce: (_w, n: Iterable<number>) => sum(n),
});
const shape = defineJob({
  name: "shape", input: lines(), output: tsv(),
  setup(ctx) { pause(Number(ctx.params.taskMs ?? 0)); },
  map(line: string, emit) { const [w, n] = line.split("\\t"); if (Number(n) >= 2) emit(w!, Number(n) * 10); },
});
const load = defineJob({
  name: "load", input: lines(),
  map(line: string, emit) { const [word, n] = line.split("\\t"); emit(word!, { word, n: Number(n) }); },
  output: postgres({ table: ${JSON.stringify(table)}, mode: ${JSON.stringify(mode)}, schema: { word: "string", n: "int32" } }),
});
export default definePipeline({
  name: ${JSON.stringify(name)},
  stages: {
    count: { job: count, input: "{corpus}", output: "{warehouse}/count" },
    shape: { job: shape, input: "count", output: "{warehouse}/shape" },
    load: { job: load, input: "shape" },
  },
});
`;
}

/** The table's rows as word → n, "absent", or how it is wrong (a word twice). */
async function rows(db: pg.Client, table: string): Promise<Map<string, number> | "absent" | { doubled: string }> {
  try {
    const r = await db.query<{ word: string; n: number }>(`SELECT word, n FROM ${table}`);
    const m = new Map<string, number>();
    for (const { word, n } of r.rows) {
      if (m.has(word)) return { doubled: `${word} twice` };
      m.set(word, n);
    }
    return m;
  } catch (err) {
    if ((err as { code?: string }).code === "42P01") return "absent";
    throw err;
  }
}

export async function pipelineWorkload(ctx: Ctx, databaseUrl: string, schema: string): Promise<void> {
  const corpora = Array.from({ length: VERSIONS }, (_, v) => {
    const files = writeCorpus(join(ctx.scratch, `corpus-v${v}`, "in"), 2, 150 + 30 * v, 40 + 3 * v, 300 + v);
    const counts = countWords(files);
    const oracle = new Map([...counts].filter(([, n]) => n >= 2).map(([w, n]) => [w, n * 10]));
    return { dir: join(ctx.scratch, `corpus-v${v}`, "in"), oracle };
  });
  const byText = new Map(corpora.map((c, v) => [canonical(c.oracle), v]));
  if (byText.size !== VERSIONS) throw new Error("pipeline workload: two corpus versions give the same rows");
  const db = new pg.Client({ connectionString: databaseUrl });
  const reader = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  await reader.connect();
  const shared = `${schema}.t_replace`;
  const replaceModule = join(ctx.scratch, "pipe-replace.ts");
  writeFileSync(replaceModule, moduleSource(shared, "replace", "chaos-replace"));
  let current: number | undefined;
  let writing: number | undefined;
  const reported = new Set<string>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const r = await rows(reader, shared).catch((err: Error) => ({ doubled: `unreadable: ${err.message}` }));
      let problem: string | undefined;
      if (r === "absent") {
        if (current !== undefined) problem = `${shared} is gone (v${current} was loaded)`;
      } else if ("doubled" in r && !(r instanceof Map)) problem = `${shared}: ${r.doubled}`;
      else {
        const v = byText.get(canonical(r as Map<string, number>));
        if (v === undefined) problem = `${shared} holds ${(r as Map<string, number>).size} rows that are no version (${diffCounts(r as Map<string, number>, corpora[writing ?? current ?? 0]!.oracle)})`;
        else if (v !== current && v !== writing) problem = `${shared} holds v${v}: neither the old v${current} nor the new v${writing}`;
      }
      if (problem && !reported.has(problem)) {
        reported.add(problem);
        ctx.report.outcome(NAME, "wrong", `${problem} at ${ctx.report.offset()}`);
      }
      await sleep(200);
    }
  })();

  try {
    for (let i = 0; faulting(ctx); i++) {
      const append = ctx.rng() < 0.5;
      let v = between(ctx.rng, 0, VERSIONS - 1);
      if (!append && v === current) v = (v + 1) % VERSIONS;
      const resubmit = ctx.rng() < 0.4;
      const taskMs = between(ctx.rng, 20, 300);
      const table = append ? `${schema}.t_append_${i}` : shared;
      const module = append ? join(ctx.scratch, `pipe-append-${i}.ts`) : replaceModule;
      if (append) writeFileSync(module, moduleSource(table, "append", `chaos-append-${i}`));
      const args = ["submit", module, ...params({ corpus: corpora[v]!.dir, warehouse: join(ctx.scratch, `wh-${i}`), taskMs }), "--at", "2026-12-01"];
      const what = `run ${i} (${append ? `append v${v} into ${table}` : `replace v${current ?? "-"} → v${v}`})`;
      if (!append) writing = v;
      let end: Final | undefined;
      for (let attempt = 1; attempt <= 3 && end?.state !== "succeeded"; attempt++) {
        const started = Date.now();
        const sub = await sheaf(ctx, args);
        end = sub.id ? await follow(ctx, "run", sub.id) : undefined;
        const label = `${what}, try ${attempt} ${sub.id ?? ""}`.trimEnd();
        if (end?.state === "hung") {
          ctx.report.outcome(NAME, "hung", `${label}: not finished ${Math.round((Date.now() - started) / 1000)} s after it was submitted`);
          return;
        }
        const got = await rows(db, table);
        const want = corpora[v]!.oracle;
        if (!sub.id) ctx.report.outcome(NAME, "refused", `${label}: ${sub.refused}`);
        else if (end!.state === "vanished") ctx.report.outcome(NAME, lostWithAof(ctx, sub.at) ? "lost-with-aof" : "lost", `${label}: its run record is gone from Redis`);
        if (got !== "absent" && !(got instanceof Map)) {
          ctx.report.outcome(NAME, "doubled", `${label}: ${table}: ${got.doubled}`);
          return;
        }
        if (!sub.id || end!.state === "vanished") {
          if (!append && got instanceof Map && byText.get(canonical(got)) === v) current = v;
          continue;
        }
        if (end!.state === "succeeded") {
          if (got instanceof Map && canonical(got) === canonical(want)) ctx.report.outcome(NAME, "ok", label);
          else ctx.report.outcome(NAME, got === "absent" ? "lost" : "wrong", `${label} succeeded; ${table}: ${got === "absent" ? "absent" : diffCounts(got, want)}`);
          if (!append) current = v;
        } else {
          // A failed run: an append table holds nothing or everything (a load committed before the run failed); a replaced table the old version or the new.
          const whole = got instanceof Map && canonical(got) === canonical(want);
          const held = got instanceof Map ? byText.get(canonical(got)) : undefined;
          const fine = append ? got === "absent" || (got instanceof Map && (got.size === 0 || whole)) : got === "absent" ? current === undefined : held === current || held === v;
          if (fine) ctx.report.outcome(NAME, "failed-clean", `${label} ${end!.state}: ${(end!.error ?? "").slice(0, 300)}`);
          else ctx.report.outcome(NAME, got instanceof Map && got.size ? "partial" : "lost", `${label} ${end!.state}; ${table}: ${got === "absent" ? "absent" : diffCounts(got, want)}`);
          if (!append && held !== undefined) current = held;
        }
      }
      // A resubmit of a finished run: its load skips (fingerprint), the rows stay as they are.
      if (end?.state === "succeeded" && resubmit && faulting(ctx)) {
        const sub = await sheaf(ctx, args);
        const again = sub.id ? await follow(ctx, "run", sub.id) : undefined;
        const got = await rows(db, table);
        const label = `${what}, resubmitted ${sub.id ?? ""}`.trimEnd();
        if (again?.state === "hung") return ctx.report.outcome(NAME, "hung", `${label}: not finished`);
        if (got !== "absent" && !(got instanceof Map)) ctx.report.outcome(NAME, "doubled", `${label}: ${table}: ${got.doubled}`);
        else if (!(got instanceof Map) || canonical(got) !== canonical(corpora[v]!.oracle)) {
          ctx.report.outcome(NAME, "wrong", `${label} (${again?.state ?? sub.refused}); ${table}: ${got === "absent" ? "absent" : diffCounts(got, corpora[v]!.oracle)}`);
        } else if (!sub.id) ctx.report.outcome(NAME, "refused", `${label}: ${sub.refused}`);
        else if (again!.state === "succeeded") ctx.report.outcome(NAME, "ok", label);
        else ctx.report.outcome(NAME, again!.state === "vanished" ? (lostWithAof(ctx, sub.at) ? "lost-with-aof" : "lost") : "failed-clean", `${label} ${again!.state}: ${(again!.error ?? "").slice(0, 300)}`);
      }
      writing = undefined;
    }
  } finally {
    polling = false;
    await poller;
    await db.end();
    await reader.end();
  }
}

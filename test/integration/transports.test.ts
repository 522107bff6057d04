/**
 * The conformance suite: the same jobs through both transports, the embedded runner (`sheaf run`)
 * and the cluster (`sheaf submit --wait` to a coordinator and two workers). Each output is checked
 * against a plain-loop oracle (or DuckDB, or SQL), and the two transports' outputs must be
 * byte-identical: text, CSV, Parquet and Arrow parts alike; a PostgreSQL load row-identical.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import pg from "pg";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { duckRows, duckRun, sqlText } from "../support/duckdb.js";
import { EXAMPLE_JOBS, makeRng, outputText, parseTsv, runCli, sameOutput, Scratch, textLines } from "./helpers.js";

const DB = (process.env.DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/test"); // the CLI processes connect through it
const db = new pg.Client({ connectionString: DB });
const pgTable = `sheaf_it_transports_${process.pid}_${Date.now().toString(36)}`;

const scratch = new Scratch("transports");
const cluster = new Cluster(scratch.path("cluster-workdir"));
const files: string[] = [];
const fileLines: string[][] = [];

/** A job kept outside the repo: jsonl in, jsonl out, a composite key, counters. */
const JSONL_JOB = `
import { defineJob, jsonl, sum } from "sheaf";
export default defineJob({
  name: "events-by-user-day",
  input: jsonl(),
  map(e: { user: string; day: number; n: number }, emit, ctx) {
    if (e.n < 0) { ctx.counter("negative").inc(); return; }
    emit([e.user, e.day], e.n);
  },
  combine: (_k, ns: Iterable<number>) => sum(ns),
  reduce: (_k, ns: Iterable<number>) => ({ total: sum(ns) }),
  output: jsonl(),
  partitions: 2,
});
`;

interface Case {
  name: string;
  job: () => string;
  inputs: () => string[];
  args: string[];
  /** Checks an output folder against the oracle. */
  check: (out: string) => void | Promise<void>;
  /** For a sink: no output folder, the check reads the destination. */
  sink?: boolean;
}

/** Orders per (day, country) of the clean-orders sample, by a plain loop over the CSV. */
function ordersByDayCountry(): Map<string, number> {
  const want = new Map<string, number>();
  for (const line of readFileSync(join(EXAMPLE_JOBS, "data/orders.csv"), "utf8").split("\n").slice(1, -1)) {
    const m = /^\d+,(?:"(?:[^"]|"")*"|[^,"]*),([^,]*),(\d+(?:\.\d+)?),(\d{4}-(\d{2})-(\d{2}))T\d{2}:\d{2}:00Z$/.exec(line);
    if (!m || Number(m[4]) > 12) continue;
    const k = `${m[3]}|${m[1]!.toUpperCase()}`;
    want.set(k, (want.get(k) ?? 0) + 1);
  }
  return want;
}

const words = (line: string) => line.toLowerCase().match(/[a-z0-9]+/g) ?? [];

const cases: Case[] = [
  {
    name: "word count (combine)",
    job: () => join(EXAMPLE_JOBS, "wordcount.ts"),
    inputs: () => files,
    args: ["--split-size", "700", "--partitions", "3"],
    check: (out) => {
      const want = new Map<string, number>();
      for (const lines of fileLines) for (const l of lines) for (const w of words(l)) want.set(w, (want.get(w) ?? 0) + 1);
      expect(new Map(parseTsv(outputText(out)).map(([w, n]) => [w!, Number(n)]))).toEqual(want);
    },
  },
  {
    // Neither the job nor a flag names partitions: both transports take the one default (sheaf run
    // took its thread count, 2 here, and a cluster 4), so the parts are the same.
    name: "word count, no partitions named: the same default on both transports",
    job: () => join(EXAMPLE_JOBS, "wordcount.ts"),
    inputs: () => files,
    args: ["--split-size", "700"],
    check: (out) => {
      expect(readdirSync(out).filter((n) => n.startsWith("part-"))).toHaveLength(4);
      const want = new Map<string, number>();
      for (const lines of fileLines) for (const l of lines) for (const w of words(l)) want.set(w, (want.get(w) ?? 0) + 1);
      expect(new Map(parseTsv(outputText(out)).map(([w, n]) => [w!, Number(n)]))).toEqual(want);
    },
  },
  {
    name: "inverted index (line numbers, values in map-task then emit order)",
    job: () => join(EXAMPLE_JOBS, "inverted-index.ts"),
    inputs: () => files,
    args: ["--split-size", "500", "--partitions", "2"],
    check: (out) => {
      const want = new Map<string, string[]>();
      fileLines.forEach((lines, f) =>
        lines.forEach((l, i) => {
          for (const w of new Set(words(l))) want.set(w, [...(want.get(w) ?? []), `${basename(files[f]!)}:${i + 1}`]);
        }),
      );
      expect(new Map(parseTsv(outputText(out)).map(([w, places]) => [w!, places!.split(",")]))).toEqual(want);
    },
  },
  {
    name: "grep (map-only: one part per map task, input order)",
    job: () => join(EXAMPLE_JOBS, "grep.ts"),
    inputs: () => files,
    args: ["--split-size", "900", "--param", "pattern=^g|ta$", "--param", "flags=i"],
    check: (out) => {
      expect(textLines(outputText(out))).toEqual(fileLines.flat().filter((l) => /^g|ta$/i.test(l)));
    },
  },
  {
    name: "jsonl in and out, composite keys, a job file outside the repo",
    job: () => scratch.write("elsewhere/events.ts", JSONL_JOB),
    inputs: () => [scratch.path("events.jsonl")],
    args: ["--split-size", "2k"],
    check: (out) => {
      const want = new Map<string, number>();
      for (const line of textLines(readFileSync(scratch.path("events.jsonl"), "utf8"))) {
        const e = JSON.parse(line);
        if (e.n >= 0) want.set(JSON.stringify([e.user, e.day]), (want.get(JSON.stringify([e.user, e.day])) ?? 0) + e.n);
      }
      const got = new Map(textLines(outputText(out)).map((l) => JSON.parse(l)).map((r) => [JSON.stringify(r.key), r.value.total]));
      expect(got).toEqual(want);
    },
  },
  {
    name: "csv in (plain and .gz), parquet out, then parquet in and out (the ETL example)",
    job: () => join(EXAMPLE_JOBS, "clean-orders.ts"),
    inputs: () => [join(EXAMPLE_JOBS, "data/orders.csv"), scratch.path("orders-copy.csv.gz")],
    args: ["--split-size", "3k"],
    check: async (out) => {
      const rows = await duckRows(`SELECT day, country, count(*) AS n FROM read_parquet(${sqlText(out + "/*.parquet")}) GROUP BY ALL`);
      const want = ordersByDayCountry();
      expect(new Map(rows.map((r) => [`${r.day}|${r.country}`, Number(r.n) / 2]))).toEqual(want); // the sample twice: plain and gzip
    },
  },
  {
    name: "parquet in (DuckDB's, row-group splits), arrow out",
    job: () => scratch.write("elsewhere/parquet-to-arrow.ts", PARQUET_JOB),
    inputs: () => [scratch.path("facts.parquet")],
    args: ["--split-size", "1", "--partitions", "2"],
    check: async (out) => {
      const { tableFromIPC } = await import("apache-arrow");
      const got = new Map<string, bigint>();
      for (const name of readdirOutput(out)) for (const r of tableFromIPC(readFileSync(join(out, name))).toArray()) got.set(r.k, r.total);
      const want = await duckRows(`SELECT k, sum(v)::BIGINT AS total FROM read_parquet(${sqlText(scratch.path("facts.parquet"))}) GROUP BY k`);
      expect(got).toEqual(new Map(want.map((w) => [w.k as string, w.total as bigint])));
    },
  },
  {
    name: "postgres source in key ranges → postgres sink, all or nothing",
    job: () => scratch.write("elsewhere/pg-copy.ts", PG_JOB),
    inputs: () => [],
    args: ["--partitions", "2"],
    sink: true,
    check: async () => {
      const got = (await db.query(`SELECT k, total::text AS total FROM ${pgTable}_out ORDER BY k`)).rows;
      const want = (await db.query(`SELECT k, sum(v)::text AS total FROM ${pgTable} GROUP BY k ORDER BY k`)).rows;
      expect(got).toEqual(want);
    },
  },
];

/** Parquet facts (k, v int64 past 2^53) → sum per k, as Arrow. */
const PARQUET_JOB = `
import { defineJob, parquet, arrow } from "sheaf";
export default defineJob({
  name: "facts-to-arrow",
  input: parquet(),
  map: (r: { k: string; v: bigint }, emit) => emit(r.k, r.v),
  combine: (_k, vs: Iterable<bigint>) => { let t = 0n; for (const v of vs) t += v; return t; },
  reduce: (k: string, vs: Iterable<bigint>) => { let t = 0n; for (const v of vs) t += v; return { k, total: t }; },
  output: arrow(),
});
`;

/** A table read in key ranges (int8 past 2^53 summed per k) and loaded into another. */
const PG_JOB = `
import { defineJob, postgres } from "sheaf";
export default defineJob({
  name: "pg-copy",
  input: postgres({ table: "${pgTable}", splitBy: "id", splits: 3 }),
  map: (r: { id: bigint; k: string; v: bigint }, emit) => emit(r.k, r.v),
  combine: (_k, vs: Iterable<bigint>) => { let t = 0n; for (const v of vs) t += v; return t; },
  reduce: (k: string, vs: Iterable<bigint>) => { let t = 0n; for (const v of vs) t += v; return { k, total: t }; },
  output: postgres({ table: "${pgTable}_out", schema: { k: "string", total: "int64" } }),
});
`;

function readdirOutput(out: string): string[] {
  return readdirSync(out).filter((n) => n.startsWith("part-")).sort();
}

beforeAll(async () => {
  const rng = makeRng(11);
  const vocab = ["gamma", "beta", "delta", "theta", "zeta", "Gnu", "iota", "kappa", "lambda"];
  for (let f = 0; f < 4; f++) {
    const lines = Array.from({ length: 120 }, () => Array.from({ length: Math.floor(rng() * 7) }, () => vocab[Math.floor(rng() * vocab.length)]).join(" "));
    files.push(scratch.write(`text/file-${f}.txt`, lines.join("\n") + "\n"));
    fileLines.push(lines);
  }
  const users = ["ann", "bo", "cy"];
  scratch.write(
    "events.jsonl",
    Array.from({ length: 500 }, () => JSON.stringify({ user: users[Math.floor(rng() * 3)], day: Math.floor(rng() * 5), n: Math.floor(rng() * 20) - 2 })).join("\n") + "\n",
  );
  writeFileSync(scratch.path("orders-copy.csv.gz"), gzipSync(readFileSync(join(EXAMPLE_JOBS, "data/orders.csv"))));
  await duckRun(`COPY (SELECT 'k' || (i % 17) AS k, (9007199254740000 + i)::BIGINT AS v FROM range(4000) t(i)) TO ${sqlText(scratch.path("facts.parquet"))} (FORMAT parquet, ROW_GROUP_SIZE 512)`);
  await db.connect();
  await db.query(`CREATE TABLE ${pgTable} (id int8, k text, v int8)`);
  await db.query(`INSERT INTO ${pgTable} SELECT CASE WHEN g % 50 = 0 THEN NULL ELSE g END, 'k' || (g % 13), 9007199254740000 + g FROM generate_series(1, 5000) g`);
  await cluster.startRedis();
  await cluster.coordinator();
  await cluster.worker(2);
  await cluster.worker(1);
});

afterAll(async () => {
  await db.query(`DROP TABLE IF EXISTS ${pgTable}; DROP TABLE IF EXISTS ${pgTable}_out`).catch(() => {});
  await db.end();
  await cluster.stop();
  cluster.assertNoLeaks();
  scratch.cleanup();
});

/** --input and --output, for a job that reads files and writes them. */
function where(c: Case, out: string): string[] {
  const inputs = c.inputs();
  return [...(inputs.length ? ["--input", ...inputs] : []), ...(c.sink ? [] : ["--output", out])];
}

describe.each(cases)("$name", (c) => {
  const outputs: Record<string, string> = {};

  it("embedded: sheaf run matches the oracle", async () => {
    outputs.run = scratch.fresh("run");
    const r = runCli(["run", c.job(), ...where(c, outputs.run), "--workdir", scratch.path("run-workdir"), "--threads", "2", ...c.args, "-q"]);
    expect(r.status, r.stderr).toBe(0);
    await c.check(outputs.run);
  });

  it("cluster: sheaf submit --wait matches the oracle, byte for byte the same as sheaf run", async () => {
    outputs.cluster = scratch.fresh("cluster");
    if (c.sink) await db.query(`TRUNCATE ${pgTable}_out`); // the cluster must load it again
    const r = await cluster.run(["submit", c.job(), ...where(c, outputs.cluster), ...c.args, "--wait", "-q"]);
    expect(r.code, r.output).toBe(0);
    await c.check(outputs.cluster);
    if (!c.sink) sameOutput(outputs.run!, outputs.cluster);
  });
});

/**
 * The conformance suite: the same jobs through both transports, the embedded runner (`sheaf run`)
 * and the cluster (`sheaf submit --wait` to a coordinator and two workers). Each output is checked
 * against a plain-loop oracle, and the two transports' outputs must be byte-identical.
 */
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { EXAMPLE_JOBS, makeRng, outputText, parseTsv, runCli, sameOutput, Scratch, textLines } from "./helpers.js";

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
  check: (out: string) => void;
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
];

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
  await cluster.startRedis();
  await cluster.coordinator();
  await cluster.worker(2);
  await cluster.worker(1);
});

afterAll(async () => {
  await cluster.stop();
  cluster.assertNoLeaks();
  scratch.cleanup();
});

describe.each(cases)("$name", (c) => {
  const outputs: Record<string, string> = {};

  it("embedded: sheaf run matches the oracle", () => {
    outputs.run = scratch.fresh("run");
    const r = runCli(["run", c.job(), "--input", ...c.inputs(), "--output", outputs.run, "--workdir", scratch.path("run-workdir"), "--threads", "2", ...c.args, "-q"]);
    expect(r.status, r.stderr).toBe(0);
    c.check(outputs.run);
  });

  it("cluster: sheaf submit --wait matches the oracle, byte for byte the same as sheaf run", async () => {
    outputs.cluster = scratch.fresh("cluster");
    const r = await cluster.run(["submit", c.job(), "--input", ...c.inputs(), "--output", outputs.cluster, ...c.args, "--wait", "-q"]);
    expect(r.code, r.output).toBe(0);
    c.check(outputs.cluster);
    sameOutput(outputs.run!, outputs.cluster);
  });
});

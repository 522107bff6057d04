/**
 * Determinism: the same job on the same input gives byte-identical part files whatever the split
 * size, thread count or sort buffer (tiny buffers force many spills and multi-pass merges), and
 * without a combiner the values of a key reach reduce by map task, then in emit order.
 */
import { statSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_JOBS, Scratch, allLines, makeRng, outputText, partFiles, randomText, runOk, sameOutput, tsvLine } from "./helpers.js";

const s = new Scratch("determinism");
afterAll(() => s.cleanup());

const WORDS = ["a", "b", "c", "dd", "é", "日本", "😀", "\uE000", "z9"];
let workdir: string;
let input: string;
let files: string[];

beforeAll(() => {
  workdir = s.path("workdir");
  const rng = makeRng(7);
  files = [
    // Small, as --split-size 1 makes one map task per byte; but the first file has enough words for
    // more spills than one merge pass takes (64) with a 1-byte sort buffer.
    s.write("in/big.txt", randomText(rng, 34, WORDS).join("\n") + "\n"),
    s.write("in/sub/crlf.txt", randomText(rng, 6, WORDS).join("\r\n")),
    s.write("in/sub/empty.txt", ""),
    s.write("in/z.txt", "\n" + randomText(rng, 5, WORDS).join("\n") + "\n\n"),
  ];
  input = s.path("in");
  expect(files.reduce((n, f) => n + statSync(f).size, 0)).toBeLessThan(900);
  expect(allLines([files[0]!]).flatMap((l) => tokens(l.text)).length).toBeGreaterThan(130);
});

function tokens(line: string): string[] {
  return line.split(/[ \t]+/).filter((w) => w !== "");
}

describe("determinism", () => {
  it("word count with combine is byte-identical across split sizes, threads and sort buffers", () => {
    const job = join(FIXTURE_JOBS, "unicode-wordcount.ts");
    const runs: { label: string; out: string }[] = [];
    const combos: [string, number, string | undefined][] = [];
    // Every split size with every thread count and both sort buffers, in a covering subset (runs cost ~1 s each).
    for (const split of ["7", "100", "64m"]) combos.push([split, 1, undefined], [split, 2, "200"], [split, 3, "200"], [split, 3, undefined]);
    combos.push(["1", 2, "200"]); // one task per byte: slow, so one run only
    // A 1-byte sort buffer spills after every pair.
    combos.push(["64m", 2, "1"]);
    for (const [splitSize, threads, sortBuffer] of combos) {
      const out = s.fresh("wc");
      runOk({ job, inputs: [input], output: out, workdir, splitSize, threads, sortBuffer, partitions: 3 });
      runs.push({ label: `split=${splitSize} threads=${threads} sort=${sortBuffer ?? "default"}`, out });
    }
    // The oracle, to be sure the identical outputs are also right.
    const counts = new Map<string, number>();
    for (const { text } of allLines(files)) for (const w of tokens(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
    const got = outputText(runs[0]!.out).split("\n").filter(Boolean).sort();
    expect(got).toEqual([...counts].map(([w, n]) => tsvLine(w, n).slice(0, -1)).sort());
    expect(partFiles(runs[0]!.out).map((p) => p.name)).toEqual(["part-00000", "part-00001", "part-00002"]);
    for (const r of runs.slice(1)) expect(() => sameOutput(runs[0]!.out, r.out), r.label).not.toThrow();
  });

  it("without combine, values reach reduce by map task then emit order, identically across threads and sort buffers", () => {
    const job = join(FIXTURE_JOBS, "word-places.ts");
    // Oracle: files in sorted path order, lines in order, words in order.
    const places = new Map<string, string[]>();
    for (const { file, offset, text } of allLines(files)) {
      tokens(text).forEach((w, i) => {
        const list = places.get(w) ?? [];
        list.push(`${basename(file)}@${offset}.${i}`);
        places.set(w, list);
      });
    }
    const want = new Map([...places].map(([w, ps]) => [w, ps.join(",")]));

    const check = (out: string, label: string) => {
      const got = new Map<string, string>();
      for (const line of outputText(out).split("\n").filter(Boolean)) {
        const [w, ps] = line.split("\t") as [string, string];
        got.set(w, ps);
      }
      expect(got, label).toEqual(want);
    };

    const fixed: { label: string; out: string }[] = [];
    for (const threads of [1, 2, 3]) {
      // One map task per file: with tiny sort buffers, a key's values span many spills, merged back in order.
      for (const sortBuffer of ["1", "200", undefined]) {
        const out = s.fresh("places");
        runOk({ job, inputs: [input], output: out, workdir, splitSize: "64m", threads, sortBuffer, partitions: 2 });
        fixed.push({ label: `threads=${threads} sort=${sortBuffer ?? "default"}`, out });
      }
    }
    check(fixed[0]!.out, fixed[0]!.label);
    for (const r of fixed.slice(1)) expect(() => sameOutput(fixed[0]!.out, r.out), r.label).not.toThrow();

    // Map tasks are numbered in file, then offset order, so the arrival order is the same at any split size.
    for (const splitSize of ["7", "100"]) {
      const out = s.fresh("places");
      runOk({ job, inputs: [input], output: out, workdir, splitSize, threads: 2, sortBuffer: "200", partitions: 2 });
      check(out, `split=${splitSize}`);
    }
  });
});

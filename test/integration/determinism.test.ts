/**
 * Determinism: the same job on the same input gives byte-identical part files whatever the split
 * size, thread count or sort buffer (tiny buffers force many spills and multi-pass merges), and
 * without a combiner the values of a key reach reduce by map task, then in emit order.
 */
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
    // The first file is big enough for > 64 spills in one map task with a 200-byte sort buffer.
    s.write("in/big.txt", randomText(rng, 90, WORDS).join("\n") + "\n"),
    s.write("in/sub/crlf.txt", randomText(rng, 20, WORDS).join("\r\n")),
    s.write("in/sub/empty.txt", ""),
    s.write("in/z.txt", "\n" + randomText(rng, 15, WORDS).join("\n") + "\n\n"),
  ];
  input = s.path("in");
});

function tokens(line: string): string[] {
  return line.split(/[ \t]+/).filter((w) => w !== "");
}

describe("determinism", () => {
  it("word count with combine is byte-identical across split sizes, threads and sort buffers", () => {
    const job = join(FIXTURE_JOBS, "unicode-wordcount.ts");
    const runs: { label: string; out: string }[] = [];
    const combos: [string, number, string | undefined][] = [];
    for (const split of ["7", "100", "64m"]) for (const threads of [1, 2, 3]) for (const sort of ["200", undefined]) combos.push([split, threads, sort]);
    combos.push(["1", 1, undefined], ["1", 3, "200"]); // one task per byte: slow, so two runs only
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
      for (const sortBuffer of ["200", "1k", undefined]) {
        const out = s.fresh("places");
        runOk({ job, inputs: [input], output: out, workdir, splitSize: "7", threads, sortBuffer, partitions: 2 });
        fixed.push({ label: `threads=${threads} sort=${sortBuffer ?? "default"}`, out });
      }
    }
    check(fixed[0]!.out, fixed[0]!.label);
    for (const r of fixed.slice(1)) expect(() => sameOutput(fixed[0]!.out, r.out), r.label).not.toThrow();

    // Map tasks are numbered in file, then offset order, so the arrival order is the same at any split size.
    for (const splitSize of ["100", "64m"]) {
      const out = s.fresh("places");
      runOk({ job, inputs: [input], output: out, workdir, splitSize, threads: 2, sortBuffer: "200", partitions: 2 });
      check(out, `split=${splitSize}`);
    }
  });
});

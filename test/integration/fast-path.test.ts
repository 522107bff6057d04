/**
 * The fast path: `lines({ raw: true })` hands mapBatch whole lines as bytes, and `countWords`
 * counts them without a string per word. The fast word count must give wordcount.ts's output byte
 * for byte (checked against a plain loop too), whatever the split size and thread count.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_JOBS, makeRng, outputText, parseTsv, partFiles, runOk, Scratch, wordCounts } from "./helpers.js";

const s = new Scratch("fast-path");
afterAll(() => s.cleanup());
let input: string;

beforeAll(() => {
  const rng = makeRng(5);
  const words = ["Alpha", "beta", "GAMMA", "delta42", "x", "zeta", "Eta", "theta", "0", "iota"];
  const lines: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const n = Math.floor(rng() * 12);
    lines.push(Array.from({ length: n }, () => words[Math.floor(rng() * words.length)]).join(rng() < 0.2 ? ", " : " ") + (rng() < 0.1 ? "!" : ""));
  }
  input = s.write("in/text.txt", lines.join("\r\n").slice(0, -3) + "\n" + lines.slice(0, 50).join("\n")); // CRLF, LF, no final newline
});


describe("the fast word count", () => {
  it("gives wordcount.ts's part files byte for byte, across split sizes and threads", () => {
    const base = s.fresh();
    runOk({ job: join(EXAMPLE_JOBS, "wordcount.ts"), inputs: [input], output: base, workdir: s.path("wd"), partitions: 3, threads: 2 });
    const expected = partFiles(base);
    expect(new Map(parseTsv(outputText(base)).map(([w, n]) => [w!, Number(n)]))).toEqual(wordCounts(readFileSync(input, "latin1")));
    for (const [splitSize, threads] of [["64m", 1], ["7k", 2], ["1k", 2]] as const) {
      const out = s.fresh();
      runOk({ job: join(EXAMPLE_JOBS, "wordcount-fast.ts"), inputs: [input], output: out, workdir: s.path("wd"), partitions: 3, threads, splitSize });
      expect(partFiles(out)).toEqual(expected);
    }
  }, 120_000);

  it("still hands map one string per line on a raw input, and counts records as lines", () => {
    const job = s.write(
      "jobs/raw-map.ts",
      `import { defineJob, lines, sum, tsv } from "sheaf";\n` +
        `export default defineJob({ name: "raw-map", input: lines({ raw: true }), map(line: string, emit) { emit(typeof line === "string" && !line.endsWith("\\r") ? "strings" : "other", 1); }, reduce: (_k, v: Iterable<number>) => sum(v), output: tsv() });\n`,
    );
    const out = s.fresh();
    const r = runOk({ job, inputs: [input], output: out, workdir: s.path("wd"), quiet: false });
    const lineCount = readFileSync(input, "latin1").split("\n").length;
    expect(outputText(out)).toBe(`strings\t${lineCount}\n`);
    expect(r.stderr.replace(/,/g, "")).toContain(`${lineCount} records`);
  }, 60_000);
});

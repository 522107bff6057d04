/**
 * `partitioner: "range"`: a total order across part files from boundaries sampled while planning.
 * TeraSort's part files, concatenated in order, equal the input sorted byte for byte (oracle: a
 * plain sort); a skewed input still spreads over the partitions, and no key is split across two.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_JOBS, makeRng, parseTsv, partFiles, runOk, Scratch } from "./helpers.js";

const s = new Scratch("range");
afterAll(() => s.cleanup());
let records: string;
let skewed: string;

beforeAll(() => {
  const rng = makeRng(3);
  const printable = (n: number) => Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(rng() * 95))).join("");
  const lines: string[] = [];
  for (let i = 0; i < 30_000; i++) lines.push(printable(10) + String(i).padStart(10, "0") + "x".repeat(79));
  // A few duplicate keys with different payloads: their order must follow the whole line.
  for (let i = 0; i < 20; i++) lines.push(lines[i]!.slice(0, 10) + "9".repeat(10) + "y".repeat(79));
  records = s.write("in/records.txt", lines.join("\n") + "\n");
  const words: string[] = [];
  for (let i = 0; i < 20_000; i++) words.push(rng() < 0.5 ? "hot" : `w${Math.floor(rng() * 500)}`);
  skewed = s.write("in/skewed.txt", words.join("\n") + "\n");
});

describe('partitioner: "range"', () => {
  it("TeraSort's part files, in order, are the input sorted byte for byte, whatever the threads and splits", () => {
    const expected = readFileSync(records, "latin1").split("\n").slice(0, -1).sort().join("\n") + "\n";
    for (const [threads, splitSize, partitions] of [[2, "400k", 4], [1, "64m", 3]] as const) {
      const out = s.fresh();
      runOk({ job: join(EXAMPLE_JOBS, "terasort.ts"), inputs: [records], output: out, workdir: s.path("wd"), threads, splitSize, partitions });
      const parts = partFiles(out);
      expect(parts).toHaveLength(partitions);
      for (const p of parts) expect(p.bytes.length).toBeGreaterThan(0); // sampled boundaries spread random keys
      expect(Buffer.concat(parts.map((p) => p.bytes)).toString("latin1")).toBe(expected);
    }
  }, 120_000);

  it("spreads a skewed input over the partitions without splitting a key, in one total order", () => {
    const job = s.write(
      "jobs/count-range.ts",
      `import { defineJob, lines, sum, tsv } from "sheaf";\n` +
        `export default defineJob({ name: "count-range", input: lines(), map(line: string, emit) { emit(line, 1); }, combine: (_k, v: Iterable<number>) => sum(v), reduce: (_k, v: Iterable<number>) => sum(v), partitioner: "range", output: tsv() });\n`,
    );
    const out = s.fresh();
    runOk({ job, inputs: [skewed], output: out, workdir: s.path("wd"), threads: 2, splitSize: "20k", partitions: 4 });
    const parts = partFiles(out).map((p) => parseTsv(p.bytes.toString("utf8")));
    expect(parts.filter((rows) => rows.length > 0).length).toBeGreaterThanOrEqual(3);
    const keys = parts.flat().map(([k]) => k!);
    expect(new Set(keys).size).toBe(keys.length); // each key in one part only
    expect(keys).toEqual([...keys].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b)))));
    const oracle = new Map<string, number>();
    for (const w of readFileSync(skewed, "utf8").split("\n").slice(0, -1)) oracle.set(w, (oracle.get(w) ?? 0) + 1);
    expect(new Map(parts.flat().map(([k, n]) => [k!, Number(n)]))).toEqual(oracle);
  }, 60_000);
});

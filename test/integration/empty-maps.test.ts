/**
 * Map tasks that emit nothing (the common case of a tiny split) write no files: no scratch folder,
 * no map output, no segment index; the reduce tasks' list of map outputs leaves them out. Checked
 * from inside the job (its reduce tasks list the scratch space once the map stage is over), with
 * the output against a plain-loop oracle.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURE_JOBS, Scratch, outputText, parseTsv, partFiles, runOk, wordCounts } from "./helpers.js";

const SPARSE = join(FIXTURE_JOBS, "sparse.ts");
const s = new Scratch("empty-maps");
afterAll(() => s.cleanup());

/** `n` lines of about 30 bytes; every `every`-th (if any) starts with "#", the only lines the job counts. */
function corpus(n: number, every: number): { text: string; marked: string[] } {
  const words = ["alpha", "beta", "gamma", "delta", "eps"];
  const lines = Array.from({ length: n }, (_, i) => `${every && i % every === 3 ? "#" : "-"} ${words[i % 5]} ${words[(i * 7) % 5]} line${i}`);
  return { text: lines.join("\n") + "\n", marked: lines.filter((l) => l.startsWith("#")) };
}

/** Runs the sparse job with a 64-byte split (two lines a task) and 2 partitions; returns what its reduce tasks saw. */
function runSparse(name: string, text: string) {
  const input = s.write(`${name}.txt`, text);
  const output = s.fresh(name);
  const workdir = s.path(`wd-${name}`);
  const probe = s.path(`probe-${name}`);
  runOk({ job: SPARSE, inputs: [input], output, workdir, partitions: 2, threads: 2, splitSize: 64, params: { probe, workdir } });
  const seen = ["reduce-00000", "reduce-00001"].map((t) => readFileSync(`${probe}-${t}`, "utf8").split("\n"));
  for (const entries of seen) expect(entries).toEqual(seen[0]); // both after the map stage: the same scratch space
  const entries = seen[0]!;
  const listed = entries.map((e) => /^reduce-inputs-(\d+)-/.exec(e)).find(Boolean);
  return { output, workdir, maps: Math.ceil(text.length / 64), mapFolders: entries.filter((e) => e.startsWith("map-")), listed: Number(listed?.[1]) };
}

describe("map tasks with empty output", () => {
  it("a job of only empty map tasks writes no per-task files, and its output is empty", () => {
    const { text } = corpus(600, 0);
    const r = runSparse("all-empty", text);
    expect(r.maps).toBeGreaterThan(150);
    expect(r.mapFolders).toEqual([]);
    expect(r.listed).toBe(0);
    expect(partFiles(r.output).map((p) => [p.name, p.bytes.length])).toEqual([["part-00000", 0], ["part-00001", 0]]);
    expect(readdirSync(join(r.workdir, "jobs"))).toEqual([]); // the job's scratch space is gone
  });

  it("a job mixing empty and non-empty map tasks reads only the non-empty ones, and is correct", () => {
    const { text, marked } = corpus(600, 37);
    const r = runSparse("mixed", text);
    // Each folder (and listed output) is a map task that read at least one marked line.
    expect(r.mapFolders.length).toBeGreaterThan(0);
    expect(r.mapFolders.length).toBeLessThanOrEqual(marked.length);
    expect(r.listed).toBe(r.mapFolders.length);
    const counts = new Map(parseTsv(outputText(r.output)).map(([w, n]) => [w!, Number(n)]));
    expect(counts).toEqual(wordCounts(marked.join("\n")));
  });
});

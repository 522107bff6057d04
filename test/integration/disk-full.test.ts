/**
 * A disk that fills up for real (issue 24, finding 5: ENOSPC was reported as "map threw on the
 * record at … byte …", blaming a record, and a job with skipBadRecords skipped it). The output
 * folder lies on a 1 MiB tmpfs; a word count whose output is several MiB fails with one message
 * naming the full path and that it is a disk-full, never a record, and no bad record is skipped for
 * it. The previous output on that disk is left complete. Needs root (mount); skipped otherwise.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAsync, wordcountOracle } from "./fault-kit.js";
import { parseTsv, Scratch } from "./helpers.js";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const s = new Scratch("disk-full");
const disk = s.path("tiny");
let mounted = false;

beforeAll(() => {
  mkdirSync(disk, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", disk], { stdio: "ignore" });
    mounted = true;
  } catch {
    mounted = false; // not root, or no mount here
  }
});
afterAll(() => {
  if (mounted) execFileSync("umount", ["-l", disk], { stdio: "ignore" });
  s.cleanup();
});

describe("an output disk that fills up", () => {
  it("fails naming the path as out of space, blames no record, skips none; the previous output stays", async (ctx) => {
    if (!mounted) ctx.skip();
    const job = s.write("wc.ts", `import { defineJob, lines, sum, tsv } from "sheaf";
export default defineJob({ name: "wc", input: lines(), skipBadRecords: 1000,
  map(line: string, emit) { for (const w of line.split(" ")) if (w) emit(w, 1); },
  reduce: (_w: string, n: Iterable<number>) => sum(n), output: tsv(), partitions: 2 });
`);
    const small = s.write("in/small.txt", "a b c\nb c\nc\n");
    // 4 MiB of distinct words: an output of several MiB, on a 1 MiB disk.
    const big = s.path("in/big.txt");
    writeFileSync(big, Array.from({ length: 200_000 }, (_, i) => `word${i} w${i}x`).join("\n") + "\n");
    const out = join(disk, "out");
    const first = await runAsync(["run", job, "-i", small, "-o", out, "--workdir", s.path("wd"), "-q"]).done;
    expect(first.status, first.stderr).toBe(0);

    const r = await runAsync(["run", job, "-i", big, "-o", out, "--overwrite", "--workdir", s.path("wd"), "--max-attempts", "2"]).done;
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`no space left on ${disk.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/\\S+ \\(disk full\\) while the task wrote`));
    expect(r.stderr).not.toMatch(/threw on the record|bad record|skipped/);
    // The previous output, complete.
    expect(readdirSync(out).sort()).toEqual(["_SUCCESS", "part-00000", "part-00001"]);
    const counts = new Map<string, number>();
    for (const p of ["part-00000", "part-00001"]) for (const [w, n] of parseTsv(readFileSync(join(out, p), "utf8"))) counts.set(w!, Number(n));
    expect(counts).toEqual(wordcountOracle([small]));

    rmSync(out, { recursive: true, force: true }); // room for the workdir
    // The workdir on the full disk instead: the map's spill is what does not fit.
    const spill = await runAsync(["run", job, "-i", big, "-o", s.path("out-elsewhere"), "--workdir", join(disk, "wd"), "--max-attempts", "1"]).done;
    expect(spill.status).not.toBe(0);
    expect(spill.stderr).toMatch(new RegExp(`no space left on ${disk.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/wd/\\S+ \\(disk full\\) while the task wrote`));
    expect(spill.stderr).not.toMatch(/threw on the record|bad record|skipped/);
  }, 120_000);
});

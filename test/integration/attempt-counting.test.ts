/**
 * Attempt counting (embedded runner): only real retries count against --max-attempts. A backup
 * attempt for a straggler and the re-run of a map task whose output was lost add no attempt to a
 * task, and every message says "attempt N of M" with N ≤ M, numbered 1, 2, 3… without gaps.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAULTY, delay, expectNoTempFiles, expectOracle, freshDir, markers, runAsync, until, wordcountOracle, writeCorpus } from "./fault-kit.js";
import { Scratch, allLines, runArgs, runOk, sameOutput, type RunSpec } from "./helpers.js";

const s = new Scratch("attempt-counting");
let inputs: string[] = [];
let oracle: Map<string, number>;
let baseline = "";

/** 4 map tasks (one per file) on 2 threads. */
const spec = (name: string, o: Partial<RunSpec> = {}): RunSpec & { output: string; workdir: string } => ({
  job: FAULTY, inputs, output: s.fresh(name), workdir: s.path(`wd-${name}`), partitions: 1, threads: 2, quiet: false, ...o,
});

/** The numbers N of "task <task> attempt N failed" lines, in order. */
const failedAttempts = (stderr: string, task: string) => [...stderr.matchAll(new RegExp(`task ${task} attempt (\\d+) failed`, "g"))].map((m) => Number(m[1]));

beforeAll(() => {
  inputs = writeCorpus(s, "in", 4, 8_000, 300, 23);
  oracle = wordcountOracle(inputs);
  const b = spec("baseline", { quiet: true });
  runOk(b);
  baseline = b.output;
});

afterAll(() => s.cleanup());

describe("a task that keeps failing after a backup attempt ran", () => {
  it("still gets its --max-attempts attempts; the backup's run is not one of them, and the numbers never pass the limit", async () => {
    const marks = freshDir(s, "marks-backup");
    // A line of the second file at an offset where no other file has one (throwAt names an offset).
    const elsewhere = new Set([0, 2, 3].flatMap((j) => allLines([inputs[j]!]).map((l) => l.offset)));
    const { file, offset } = allLines([inputs[1]!]).find((l) => l.offset > 0 && !elsewhere.has(l.offset))!;
    // map-00001's first run sleeps: a straggler, given a backup, which fails at once (as every run does).
    const r = spec("backup", { maxAttempts: 3, params: { markDir: marks, sleepTask: "map-00001", sleepMs: "3000", throwAt: String(offset) } });
    const res = await runAsync(runArgs(r)).done;
    expect(res.status).toBe(1);
    const runs = markers(marks, "map-00001", "start");
    expect(runs.length, "a backup ran besides the 3 attempts").toBeGreaterThan(3);
    expect(runs.every((m) => m.data.attempt >= 1 && m.data.attempt <= 3), JSON.stringify(runs.map((m) => m.data.attempt))).toBe(true);
    expect(failedAttempts(res.stderr, "map-00001")).toEqual([1, 2, 3]);
    expect(res.stderr).toContain(`sheaf: job faulty failed: task map-00001 (attempt 3 of 3): map threw on the record at ${file} byte ${offset}: injected failure at byte ${offset}`);
    expect(existsSync(r.output) ? readdirSync(r.output) : []).toEqual([]);
    expectNoTempFiles(r.output, r.workdir);
  });
});

describe("a reduce task that fails after the map output it read was lost and regenerated", () => {
  it("is retried: the lost input cost it no attempt (--max-attempts 2), and the output is identical", async () => {
    const marks = freshDir(s, "marks-lost");
    // The reduce task throws once, at key w1: on the run after the one that found its input lost.
    const r = spec("lost", { maxAttempts: 2, params: { markDir: marks, sleepTask: "map-00003", sleepMs: "2500", throwKey: "w1" } });
    const run = runAsync([...runArgs(r), "--no-speculative"]);
    const jobs = join(r.workdir, "jobs");
    await until("3 map outputs", () => existsSync(jobs) && ["map-00000", "map-00001", "map-00002"].every((t) => markers(marks, t, "done").length === 1), 20_000, 20);
    await delay(300); // the map outputs are written just after cleanup
    const task = join(jobs, readdirSync(jobs)[0]!, "map-00001");
    const attempt = readdirSync(task).find((a) => existsSync(join(task, a, "map.out")))!;
    const fd = openSync(join(task, attempt, "map.out"), "r+");
    ftruncateSync(fd, 0); // every partition's segment is gone
    closeSync(fd);

    const res = await run.done;
    expect(res.status, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/re-running map-00001/);
    expect(res.stderr).toMatch(/task reduce-00000 attempt 1 failed \(will retry\): reduce threw .*injected failure at key w1/);
    expect(failedAttempts(res.stderr, "reduce-00000").filter((n) => n > 1)).toEqual([]);
    expect(markers(marks, "map-00001", "start").map((m) => m.data.attempt)).toEqual([1, 1]); // the re-run is not a retry
    sameOutput(r.output, baseline);
    expectOracle(r.output, oracle);
    expectNoTempFiles(r.output, r.workdir);
  });
});

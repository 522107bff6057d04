/**
 * Checkpoints on the embedded runner: a task that fails on attempt 1 after checkpointing resumes on
 * attempt 2 — a map task from its last checkpointed byte offset, a reduce task after the last key
 * it wrote — and the output is byte-identical to an undisturbed run, with counters counted once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAULTY, expectNoTempFiles, expectOracle, freshDir, markers, resumedFromSummary, runAsync, wordcountOracle, writeCorpus } from "./fault-kit.js";
import { Scratch, allLines, runArgs, runOk, sameOutput, type RunSpec } from "./helpers.js";

const s = new Scratch("faults-checkpoint");
const MiB = 1 << 20;
/** The line reader's batch: a map task checkpoints only between batches. */
const READ_BATCH = MiB;
let input = "";
let oracle: Map<string, number>;
let baseline = "";
let lineCount = 0;

/** One map task over a 4.5 MiB file (5 read batches), one reduce task over about 3000 keys. */
const spec = (name: string, params: Record<string, string> = {}): RunSpec & { workdir: string; output: string } => ({
  job: FAULTY,
  inputs: [input],
  output: s.fresh(name),
  workdir: s.path(`wd-${name}`),
  partitions: 1,
  threads: 2,
  params,
  quiet: false,
});

function counters(stderr: string): Record<string, number> {
  const line = /^\s*counters (.*)$/m.exec(stderr)?.[1] ?? "";
  return Object.fromEntries(line.split(/\s+/).filter(Boolean).map((kv) => kv.split("=")).map(([k, v]) => [k!, Number(v!.replace(/,/g, ""))]));
}

beforeAll(() => {
  input = writeCorpus(s, "in", 1, 4.5 * MiB, 3000, 3)[0]!;
  oracle = wordcountOracle([input]);
  lineCount = allLines([input]).length;
  const b = spec("baseline");
  runOk({ ...b, quiet: true });
  baseline = b.output;
  expectOracle(baseline, oracle);
});

afterAll(() => s.cleanup());

describe("a retried attempt resumes from the checkpoint of the failed one", () => {
  it("map: from the last checkpointed byte offset; the redone input is at most --checkpoint-every plus one read batch", async () => {
    const every = 1.5 * MiB;
    const crash = allLines([input]).find((l) => l.offset >= 3.4 * MiB)!.offset;
    const marks = freshDir(s, "marks-map");
    const r = spec("map", { throwAt: String(crash), throwAttempt: "1", markDir: marks });
    const res = await runAsync([...runArgs(r), "--checkpoint-every", String(every), "--no-speculative"]).done;
    expect(res.status, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/task map-00000 attempt 1 failed \(will retry\): map threw on the record at .* byte \d+: injected failure/);

    // Where attempt 2 started reading: the checkpoint's offset (the split starts at 0).
    const firsts = markers(marks, "map-00000", "first");
    const resumedAt = firsts.find((m) => m.data.attempt === 2)?.data.offset;
    expect(firsts.find((m) => m.data.attempt === 1)?.data.offset).toBe(0);
    expect(resumedAt).toBeGreaterThan(0);
    const redone = crash - resumedAt!;
    expect(redone).toBeGreaterThanOrEqual(0);
    expect(redone).toBeLessThanOrEqual(every + READ_BATCH);

    // The report: resumedBytes (printed rounded to 0.1 MB) is that offset.
    const resumed = resumedFromSummary(res.stderr);
    expect(resumed, res.stderr).toBeDefined();
    expect(resumed!.bytes).toBeGreaterThan(0);
    expect(Math.abs(resumed!.bytes - resumedAt!)).toBeLessThanOrEqual(0.06 * MiB);
    expect(resumed!.keys).toBe(0);
    // Counters restored from the checkpoint, not counted twice.
    expect(counters(res.stderr)).toEqual({ records: lineCount, keys: oracle.size });

    sameOutput(r.output, baseline);
    expectOracle(r.output, oracle);
    expectNoTempFiles(r.output, r.workdir);
  });

  it("reduce: after the last key written (checkpoints every 1 KiB of output); the redone keys fit in that 1 KiB", async () => {
    const every = 1024;
    const keys = [...oracle.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const crashIndex = Math.floor(keys.length * 0.7);
    const r = spec("reduce", { throwKey: keys[crashIndex]!, markDir: freshDir(s, "marks-reduce") });
    const res = await runAsync([...runArgs(r), "--checkpoint-every", String(every), "--no-speculative"]).done;
    expect(res.status, res.stderr).toBe(0);
    expect(res.stderr).toContain(`task reduce-00000 attempt 1 failed (will retry): reduce threw on key "${keys[crashIndex]}": injected failure`);

    const resumed = resumedFromSummary(res.stderr);
    expect(resumed, res.stderr).toBeDefined();
    expect(resumed!.keys).toBeGreaterThan(0);
    expect(resumed!.keys).toBeLessThanOrEqual(crashIndex);
    // Keys reduced twice: those after the last checkpoint and before the crash, less than 1 KiB of output.
    const redoneBytes = keys.slice(resumed!.keys, crashIndex).reduce((n, k) => n + Buffer.byteLength(`${k}\t${oracle.get(k)}\n`), 0);
    expect(redoneBytes).toBeLessThan(every + 64);
    expect(counters(res.stderr)).toEqual({ records: lineCount, keys: oracle.size });

    sameOutput(r.output, baseline);
    expectOracle(r.output, oracle);
    expectNoTempFiles(r.output, r.workdir);
  });
});

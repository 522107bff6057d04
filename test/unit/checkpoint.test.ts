import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { Checkpointer, continueOrForget, resumeFrom, type MapCheckpoint } from "../../worker/checkpoint.js";

const dir = mkdtempSync(join(tmpdir(), "sheaf-ckpt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a resume that cannot use its checkpoint starts clean", () => {
  it("continues a part from the checkpoint's prefix when the file is there", () => {
    const ckpt = join(dir, "a");
    mkdirSync(ckpt, { recursive: true });
    writeFileSync(join(ckpt, "checkpoint.json"), "{}");
    const from = join(ckpt, "part-kept");
    writeFileSync(from, "one\ntwo\nthree, half-writ");
    expect(continueOrForget(join(ckpt, "checkpoint.json"), { path: from, bytes: 8, records: 2 }, join(dir, "a-part"))).toBe(true);
    expect(readFileSync(join(dir, "a-part"), "utf8")).toBe("one\ntwo\n");
    expect(existsSync(join(ckpt, "checkpoint.json"))).toBe(true);
  });

  it("forgets the checkpoint when its part file is gone, so that no later attempt fails the same way", () => {
    const ckpt = join(dir, "b");
    mkdirSync(ckpt, { recursive: true });
    writeFileSync(join(ckpt, "checkpoint.json"), "{}");
    expect(continueOrForget(join(ckpt, "checkpoint.json"), { path: join(ckpt, "removed-by-another-attempt"), bytes: 8, records: 2 }, join(dir, "b-part"))).toBe(false);
    expect(existsSync(join(ckpt, "checkpoint.json"))).toBe(false);
    expect(existsSync(join(dir, "b-part"))).toBe(false);
  });
});

const mapCheckpoint = (spill: string, bytesIn: number): MapCheckpoint => ({
  kind: "map", resume: { start: bytesIn }, recordsIn: bytesIn, bytesIn, counters: {}, badRecords: [], spills: [{ path: spill, segments: [] }],
});

describe("attempts of one task keep checkpoints of their own", () => {
  const policy = { everyBytes: 1, everyMs: 1 };
  it("a resume takes the furthest checkpoint, whichever attempt saved it last", () => {
    const ckpt = join(dir, "c");
    writeFileSync(join(dir, "spill-a"), "a");
    writeFileSync(join(dir, "spill-b"), "b");
    new Checkpointer(ckpt, "attempt-1-aa", policy).save(mapCheckpoint(join(dir, "spill-a"), 900), 900);
    // A backup that started later and got less far saves after it: it must not replace the retry's.
    new Checkpointer(ckpt, "attempt-2-bb", policy).save(mapCheckpoint(join(dir, "spill-b"), 300), 300);
    const into = join(dir, "c-resume");
    const resumed = resumeFrom<MapCheckpoint>(ckpt, "map", into)!;
    expect(resumed.bytesIn).toBe(900);
    expect(readFileSync(resumed.spills[0]!.path, "utf8")).toBe("a");
  });

  it("falls back to an older checkpoint when the furthest one's files are gone", () => {
    const ckpt = join(dir, "d");
    writeFileSync(join(dir, "spill-c"), "c");
    writeFileSync(join(dir, "spill-d"), "d");
    new Checkpointer(ckpt, "attempt-1-cc", policy).save(mapCheckpoint(join(dir, "spill-c"), 100), 100);
    new Checkpointer(ckpt, "attempt-2-dd", policy).save(mapCheckpoint(join(dir, "spill-d"), 500), 500);
    rmSync(join(ckpt, "attempt-2-dd"), { recursive: true });
    expect(resumeFrom<MapCheckpoint>(ckpt, "map", join(dir, "d-resume"))!.bytesIn).toBe(100);
  });

  it("an attempt whose checkpoint folder another attempt removed carries on", () => {
    const ckpt = join(dir, "e");
    writeFileSync(join(dir, "spill-e"), "e");
    // A long time bound: `due` must answer from the bytes saved, not from how fast this machine runs.
    const c = new Checkpointer(ckpt, "attempt-1-ee", { everyBytes: 1, everyMs: 60_000 });
    c.save(mapCheckpoint(join(dir, "spill-e"), 10), 10);
    rmSync(ckpt, { recursive: true }); // the other attempt finished the task
    writeFileSync(join(dir, "e"), "a file where the folder was"); // and the folder cannot even be made again
    expect(() => c.save(mapCheckpoint(join(dir, "spill-e"), 20), 20)).not.toThrow();
    expect(c.due(20)).toBe(false);
  });
});

/** Progress after which a held checkpoint is asked about again (see CLOCK_EVERY). */
const STEP = 64 << 10;

describe("checkpoint pacing", () => {
  afterEach(() => vi.useRealTimers());

  for (const maxShare of [undefined, 0.25]) {
    it(`${maxShare ? `at most ${maxShare * 100}% of the task's time` : "a size the user set: every --checkpoint-every bytes"}`, () => {
      vi.useFakeTimers({ now: 1_000_000 });
      const ckpt = join(dir, `pace-${maxShare}`);
      writeFileSync(join(dir, `spill-pace-${maxShare}`), "p");
      const c = new Checkpointer(ckpt, "attempt-1-pp", { everyBytes: 10, everyMs: 60_000, maxShare });
      expect(c.due(5)).toBe(false);
      expect(c.due(10)).toBe(true);
      vi.advanceTimersByTime(100); // the checkpoint (its spill or sync) takes 100 ms
      c.save(mapCheckpoint(join(dir, `spill-pace-${maxShare}`), 10), 10);
      // With a 25% share, the 100 ms are paid back by 300 ms of work before the next one.
      vi.advanceTimersByTime(299);
      expect(c.due(20)).toBe(maxShare === undefined);
      vi.advanceTimersByTime(1);
      expect(c.due(20 + STEP, 10)).toBe(true); // asked again after more work, with as much to write as the last
    });
  }

  it("a task's first checkpoint waits too, by what checkpoints of its kind cost this thread per byte", () => {
    vi.useFakeTimers({ now: 2_000_000 });
    writeFileSync(join(dir, "spill-first"), "f");
    const policy = { everyBytes: 10, everyMs: 60_000, maxShare: 0.25 };
    const first = new Checkpointer(join(dir, "first-1"), "attempt-1-ff", policy, "test-kind");
    expect(first.due(10, 1000)).toBe(true); // nothing learned yet: as often as the size says
    vi.advanceTimersByTime(100); // 100 ms for 1000 bytes buffered
    first.save(mapCheckpoint(join(dir, "spill-first"), 10), 10);

    // The next task of that kind: 2000 bytes would take about 200 ms, paid back by 600 ms of work.
    const next = new Checkpointer(join(dir, "first-2"), "attempt-1-gg", policy, "test-kind");
    expect(next.due(10, 2000)).toBe(false);
    vi.advanceTimersByTime(599);
    expect(next.due(10 + STEP, 2000)).toBe(false);
    expect(next.due(10 + 2 * STEP, 100)).toBe(true); // little buffered (just spilled): cheap, so taken
    vi.advanceTimersByTime(1);
    expect(next.due(10 + 3 * STEP, 2000)).toBe(true);
    // Another kind has learned nothing.
    expect(new Checkpointer(join(dir, "first-3"), "attempt-1-hh", policy, "other-kind").due(10, 2000)).toBe(true);
    // A checkpoint held back by its cost is a matter of time: asked per record, the clock is not read each time.
    const held = new Checkpointer(join(dir, "first-5"), "attempt-1-jj", policy, "test-kind");
    expect(held.due(10, 1e9)).toBe(false);
    const now = vi.spyOn(Date, "now");
    for (let i = 1; i < 64; i++) expect(held.due(10 + i, 1e9)).toBe(false);
    expect(now).toHaveBeenCalledTimes(0);
    expect(held.due(10 + STEP, 1e9)).toBe(false);
    expect(now).toHaveBeenCalledTimes(1);
    now.mockRestore();
    // Nor does a size the user set wait (no share).
    expect(new Checkpointer(join(dir, "first-4"), "attempt-1-ii", { everyBytes: 10, everyMs: 60_000 }, "test-kind").due(10, 2000)).toBe(true);
  });

  it("the task's end counts as a checkpoint: none is taken that the input left would not pay back", () => {
    vi.useFakeTimers({ now: 3_000_000 });
    writeFileSync(join(dir, "spill-left"), "l");
    const policy = { everyBytes: 10, everyMs: 60_000, maxShare: 0.25 };
    const first = new Checkpointer(join(dir, "left-1"), "attempt-1-kk", policy, "left-kind");
    expect(first.due(10, 1000, 1_000_000)).toBe(true); // nothing learned yet: taken, to learn its cost
    vi.advanceTimersByTime(100); // 100 ms for 1000 bytes: a checkpoint of 1000 bytes is paid back by 300 ms of work
    first.save(mapCheckpoint(join(dir, "spill-left"), 10), 10);

    // A task reading 1 byte per ms: past the 300 ms since its start, with 400 bytes left, it is taken…
    const long = new Checkpointer(join(dir, "left-2"), "attempt-1-ll", policy, "left-kind");
    expect(long.due(0, 1000, 1000)).toBe(false);
    vi.advanceTimersByTime(600);
    expect(long.due(600, 1000, 400)).toBe(true);
    // …but with 200 bytes (200 ms) left, the task's own end comes before the checkpoint would be paid back.
    const short = new Checkpointer(join(dir, "left-3"), "attempt-1-mm", policy, "left-kind");
    expect(short.due(0, 1000, 800)).toBe(false);
    vi.advanceTimersByTime(600);
    expect(short.due(600, 1000, 200)).toBe(false);
    // Without the input left (a format that does not count bytes), as before.
    const unknown = new Checkpointer(join(dir, "left-4"), "attempt-1-nn", policy, "left-kind");
    vi.advanceTimersByTime(600);
    expect(unknown.due(600, 1000)).toBe(true);
  });

  it("nothing learned yet, a task with less than the time bound left takes no checkpoint to learn from", () => {
    vi.useFakeTimers({ now: 4_000_000 });
    const policy = { everyBytes: 10, everyMs: 1000, maxShare: 0.25 };
    // 1 byte per ms: 900 bytes left are 900 ms, under the 1 s bound…
    const short = new Checkpointer(join(dir, "unlearned-1"), "attempt-1-oo", policy, "unlearned-kind");
    expect(short.due(0, 1000, 1000)).toBe(false);
    vi.advanceTimersByTime(100);
    expect(short.due(100, 1000, 900)).toBe(false);
    // …1100 bytes are 1.1 s: the checkpoint is taken, and its cost learned.
    const long = new Checkpointer(join(dir, "unlearned-2"), "attempt-1-pp", policy, "unlearned-kind");
    expect(long.due(0, 1000, 1200)).toBe(false);
    vi.advanceTimersByTime(100);
    expect(long.due(100, 1000, 1100)).toBe(true);
  });
});

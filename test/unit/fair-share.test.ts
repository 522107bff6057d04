/** The fair share's arithmetic: pools parsed, slots allocated by weight, minimum and maximum, and rooms handed out. */
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allocate, FairShare, parsePool, parsePoolsFile, poolsFrom } from "../../coordinator/fair-share.js";

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe("fair share", () => {
  it("parses pools and refuses malformed ones, naming them", () => {
    expect(parsePool("nightly:weight=2,min=2,max=8")).toEqual({ name: "nightly", weight: 2, min: 2, max: 8 });
    expect(parsePool("adhoc")).toEqual({ name: "adhoc", weight: 1, min: 0, max: Number.POSITIVE_INFINITY });
    for (const bad of ["", "a b", "x:weight=0", "x:max=0", "x:min=3,max=2", "x:speed=2", "x:min=1.5"]) expect(() => parsePool(bad), bad).toThrow(/--pool/);
  });

  it("reads a pools file (comments, blank lines), naming the file and line of a bad or repeated pool; --pool goes over it", () => {
    expect(parsePoolsFile("# nightly ETL\nnightly:min=2,max=6  # never more\n\nadhoc:weight=2\n", "pools.txt")).toEqual([
      { name: "nightly", weight: 1, min: 2, max: 6 },
      { name: "adhoc", weight: 2, min: 0, max: Number.POSITIVE_INFINITY },
    ]);
    expect(() => parsePoolsFile("a\nb:speed=2\n", "pools.txt")).toThrow(/^pools\.txt:2: b:speed=2: "speed=2" is not weight=N/);
    expect(() => parsePoolsFile("a:weight=2\na\n", "pools.txt")).toThrow("pools.txt:2: pool a is declared twice");
    const dir = mkdtempSync(join(tmpdir(), "pools-"));
    try {
      const file = join(dir, "pools.txt");
      writeFileSync(file, "nightly:max=6\nadhoc\n");
      expect(poolsFrom(file, ["nightly:max=2", "extra"]).map((p) => [p.name, p.max])).toEqual([["nightly", 2], ["adhoc", Infinity], ["extra", Infinity]]);
      expect(() => poolsFrom(join(dir, "missing.txt"), [])).toThrow(/^--pools-file .*missing\.txt: cannot be read \(ENOENT\)$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("allocates by weight, within demand and max, minimums first; all of it when demand allows", () => {
    // Water-filling checked against a plain loop that hands out one slot at a time to the claim furthest below its weight.
    const cases: { total: number; claims: { weight: number; demand: number; min?: number; max?: number }[] }[] = [
      { total: 12, claims: [{ weight: 1, demand: 100 }, { weight: 2, demand: 100 }, { weight: 1, demand: 2 }] },
      { total: 10, claims: [{ weight: 1, demand: 100, max: 3 }, { weight: 1, demand: 100 }] },
      { total: 9, claims: [{ weight: 1, demand: 100, min: 6 }, { weight: 5, demand: 100 }] },
      { total: 20, claims: [{ weight: 3, demand: 4 }, { weight: 1, demand: 5 }] },
    ];
    for (const { total, claims } of cases) {
      const got = allocate(total, claims);
      const cap = claims.map((c) => Math.min(c.demand, c.max ?? Infinity));
      expect(sum(got)).toBeCloseTo(Math.min(total, sum(cap)), 6);
      got.forEach((g, i) => expect(g).toBeLessThanOrEqual(cap[i]! + 1e-9));
      // The oracle: slot by slot, mins first, then the lowest got/weight among those below their cap.
      const slots = claims.map((c, i) => Math.min(c.min ?? 0, cap[i]!));
      for (let left = total - sum(slots); left > 0; left--) {
        const open = claims.map((_, i) => i).filter((i) => slots[i]! < cap[i]!);
        if (!open.length) break;
        const i = open.reduce((a, b) => (slots[b]! / claims[b]!.weight < slots[a]! / claims[a]!.weight ? b : a));
        slots[i]!++;
      }
      got.forEach((g, i) => expect(Math.abs(g - slots[i]!)).toBeLessThanOrEqual(1));
    }
  });

  it("lets a job joining a busy cluster queue up to its share at once (nothing running is stopped), and never passes a pool's max", () => {
    const share = new FairShare([{ name: "capped", weight: 1, min: 0, max: 2 }]);
    const big = share.join("big", undefined, 1, () => {});
    big.waiting = 1000;
    const n = big.room();
    big.added(n);
    big.waiting -= n;
    expect(n).toBe(share.depth()); // alone: every slot
    const small = share.join("small", undefined, 1, () => {});
    small.waiting = 3;
    const depth = share.depth();
    const got = small.room(); // its share of the depth, queued ahead of big's by priority
    expect(got).toBe(3); // all it waits with: under its half
    small.added(got);
    small.waiting = 0;
    big.ended(false);
    expect(big.room()).toBe(0); // over its share: a freed slot is not its own
    small.waiting = 100;
    expect(small.room()).toBe(Math.ceil(depth / 2) - 3);
    const capped = share.join("c", "capped", 1, () => {});
    capped.waiting = 50;
    for (let i = 0; i < 20; i++) big.ended(false);
    expect(capped.room()).toBe(2);
    expect(capped.capped).toBe(true);
  });

  it("a new leader holds every slot until each job it resumes has asked with its tasks counted", () => {
    const share = new FairShare();
    share.hold(["heavy", "light", "gone"]);
    let woken = 0;
    const light = share.join("light", undefined, 1, () => woken++);
    light.waiting = 100;
    expect(light.room()).toBe(0); // heavy has not asked yet
    const heavy = share.join("heavy", undefined, 3, () => {});
    heavy.waiting = 100;
    expect(heavy.room()).toBe(0); // "gone" is still held
    share.release("gone"); // its driver ended without asking
    expect(woken).toBeGreaterThan(0);
    const depth = share.depth();
    const h = heavy.room();
    heavy.added(h);
    const l = light.room();
    // Both counted from the first slot: 3:1 of the depth, not all of it to whichever asked first.
    expect(h + l).toBe(depth);
    expect(h).toBe(Math.ceil((depth * 3) / 4));
  });

  it("orders queue jobs by weighted fair queueing: turns 3:1 by weight, one job's in order, a late job from the present", () => {
    const share = new FairShare();
    const heavy = share.join("heavy", undefined, 3, () => {});
    const light = share.join("light", undefined, 1, () => {});
    // The oracle: a plain loop that hands each turn to the job with the least work done per weight.
    const queued: { job: string; p: number }[] = [];
    for (let i = 0; i < 30; i++) queued.push({ job: "heavy", p: heavy.priority()! }, { job: "light", p: light.priority()! });
    const byJob = (job: string) => queued.filter((q) => q.job === job).map((q) => q.p);
    for (const job of ["heavy", "light"]) expect(byJob(job)).toEqual([...byJob(job)].sort((a, b) => a - b));
    const first20 = [...queued].sort((a, b) => a.p - b.p).slice(0, 20);
    const heavyTurns = first20.filter((q) => q.job === "heavy").length;
    expect(heavyTurns).toBe(15);
    // Time passes: turns up to the 20th have started. A job joining now starts at the present.
    for (const q of first20) share.advance(q.p);
    const late = share.join("late", undefined, 1, () => {});
    const p = late.priority()!;
    expect(p).toBeGreaterThanOrEqual(first20[19]!.p);
    expect(p).toBeLessThan(Math.max(...byJob("light"))); // not behind all that was queued before it
  });

  it("charges a queue job its expected run time: a small job's short tasks do not take turns one for one with a big job's long ones", () => {
    const share = new FairShare();
    const big = share.join("big", undefined, 1, () => {});
    const bigTags = Array.from({ length: 4 }, () => big.priority(400)!);
    const small = share.join("small", undefined, 1, () => {});
    const smallTags = Array.from({ length: 4 }, () => small.priority(20)!);
    // Equal weights: the small job's four 20 ms turns all come before the big job's second 400 ms one.
    expect(Math.max(...smallTags)).toBeLessThan(bigTags[1]!);
    // Virtual time rebased once priorities run high: every job's finish and what it has queued move back together.
    const moved: number[] = [];
    big.rebase = (steps) => moved.push(steps);
    small.rebase = (steps) => moved.push(steps);
    share.advance(1_500_000);
    expect(moved).toEqual([1_499_999, 1_499_999]);
    expect(share.vtime).toBe(0);
    expect([big.priority(400), small.priority(20)]).toEqual([1, 1]); // both finished in the past: they start at the present, near zero again
  });

  it("fifo: no hold-back", () => {
    const m = new FairShare([], "fifo").join("j", undefined, 1, () => {});
    m.waiting = 5000;
    expect(m.room()).toBe(Number.POSITIVE_INFINITY);
  });
});

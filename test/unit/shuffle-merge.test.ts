import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeKey } from "../../core/keys.js";
import { Grouper, Merger } from "../../core/shuffle/merge.js";
import { RunReader } from "../../core/shuffle/run-reader.js";
import type { Segment } from "../../core/shuffle/segment.js";
import { decodeValue } from "../../core/shuffle/values.js";
import { int, makeRng, pick, randomKey, type Rng } from "./support/random.js";
import { makeTempDir, writeRun, type Rec } from "./support/runs.js";

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = makeTempDir()));
afterAll(() => cleanup());

/** Where a value came from: run index, position in the run, partition. */
interface Tag {
  run: number;
  seq: number;
  part: number;
  pad?: string;
}

interface Item {
  key: string;
  tag: Tag;
}

/** Byte order of binary strings, without string `<`. */
const bytesCompare = (a: string, b: string): number => Buffer.compare(Buffer.from(a, "latin1"), Buffer.from(b, "latin1"));

/**
 * Writes `runs` files of `parts` partitions with sorted records (keys drawn from `keyPool`), and
 * returns the segments by partition plus, per partition, the expected merged stream: all records,
 * by key bytes, then run index, then position in the run.
 */
function makeRuns(rng: Rng, name: string, runs: number, parts: number, keyPool: readonly string[], maxRecords: number):
  { segs: Segment[][]; expected: Item[][] } {
  const segs: Segment[][] = Array.from({ length: parts }, () => []);
  const all: Item[][] = Array.from({ length: parts }, () => []);
  for (let run = 0; run < runs; run++) {
    const partRecs: Rec[][] = [];
    for (let part = 0; part < parts; part++) {
      const n = rng() < 0.15 ? 0 : int(rng, 0, maxRecords);
      const keys = Array.from({ length: n }, () => pick(rng, keyPool));
      keys.sort(bytesCompare); // stable sort; order among equals is then the emission order
      const recs = keys.map((key, seq): Rec => {
        const tag: Tag = { run, seq, part };
        if (rng() < 0.05) tag.pad = "p".repeat(int(rng, 20, 200)); // values longer than a read chunk
        return { key, value: tag };
      });
      partRecs.push(recs);
      for (const r of recs) all[part]!.push({ key: r.key, tag: r.value as Tag });
    }
    const { segments } = writeRun(join(dir, `${name}-${run}.run`), partRecs);
    segments.forEach((s, part) => segs[part]!.push(s));
  }
  // The oracle: an explicit comparison, not a heap.
  const expected = all.map((items) => items.slice().sort((a, b) =>
    bytesCompare(a.key, b.key) || a.tag.run - b.tag.run || a.tag.seq - b.tag.seq));
  return { segs, expected };
}

function keyPool(rng: Rng, n: number): string[] {
  const pool = new Set<string>();
  while (pool.size < n) pool.add(encodeKey(randomKey(rng, 0, true)));
  return [...pool];
}

function openMerger(segs: readonly Segment[], chunk = 16): Merger {
  return new Merger(segs.map((s) => new RunReader(s, chunk)));
}

function groupsOf(items: readonly Item[]): { key: string; tags: Tag[] }[] {
  const groups: { key: string; tags: Tag[] }[] = [];
  for (const it of items) {
    const last = groups[groups.length - 1];
    if (last && last.key === it.key) last.tags.push(it.tag);
    else groups.push({ key: it.key, tags: [it.tag] });
  }
  return groups;
}

describe("Merger", () => {
  it("yields every record in key order, equal keys by run then record order", () => {
    const rng = makeRng(60);
    for (let round = 0; round < 25; round++) {
      const runs = int(rng, 1, 12);
      const pool = keyPool(rng, int(rng, 1, 40));
      const { segs, expected } = makeRuns(rng, `merge-${round}`, runs, 3, pool, 40);
      for (let part = 0; part < 3; part++) {
        const m = openMerger(segs[part]!, pick(rng, [1, 16, 64, 4096]));
        const got: Item[] = [];
        while (m.next()) got.push({ key: m.reader.key, tag: m.reader.value() as Tag });
        expect(m.next()).toBe(false);
        m.close();
        expect(got.length).toBe(expected[part]!.length);
        got.forEach((g, i) => {
          const want = expected[part]![i]!;
          if (g.key !== want.key || g.tag.run !== want.tag.run || g.tag.seq !== want.tag.seq) {
            throw new Error(`round ${round} part ${part} #${i}: got run ${g.tag.run} seq ${g.tag.seq}, want run ${want.tag.run} seq ${want.tag.seq}`);
          }
          expect(g.tag).toEqual(want.tag);
        });
      }
    }
  });

  it("keys that tie on their first bytes, or end within them, still merge in byte order", () => {
    // The merge compares a number made of each key's first 6 bytes (zero past its end) before the keys.
    const rng = makeRng(61);
    const pool = new Set<string>(["", "\x00", "\x00\x00", "\x06", "\x06\x00", "\x06\x00\x00\x00\x00\x00\x00"]);
    while (pool.size < 60) {
      let k = pick(rng, ["\x06abcde", "\x06abcdf", "\x06ab", "\x06abcde\x00"]);
      for (let n = int(rng, 0, 3); n > 0; n--) k += String.fromCharCode(pick(rng, [0, 1, 0x61, 0xff]));
      pool.add(k);
    }
    const { segs, expected } = makeRuns(rng, "heads", 9, 1, [...pool], 50);
    const m = openMerger(segs[0]!, 16);
    const got: Item[] = [];
    while (m.next()) got.push({ key: m.reader.key, tag: m.reader.value() as Tag });
    m.close();
    expect(got.map((g) => [g.key, g.tag.run, g.tag.seq])).toEqual(expected[0]!.map((w) => [w.key, w.tag.run, w.tag.seq]));
  });

  it("many runs sharing one key keep run order", () => {
    const k = encodeKey("same");
    const segs = Array.from({ length: 33 }, (_, run) =>
      writeRun(join(dir, `same-${run}.run`), [Array.from({ length: run % 4 }, (_, seq) => ({ key: k, value: [run, seq] }))]).segments[0]!);
    const m = openMerger(segs);
    const got: unknown[] = [];
    while (m.next()) got.push(m.reader.value());
    const want: unknown[] = [];
    for (let run = 0; run < 33; run++) for (let seq = 0; seq < run % 4; seq++) want.push([run, seq]);
    expect(got).toEqual(want);
  });

  it("no runs, and only empty runs, yield nothing", () => {
    expect(new Merger([]).next()).toBe(false);
    const empties = Array.from({ length: 4 }, (_, i) => writeRun(join(dir, `none-${i}.run`), [[]]).segments[0]!);
    const m = openMerger(empties);
    expect(m.next()).toBe(false);
    expect(m.next()).toBe(false);
    m.close();
  });
});

describe("Grouper", () => {
  it("visits each distinct key once, in order, with all its values", () => {
    const rng = makeRng(70);
    for (let round = 0; round < 15; round++) {
      const { segs, expected } = makeRuns(rng, `group-${round}`, int(rng, 1, 8), 2, keyPool(rng, int(rng, 1, 30)), 30);
      for (let part = 0; part < 2; part++) {
        const g = new Grouper(openMerger(segs[part]!));
        const got: { key: string; tags: Tag[] }[] = [];
        for (let key = g.nextKey(); key !== undefined; key = g.nextKey()) got.push({ key, tags: [...g.values()] as Tag[] });
        expect(g.nextKey()).toBeUndefined();
        expect(got).toEqual(groupsOf(expected[part]!));
        for (let i = 0; i + 1 < got.length; i++) expect(bytesCompare(got[i]!.key, got[i + 1]!.key)).toBe(-1);
      }
    }
  });

  it("groups correctly when the consumer reads only some values of each key", () => {
    const rng = makeRng(71);
    for (let round = 0; round < 30; round++) {
      const { segs, expected } = makeRuns(rng, `partial-${round}`, int(rng, 1, 8), 1, keyPool(rng, int(rng, 1, 25)), 30);
      const groups = groupsOf(expected[0]!);
      const g = new Grouper(openMerger(segs[0]!, pick(rng, [1, 16, 256])));
      for (const group of groups) {
        expect(g.nextKey()).toBe(group.key);
        const n = group.tags.length;
        const take = pick(rng, [0, 1, n, int(rng, 0, n), int(rng, 0, n + 2)]);
        const style = int(rng, 0, 3);
        const got: Tag[] = [];
        if (style === 0) {
          // for..of with break: the iterator's return() runs.
          if (take > 0) for (const v of g.values()) { got.push(v as Tag); if (got.length >= take) break; }
        } else if (style === 1) {
          // A bare iterator abandoned mid-way, without return().
          const it = g.values()[Symbol.iterator]();
          for (let i = 0; i < take; i++) { const r = it.next(); if (r.done) break; got.push(r.value as Tag); }
        } else if (style === 2) {
          const it = g.rawValues()[Symbol.iterator]();
          for (let i = 0; i < take; i++) { const r = it.next(); if (r.done) break; got.push(decodeValue(Buffer.from(r.value), 0) as Tag); }
        } // style 3: values() never called
        const want = style === 3 ? [] : group.tags.slice(0, take);
        expect(got).toEqual(want);
      }
      expect(g.nextKey()).toBeUndefined();
      expect(g.nextKey()).toBeUndefined();
    }
  });

  it("an exhausted values() stays empty, and does not leak into the next key", () => {
    const a = encodeKey("a"), b = encodeKey("b");
    const seg = writeRun(join(dir, "leak.run"), [[{ key: a, value: 1 }, { key: a, value: 2 }, { key: b, value: 3 }]]).segments[0]!;
    const g = new Grouper(openMerger([seg]));
    expect(g.nextKey()).toBe(a);
    expect([...g.values()]).toEqual([1, 2]);
    expect([...g.values()]).toEqual([]);
    expect(g.nextKey()).toBe(b);
    expect([...g.values()]).toEqual([3]);
    expect(g.nextKey()).toBeUndefined();
  });

  it("nothing to group", () => {
    expect(new Grouper(new Merger([])).nextKey()).toBeUndefined();
    const seg = writeRun(join(dir, "group-empty.run"), [[]]).segments[0]!;
    const g = new Grouper(openMerger([seg, seg]));
    expect(g.nextKey()).toBeUndefined();
    expect(g.nextKey()).toBeUndefined();
  });
});

import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Key } from "../../core/api/types.js";
import { decodeKey, encodeKey, hashEncodedKey } from "../../core/keys.js";
import { RunReader } from "../../core/shuffle/run-reader.js";
import type { Job } from "../../core/api/job.js";
import { MapOutputBuffer, type MapOutputOptions } from "../../worker/map-output.js";
import { makePartitioner } from "../../worker/user-code.js";
import type { Combiner, RunFile } from "../../worker/run-merge.js";
import { int, makeRng, pick, randomBigInt, randomKey, randomNumber, randomString, randomValue, SPECIAL_NUMBERS, type Rng } from "./support/random.js";
import { makeTempDir, sameValue } from "./support/runs.js";

let root: string;
let cleanup: () => void;
beforeAll(() => ({ dir: root, cleanup } = makeTempDir()));
afterAll(() => cleanup());

// ---------------------------------------------------------------------------------------------
// Oracles, written without the engine's key encoding.

/** An identity for a key's equivalence class (-0 = 0, every NaN the same), independent of encodeKey. */
function canon(k: Key): string {
  switch (typeof k) {
    case "boolean": return k ? "T" : "F";
    case "number": return Number.isNaN(k) ? "nNaN" : "n" + String(k === 0 ? 0 : k);
    case "bigint": return "g" + k.toString();
    case "string": return "s" + JSON.stringify(k);
    default: return "[" + (k as readonly Key[]).map(canon).join(",") + "]";
  }
}

const rank = (k: Key): number =>
  typeof k === "boolean" ? 0 : typeof k === "number" ? 1 : typeof k === "bigint" ? 2 : typeof k === "string" ? 3 : 4;

/** The engine's promised order: false < true < numbers < bigints < strings (UTF-8 bytes) < arrays (element-wise, prefix first). */
function oracleCompare(a: Key, b: Key): number {
  const ra = rank(a), rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === "boolean") return Number(a) - Number(b as boolean);
  if (typeof a === "number") {
    const y = b as number;
    const an = Number.isNaN(a), bn = Number.isNaN(y);
    if (an || bn) return an === bn ? 0 : an ? 1 : -1;
    return a < y ? -1 : a > y ? 1 : 0;
  }
  if (typeof a === "bigint") {
    const y = b as bigint;
    return a < y ? -1 : a > y ? 1 : 0;
  }
  if (typeof a === "string") return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b as string, "utf8"));
  const x = a as readonly Key[], y = b as readonly Key[];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = oracleCompare(x[i]!, y[i]!);
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

/** FNV-1a (32-bit) over the encoding's bytes, with BigInt arithmetic (not the engine's Math.imul loop). */
function fnvOracle(encoded: string): number {
  let h = 0x811c9dc5n;
  for (let i = 0; i < encoded.length; i++) {
    h ^= BigInt(encoded.charCodeAt(i));
    h = (h * 0x01000193n) & 0xffffffffn;
  }
  return Number(h);
}

const defaultRoute = (partitions: number) => (k: Key): number => fnvOracle(encodeKey(k)) % partitions;

interface Pair {
  key: Key;
  value: unknown;
}

interface Group {
  key: Key;
  id: string;
  values: unknown[];
}

/** Groups pairs by key (in emit order), routes each group to a partition, sorts each partition by the oracle order. */
function oracleGroups(pairs: readonly Pair[], partitions: number, route: (k: Key) => number): Group[][] {
  const groups = new Map<string, Group>();
  for (const p of pairs) {
    const id = canon(p.key);
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { key: p.key, id, values: [] }));
    g.values.push(p.value);
  }
  const parts: Group[][] = Array.from({ length: partitions }, () => []);
  for (const g of groups.values()) parts[route(g.key)]!.push(g);
  for (const gs of parts) {
    gs.sort((a, b) => oracleCompare(a.key, b.key));
    // Sanity of the oracle itself: distinct identities never compare equal.
    for (let i = 1; i < gs.length; i++) expect(oracleCompare(gs[i - 1]!.key, gs[i]!.key)).toBeLessThan(0);
  }
  return parts;
}

interface OutRec {
  id: string;
  value: unknown;
}

const sum = (xs: readonly unknown[]): number => xs.reduce<number>((s, v) => s + (v as number), 0);

function expectedCombined(parts: Group[][]): OutRec[][] {
  return parts.map((gs) => gs.map((g) => ({ id: g.id, value: sum(g.values) })));
}

function expectedPlain(parts: Group[][]): OutRec[][] {
  return parts.map((gs) => gs.flatMap((g) => g.values.map((value) => ({ id: g.id, value }))));
}

// ---------------------------------------------------------------------------------------------
// Running a buffer and reading its output back.

interface Result {
  file: RunFile;
  /** Per partition: the records, keys decoded to their oracle identity. */
  out: OutRec[][];
  /** Per partition: the encoded keys, in file order. */
  eks: string[][];
  spillCount: number;
  records: number;
  /** What is left in the spill folder after finish(). */
  leftovers: string[];
}

let runs = 0;

function run(pairs: readonly Pair[], opts: Omit<MapOutputOptions, "dir">): Result {
  const n = runs++;
  const dir = join(root, `spills-${n}`);
  mkdirSync(dir);
  const buf = new MapOutputBuffer({ ...opts, dir });
  for (const p of pairs) buf.add(p.key, p.value);
  const path = join(root, `out-${n}.run`);
  const file = buf.finish(path);
  expect(file.path).toBe(path);
  checkLayout(file, opts.partitions);
  const out: OutRec[][] = [];
  const eks: string[][] = [];
  for (const seg of file.segments) {
    const r = new RunReader({ path: file.path, ...seg });
    const recs: OutRec[] = [];
    const keys: string[] = [];
    try {
      while (r.next()) {
        keys.push(r.key);
        recs.push({ id: canon(decodeKey(r.key)), value: r.value() });
      }
    } finally {
      r.close();
    }
    out.push(recs);
    eks.push(keys);
  }
  return { file, out, eks, spillCount: buf.spillCount, records: buf.records, leftovers: readdirSync(dir) };
}

/** One segment per partition, back to back from offset 0, covering the whole file. */
function checkLayout(file: RunFile, partitions: number): void {
  expect(file.segments).toHaveLength(partitions);
  let offset = 0;
  for (const s of file.segments) {
    expect(s.offset).toBe(offset);
    offset += s.length;
  }
  expect(statSync(file.path).size).toBe(offset);
}

function expectOut(got: OutRec[][], want: OutRec[][], label: string): void {
  expect(got.length, label).toBe(want.length);
  for (let p = 0; p < want.length; p++) {
    const g = got[p]!, w = want[p]!;
    if (g.length !== w.length) throw new Error(`${label} partition ${p}: ${g.length} records, want ${w.length}`);
    for (let i = 0; i < w.length; i++) {
      if (g[i]!.id !== w[i]!.id) throw new Error(`${label} partition ${p} #${i}: key ${g[i]!.id}, want ${w[i]!.id}`);
      if (!sameValue(g[i]!.value, w[i]!.value)) {
        throw new Error(`${label} partition ${p} #${i} (key ${w[i]!.id}): value ${String(g[i]!.value)}, want ${String(w[i]!.value)}`);
      }
    }
  }
}

/** Encoded keys in each segment are in binary-string order: strictly with a combiner, else non-decreasing. */
function expectSorted(eks: string[][], strict: boolean): void {
  for (const keys of eks) {
    for (let i = 1; i < keys.length; i++) {
      const ok = strict ? keys[i - 1]! < keys[i]! : keys[i - 1]! <= keys[i]!;
      if (!ok) throw new Error(`segment not sorted at #${i}`);
    }
  }
}

/** A summing combiner that checks every call gets a key that matches its encoding. */
function sumCombiner(): { combine: Combiner; stats: { calls: number; maxValues: number; badKeys: string[] } } {
  const stats = { calls: 0, maxValues: 0, badKeys: [] as string[] };
  const combine: Combiner = (key, values, ek) => {
    stats.calls++;
    if (ek !== undefined && encodeKey(key) !== ek) stats.badKeys.push(ek);
    let s = 0, n = 0;
    for (const v of values) {
      s += v as number;
      n++;
    }
    stats.maxValues = Math.max(stats.maxValues, n);
    return s;
  };
  return { combine, stats };
}

/** A deep copy, so that equal composite keys are never the same object. */
const clone = (k: Key): Key => (Array.isArray(k) ? k.map(clone) : k);

// ---------------------------------------------------------------------------------------------
// Key pools.

const STRING_ATOMS = ["", "a", "ab", "a\0", "\0", "é", "e", "\u{e000}", "\uffff", "😀", "\u{10ffff}", "a😀", "a\uffff", "Z", "~"];

type Kind = "string" | "number" | "bigint" | "boolean" | "array" | "mixed";

function scalar(rng: Rng): Key {
  switch (int(rng, 0, 3)) {
    case 0: return rng() < 0.5;
    case 1: return pick(rng, [0, -0, 1, -1, NaN, 2.5, -Infinity]);
    case 2: return pick(rng, [0n, -1n, 1n, 2n ** 70n]);
    default: return pick(rng, ["", "a", "ab", "é", "😀", "\uffff"]);
  }
}

function arrayKey(rng: Rng, depth = 0): Key[] {
  const out: Key[] = [];
  for (let i = int(rng, 0, 3); i > 0; i--) out.push(depth < 2 && rng() < 0.25 ? arrayKey(rng, depth + 1) : scalar(rng));
  return out;
}

function keyPool(rng: Rng, kind: Kind, size: number): Key[] {
  switch (kind) {
    case "string": return [...STRING_ATOMS, ...Array.from({ length: size }, () => randomString(rng, 5))];
    case "number": return [...SPECIAL_NUMBERS, ...Array.from({ length: size }, () => randomNumber(rng))];
    case "bigint": return [0n, -0n, 1n, -1n, 255n, -256n, ...Array.from({ length: size }, () => randomBigInt(rng))];
    case "boolean": return [false, true];
    case "array": return [[], [[]], [0], [-0], ["a"], ["a", 1], [1, "a"], ...Array.from({ length: size }, () => arrayKey(rng))];
    case "mixed": return [false, 0, 0n, "", [], ...Array.from({ length: size }, () => randomKey(rng, 0, true))];
  }
}

/** `n` pairs with keys drawn from a pool (with repeats) and values 0, 1, 2, ... (so the emit order is visible). */
function emitPairs(rng: Rng, kind: Kind, n: number, poolSize = 30): Pair[] {
  const pool = keyPool(rng, kind, poolSize);
  return Array.from({ length: n }, (_, i) => ({ key: clone(pick(rng, pool)), value: i }));
}

const HUGE = Number.MAX_SAFE_INTEGER;
const BUDGETS = [1, 200, 4096, HUGE] as const;
const KINDS: Kind[] = ["string", "number", "bigint", "boolean", "array", "mixed"];

// ---------------------------------------------------------------------------------------------

describe("MapOutputBuffer: oracle comparison across budgets", () => {
  KINDS.forEach((kind, ki) => {
    it(`${kind} keys with a sum combiner: one record per key, same content for every budget`, () => {
      const partitions = 4;
      const pairs = emitPairs(makeRng(100 + ki), kind, 260);
      const want = expectedCombined(oracleGroups(pairs, partitions, defaultRoute(partitions)));
      let reference: OutRec[][] | undefined;
      for (const budget of BUDGETS) {
        const { combine, stats } = sumCombiner();
        const r = run(pairs, { partitions, budget, combine });
        expectOut(r.out, want, `${kind}, budget ${budget}`);
        expectSorted(r.eks, true);
        expect(stats.badKeys).toEqual([]);
        expect(r.records).toBe(pairs.length);
        if (budget === 1) expect(r.spillCount).toBe(pairs.length);
        else if (budget === HUGE) expect(r.spillCount).toBe(0);
        else if (budget === 200) expect(r.spillCount).toBeGreaterThan(0); // any two entries pass 200 bytes
        expect(r.leftovers).toEqual([]);
        if (reference) expect(r.out).toEqual(reference);
        reference = r.out;
      }
    });

    it(`${kind} keys without a combiner: every value, in emit order, for every budget`, () => {
      const partitions = 4;
      const pairs = emitPairs(makeRng(200 + ki), kind, 260);
      const want = expectedPlain(oracleGroups(pairs, partitions, defaultRoute(partitions)));
      for (const budget of BUDGETS) {
        const r = run(pairs, { partitions, budget });
        expectOut(r.out, want, `${kind}, budget ${budget}`);
        expectSorted(r.eks, false);
        expect(r.records).toBe(pairs.length);
        if (budget === 1) expect(r.spillCount).toBe(pairs.length);
        else if (budget === HUGE) expect(r.spillCount).toBe(0);
        else if (budget === 200) expect(r.spillCount).toBeGreaterThan(0); // any two entries pass 200 bytes
        expect(r.leftovers).toEqual([]);
      }
    });
  });

  it("mixed keys with random values of every kind survive spills and merges unchanged", () => {
    const rng = makeRng(7);
    const pool = keyPool(rng, "mixed", 25);
    const pairs: Pair[] = Array.from({ length: 300 }, () => ({ key: clone(pick(rng, pool)), value: randomValue(rng) }));
    const want = expectedPlain(oracleGroups(pairs, 3, defaultRoute(3)));
    for (const budget of [1, 500, HUGE]) {
      const r = run(pairs, { partitions: 3, budget });
      expectOut(r.out, want, `budget ${budget}`);
    }
  });
});

describe("MapOutputBuffer: key order", () => {
  /** In the engine's promised order, one key per equivalence class. */
  const ORDERED: Key[] = [
    false, true,
    -Infinity, -1e300, -1, -Number.MIN_VALUE, 0, Number.MIN_VALUE, 1, 2 ** 53, Infinity, NaN,
    -(2n ** 64n), -256n, -255n, -1n, 0n, 1n, 255n, 256n, 2n ** 64n,
    "", "\0", "\0\0", "\x01", "A", "a", "a\0", "ab", "é", "\u{e000}", "\uffff", "😀", "\u{10ffff}",
    [], [false], [false, false], [1], [1, "a"], [1n], ["a"], ["a", []], [[]], [[], 0], [[0]],
  ];

  it("the oracle comparator agrees with the list", () => {
    for (let i = 1; i < ORDERED.length; i++) expect(oracleCompare(ORDERED[i - 1]!, ORDERED[i]!)).toBeLessThan(0);
  });

  for (const combined of [false, true]) {
    it(`shuffled emits come out in order (${combined ? "with" : "without"} a combiner, one partition)`, () => {
      const rng = makeRng(combined ? 11 : 12);
      // Each key twice, the second time -0 for 0 and a fresh copy of arrays, in a shuffled order.
      const emits: Key[] = [...ORDERED, ...ORDERED.map((k) => (k === 0 ? -0 : clone(k)))];
      for (let i = emits.length - 1; i > 0; i--) {
        const j = int(rng, 0, i);
        [emits[i], emits[j]] = [emits[j]!, emits[i]!];
      }
      const pairs = emits.map((key, i) => ({ key, value: i }));
      for (const budget of [1, 200, HUGE]) {
        const r = run(pairs, { partitions: 1, budget, ...(combined ? { combine: sumCombiner().combine } : {}) });
        const ids = r.out[0]!.map((x) => x.id);
        const wantIds = ORDERED.map(canon).flatMap((id) => (combined ? [id] : [id, id]));
        expect(ids).toEqual(wantIds);
      }
    });
  }
});

describe("MapOutputBuffer: composite keys with a combiner", () => {
  it("equal arrays built separately combine into one entry even with no spill", () => {
    const { combine, stats } = sumCombiner();
    const pairs: Pair[] = [];
    for (let i = 0; i < 200; i++) pairs.push({ key: ["user", i % 5, [BigInt(i % 2)]], value: 1 });
    for (let i = 0; i < 50; i++) pairs.push({ key: [i % 2 === 0, -0], value: 2 });
    const r = run(pairs, { partitions: 2, budget: HUGE, combine });
    expect(r.spillCount).toBe(0);
    const all = r.out.flat();
    // 5 × 2 distinct composites (i % 5 and i % 2 vary together over i % 10), plus [false, 0] and [true, 0].
    expect(all).toHaveLength(12);
    expect(sum(all.map((x) => x.value))).toBe(200 + 100);
    expect(stats.badKeys).toEqual([]);
    expectOut(r.out, expectedCombined(oracleGroups(pairs, 2, defaultRoute(2))), "composites");
  });

  it("flat array keys whose elements differ only in type stay apart; 0 and -0, NaN and NaN meet; object values too", () => {
    // Flat arrays go through the index by element (no encoding per emit): its Maps must part and join keys as encodeKey does.
    const keys: Key[] = [[1, "1"], ["1", 1], [1], [1n], ["1"], [true], [1, 1], [0], [-0], [NaN], [0, "a", 2n, false], ["x", [1]], ["x", 1]];
    const pairs: Pair[] = [];
    for (let i = 0; i < 400; i++) pairs.push({ key: clone(keys[i % keys.length]!), value: i % 7 });
    const want = expectedCombined(oracleGroups(pairs, 3, defaultRoute(3)));
    for (const budget of [1, 300, HUGE]) {
      const { combine, stats } = sumCombiner();
      const r = run(pairs, { partitions: 3, budget, combine });
      expectOut(r.out, want, `budget ${budget}`);
      expect(r.out.flat()).toHaveLength(keys.length - 1); // [0] and [-0] are one key
      expect(stats.badKeys).toEqual([]);
    }
    // Object values (a job's { n, sum } partials) are collected and folded as with any other key.
    const merge: Combiner = (_key, values) => {
      let n = 0, sum = 0;
      for (const v of values as Iterable<{ n: number; sum: number }>) (n += v.n), (sum += v.sum);
      return { n, sum };
    };
    const partials: Pair[] = Array.from({ length: 3000 }, (_, i) => ({ key: [`c${i % 5}`, i % 4], value: { n: 1, sum: i } }));
    let most = 0;
    const counting: Combiner = (key, values, ek) => {
      const all = [...values];
      most = Math.max(most, all.length);
      return merge(key, all, ek);
    };
    const r = run(partials, { partitions: 2, budget: HUGE, combine: counting });
    const got = r.out.flat();
    expect(got).toHaveLength(20);
    expect(sum(got.map((x) => (x.value as { n: number }).n))).toBe(3000);
    expect(sum(got.map((x) => (x.value as { sum: number }).sum))).toBe((2999 * 3000) / 2);
    expect(most).toBe(2); // a fold that does not grow the value is made at once, pair by pair
    // A combiner that concatenates grows the value: its values are collected, not folded pair by pair (quadratic).
    most = 0;
    const concat: Combiner = (_key, values) => {
      const all = [...values] as number[][];
      most = Math.max(most, all.length);
      return all.flat();
    };
    const lists = run(Array.from({ length: 600 }, (_, i) => ({ key: ["k", i % 3], value: [i] })), { partitions: 1, budget: HUGE, combine: concat });
    expect(lists.out.flat().map((x) => (x.value as number[]).length)).toEqual([200, 200, 200]);
    expect(most).toBeGreaterThan(2);
  });

  it("a hot key folds as it goes, so it does not fill a small budget", () => {
    const { combine, stats } = sumCombiner();
    const pairs: Pair[] = [];
    for (let i = 0; i < 20_000; i++) pairs.push({ key: i % 3 === 0 ? ["hot", 1] : i % 3 === 1 ? 7n : "x", value: 1 });
    const r = run(pairs, { partitions: 2, budget: 4096, combine });
    expect(r.spillCount).toBe(0);
    expect(stats.calls).toBeGreaterThan(0);
    expectOut(r.out, expectedCombined(oracleGroups(pairs, 2, defaultRoute(2))), "hot keys");
  });
});

describe("MapOutputBuffer: multi-pass merge (more spills than the merge factor)", () => {
  const distinct = (n: number, rng: Rng): Pair[] => {
    const keys: Key[] = [];
    for (let i = 0; i < n; i++) {
      const m = i % 4;
      keys.push(m === 0 ? `k${i}` : m === 1 ? i * 1.5 - 100 : m === 2 ? BigInt(i) * 10n ** 20n : ["c", i]);
    }
    for (let i = keys.length - 1; i > 0; i--) {
      const j = int(rng, 0, i);
      [keys[i], keys[j]] = [keys[j]!, keys[i]!];
    }
    return keys.map((key, i) => ({ key, value: i }));
  };

  it("300 distinct keys at budget 1, without a combiner", () => {
    const pairs = distinct(300, makeRng(31));
    const r = run(pairs, { partitions: 3, budget: 1 });
    expect(r.spillCount).toBe(300);
    expect(r.records).toBe(300);
    expect(r.leftovers).toEqual([]);
    expectOut(r.out, expectedPlain(oracleGroups(pairs, 3, defaultRoute(3))), "distinct");
    expectSorted(r.eks, true);
  });

  it("300 distinct keys at budget 1, with a combiner", () => {
    const pairs = distinct(300, makeRng(32));
    const { combine, stats } = sumCombiner();
    const r = run(pairs, { partitions: 3, budget: 1, combine });
    expect(r.spillCount).toBe(300);
    expect(r.leftovers).toEqual([]);
    expect(stats.badKeys).toEqual([]);
    expectOut(r.out, expectedCombined(oracleGroups(pairs, 3, defaultRoute(3))), "distinct combined");
  });

  it("700 adds of 25 keys at budget 1: values of a key keep emit order across every pass", () => {
    const rng = makeRng(33);
    const pool = keyPool(rng, "mixed", 20).slice(0, 25);
    const pairs = Array.from({ length: 700 }, (_, i) => ({ key: clone(pick(rng, pool)), value: i }));
    const r = run(pairs, { partitions: 2, budget: 1 });
    expect(r.spillCount).toBe(700);
    expect(r.leftovers).toEqual([]);
    expectOut(r.out, expectedPlain(oracleGroups(pairs, 2, defaultRoute(2))), "stable");
    const { combine, stats } = sumCombiner();
    const c = run(pairs, { partitions: 2, budget: 1, combine });
    expect(c.leftovers).toEqual([]);
    expect(stats.badKeys).toEqual([]);
    expectOut(c.out, expectedCombined(oracleGroups(pairs, 2, defaultRoute(2))), "stable combined");
  });
});

describe("MapOutputBuffer: partitioning", () => {
  it("default partitioning is hashEncodedKey(encoding) % partitions", () => {
    const rng = makeRng(41);
    const pairs = emitPairs(rng, "mixed", 400, 60);
    for (const p of pairs) expect(hashEncodedKey(encodeKey(p.key))).toBe(fnvOracle(encodeKey(p.key)));
    for (const partitions of [1, 2, 7]) {
      const r = run(pairs, { partitions, budget: 300 });
      r.eks.forEach((keys, p) => {
        for (const ek of keys) expect(hashEncodedKey(ek) % partitions).toBe(p);
      });
      expectOut(r.out, expectedPlain(oracleGroups(pairs, partitions, defaultRoute(partitions))), `${partitions} partitions`);
    }
  });

  for (const combined of [false, true]) {
    it(`a custom partitioner routes each key to its segment (${combined ? "with" : "without"} a combiner)`, () => {
      const pairs = emitPairs(makeRng(combined ? 42 : 43), "mixed", 300, 50);
      const partitioner = (k: Key): number => rank(k) % 3; // by type, nothing to do with the hash
      const seen: Key[] = [];
      const spy = (k: Key): number => (seen.push(k), partitioner(k));
      const parts = oracleGroups(pairs, 3, partitioner);
      const want = combined ? expectedCombined(parts) : expectedPlain(parts);
      for (const budget of [1, 200, HUGE]) {
        seen.length = 0;
        const r = run(pairs, { partitions: 3, budget, partitioner: spy, ...(combined ? { combine: sumCombiner().combine } : {}) });
        expectOut(r.out, want, `budget ${budget}`);
        r.eks.forEach((keys, p) => {
          for (const ek of keys) expect(partitioner(decodeKey(ek))).toBe(p);
        });
        expect(seen.length).toBeGreaterThan(0);
        // The partitioner sees the keys as emitted.
        for (const k of seen) expect(pairs.some((q) => Object.is(q.key, k))).toBe(true);
      }
    });
  }

  it("the range partitioner puts a key where its boundaries say, whether partitioned as a string or in place", () => {
    const pairs = emitPairs(makeRng(45), "mixed", 400, 80); // ASCII strings (partitioned in place) among every other key
    const sorted = [...new Set(pairs.map((p) => encodeKey(p.key)))].sort();
    const bounds = [sorted[Math.floor(sorted.length / 4)]!, sorted[Math.floor(sorted.length / 2)]!, sorted[Math.floor((3 * sorted.length) / 4)]!];
    // The oracle: how many boundaries sort at or below the key, as latin1 strings.
    const route = (k: Key): number => bounds.filter((b) => b <= encodeKey(k)).length;
    const partitioner = makePartitioner({ partitioner: "range" } as Job, 4, bounds.map((b) => Buffer.from(b, "latin1").toString("base64")))!;
    expect(partitioner.ofBytes).toBeDefined();
    for (const combined of [false, true]) {
      const parts = oracleGroups(pairs, 4, route);
      const r = run(pairs, { partitions: 4, budget: HUGE, partitioner, ...(combined ? { combine: sumCombiner().combine } : {}) });
      expectOut(r.out, combined ? expectedCombined(parts) : expectedPlain(parts), combined ? "combined" : "plain");
      r.eks.forEach((keys, p) => {
        for (const ek of keys) expect(route(decodeKey(ek))).toBe(p);
      });
    }
  });

  it("a partitioner that sends everything to the last partition leaves the others empty", () => {
    const pairs = emitPairs(makeRng(44), "string", 120);
    const r = run(pairs, { partitions: 4, budget: 200, partitioner: () => 3 });
    expect(r.file.segments.slice(0, 3).map((s) => s.records)).toEqual([0, 0, 0]);
    expect(r.file.segments[3]!.records).toBe(120);
    expectOut(r.out, expectedPlain(oracleGroups(pairs, 4, () => 3)), "all in 3");
  });
});

describe("MapOutputBuffer: edges and counters", () => {
  it("finish() with nothing added writes empty segments", () => {
    const r = run([], { partitions: 3, budget: 100 });
    expect(r.spillCount).toBe(0);
    expect(r.records).toBe(0);
    expect(r.file.segments.map((s) => s.records)).toEqual([0, 0, 0]);
    expect(r.out).toEqual([[], [], []]);
  });

  it("counts records and spills: records per add, one spill per budget overflow", () => {
    const pairs: Pair[] = Array.from({ length: 50 }, (_, i) => ({ key: `key-${i % 10}`, value: i }));
    expect(run(pairs, { partitions: 2, budget: 1 }).spillCount).toBe(50);
    expect(run(pairs, { partitions: 2, budget: HUGE }).spillCount).toBe(0);
    // Without a combiner each add costs the same here (same key length, number values): spills come at a fixed rate.
    const mid = run(pairs, { partitions: 2, budget: 1000 });
    expect(mid.records).toBe(50);
    expect(mid.spillCount).toBeGreaterThan(1);
    expect(mid.spillCount).toBeLessThan(50);
    expect(mid.leftovers).toEqual([]);
    const { combine } = sumCombiner();
    const c = run(pairs, { partitions: 2, budget: 1, combine });
    expect(c.records).toBe(50);
    expect(c.spillCount).toBe(50);
  });
});

describe("MapOutputBuffer: checkpoints (flushToDisk)", () => {
  /** Every record of the runs, as (key identity, value), sorted: what a resumed attempt would start from. */
  function contents(files: RunFile[], combined: boolean): [string, unknown][] {
    const byKey = new Map<string, unknown[]>();
    for (const f of files) {
      for (const seg of f.segments) {
        const r = new RunReader({ path: f.path, ...seg });
        try {
          while (r.next()) {
            const id = canon(decodeKey(r.key));
            byKey.set(id, [...(byKey.get(id) ?? []), r.value()]);
          }
        } finally {
          r.close();
        }
      }
    }
    const out: [string, unknown][] = [];
    for (const [id, vs] of byKey) {
      if (combined) out.push([id, sum(vs)]);
      else for (const v of vs) out.push([id, v]);
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : (a[1] as number) - (b[1] as number)));
  }

  function oracle(pairs: readonly Pair[], combined: boolean): [string, unknown][] {
    const groups = oracleGroups(pairs, 1, () => 0)[0]!;
    const out: [string, unknown][] = combined ? groups.map((g) => [g.id, sum(g.values)]) : groups.flatMap((g) => g.values.map((v): [string, unknown] => [g.id, v]));
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : (a[1] as number) - (b[1] as number)));
  }

  for (const kind of ["string", "mixed"] as const) {
    for (const combined of [true, false]) {
      for (const budget of [200, HUGE]) {
        it(`${kind} keys, ${combined ? "combining" : "plain"}, budget ${budget}: each checkpoint's runs hold exactly the pairs so far; the output is unchanged`, () => {
          const partitions = 3;
          const pairs = emitPairs(makeRng(300 + budget % 7), kind, 240);
          const dir = join(root, `ckpt-${runs++}`);
          mkdirSync(dir);
          const buf = new MapOutputBuffer({ partitions, budget, dir, combine: combined ? sumCombiner().combine : undefined });
          for (let i = 0; i < pairs.length; i++) {
            buf.add(pairs[i]!.key, pairs[i]!.value);
            if (i % 50 === 49) expect(contents(buf.flushToDisk(), combined)).toEqual(oracle(pairs.slice(0, i + 1), combined));
          }
          // Under its budget a buffer only ever snapshots: it keeps aggregating, never spills, and has nothing to merge.
          if (budget === HUGE) expect(buf.spillCount).toBe(0);
          const file = buf.finish(join(root, `ckpt-out-${runs++}.run`));
          checkLayout(file, partitions);
          expect(contents([file], combined)).toEqual(oracle(pairs, combined));
          expect(readdirSync(dir)).toEqual([]); // snapshots and spills gone
          if (!combined) return;
          const plain = run(pairs, { partitions, budget, combine: sumCombiner().combine });
          expect(contents([file], true)).toEqual(contents([plain.file], true));
        });
      }
    }
  }
});

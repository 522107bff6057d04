/**
 * Key order and tsv formatting: number keys (negative, fractional, huge, tiny, -0), Unicode string
 * keys and composite [string, number] keys come out in the contract's total order (numbers
 * numerically, strings by UTF-8 bytes, arrays element by element), within each part file, and
 * across part files with a range partitioner. Values are written as tsv defines them.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FIXTURE_JOBS, Scratch, UNICODE_WORDS, compareOracleKeys, makeRng, outputText, parseTsv, partFiles, pick, runOk, tsvLine,
  type OracleKey,
} from "./helpers.js";

const s = new Scratch("key-order");
afterAll(() => s.cleanup());

const JOB = join(FIXTURE_JOBS, "key-order.ts");
const RANGE_JOB = join(FIXTURE_JOBS, "key-order-range.ts");

type Kind = "number" | "string" | "composite";
const KINDS: Kind[] = ["number", "string", "composite"];

const NUMBERS = [
  0, -0, 1, -1, 2, -2, 9, 10, -9, -10, 100, 0.1, -0.1, 0.5, -0.5, 0.30000000000000004, 123.456, -123.456,
  1e-7, -1e-7, 1e-300, -1e-300, 5e-324, -5e-324, 1e21, -1e21, 1e300, -1e300, Number.MAX_VALUE, -Number.MAX_VALUE,
  Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53 + 2, 2 ** 31, -(2 ** 31), 2 ** 32, 99.99999999999999, 1.5e-10,
];
const STRINGS = [
  ...UNICODE_WORDS, "", " ", "a b", "a\tb", "a\nb", "back\\slash", "\\t not a tab", "tab\tend\t", "cr\rin",
  "a\u0000b", "a\u0001", "a\u007f", "\u0080", "\u07ff", "\u0800", "\uD7FF", "\uFFFF", "\u{10000}", "AB", "Ab", "aB",
];

/** JSON for a key, keeping -0 (JSON.stringify writes it as 0). */
function keyJson(k: OracleKey): string {
  if (typeof k === "number" && Object.is(k, -0)) return "-0";
  if (Array.isArray(k)) return `[${k.map(keyJson).join(",")}]`;
  return JSON.stringify(k);
}

const records: Record<Kind, OracleKey[]> = { number: [], string: [], composite: [] };
const inputs = {} as Record<Kind, string>;
let workdir: string;

beforeAll(() => {
  workdir = s.path("workdir");
  const rng = makeRng(99);
  // Each key one to three times (duplicates must group), in random order.
  const shuffle = <T>(xs: T[]): T[] => xs.map((x) => [rng(), x] as const).sort((a, b) => a[0] - b[0]).map(([, x]) => x);
  const repeat = <T>(xs: T[]): T[] => xs.flatMap((x) => Array.from({ length: 1 + Math.floor(rng() * 3) }, () => x));
  for (let i = 0; i < 40; i++) NUMBERS.push((rng() - 0.5) * 10 ** Math.floor(rng() * 40 - 20));
  records.number = shuffle(repeat(NUMBERS));
  records.string = shuffle(repeat(STRINGS));
  const parts = ["", "a", "a\u0000", "ab", "b", "😀", "\uE000", "é"];
  const nums = [-1e10, -1, -0.5, 0, 2.5, 10, 1e10];
  const composite: OracleKey[] = [];
  for (const p of parts) for (const n of nums) if (rng() < 0.7) composite.push([p, n]);
  for (let i = 0; i < 20; i++) composite.push([pick(rng, STRINGS), pick(rng, NUMBERS)]);
  records.composite = shuffle(repeat(composite));
  for (const kind of KINDS) {
    inputs[kind] = s.write(`in/${kind}.jsonl`, records[kind].map((k) => `{"key":${keyJson(k)}}\n`).join(""));
  }
});

/** -0 and 0 are numerically equal: one key, written as 0. */
const normalize = (k: OracleKey): OracleKey => (Array.isArray(k) ? k.map(normalize) : k === 0 ? 0 : k);

/** The oracle: distinct keys with their counts, sorted. */
function oracle(kind: Kind): [OracleKey, number][] {
  const counts = new Map<string, [OracleKey, number]>();
  for (const k of records[kind].map(normalize)) {
    const id = JSON.stringify(k); // JSON writes -0 as 0: numerically equal keys share an id
    const e = counts.get(id);
    if (e) e[1]++;
    else counts.set(id, [k, 1]);
  }
  return [...counts.values()].sort(([a], [b]) => compareOracleKeys(a, b));
}

/** Parses a tsv line of this kind back into its key and value. */
function parseRecord(kind: Kind, cols: string[]): [OracleKey, number] {
  expect(cols).toHaveLength(kind === "composite" ? 3 : 2);
  const value = Number(cols[cols.length - 1]);
  if (kind === "number") return [Number(cols[0]), value];
  if (kind === "string") return [cols[0]!, value];
  return [[cols[0]!, Number(cols[1])], value];
}

const expectedText = (rows: [OracleKey, number][]) => rows.map(([k, n]) => tsvLine(k, n)).join("");

describe("key order", () => {
  for (const kind of KINDS) {
    it(`${kind} keys: one partition is in total order, written as tsv`, () => {
      const out = s.fresh(kind);
      runOk({ job: JOB, inputs: [inputs[kind]], output: out, workdir, partitions: 1, splitSize: "300", threads: 2, params: { mode: "count" } });
      const parts = partFiles(out);
      expect(parts.map((p) => p.name)).toEqual(["part-00000"]);
      const want = oracle(kind);
      // Exact bytes: order, one column per key element, escapes, shortest number form.
      expect(parts[0]!.bytes.toString("utf8")).toBe(expectedText(want));
      if (kind === "number") {
        const zero = want.find(([k]) => k === 0)!;
        expect(zero[1]).toBe(records.number.filter((k) => k === 0).length); // -0 and 0 group together
      }
    });

    it(`${kind} keys: with the default partitioner every part file is sorted`, () => {
      const out = s.fresh(kind);
      runOk({ job: JOB, inputs: [inputs[kind]], output: out, workdir, partitions: 3, splitSize: "300", threads: 3, params: { mode: "count" } });
      const parts = partFiles(out);
      expect(parts).toHaveLength(3);
      const all: [OracleKey, number][] = [];
      for (const p of parts) {
        const rows = parseTsv(p.bytes.toString("utf8")).map((cols) => parseRecord(kind, cols));
        const sorted = [...rows].sort(([a], [b]) => compareOracleKeys(a, b));
        expect(rows, `${p.name} is sorted`).toEqual(sorted);
        all.push(...rows);
      }
      expect(all.sort(([a], [b]) => compareOracleKeys(a, b))).toEqual(oracle(kind));
    });

    it(`${kind} keys: with a range partitioner the part files together are in total order`, () => {
      const out = s.fresh(kind);
      runOk({ job: RANGE_JOB, inputs: [inputs[kind]], output: out, workdir, partitions: 4, splitSize: "300", threads: 2, params: { mode: "count" } });
      const parts = partFiles(out);
      expect(parts).toHaveLength(4);
      expect(parts.filter((p) => p.bytes.length > 0).length).toBeGreaterThanOrEqual(2);
      expect(outputText(out)).toBe(expectedText(oracle(kind)));
    });
  }
});

describe("tsv formatting", () => {
  it("writes composite keys as columns, escapes strings, numbers in shortest form and objects as compact JSON", () => {
    const rows: [OracleKey, unknown][] = [
      [["k", 1], 0.30000000000000004],
      [["k", 2], 1e21],
      [["k", 3], -1e-7],
      [["k", 4], 5e-324],
      [["k", 5], 2 ** 53 + 2],
      [["k", 6], 100],
      [["k", 7], -0.5],
      [["k", 8], "plain"],
      [["k", 9], "tab\there, newline\nhere, backslash\\here, \\t literal"],
      [["k", 10], "日本語 😀 \uE000"],
      [["k", 11], { a: 1, b: [1, 2, { c: "d" }], u: "日本", e: {}, f: [] }],
      [["k", 12], [1, "two", null, true, 1.5]],
      [["k", 13], true],
      [["k", 14], ""],
      [["tab\tkey", -1], "x"],
      [["new\nline", 0.1], "y"],
      [["back\\slash", 1e300], "z"],
      [["dropped", 1], "DROP"], // reduce returns undefined: nothing is written
      [["dropped", 2], "DROP"],
    ];
    const input = s.write("in/format.jsonl", rows.map(([k, v]) => JSON.stringify({ key: k, value: v }) + "\n").join(""));
    const out = s.fresh("format");
    runOk({ job: JOB, inputs: [input], output: out, workdir, partitions: 1, threads: 1, params: { drop: "DROP" } });
    const want = [...rows]
      .filter(([, v]) => v !== "DROP")
      .sort(([a], [b]) => compareOracleKeys(a, b))
      .map(([k, v]) => tsvLine(k, v))
      .join("");
    expect(outputText(out)).toBe(want);
    // Spot checks of the form, independent of the helper.
    const text = outputText(out);
    expect(text).toContain("k\t1\t0.30000000000000004\n");
    expect(text).toContain("k\t2\t1e+21\n");
    expect(text).toContain("k\t4\t5e-324\n");
    expect(text).toContain("k\t9\ttab\\there, newline\\nhere, backslash\\\\here, \\\\t literal\n");
    expect(text).toContain('k\t11\t{"a":1,"b":[1,2,{"c":"d"}],"u":"日本","e":{},"f":[]}\n');
    expect(text).toContain('k\t12\t[1,"two",null,true,1.5]\n');
    expect(text).toContain("tab\\tkey\t-1\tx\n");
    expect(text).toContain("new\\nline\t0.1\ty\n");
    expect(text).toContain("back\\\\slash\t1e+300\tz\n");
    expect(text).not.toContain("dropped");
  });
});

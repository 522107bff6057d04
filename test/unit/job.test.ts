import { describe, expect, it } from "vitest";
import { defineJob, isJob, jsonl, lines, tsv, sum, count, min, max, toArray } from "../../core/api/index.js";

const map = () => {};

describe("defineJob validates once, naming the field", () => {
  it("accepts a minimal job and fills the defaults", () => {
    const job = defineJob({ name: "ok", map });
    expect(isJob(job)).toBe(true);
    expect(job.input).toEqual(lines());
    expect(job.output).toEqual(tsv());
    expect(Object.isFrozen(job)).toBe(true);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["a missing name", { map }, /job\.name must be/],
    ["a name with a slash", { name: "a/b", map }, /job\.name must be/],
    ["no map", { name: "x" }, /needs a map or mapBatch/],
    ["map and mapBatch", { name: "x", map, mapBatch: map }, /both map and mapBatch/],
    ["a map that is not a function", { name: "x", map: 3 }, /job\.map must be a function, got number 3/],
    ["partitions 0", { name: "x", map, reduce: map, partitions: 0 }, /job\.partitions must be an integer from 1/],
    ["fractional partitions", { name: "x", map, reduce: map, partitions: 1.5 }, /job\.partitions/],
    ["combine without reduce", { name: "x", map, combine: map }, /combine but no reduce/],
    ["an unknown input", { name: "x", map, input: { format: "xml" } }, /job\.input must be an input format/],
    ["an unknown output", { name: "x", map, output: "tsv" }, /job\.output must be an output format/],
    ["a misspelt field", { name: "x", map, reducer: map }, /job\.reducer is not a job field/],
  ];
  for (const [what, spec, message] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => defineJob(spec as never)).toThrow(message);
    });
  }

  it("accepts jsonl in and out", () => {
    expect(defineJob({ name: "j", map, input: jsonl(), output: jsonl() }).input.format).toBe("jsonl");
  });
});

describe("value helpers stream their input once", () => {
  function* gen<T>(xs: T[]) {
    yield* xs;
  }
  it("sum, count, min, max, toArray", () => {
    const xs = [5, -2, 9, 0.5];
    let total = 0;
    for (const x of xs) total += x;
    expect(sum(gen(xs))).toBe(total);
    expect(sum(gen([1n, 2n, 3n]))).toBe(6n);
    expect(sum(gen<number>([]))).toBe(0);
    expect(count(gen(xs))).toBe(xs.length);
    expect(min(gen(xs))).toBe(-2);
    expect(max(gen(["b", "a", "c"]))).toBe("c");
    expect(toArray(gen(xs))).toEqual(xs);
  });
});

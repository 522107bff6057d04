import { describe, expect, it } from "vitest";
import { arrow, csv, defineJob, isJob, jsonl, lines, parquet, postgres, tsv, sum, count, min, max, toArray } from "../../core/api/index.js";

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
    ["the removed sort field", { name: "x", map, sort: "none" }, /job\.sort is no longer a job field: Sheaf always sorts/],
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

describe("format descriptors validate their options, naming the option", () => {
  const bad: [string, () => unknown, RegExp][] = [
    ["a two-character csv delimiter", () => csv({ delimiter: ";;" }), /csv\(\): delimiter must be one character/],
    ["a quote as csv delimiter", () => csv({ delimiter: '"' }), /csv\(\): delimiter/],
    ["a column type outside the vocabulary", () => csv({ columns: { n: "int" as never } }), /csv\(\): columns\.n must be one of string, int32/],
    ["an unknown csv option", () => csv({ quote: "'" } as never), /csv\(\): unknown option quote/],
    ["an unknown parquet codec", () => parquet({ compression: "brotli" as never }), /parquet\(\): compression must be/],
    ["an empty output schema", () => arrow({ schema: {} }), /arrow\(\): schema must be at least one column/],
    ["postgres without table or query", () => postgres({}), /give a table/],
    ["postgres with both", () => postgres({ table: "t", query: "select 1" }), /not both/],
    ["a table name with a quote", () => postgres({ table: 't"; drop' }), /postgres\(\): table must be a table name/],
    ["upsert without a key", () => postgres({ table: "t", mode: "upsert" }), /upsert" needs a key/],
    ["zero splits", () => postgres({ table: "t", splitBy: "id", splits: 0 }), /splits must be an integer/],
    ["a query as a sink", () => defineJob({ name: "x", map, output: postgres({ query: "select 1" }) }), /job\.output must be postgres\(\{ table \}\)/],
  ];
  for (const [what, make, message] of bad) {
    it(`rejects ${what}`, () => {
      expect(make).toThrow(message);
    });
  }

  it("fills the documented defaults and keeps descriptors JSON-safe", () => {
    expect(csv()).toEqual({ format: "csv", header: true, delimiter: ",", columns: {}, multiline: false });
    expect(parquet()).toEqual({ format: "parquet", compression: "zstd" });
    expect(postgres({ table: "s.t", key: "id", mode: "upsert" })).toEqual({ format: "postgres", table: "s.t", splits: 4, mode: "upsert", key: ["id"] });
    const job = defineJob({ name: "etl", map, reduce: map, input: csv({ columns: { a: "int64" } }), output: parquet({ schema: { a: "int64" } }) });
    expect(JSON.parse(JSON.stringify(job.output))).toEqual(job.output);
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

import { describe, expect, it } from "vitest";
import { cutPoints } from "../../engine/range-sample.js";

describe("range boundaries from sorted sample keys", () => {
  it("cuts distinct keys into equal shares", () => {
    const keys = Array.from({ length: 100 }, (_, i) => String(i).padStart(3, "0"));
    expect(cutPoints(keys, 4)).toEqual(["025", "050", "075"]);
  });

  it("gives a key repeated past several shares a partition of its own, and spreads the rest", () => {
    const keys = [...Array(60).fill("b"), ...Array.from({ length: 40 }, (_, i) => `c${String(i).padStart(2, "0")}`)].sort();
    const bounds = cutPoints(keys, 4);
    expect(bounds[0]).toBe("c00"); // "b" alone in partition 0
    expect(bounds).toHaveLength(3);
    expect(new Set(bounds).size).toBe(3);
  });

  it("never makes more partitions than distinct keys allow", () => {
    expect(cutPoints(["a", "a", "a", "b"], 8)).toEqual(["b"]);
    expect(cutPoints([], 4)).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import { countWords } from "../../core/api/words.js";
import { makeRng } from "./support/random.js";

/** The oracle: the per-line logic of jobs/wordcount.ts. */
function regexCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) for (const w of line.toLowerCase().match(/[a-z0-9]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

function fastCounts(chunks: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of chunks) countWords(Buffer.from(c, "latin1"), (w, n) => counts.set(w, (counts.get(w) ?? 0) + n));
  return counts;
}

describe("countWords", () => {
  it("counts ASCII words as toLowerCase().match(/[a-z0-9]+/g) does, case, digits and punctuation included", () => {
    const text = "The quick, brown FOX -- jumps!\nover the LAZY dog's 2nd dog...\r\n\tthe end42 End42 e n d\n";
    expect(fastCounts([text])).toEqual(regexCounts(text));
  });

  it("emits each distinct word of a call once, with its count, and nothing left over for the next call", () => {
    const seen: [string, number][] = [];
    countWords(Buffer.from("a b a c a\n"), (w, n) => seen.push([w, n]));
    expect(seen).toEqual([["a", 3], ["b", 1], ["c", 1]]);
    seen.length = 0;
    countWords(Buffer.from("c\n"), (w, n) => seen.push([w, n]));
    expect(seen).toEqual([["c", 1]]);
  });

  it("agrees with the regex on random text over many calls (the table grows and rehashes)", () => {
    const rng = makeRng(11);
    const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789     ,.;:!?-'\t";
    const chunks: string[] = [];
    for (let c = 0; c < 40; c++) {
      let s = "";
      for (let i = 0; i < 20_000; i++) s += i % 61 === 60 ? "\n" : alphabet[Math.floor(rng() * alphabet.length)];
      chunks.push(s + "\n");
    }
    expect(fastCounts(chunks)).toEqual(regexCounts(chunks.join("")));
  });

  it("treats the bytes of non-ASCII characters as separators", () => {
    const seen = new Map<string, number>();
    countWords(Buffer.from("caf\u00e9 na\u00efve \u65e5\u672c ok", "utf8"), (w, n) => seen.set(w, n));
    expect(seen).toEqual(new Map([["caf", 1], ["na", 1], ["ve", 1], ["ok", 1]]));
  });
});

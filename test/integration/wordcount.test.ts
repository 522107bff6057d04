/**
 * Word count end to end on a corpus full of edge cases: CRLF, no final newline, empty files, empty
 * lines, multi-byte UTF-8, invalid UTF-8, a line longer than the split size, nested folders and a
 * glob. The job file lives in a temp folder outside the repo and imports a local module.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_JOBS, Scratch, allLines, firstUnsortedUtf8, makeRng, parseTsv, outputText, partFiles, randomText, runOk } from "./helpers.js";
import { join } from "node:path";

const s = new Scratch("wordcount");
afterAll(() => s.cleanup());

let job: string;
let workdir: string;
let inputArgs: string[];
let files: string[]; // every file the inputs name, for the oracle

/** Word count over `files` in a plain loop, with the same tokenizer as the job. */
function oracle(tokenize: (line: string) => string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { text } of allLines(files)) for (const w of tokenize(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}
const byWhitespace = (line: string) => line.split(/[ \t]+/).filter((w) => w !== "");
const asciiWords = (line: string) => line.toLowerCase().match(/[a-z0-9]+/g) ?? [];

function parseCounts(dir: string): Map<string, number> {
  const got = new Map<string, number>();
  for (const cols of parseTsv(outputText(dir))) {
    expect(cols).toHaveLength(2);
    const [word, n] = cols as [string, string];
    expect(got.has(word), `key ${JSON.stringify(word)} written twice`).toBe(false);
    expect(n).toMatch(/^[1-9]\d*$/);
    got.set(word, Number(n));
  }
  return got;
}

const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

beforeAll(() => {
  workdir = s.path("workdir");
  // The job, outside the repo, importing a local helper module (bundled with it).
  s.write("jobs/tokenize.ts", `export const tokenize = (line: string): string[] => line.split(/[ \\t]+/).filter((w) => w !== "");\n`);
  job = s.write(
    "jobs/unicode-wordcount.ts",
    `import { defineJob, lines, sum, tsv } from "sheaf";
import { tokenize } from "./tokenize.js";

export default defineJob({
  name: "unicode-wordcount",
  input: lines(),
  map(line: string, emit) {
    for (const w of tokenize(line)) emit(w, 1);
  },
  combine: (_w, counts: Iterable<number>) => sum(counts),
  reduce: (_w, counts: Iterable<number>) => sum(counts),
  output: tsv(),
});
`,
  );

  const rng = makeRng(20240601);
  const lf = (ls: string[]) => ls.join("\n") + "\n";
  const invalid = Buffer.concat([
    Buffer.from("bad\xffbyte ok\n", "latin1"), // lone 0xFF
    Buffer.from([0x74, 0x72, 0x75, 0x6e, 0xc3, 0x20, 0x63, 0x0a]), // "trun" + truncated 2-byte + " c"
    Buffer.from([0xe2, 0x82, 0x20, 0xed, 0xa0, 0x80, 0x20, 0xc0, 0xaf, 0x0a]), // truncated 3-byte, surrogate, overlong
    Buffer.from([0x65, 0x6d, 0x6f, 0x6a, 0x69, 0xf0, 0x9f, 0x98, 0x0d, 0x0a]), // truncated emoji before CRLF
    Buffer.from(lf(randomText(rng, 40))),
    Buffer.from([0x65, 0x6e, 0x64, 0xfe, 0xff]), // invalid bytes at EOF, no final newline
  ]);
  const longLine = randomText(rng, 600).join(" ").replace(/ +$/, "");
  files = [
    s.write("data/corpus/a.txt", lf(randomText(rng, 300))),
    s.write("data/corpus/b/crlf.txt", randomText(rng, 200).join("\r\n")), // CRLF, no final newline
    s.write("data/corpus/b/c/deep.bin.txt", invalid),
    s.write("data/corpus/b/c/d/empty.txt", ""),
    s.write("data/corpus/blank.txt", "\n\n\r\n\n \n"),
    s.write("data/corpus/long.txt", lf([...randomText(rng, 20), longLine, ...randomText(rng, 20)]) + "tail without newline"),
    s.write("data/globbed/x/one.txt", lf(randomText(rng, 150))),
    s.write("data/globbed/y/two.txt", "😀 \uE000 😀\r\n\uE000\r\n"),
  ];
  s.write("data/globbed/y/skip.dat", "should not be read: skipped skipped skipped\n");
  expect(Buffer.byteLength(longLine)).toBeGreaterThan(3000);
  inputArgs = [s.path("data/corpus"), join(s.root, "data/globbed/*/*.txt")];
});

describe("word count on an edge-case corpus", () => {
  it("matches the oracle at several split sizes and partition counts (job outside the repo)", () => {
    const want = sorted(oracle(byWhitespace));
    // Sanity: the corpus really holds what we test.
    const keys = want.map(([k]) => k);
    for (const w of ["😀", "\uE000", "\uE000x", "日本語", "naïve", "\uFFFD"]) expect(keys).toContain(w);
    expect(keys.some((k) => k.includes("\uFFFD") && k !== "\uFFFD" && k !== "\uFFFDz")).toBe(true);
    expect(keys).not.toContain("skipped");

    for (const [splitSize, partitions, threads] of [["64m", 3, 2], ["1k", 4, 2], ["97", 2, 3], ["3000", 1, 1]] as const) {
      const out = s.fresh();
      runOk({ job, inputs: inputArgs, output: out, workdir, splitSize, partitions, threads });
      expect(partFiles(out).map((p) => p.name)).toEqual(Array.from({ length: partitions }, (_, i) => `part-0000${i}`));
      expect(sorted(parseCounts(out)), `split ${splitSize}, ${partitions} partitions`).toEqual(want);
    }
  });

  it("with one partition, writes keys in UTF-8 byte order", () => {
    const out = s.fresh();
    runOk({ job, inputs: inputArgs, output: out, workdir, splitSize: "1k", partitions: 1, threads: 2 });
    const parts = partFiles(out);
    expect(parts).toHaveLength(1);
    const keys = parseTsv(parts[0]!.bytes.toString("utf8")).map((c) => c[0]!);
    expect(firstUnsortedUtf8(keys)).toBeUndefined();
    // The order differs from JS (UTF-16) string order: U+E000 sorts below the emoji in UTF-8.
    expect(keys.indexOf("\uE000")).toBeLessThan(keys.indexOf("😀"));
    expect(keys.length).toBe(oracle(byWhitespace).size);
  });

  it("jobs/wordcount.ts matches its oracle on the same corpus", () => {
    const want = sorted(oracle(asciiWords));
    for (const splitSize of ["64m", "200"]) {
      const out = s.fresh();
      runOk({ job: join(EXAMPLE_JOBS, "wordcount.ts"), inputs: inputArgs, output: out, workdir, splitSize, partitions: 2, threads: 2 });
      expect(sorted(parseCounts(out))).toEqual(want);
    }
  });
});

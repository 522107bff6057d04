/**
 * The example jobs in jobs/: grep (map-only: one part file per map task, lines in input order)
 * and inverted-index (word → file:line list, with 1-based line numbers, at several split sizes).
 */
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_JOBS, Scratch, allLines, makeRng, outputText, partFiles, randomText, run, runOk, sameOutput, tsvLine } from "./helpers.js";

const s = new Scratch("examples");
afterAll(() => s.cleanup());

let workdir: string;
beforeAll(() => {
  workdir = s.path("workdir");
});

describe("grep (map-only)", () => {
  const job = join(EXAMPLE_JOBS, "grep.ts");
  let files: string[];

  beforeAll(() => {
    const rng = makeRng(5);
    const words = ["fox", "Fox", "box", "dog", "日本", "ox", "😀", "tab\there", "back\\slash", "\uE000", "x"];
    files = [
      s.write("grep/a.txt", randomText(rng, 80, words).join("\n") + "\n"),
      s.write("grep/b/crlf.txt", randomText(rng, 60, words).join("\r\n")),
      s.write("grep/b/c/invalid.txt", Buffer.concat([Buffer.from("fox\xff\xfe fox\n", "latin1"), Buffer.from(randomText(rng, 40, words).join("\n"))])),
    ];
  });

  /** The matching lines in input order, as tsv writes a key-only record. */
  const oracle = (pattern: string, flags = "") => {
    const re = new RegExp(pattern, flags);
    return allLines(files).filter((l) => re.test(l.text)).map((l) => tsvLine(l.text, undefined)).join("");
  };

  for (const [splitSize, params] of [
    ["64m", { pattern: "o[gx]|日本" }],
    ["50", { pattern: "o[gx]|日本" }],
    ["137", { pattern: "^fox|\\\\|\\t|\uFFFD", flags: "i" }],
  ] as [string, Record<string, string>][]) {
    it(`writes one part per map task, matching lines in order (split ${splitSize}, /${params.pattern}/${params.flags ?? ""})`, () => {
      const out = s.fresh("grep");
      const r = run({ job, inputs: [s.path("grep")], output: out, workdir, splitSize, threads: 2, params, quiet: false });
      expect(r.status, r.stderr).toBe(0);
      const tasks = Number(/(\d+) map tasks/.exec(r.stderr)?.[1]);
      if (splitSize === "64m") expect(tasks).toBe(files.length);
      else expect(tasks).toBeGreaterThan(files.length);
      const parts = partFiles(out);
      expect(parts.map((p) => p.name)).toEqual(Array.from({ length: tasks }, (_, i) => `part-${String(i).padStart(5, "0")}`));
      for (const p of parts) expect(p.bytes.length === 0 || p.bytes[p.bytes.length - 1] === 0x0a).toBe(true);
      const want = oracle(params.pattern!, params.flags);
      expect(want.length).toBeGreaterThan(100);
      expect(outputText(out)).toBe(want);
    });
  }
});

describe("inverted-index", () => {
  const job = join(EXAMPLE_JOBS, "inverted-index.ts");
  let files: string[];

  beforeAll(() => {
    const rng = makeRng(11);
    const words = ["alpha", "Beta", "gamma", "delta", "x1", "y2", "z3", "ünï", "日本"];
    const long = randomText(rng, 40, words).join(" ");
    files = [
      s.write("idx/one.txt", randomText(rng, 25, words).join("\n") + "\n"),
      s.write("idx/sub/two.txt", randomText(rng, 15, words).join("\r\n") + "\r\n\r\n"),
      s.write("idx/sub/deeper/three.txt", `\n${long}\nalpha\n\n${randomText(rng, 8, words).join("\n")}`), // no final newline
      s.write("idx/sub/empty.txt", ""),
    ];
  });

  /** word → file:line, files in sorted path order, 1-based lines, each line once per word. */
  function oracle(): Map<string, string> {
    const places = new Map<string, string[]>();
    for (const { file, line, text } of allLines(files)) {
      for (const w of new Set(text.toLowerCase().match(/[a-z0-9]+/g) ?? [])) {
        const list = places.get(w) ?? [];
        list.push(`${basename(file)}:${line}`);
        places.set(w, list);
      }
    }
    return new Map([...places].map(([w, ps]) => [w, ps.join(",")]));
  }

  it("matches the oracle at several split sizes, byte-identically", () => {
    const want = oracle();
    expect(want.get("alpha")!.split(",").length).toBeGreaterThan(10);
    const outs: string[] = [];
    for (const splitSize of ["64m", "100", "13", "4"]) {
      const out = s.fresh("idx");
      runOk({ job, inputs: [s.path("idx")], output: out, workdir, splitSize, threads: 2, partitions: 2 });
      const got = new Map<string, string>();
      for (const line of outputText(out).split("\n").filter(Boolean)) {
        const [w, ps, ...rest] = line.split("\t");
        expect(rest).toEqual([]);
        got.set(w!, ps!);
      }
      expect(got, `split ${splitSize}`).toEqual(want);
      outs.push(out);
    }
    for (const out of outs.slice(1)) sameOutput(outs[0]!, out);
  });
});

/** `.gz` inputs: decompressed as a stream, one split per file, with the same result as the plain files. */
import { gzipSync } from "node:zlib";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_JOBS, Scratch, leftovers, makeRng, outputText, parseTsv, randomText, run, runOk, sameOutput, textLines, tsvField } from "./helpers.js";

const s = new Scratch("gzip");
afterAll(() => s.cleanup());

let workdir: string;
const plain: string[] = [];
const gz: string[] = [];

beforeAll(() => {
  workdir = s.path("workdir");
  const rng = makeRng(7);
  for (let f = 0; f < 3; f++) {
    // CRLF on one file, no final newline on another: the line contract holds through gzip too.
    let text = randomText(rng, 400 + f * 100).join(f === 1 ? "\r\n" : "\n");
    if (f !== 2) text += "\n";
    plain.push(s.write(`plain/f${f}.txt`, text));
    const file = s.path(`gz/f${f}.txt.gz`);
    writeFileSync(file, gzipSync(text));
    gz.push(file);
  }
});

describe(".gz inputs", () => {
  it("word count over gzip files equals the plain files' output and a plain-loop oracle", () => {
    const a = s.fresh(), b = s.fresh();
    runOk({ job: join(EXAMPLE_JOBS, "wordcount.ts"), inputs: plain, output: a, workdir, splitSize: "1k", partitions: 2 });
    runOk({ job: join(EXAMPLE_JOBS, "wordcount.ts"), inputs: gz, output: b, workdir, splitSize: "1k", partitions: 2 });
    sameOutput(a, b);
    const want = new Map<string, number>();
    for (const f of plain) {
      const text = readFileSync(f, "utf8");
      for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) want.set(w, (want.get(w) ?? 0) + 1);
    }
    expect(new Map(parseTsv(outputText(b)).map(([w, n]) => [w!, Number(n)]))).toEqual(want);
  });

  it("gives each record its line number and decompressed byte offset (grep is map-only: one part per file)", () => {
    const job = s.write("jobs/where.ts", `import { defineJob } from "sheaf";
export default defineJob({ name: "where", map(line: string, emit, ctx) { if (line.length % 5 === 0) emit(ctx.input!.file + ":" + ctx.input!.line + ":" + ctx.input!.offset, line); } });`);
    const out = s.fresh();
    runOk({ job, inputs: gz, output: out, workdir });
    const want: string[] = [];
    gz.forEach((file, f) => {
      const text = readFileSync(plain[f]!, "utf8");
      let offset = 0;
      text.split("\n").forEach((raw, i, all) => {
        if (i === all.length - 1 && raw === "") return;
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
        if (line.length % 5 === 0) want.push(`${file}:${i + 1}:${offset}\t${tsvField(line)}`);
        offset += Buffer.byteLength(raw) + 1;
      });
    });
    expect(textLines(outputText(out))).toEqual(want);
  });

  it("a corrupt gzip file fails naming the file, and leaves no output", () => {
    const bad = s.write("bad/broken.txt.gz", gzipSync("hello\nworld\n".repeat(1000)).subarray(0, 40));
    const out = s.fresh();
    const r = run({ job: join(EXAMPLE_JOBS, "wordcount.ts"), inputs: [bad], output: out, workdir, maxAttempts: 1 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/broken\.txt\.gz is not a valid gzip file/);
    expect(leftovers(out)).toEqual([]);
  });
});

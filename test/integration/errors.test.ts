/**
 * Bad input and failing jobs: a non-zero exit, one clear line on stderr (a stack trace only with
 * --verbose), and no _SUCCESS and no part files left in the output folder.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_JOBS, Scratch, allLines, leftovers, outputText, partFiles, run, runOk, splitLines, type CliResult } from "./helpers.js";

const s = new Scratch("errors");
afterAll(() => s.cleanup());

const BOOM = join(FIXTURE_JOBS, "boom.ts");
let workdir: string;
let files: string[];
const BAD_LINE = "the bad record é 😀";

beforeAll(() => {
  workdir = s.path("workdir");
  files = [
    s.write("in/a.txt", "one two\nthree poison\n"),
    s.write("in/b.txt", "four five\r\nsix\r\n"),
    // The bad record sits in the third file (map-00002 when every file is one split), after
    // multi-byte and CRLF lines, so its byte offset is not its character offset.
    s.write("in/c.txt", `naïve 日本語\r\n😀😀 x\n\nseven\r\n${BAD_LINE}\r\nafter it\n`),
  ];
});

/** Non-zero exit, exactly one line on stderr (with -q), no stack trace, nothing committed in `out`. */
function expectCleanFailure(r: CliResult, out: string): string {
  expect(r.status, `exit status; stderr: ${r.stderr}`).not.toBe(0);
  expect(r.status).not.toBeNull();
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, `stderr should be one line:\n${r.stderr}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^sheaf: \S/);
  expect(lines[0], "a user error is not an engine bug").not.toMatch(/unexpected error/);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(leftovers(out)).toEqual([]);
  return lines[0]!;
}

describe("bad input", () => {
  it("names every missing input path", () => {
    const out = s.fresh();
    const missing = [s.path("nope/missing-1.txt"), join(s.root, "nowhere/*.txt"), "relative/missing-2.txt"];
    const r = run({ job: BOOM, inputs: [files[0]!, ...missing], output: out, workdir });
    const msg = expectCleanFailure(r, out);
    for (const m of missing) expect(msg).toContain(m);
    expect(msg).not.toContain(files[0]!);
    expect(existsSync(out)).toBe(false);
  });

  it("refuses an output folder holding _SUCCESS unless --overwrite", () => {
    const out = s.fresh();
    runOk({ job: BOOM, inputs: [files[0]!, files[1]!], output: out, workdir, partitions: 3 });
    const before = partFiles(out);
    expect(before).toHaveLength(3);

    const r = run({ job: BOOM, inputs: [files[2]!], output: out, workdir, partitions: 1 });
    expect(r.status).not.toBe(0);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^sheaf: /);
    expect(lines[0]).toContain("--overwrite");
    // The finished job's output is left as it was.
    expect(existsSync(join(out, "_SUCCESS"))).toBe(true);
    expect(partFiles(out)).toEqual(before);

    // With --overwrite the new job replaces it: only its own part file remains.
    runOk({ job: BOOM, inputs: [files[2]!], output: out, workdir, partitions: 1, overwrite: true });
    expect(partFiles(out).map((p) => p.name)).toEqual(["part-00000"]);
    const counts = new Map<string, number>();
    for (const { text } of allLines([files[2]!])) for (const w of text.split(" ")) if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
    const want = [...counts].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map(([w, n]) => `${w}\t${n}\n`).join("");
    expect(outputText(out)).toBe(want);
  });

  it("reports a job file with a syntax error, naming the file", () => {
    const job = s.write("jobs/syntax.ts", `import { defineJob } from "sheaf";\nexport default defineJob({ name: "x", map(l: string, emit) { emit(l, 1 } });\n`);
    const out = s.fresh();
    const msg = expectCleanFailure(run({ job, inputs: files, output: out, workdir }), out);
    expect(msg).toContain("syntax.ts");
    expect(existsSync(out)).toBe(false);
  });

  it("reports a job file without a default export", () => {
    const job = s.write("jobs/no-default.ts", `import { defineJob } from "sheaf";\nexport const job = defineJob({ name: "x", map(l: string, emit) { emit(l, 1); } });\n`);
    const out = s.fresh();
    const msg = expectCleanFailure(run({ job, inputs: files, output: out, workdir }), out);
    expect(msg).toContain("no-default.ts");
    expect(msg).toMatch(/default export/);
  });

  it("reports an invalid defineJob, naming the field", () => {
    for (const [field, spec] of [
      ["partitions", `partitions: 0`],
      ["partitons", `partitons: 2`], // a typo is not silently ignored
      ["name", `name: "has spaces"`],
    ] as const) {
      const fields = spec.startsWith("name") ? spec : `name: "bad-job", ${spec}`;
      const job = s.write(`jobs/invalid-${field}.ts`, `import { defineJob, sum } from "sheaf";\nexport default defineJob({ ${fields}, map(l: string, emit) { emit(l, 1); }, reduce: (_k, v: Iterable<number>) => sum(v) });\n`);
      const out = s.fresh();
      const msg = expectCleanFailure(run({ job, inputs: files, output: out, workdir }), out);
      expect(msg).toContain(field);
    }
  });
});

describe("failing user code", () => {
  /** The oracle's byte offset of the bad record in c.txt. */
  const badOffset = () => {
    const l = splitLines(readFileSync(files[2]!)).find((x) => x.text === BAD_LINE)!;
    expect(l.offset).toBeGreaterThan(Buffer.byteLength(readFileSync(files[2]!, "utf8").split(BAD_LINE)[0]!) - 1);
    return l.offset;
  };

  it("names the job, the task, the file, the byte offset and the error when map throws", () => {
    const offset = badOffset();
    expect(offset).toBe(Buffer.byteLength(`naïve 日本語\r\n😀😀 x\n\nseven\r\n`));
    for (const [splitSize, task] of [["64m", "map-00002"], ["5", undefined]] as const) {
      const out = s.fresh();
      const r = run({ job: BOOM, inputs: [s.path("in")], output: out, workdir, splitSize, maxAttempts: 1, params: { fail: "map", bad: BAD_LINE } });
      const msg = expectCleanFailure(r, out);
      expect(msg).toContain("boom");
      expect(msg).toMatch(task ? new RegExp(`\\b${task}\\b`) : /\bmap-\d{5}\b/);
      expect(msg).toContain(files[2]!);
      expect(msg).toMatch(new RegExp(`\\b${offset}\\b`));
      expect(msg).toContain(`cannot map ${JSON.stringify(BAD_LINE)}`);
      expect(existsSync(out)).toBe(false);
    }
  });

  it("fails cleanly every time while other map tasks are still running (repeated: the race is timing-dependent)", () => {
    for (let i = 0; i < 10; i++) {
      const out = s.fresh();
      const r = run({ job: BOOM, inputs: [s.path("in")], output: out, workdir, splitSize: "5", threads: 2, maxAttempts: 1, params: { fail: "map", bad: BAD_LINE } });
      const msg = expectCleanFailure(r, out);
      expect(msg, `run ${i + 1}`).toContain(`cannot map ${JSON.stringify(BAD_LINE)}`);
    }
  });

  it("prints the stack trace only with --verbose", () => {
    const out = s.fresh();
    const r = run({ job: BOOM, inputs: files, output: out, workdir, maxAttempts: 1, params: { fail: "map", bad: BAD_LINE }, verbose: true });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^sheaf: .*cannot map/m);
    expect(r.stderr).toMatch(/^\s+at /m);
    expect(leftovers(out)).toEqual([]);
  });

  it("names the key when reduce throws", () => {
    const out = s.fresh();
    const r = run({ job: BOOM, inputs: files, output: out, workdir, partitions: 2, maxAttempts: 1, params: { fail: "reduce" } });
    const msg = expectCleanFailure(r, out);
    expect(msg).toContain("boom");
    expect(msg).toMatch(/\breduce-\d{5}\b/);
    expect(msg).toContain("poison");
    expect(msg).toContain("cannot reduce poison");
  });

  it("a failing job run with --overwrite over a finished output leaves that output as it was, _SUCCESS included", () => {
    const out = s.fresh();
    runOk({ job: BOOM, inputs: files, output: out, workdir, partitions: 2 });
    const before = partFiles(out);
    const r = run({ job: BOOM, inputs: files, output: out, workdir, partitions: 2, maxAttempts: 1, overwrite: true, params: { fail: "reduce" } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(readdirSync(out).sort()).toEqual(["_SUCCESS", ...before.map((p) => p.name)].sort());
    expect(partFiles(out)).toEqual(before);
    expect(readdirSync(dirname(out)).filter((n) => n.startsWith(`.${basename(out)}.sheaf-`))).toEqual([]);
  });

  it("does not retry a FatalError, but retries an ordinary error up to --max-attempts", () => {
    const common = { job: BOOM, inputs: files, workdir, maxAttempts: 4, quiet: false };
    const fatalOut = s.fresh();
    const fatal = run({ ...common, output: fatalOut, params: { fail: "fatal", bad: BAD_LINE } });
    const plainOut = s.fresh();
    const plain = run({ ...common, output: plainOut, params: { fail: "map", bad: BAD_LINE } });
    for (const [r, out] of [[fatal, fatalOut], [plain, plainOut]] as const) {
      expect(r.status).not.toBe(0);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(leftovers(out)).toEqual([]);
    }
    const last = (r: CliResult) => r.stderr.trimEnd().split("\n").at(-1)!;
    expect(last(fatal)).toMatch(/^sheaf: .*fatal on/);
    expect(last(plain)).toMatch(/^sheaf: .*cannot map/);
    // One attempt only: no mention of a second one, and no backoff (three retries back off ≥ 875 ms).
    expect(fatal.stderr).not.toMatch(/attempt [2-9]/);
    expect(plain.stderr).toMatch(/attempt 4/);
    expect(fatal.ms).toBeLessThan(plain.ms);
  });
});

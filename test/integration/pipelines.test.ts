/**
 * Pipelines on the embedded runner: real `sheaf run pipeline.ts` processes over pipeline and job
 * files written into a temp folder outside the repo (the jobs are copies of
 * test/fixtures/pipelines/*.ts, importing from "sheaf"). Results are checked against plain loops;
 * which stages ran is read from the summary on stderr and from the marker files the jobs' setup
 * and cleanup write (a skipped stage writes none), never from timing alone.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, Scratch, makeRng, outputText, parseTsv, partFiles, pick, runCli, splitLines, type CliResult } from "./helpers.js";

const s = new Scratch("pipelines");
afterAll(() => s.cleanup());

const FIXTURES = join(REPO, "test/fixtures/pipelines");

// ---------------------------------------------------------------------------------------------
// A pipeline project: jobs, pipeline module and inputs in one folder, run from that folder.

interface Project {
  dir: string;
  pipeline: string;
  workdir: string;
  marks: string;
}

function project(name: string, pipelineSource: string, inputs: Record<string, string> = {}): Project {
  const dir = s.path(name);
  mkdirSync(join(dir, "jobs"), { recursive: true });
  for (const f of readdirSync(FIXTURES)) copyFileSync(join(FIXTURES, f), join(dir, "jobs", f));
  const pipeline = join(dir, "pipeline.ts");
  writeFileSync(pipeline, pipelineSource);
  for (const [rel, text] of Object.entries(inputs)) s.write(join(name, rel), text);
  const marks = join(dir, "marks");
  mkdirSync(marks, { recursive: true });
  return { dir, pipeline, workdir: join(dir, ".sheaf"), marks };
}

const IMPORTS = `import { definePipeline } from "sheaf";
import words from "./jobs/words.js";
import merge from "./jobs/merge.js";
import linecount from "./jobs/linecount.js";
`;

/** `sheaf run <pipeline>` from the project's folder, with the markers' folder as a parameter. */
function sheaf(p: Project, ...extra: string[]): CliResult {
  return runCli(["run", p.pipeline, "--workdir", p.workdir, "--threads", "2", "--max-attempts", "1", "--param", `markDir=${p.marks}`, ...extra], { cwd: p.dir, timeoutMs: 60_000 });
}

function sheafOk(p: Project, ...extra: string[]): CliResult {
  const r = sheaf(p, ...extra);
  if (r.status !== 0) throw new Error(`sheaf run ${p.pipeline} ${extra.join(" ")} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r;
}

/** Each stage's last state, from the `  stage X: <state>` lines. */
function stageStates(stderr: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of stderr.matchAll(/^ {2}stage (\S+): (not run|\w+)/gm)) out[m[1]!] = m[2]!;
  return out;
}

/** The summary table at the end: state and job id per stage. */
function summary(stderr: string, pipeline: string): { outcome: string; rows: Record<string, { state: string; job: string }> } {
  const lines = stderr.split("\n");
  const at = lines.findIndex((l) => new RegExp(`^pipeline ${pipeline} (succeeded|failed) in `).test(l));
  if (at < 0) throw new Error(`no summary for ${pipeline} in:\n${stderr}`);
  const header = lines[at + 1]!;
  const col = (name: string) => header.indexOf(name);
  const rows: Record<string, { state: string; job: string }> = {};
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith("  ") || line.trim() === "") break;
    rows[line.slice(col("stage"), col("state")).trim()] = { state: line.slice(col("state"), col("time")).trim(), job: line.slice(col("job")).trim() };
  }
  return { outcome: /(succeeded|failed)/.exec(lines[at]!)![1]!, rows };
}

interface Mark {
  tag: string;
  task: string;
  what: "start" | "end";
  t: number;
  params: Record<string, string>;
}

function readMarks(p: Project): Mark[] {
  return readdirSync(p.marks).map((f) => {
    const [tag, task, , , what] = f.split("~");
    const { t, params } = JSON.parse(readFileSync(join(p.marks, f), "utf8"));
    return { tag: tag!, task: task!, what: what as Mark["what"], t, params };
  });
}

/** The stages (tags) whose tasks ran since the markers were last cleared. */
function ranStages(p: Project): string[] {
  return [...new Set(readMarks(p).map((m) => m.tag))].sort();
}

function clearMarks(p: Project): void {
  for (const f of readdirSync(p.marks)) rmSync(join(p.marks, f));
}

/** The span of a stage's tasks (optionally only map tasks): first start, last end. */
function span(marks: Mark[], tag: string, kind = ""): { start: number; end: number } {
  const mine = marks.filter((m) => m.tag === tag && m.task.startsWith(kind));
  const starts = mine.filter((m) => m.what === "start").map((m) => m.t);
  const ends = mine.filter((m) => m.what === "end").map((m) => m.t);
  if (!starts.length || !ends.length) throw new Error(`no ${kind || "task"} markers for stage ${tag}`);
  return { start: Math.min(...starts), end: Math.max(...ends) };
}

// ---------------------------------------------------------------------------------------------
// Oracles: plain loops.

function wordCounts(...texts: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

function lineCount(text: string): number {
  return splitLines(Buffer.from(text)).length;
}

const sortedEntries = (m: Map<string, number>): [string, number][] => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** An output folder of `key<TAB>count` lines, as sorted [key, count] pairs (parts are hash partitioned). */
function counted(dir: string): [string, number][] {
  expect(existsSync(join(dir, "_SUCCESS")), `${dir}/_SUCCESS`).toBe(true);
  return parseTsv(outputText(dir))
    .map(([k, v]) => [k!, Number(v)] as [string, number])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const VOCAB = ["alpha", "beta", "gamma", "delta", "Epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "x1", "42"];

function text(seed: number, lines: number): string {
  const rng = makeRng(seed);
  let out = "";
  for (let i = 0; i < lines; i++) {
    const n = Math.floor(rng() * 7);
    out += Array.from({ length: n }, () => pick(rng, VOCAB)).join(pick(rng, [" ", "  ", ", "])) + "\n";
  }
  return out;
}

/** Modification stamps of an output folder's part files, to show a skipped stage left them alone. */
function partStamps(dir: string): string[] {
  return partFiles(dir).map((p) => `${p.name}@${statSync(join(dir, p.name)).mtimeMs}`);
}

/** Rewrites a file with new content and an mtime that cannot equal the old one. */
function change(path: string, content: string, secondsLater: number): void {
  writeFileSync(path, content);
  const t = new Date(Date.now() + secondsLater * 1000);
  utimesSync(path, t, t);
}

// ---------------------------------------------------------------------------------------------

describe("a 4-stage DAG: two independent stages, one reading both, one after it", () => {
  const DAG = `${IMPORTS}
export default definePipeline({
  name: "dag",
  stages: {
    // Written out of order on purpose: the runner orders them.
    D: { job: linecount, input: "in/d.txt", output: "out/D", after: ["C"], params: { tag: "D" } },
    C: { job: merge, input: ["A", "B"], output: "out/C", params: { tag: "C" } },
    A: { job: words, input: "in/a*.txt", output: "out/A", params: { tag: "A" } },
    B: { job: words, input: ["in/b1.txt", "in/b2.txt"], output: "out/B", params: { tag: "B" } },
  },
});
`;
  const inputs: Record<string, string> = {
    "in/a1.txt": text(1, 400),
    "in/a2.txt": text(2, 300),
    "in/b1.txt": text(3, 350),
    "in/b2.txt": text(4, 200),
    "in/d.txt": text(5, 123),
  };
  const p = project("dag", DAG, inputs);
  const out = (stage: string) => join(p.dir, "out", stage);
  const AT = ["--at", "2026-05-01T00:00:00Z", "--split-size", "4k"];

  function expectOracle(): void {
    const a = wordCounts(inputs["in/a1.txt"]!, inputs["in/a2.txt"]!);
    const b = wordCounts(inputs["in/b1.txt"]!, inputs["in/b2.txt"]!);
    const all = wordCounts(...["in/a1.txt", "in/a2.txt", "in/b1.txt", "in/b2.txt"].map((f) => inputs[f]!));
    expect(counted(out("A"))).toEqual(sortedEntries(a));
    expect(counted(out("B"))).toEqual(sortedEntries(b));
    expect(counted(out("C"))).toEqual(sortedEntries(all));
    expect(counted(out("D"))).toEqual([["d.txt", lineCount(inputs["in/d.txt"]!)]]);
  }

  it("runs every stage, in dependency order, with results equal to plain loops", () => {
    const r = sheafOk(p, ...AT);
    expect(r.stderr).toContain("pipeline dag: 4 stages, logical time 2026-05-01T00:00:00.000Z");
    expect(stageStates(r.stderr)).toEqual({ A: "succeeded", B: "succeeded", C: "succeeded", D: "succeeded" });
    const sum = summary(r.stderr, "dag");
    expect(sum.outcome).toBe("succeeded");
    expect(sum.rows.A!.job).toMatch(/^words-\d{14}-[a-z0-9]+$/);
    expect(sum.rows.C!.job).toMatch(/^merge-/);
    expect(sum.rows.D!.job).toMatch(/^linecount-/);
    expectOracle();
    for (const stage of ["A", "B", "C", "D"]) expect(readFileSync(join(out(stage), "_fingerprint"), "utf8")).toMatch(/^[0-9a-f]{64}\n$/);

    const marks = readMarks(p);
    expect(ranStages(p)).toEqual(["A", "B", "C", "D"]);
    // C reads A's and B's output: it starts once both have ended; D waits for C.
    const [a, b, c, d] = ["A", "B", "C", "D"].map((t) => span(marks, t));
    expect(c!.start).toBeGreaterThanOrEqual(Math.max(a!.end, b!.end));
    expect(d!.start).toBeGreaterThanOrEqual(c!.end);
  });

  it("the same logical time again skips every stage and leaves the outputs alone", () => {
    clearMarks(p);
    const before = ["A", "B", "C", "D"].map((st) => partStamps(out(st)));
    const r = sheafOk(p, ...AT);
    expect(stageStates(r.stderr)).toEqual({ A: "skipped", B: "skipped", C: "skipped", D: "skipped" });
    const sum = summary(r.stderr, "dag");
    for (const st of ["A", "B", "C", "D"]) expect(sum.rows[st]).toEqual({ state: "skipped", job: "" });
    expect(ranStages(p)).toEqual([]);
    expect(["A", "B", "C", "D"].map((st) => partStamps(out(st)))).toEqual(before);
    expectOracle();
  });

  it("changing an input file reruns the stage reading it and its dependents only", () => {
    clearMarks(p);
    inputs["in/a2.txt"] = text(22, 310) + "Alpha omega\n";
    change(join(p.dir, "in/a2.txt"), inputs["in/a2.txt"], 5);
    const bBefore = partStamps(out("B"));
    const r = sheafOk(p, ...AT);
    expect(stageStates(r.stderr)).toEqual({ A: "succeeded", B: "skipped", C: "succeeded", D: "succeeded" });
    expect(ranStages(p)).toEqual(["A", "C", "D"]);
    expect(partStamps(out("B"))).toEqual(bBefore);
    expectOracle();

    // Only D reads d.txt, and nothing depends on D.
    clearMarks(p);
    inputs["in/d.txt"] = text(55, 77);
    change(join(p.dir, "in/d.txt"), inputs["in/d.txt"], 10);
    const r2 = sheafOk(p, ...AT);
    expect(stageStates(r2.stderr)).toEqual({ A: "skipped", B: "skipped", C: "skipped", D: "succeeded" });
    expect(ranStages(p)).toEqual(["D"]);
    expectOracle();
  });

  it("--force reruns every stage", () => {
    clearMarks(p);
    const r = sheafOk(p, ...AT, "--force");
    expect(stageStates(r.stderr)).toEqual({ A: "succeeded", B: "succeeded", C: "succeeded", D: "succeeded" });
    const sum = summary(r.stderr, "dag");
    for (const st of ["A", "B", "C", "D"]) expect(sum.rows[st]!.job).not.toBe("");
    expect(ranStages(p)).toEqual(["A", "B", "C", "D"]);
    expectOracle();
    // And a plain rerun after that skips everything again.
    clearMarks(p);
    expect(stageStates(sheafOk(p, ...AT).stderr)).toEqual({ A: "skipped", B: "skipped", C: "skipped", D: "skipped" });
    expect(ranStages(p)).toEqual([]);
  });
});

describe("independent stages run at the same time", () => {
  it("two independent stages' tasks overlap in time; the stage reading both starts after both", () => {
    const p = project(
      "overlap",
      `${IMPORTS}
export default definePipeline({
  name: "overlap",
  stages: {
    left: { job: words, input: "in/left.txt", output: "out/left", partitions: 1, params: { tag: "left", taskMs: "700" } },
    right: { job: words, input: "in/right.txt", output: "out/right", partitions: 1, params: { tag: "right", taskMs: "700" } },
    both: { job: merge, input: ["left", "right"], output: "out/both", partitions: 1, params: { tag: "both" } },
  },
});
`,
      { "in/left.txt": text(10, 50), "in/right.txt": text(11, 50) },
    );
    const r = sheafOk(p, "--at", "2026-05-01");
    expect(stageStates(r.stderr)).toEqual({ left: "succeeded", right: "succeeded", both: "succeeded" });
    const marks = readMarks(p);
    const left = span(marks, "left", "map");
    const right = span(marks, "right", "map");
    // Each map task slept 700 ms in setup; on two threads they ran side by side.
    expect(left.end - left.start).toBeGreaterThanOrEqual(690);
    expect(right.end - right.start).toBeGreaterThanOrEqual(690);
    expect(Math.max(left.start, right.start), `left ${JSON.stringify(left)}, right ${JSON.stringify(right)}`).toBeLessThan(Math.min(left.end, right.end));
    const both = span(marks, "both");
    expect(both.start).toBeGreaterThanOrEqual(Math.max(span(marks, "left").end, span(marks, "right").end));
    expect(counted(join(p.dir, "out/both"))).toEqual(sortedEntries(wordCounts(text(10, 50), text(11, 50))));
  });
});

describe("path templates", () => {
  const TEMPLATES = `${IMPORTS}
export default definePipeline({
  name: "tmpl",
  stages: {
    byDate: { job: words, input: "in/{region}/*.txt", output: "out/date={date}", params: { tag: "byDate" } },
    byTime: { job: linecount, input: "byDate", output: "out/time={time}", params: { tag: "byTime" } },
    byRegion: { job: words, input: "in/{region}/*.txt", output: "out/{region}/{kind}/date={date}", params: { tag: "byRegion", region: "us", kind: "words" } },
  },
});
`;
  const eu = text(20, 100), us = text(21, 90);
  const p = project("templates", TEMPLATES, { "in/eu/x.txt": eu, "in/us/y.txt": us });
  const outDirs = () => readdirSync(join(p.dir, "out"), { recursive: true, withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(e.parentPath, e.name)).sort();

  it("{date}, {time} and a {region} from --param (over a stage's own) pick the folders", () => {
    const r = sheafOk(p, "--at", "2026-03-04T05:06:07Z", "--param", "region=eu");
    expect(stageStates(r.stderr)).toEqual({ byDate: "succeeded", byTime: "succeeded", byRegion: "succeeded" });
    expect(counted(join(p.dir, "out/date=2026-03-04"))).toEqual(sortedEntries(wordCounts(eu)));
    const parts = partFiles(join(p.dir, "out/date=2026-03-04")).map((f) => f.name);
    expect(counted(join(p.dir, "out/time=2026-03-04T05-06-07"))).toEqual(parts.map((n) => [n, lineCount(readFileSync(join(p.dir, "out/date=2026-03-04", n), "utf8"))]).filter(([, c]) => c !== 0));
    expect(counted(join(p.dir, "out/eu/words/date=2026-03-04"))).toEqual(sortedEntries(wordCounts(eu)));
    expect(existsSync(join(p.dir, "out/us"))).toBe(false);
    // Every stage's ctx.params: its own, with --param over them.
    const params = Object.fromEntries(readMarks(p).map((m) => [m.tag, m.params]));
    expect(params.byRegion).toEqual({ tag: "byRegion", region: "eu", kind: "words", markDir: p.marks });
    expect(params.byDate).toEqual({ tag: "byDate", region: "eu", markDir: p.marks });
    expect(params.byTime).toEqual({ tag: "byTime", region: "eu", markDir: p.marks });
  });

  it("--at without a zone is UTC; only the stage whose output has {time} reruns later that day", () => {
    clearMarks(p);
    const r = sheafOk(p, "--at", "2026-03-04T23:30:00", "--param", "region=eu");
    expect(r.stderr).toContain("logical time 2026-03-04T23:30:00.000Z");
    expect(stageStates(r.stderr)).toEqual({ byDate: "skipped", byTime: "succeeded", byRegion: "skipped" });
    expect(ranStages(p)).toEqual(["byTime"]);
    expect(existsSync(join(p.dir, "out/time=2026-03-04T23-30-00/_SUCCESS"))).toBe(true);
  });

  it("a template parameter given nowhere is a one-line error naming the stage and the parameter; nothing runs", () => {
    clearMarks(p);
    const before = outDirs();
    const r = sheaf(p, "--at", "2026-03-05T00:00:00Z");
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe("sheaf: pipeline tmpl, stage byDate: {region} is not {date}, {time} or a parameter (give --param region=…)");
    expect(outDirs()).toEqual(before);
    expect(ranStages(p)).toEqual([]);
  });
});

describe("a failed stage", () => {
  // B's map throws while the poison file exists; the file is no input of any stage, so removing
  // it changes no fingerprint.
  const inputs: Record<string, string> = {
    "in/a1.txt": text(30, 200),
    "in/b1.txt": text(31, 150),
    "in/b2.txt": text(32, 40) + "poison pill here\n" + text(33, 30),
    "in/d.txt": text(34, 20),
  };
  let p: Project;
  let poison: string;
  beforeAll(() => {
    p = project("failure", "", inputs);
    poison = join(p.dir, "poison");
    writeFileSync(
      p.pipeline,
      `${IMPORTS}
export default definePipeline({
  name: "failing",
  stages: {
    A: { job: words, input: "in/a1.txt", output: "out/A", params: { tag: "A", taskMs: "400" } },
    B: { job: words, input: "in/b*.txt", output: "out/B", params: { tag: "B", poison: ${JSON.stringify(poison)} } },
    C: { job: merge, input: ["A", "B"], output: "out/C", params: { tag: "C" } },
    D: { job: linecount, input: "in/d.txt", output: "out/D", after: ["C"], params: { tag: "D" } },
  },
});
`,
    );
    writeFileSync(poison, "poison pill here\n");
  });
  const out = (stage: string) => join(p.dir, "out", stage);
  const AT = ["--at", "2026-06-30T12:00:00Z"];

  it("fails the pipeline naming the stage, task and record; its dependents do not run; an independent stage commits", () => {
    const r = sheaf(p, ...AT);
    expect(r.status).not.toBe(0);
    const offset = splitLines(Buffer.from(inputs["in/b2.txt"]!)).find((l) => l.text === "poison pill here")!.offset;
    const last = r.stderr.trim().split("\n").at(-1)!;
    expect(last).toMatch(new RegExp(`^sheaf: pipeline failing failed: stage B: job words failed: task map-\\d{5} \\(attempt 1 of 1\\): map threw on the record at in/b2\\.txt byte ${offset}: poisoned line "poison pill here"$`));
    expect(stageStates(r.stderr)).toEqual({ A: "succeeded", B: "failed", C: "not run", D: "not run" });
    const sum = summary(r.stderr, "failing");
    expect(sum.outcome).toBe("failed");
    expect(sum.rows.B!.job).toMatch(/^words-/);
    expect(sum.rows.C).toEqual({ state: "not run", job: "" });
    // (The reason may also list A, still running when B failed: see the runner's "not run" reason.)
    expect(r.stderr).toMatch(/stage C: not run\b.*depends on (\w+, )*B\b/);
    expect(r.stderr).toMatch(/stage D: not run\b.*depends on C/);

    expect(existsSync(out("C"))).toBe(false);
    expect(existsSync(out("D"))).toBe(false);
    expect(existsSync(join(out("B"), "_SUCCESS"))).toBe(false);
    expect(counted(out("A"))).toEqual(sortedEntries(wordCounts(inputs["in/a1.txt"]!)));
    expect(ranStages(p)).toEqual(["A", "B"]);
  });

  it("a rerun with the same logical time and parameters redoes only the failed stage and what depends on it", () => {
    rmSync(poison);
    clearMarks(p);
    const aBefore = partStamps(out("A"));
    const r = sheafOk(p, ...AT);
    expect(stageStates(r.stderr)).toEqual({ A: "skipped", B: "succeeded", C: "succeeded", D: "succeeded" });
    const sum = summary(r.stderr, "failing");
    expect(sum.outcome).toBe("succeeded");
    expect(sum.rows.A).toEqual({ state: "skipped", job: "" });
    expect(sum.rows.B!.job).toMatch(/^words-/);
    expect(sum.rows.C!.job).toMatch(/^merge-/);
    expect(sum.rows.D!.job).toMatch(/^linecount-/);
    expect(ranStages(p)).toEqual(["B", "C", "D"]);
    expect(partStamps(out("A"))).toEqual(aBefore);

    const b = [inputs["in/b1.txt"]!, inputs["in/b2.txt"]!];
    expect(counted(out("B"))).toEqual(sortedEntries(wordCounts(...b)));
    expect(counted(out("C"))).toEqual(sortedEntries(wordCounts(inputs["in/a1.txt"]!, ...b)));
    expect(counted(out("D"))).toEqual([["d.txt", lineCount(inputs["in/d.txt"]!)]]);
  });
});

describe("a bad pipeline module or command line", () => {
  function expectRejected(name: string, stages: string, message: RegExp): void {
    const p = project(name, `${IMPORTS}\nexport default definePipeline({ name: ${JSON.stringify(name)}, stages: { ${stages} } });\n`, { "in/x.txt": "a b\n" });
    const r = sheaf(p, "--at", "2026-01-01");
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe("");
    const errLines = r.stderr.trim().split("\n");
    expect(errLines, r.stderr).toHaveLength(1);
    expect(errLines[0]).toMatch(message);
    expect(existsSync(join(p.dir, "out"))).toBe(false);
    expect(ranStages(p)).toEqual([]);
    // The module was bundled (a content-addressed artifact), but no job was started.
    for (const entry of existsSync(p.workdir) ? readdirSync(p.workdir) : []) expect(entry).toBe("artifacts");
  }

  it("a cycle is a one-line error naming the cycle, and nothing is written", () => {
    expectRejected(
      "loop",
      `a: { job: words, input: "b", output: "out/a" }, b: { job: merge, input: ["in/x.txt", "a"], output: "out/b" }, c: { job: linecount, input: "in/x.txt", output: "out/c" }`,
      /^sheaf: job module \S+pipeline\.ts failed to load: \S+pipeline\.ts:\d+:\d+: pipeline loop has a cycle: a → b → a$/, // at the definePipeline call (issue 17)
    );
  });

  it("an unknown stage in after is a one-line error naming the stage", () => {
    expectRejected(
      "unknown",
      `a: { job: words, input: "in/x.txt", output: "out/a" }, b: { job: words, input: "in/x.txt", output: "out/b", after: ["a", "nope"] }`,
      /pipeline unknown, stage b: after names an unknown stage "nope" \(stages: a, b\)$/,
    );
  });

  it("--input and --output are refused for a pipeline, which names its own", () => {
    const p = project("paths", `${IMPORTS}\nexport default definePipeline({ name: "paths", stages: { a: { job: words, input: "in/x.txt", output: "out/a" } } });\n`, { "in/x.txt": "a b\n" });
    const r = sheaf(p, "--output", join(p.dir, "elsewhere"));
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe("sheaf: pipeline paths names its stages' inputs and outputs: drop --input and --output");
    expect(existsSync(join(p.dir, "out"))).toBe(false);
    expect(existsSync(join(p.dir, "elsewhere"))).toBe(false);
  });
});

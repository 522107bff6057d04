/**
 * What user code sees of its task: ctx.params from --param, ctx.taskId (map-00003 style),
 * ctx.attempt, ctx.jobName, ctx.input in map only, and counters summed over tasks into the summary
 * printed on stderr. The job file lives in a temp folder outside the repo.
 */
import { basename } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Scratch, allLines, makeRng, outputText, randomText, run, textLines } from "./helpers.js";

const s = new Scratch("context");
afterAll(() => s.cleanup());

let job: string;
let workdir: string;
let files: string[];

beforeAll(() => {
  workdir = s.path("workdir");
  job = s.write(
    "elsewhere/ctx-probe.ts",
    `import { basename } from "node:path";
import { defineJob, jsonl, lines } from "sheaf";

interface Seen { task: string; attempt: number; file: string; job: string }

export default defineJob({
  name: "ctx-probe",
  input: lines(),
  setup(ctx) {
    ctx.counter("setups").inc();
  },
  map(line: string, emit, ctx) {
    ctx.counter("lines").inc();
    const words = line.split(" ").filter((w) => w !== "");
    ctx.counter("words").inc(words.length);
    if (words.length === 0) ctx.counter("empty-lines").inc();
    for (const w of words) emit(ctx.params.prefix + w, { task: ctx.taskId, attempt: ctx.attempt, file: basename(ctx.input!.file), job: ctx.jobName });
  },
  reduce(_key, values: Iterable<Seen>, ctx) {
    ctx.counter("keys").inc();
    const seen: Seen[] = [];
    for (const v of values) seen.push(v);
    return { seen, reduceTask: ctx.taskId, attempt: ctx.attempt, job: ctx.jobName, params: ctx.params, noInput: ctx.input === undefined };
  },
  output: jsonl(),
});
`,
  );
  const rng = makeRng(42);
  const words = ["w1", "w2", "w3", "w4", "w5", "ü", "日本"];
  files = [
    s.write("in/a.txt", randomText(rng, 700, words).join("\n").replace(/\t/g, " ") + "\n"),
    s.write("in/b.txt", randomText(rng, 400, words).join("\n").replace(/\t/g, " ")),
    s.write("in/c.txt", randomText(rng, 300, words).join("\r\n").replace(/\t/g, " ") + "\r\n"),
  ];
});

describe("task context", () => {
  const params = { prefix: "p:", eq: "a=b=c", uni: "日本 😀 spaces", empty: "" };

  it("passes params, task ids, attempt and job name to user code", () => {
    const out = s.fresh();
    const r = run({ job, inputs: [s.path("in")], output: out, workdir, splitSize: "64m", partitions: 3, threads: 2, params });
    expect(r.status, r.stderr).toBe(0);
    const records = textLines(outputText(out)).map((l) => JSON.parse(l) as {
      key: string;
      value: { seen: { task: string; attempt: number; file: string; job: string }[]; reduceTask: string; attempt: number; job: string; params: unknown; noInput: boolean };
    });
    expect(records.length).toBeGreaterThan(0);
    const taskOfFile = new Map<string, string>();
    for (const { key, value } of records) {
      expect(key.startsWith("p:")).toBe(true);
      expect(value.params).toEqual(params);
      expect(value.reduceTask).toMatch(/^reduce-\d{5}$/);
      expect(value.attempt).toBe(1);
      expect(value.job).toBe("ctx-probe");
      expect(value.noInput).toBe(true);
      for (const v of value.seen) {
        expect(v.task).toMatch(/^map-\d{5}$/);
        expect(v.attempt).toBe(1);
        expect(v.job).toBe("ctx-probe");
        // One split per file here: every record of a file comes from the same map task.
        expect(taskOfFile.get(v.file) ?? v.task).toBe(v.task);
        taskOfFile.set(v.file, v.task);
      }
    }
    // Three files, three map tasks, numbered in input order.
    expect([...taskOfFile].sort()).toEqual([["a.txt", "map-00000"], ["b.txt", "map-00001"], ["c.txt", "map-00002"]]);
  });

  it("sums counters over every task into the summary on stderr", () => {
    const out = s.fresh();
    const r = run({ job, inputs: [s.path("in")], output: out, workdir, splitSize: "500", partitions: 3, threads: 3, params, quiet: false });
    expect(r.status, r.stderr).toBe(0);
    const m = /^\s*counters\s+(.*)$/m.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const counters = Object.fromEntries(m![1]!.trim().split(/\s+/).map((kv) => {
      const [k, v] = kv.split("=") as [string, string];
      return [k, Number(v.replace(/,/g, ""))];
    }));
    const tasks = /(\d+) map tasks, (\d+) reduce tasks/.exec(r.stderr);
    expect(tasks, r.stderr).not.toBeNull();
    const [maps, reduces] = [Number(tasks![1]), Number(tasks![2])];
    expect(maps).toBeGreaterThan(files.length);
    expect(reduces).toBe(3);

    // The oracle, in a plain loop over the input.
    const lines = allLines(files);
    const words = lines.map((l) => l.text.split(" ").filter((w) => w !== ""));
    const keys = new Set(words.flat());
    expect(lines.length).toBeGreaterThan(1000); // the summary's thousands separators are parsed too
    expect(counters).toEqual({
      "empty-lines": words.filter((ws) => ws.length === 0).length,
      keys: keys.size,
      lines: lines.length,
      setups: maps + reduces,
      words: words.reduce((n, ws) => n + ws.length, 0),
    });
    // The output agrees: one record per distinct word, and every occurrence reached reduce.
    const records = textLines(outputText(out)).map((l) => JSON.parse(l) as { key: string; value: { seen: { file: string }[] } });
    expect(records.map((x) => x.key).sort()).toEqual([...keys].map((k) => "p:" + k).sort());
    const perFile = new Map<string, number>();
    for (const x of records) for (const v of x.value.seen) perFile.set(v.file, (perFile.get(v.file) ?? 0) + 1);
    expect(perFile).toEqual(new Map(files.map((f) => [basename(f), lines.filter((l) => l.file === f).reduce((n, l) => n + l.text.split(" ").filter(Boolean).length, 0)])));
  });
});
